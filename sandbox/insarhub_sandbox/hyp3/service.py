"""The sandbox HyP3 API: ASF's HyP3 protocol over loopback, for hyp3_sdk unchanged.

Routes (`tests/fixtures/hyp3/openapi-spec.yml.j2`), fault group "hyp3":
  GET /user, GET /costs, POST /jobs (1..200 jobs, validate_only), GET /jobs (start, end,
  status_code, name, job_type, user_id; pages of `page_size` jobs with an absolute `next` URL),
  GET /jobs/{job_id}, PATCH /jobs (rename up to 100 jobs), PATCH /jobs/{job_id}.
Product files, fault group "files" (Range support; 404 NoSuchKey once expired, like S3):
  GET|HEAD /hyp3-sandbox-contentbucket/{job_id}/{filename}
Admin (never faulted):
  GET|POST /_sandbox/hyp3       settings: {"fail_rate": 0..1, "fail_pairs": [[ref, sec], ...],
                                "job_seconds": s, "page_size": n, "lost_response_rate": 0..1,
                                "stall_after_jobs": n (POST /jobs held, then 503, at n jobs),
                                "user_id": scope them to one user, "reset": true,
                                "credits": {user_id: n}}
  GET /_sandbox/truth/{stack_key}/          the truth files of a stack (JSON list)
  GET /_sandbox/truth/{stack_key}/{file}    one truth file

Users: every distinct bearer token is its own user (a real Earthdata JWT maps to its `uid`);
`SANDBOX_TOKEN` is the demo user `insarhub_sandbox`. Without a token: 401 in HyP3's problem
format. Times: the API shows wall-clock times; moving the sandbox clock forward ages jobs by as
much (so hyp3_sdk's own `Job.expired()` agrees with the server). See hyp3_jobs for the life cycle
and hyp3_validate for what is refused. Job types: INSAR_GAMMA, INSAR_ISCE_BURST and
INSAR_ISCE_MULTI_BURST (`hyp3_multiburst`; its products' truth is under the stack key of the
burst set, e.g. `/_sandbox/truth/100_000000s1n00-213494s2n02-213494s3n02/`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from insarhub_sandbox.clock import SandboxClock, parse_time
from insarhub_sandbox.http import Request, Response, Router, file_response, json_response
from insarhub_sandbox.hyp3.jobs import FAILED, STATUS_CODES, SUCCEEDED, Job, JobStore, Product, User
from insarhub_sandbox.hyp3.validate import (
    JOB_TYPES,
    MAX_PATCH_JOBS,
    Hyp3ApiError,
    NewJob,
    costs_table,
    validate_jobs,
)
from insarhub_sandbox.options import SANDBOX_TOKEN, SandboxOptions
from insarhub_sandbox.products.render import ProductRenderer
from insarhub_sandbox.records import SceneRecord

BUCKET = "hyp3-sandbox-contentbucket"
DEMO_USER = "insarhub_sandbox"
DEFAULT_PAGE_SIZE = 100
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Catalog(Protocol):
    def lookup(self, name: str) -> SceneRecord | None: ...


def problem(status: int, detail: str) -> Response:
    """hyp3_api/handlers.py `problem_format`: RFC 7807 with the `detail` hyp3_sdk reads."""
    body = {"status": status, "detail": detail, "title": HTTPStatus(status).phrase, "type": "about:blank"}
    return Response(status, json.dumps(body).encode(), content_type="application/problem+json")


def number(value: Decimal | float) -> int | float:
    """HyP3's JSON encoder: integral Decimals as ints, others as floats."""
    return int(value) if value == int(value) else float(value)


def user_id_for(token: str) -> str:
    """A stable user name per token; never the token itself."""
    if token == SANDBOX_TOKEN:
        return DEMO_USER
    parts = token.split(".")
    if len(parts) == 3:  # an Earthdata Login JWT: its `uid` claim is the user name
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            if isinstance(claims, dict) and isinstance(claims.get("uid"), str):
                return claims["uid"]
        except ValueError:
            pass
    return "user_" + hashlib.sha256(token.encode()).hexdigest()[:12]


STALL_MAX_S = 300.0  # the longest a stalled POST /jobs is held


@dataclass
class Settings:
    """What admins switch at run time; `per_user` overrides the global values."""

    fail_rate: float = 0.0
    fail_pairs: set[frozenset[str]] = field(default_factory=set)
    job_seconds: float | None = None  # None: SandboxOptions.job_seconds
    page_size: int = DEFAULT_PAGE_SIZE
    lost_response_rate: float = 0.0  # POST /jobs stored, but the answer is a 502
    stall_after_jobs: int | None = None  # a HyP3 that stops answering POST /jobs at N jobs
    per_user: dict[str, dict[str, Any]] = field(default_factory=dict)

    FIELDS = ("fail_rate", "fail_pairs", "job_seconds", "page_size", "lost_response_rate",
              "stall_after_jobs")

    def get(self, name: str, user_id: str) -> Any:
        return self.per_user.get(user_id, {}).get(name, getattr(self, name))

    def update(self, body: dict[str, Any]) -> None:
        unknown = set(body) - {*self.FIELDS, "user_id", "reset", "credits"}
        if unknown:
            raise Hyp3ApiError(400, f"unknown settings {sorted(unknown)}; allowed: "
                                    f"{[*self.FIELDS, 'user_id', 'reset', 'credits']}")
        values = {k: self._check(k, v) for k, v in body.items() if k in self.FIELDS}
        if body.get("user_id"):
            self.per_user.setdefault(str(body["user_id"]), {}).update(values)
        else:
            for key, value in values.items():
                setattr(self, key, value)

    @staticmethod
    def _check(name: str, value: Any) -> Any:
        if name in ("fail_rate", "lost_response_rate"):
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise Hyp3ApiError(400, f"{name}: {value!r} must be a number from 0 to 1")
            return float(value)
        if name == "fail_pairs":
            if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
                raise Hyp3ApiError(400, f"fail_pairs: {value!r} must be a list of [reference, secondary]")
            return {frozenset(p) for p in value}
        if name == "job_seconds":
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise Hyp3ApiError(400, f"job_seconds: {value!r} must be a number >= 0 (or null)")
            return value
        if name == "stall_after_jobs":
            if value is not None and (not isinstance(value, int) or value < 0):
                raise Hyp3ApiError(400, f"stall_after_jobs: {value!r} must be an integer >= 0 "
                                        "(or null)")
            return value
        if not isinstance(value, int) or not 1 <= value <= 10_000:
            raise Hyp3ApiError(400, f"page_size: {value!r} must be an integer from 1 to 10000")
        return value

    def to_json(self) -> dict[str, Any]:
        def plain(values: dict[str, Any]) -> dict[str, Any]:
            return {k: sorted(sorted(p) for p in v) if k == "fail_pairs" else v for k, v in values.items()}

        return {**plain({k: getattr(self, k) for k in self.FIELDS}),
                "per_user": {u: plain(v) for u, v in self.per_user.items()}}


class Hyp3Service:
    """The HyP3 API, its product files and its admin routes, on the sandbox's router."""

    def __init__(self, clock: SandboxClock, catalog: Catalog, options: SandboxOptions,
                 base_url: str) -> None:
        self.clock = clock
        self.catalog = catalog
        self.options = options
        self.base_url = base_url.rstrip("/")
        self.store = JobStore(Path(options.data_dir) / "hyp3" / "jobs.sqlite")
        self.settings = Settings()
        self.random = random.Random(options.seed)
        self._random_lock = threading.Lock()
        center = options.extra.get("earth_center")
        self.renderer = ProductRenderer(Path(options.data_dir), catalog.lookup, self._rendered,
                                        seed=options.seed, grid_size=options.grid_size,
                                        workers=int(options.extra.get("render_workers", 1)),
                                        center=tuple(center) if center else None,
                                        events=options.extra.get("events"),
                                        sites=options.extra.get("earth_sites"))

    def register(self, router: Router) -> None:
        routes = [
            ("GET", "/user", self.get_user, "hyp3"),
            ("GET", "/costs", self.get_costs, "hyp3"),
            ("POST", "/jobs", self.post_jobs, "hyp3"),
            ("GET", "/jobs", self.get_jobs, "hyp3"),
            ("PATCH", "/jobs", self.patch_jobs, "hyp3"),
            ("GET", "/jobs/(?P<job_id>[^/]+)", self.get_job, "hyp3"),
            ("PATCH", "/jobs/(?P<job_id>[^/]+)", self.patch_job, "hyp3"),
            ("GET", f"/{BUCKET}/(?P<job_id>[^/]+)/(?P<filename>[^/]+)", self.get_file, "files"),
            ("HEAD", f"/{BUCKET}/(?P<job_id>[^/]+)/(?P<filename>[^/]+)", self.get_file, "files"),
            ("GET", "/_sandbox/hyp3", self.get_settings, "admin"),
            ("POST", "/_sandbox/hyp3", self.post_settings, "admin"),
            ("GET", r"/_sandbox/truth/(?P<stack_key>[A-Za-z0-9_\-]+)/?", self.list_truth, "admin"),
            ("GET", r"/_sandbox/truth/(?P<stack_key>[A-Za-z0-9_\-]+)/(?P<filename>[^/]+)",
             self.get_truth, "admin"),
        ]
        for method, pattern, handler, group in routes:
            router.add(method, pattern, self._guard(handler), group)

    @staticmethod
    def _guard(handler: Any) -> Any:
        def guarded(request: Request) -> Response:
            try:
                return handler(request)
            except Hyp3ApiError as exc:
                return problem(exc.status, exc.detail)
        return guarded

    # -- time and users --------------------------------------------------------------------
    def _now(self) -> tuple[datetime, datetime]:
        """(sandbox now, wall now)."""
        return self.clock.now(), datetime.now(UTC)

    @staticmethod
    def _shown(moment: datetime, now: datetime, wall: datetime) -> str:
        """A sandbox-clock instant as the API shows it: on the wall clock, to the second."""
        return (moment - (now - wall)).isoformat(timespec="seconds")

    def _authenticate(self, request: Request) -> str:
        header = request.headers.get("Authorization") or ""
        kind, _, token = header.strip().partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise Hyp3ApiError(401, "No authorization token provided")
        return user_id_for(token.strip())

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return request.json()
        except ValueError as exc:
            raise Hyp3ApiError(400, f"Request body is not valid JSON: {exc}") from exc

    def _base(self, request: Request) -> str:
        host = request.headers.get("Host")
        return f"http://{host}" if host else self.base_url

    # -- life cycle ------------------------------------------------------------------------
    def _refresh(self, jobs: list[Job], now: datetime, wall: datetime) -> None:
        with self.store.lock:
            changed = [job for job in jobs if job.advance(now, wall, self.renderer.request)]
            self.store.save(changed)
        for job in changed:
            self._write_log(job)

    def _rendered(self, job_id: str, product: Product | None, error: str | None) -> None:
        with self.store.lock:
            job = self.store.get(job_id)
            if job is None:
                return
            job.product, job.render_error = product, error
            self.store.save([job])

    def _write_log(self, job: Job) -> None:
        directory = self.renderer.job_dir(job.job_id)
        directory.mkdir(parents=True, exist_ok=True)
        lines = [f"job {job.job_id} ({job.job_type}) for {job.user_id}",
                 f"granules: {' '.join(job.granules)}", f"status: {job.status_code}"]
        if job.status_code == FAILED:
            lines.append(f"reason: {job.fail_reason}")
        elif job.product:
            lines.append(f"product: {job.product.name}")
        (directory / f"{job.job_id}.log").write_text("\n".join(lines) + "\n")

    # -- JSON shape ------------------------------------------------------------------------
    def _file_url(self, base: str, job: Job, filename: str) -> str:
        return f"{base}/{BUCKET}/{job.job_id}/{filename}"

    def job_json(self, job: Job, base: str, now: datetime, wall: datetime) -> dict[str, Any]:
        """The `job` schema of the OpenAPI document."""
        data: dict[str, Any] = {
            "job_id": job.job_id, "user_id": job.user_id, "job_type": job.job_type,
            "job_parameters": job.job_parameters,
            "request_time": self._shown(job.request_time, now, wall),
            "status_code": job.status_code, "execution_started": job.status_code != "PENDING",
            "priority": job.priority, "credit_cost": number(job.credit_cost),
        }
        if job.name is not None:
            data["name"] = job.name
        if job.final:
            assert job.finished_at is not None and job.expiration_time is not None
            data["expiration_time"] = self._shown(job.expiration_time, now, wall)
            data["processing_times"] = job.processing_times
            data["logs"] = [self._file_url(base, job, f"{job.job_id}.log")]
        if job.status_code == SUCCEEDED and job.product:
            data["files"] = [
                {"filename": f["filename"], "size": f["size"], "url": self._file_url(base, job, f["filename"]),
                 "s3": {"bucket": BUCKET, "key": f"{job.job_id}/{f['filename']}"}}
                for f in job.product.files
            ]
            data["browse_images"] = [self._file_url(base, job, n) for n in job.product.browse_images]
            data["thumbnail_images"] = [self._file_url(base, job, n) for n in job.product.thumbnail_images]
        return data

    # -- routes: user and costs ------------------------------------------------------------
    def _user(self, user_id: str, now: datetime) -> User:
        return self.store.user(user_id, now, Decimal(str(self.options.credits)))

    def get_user(self, request: Request) -> Response:
        user_id = self._authenticate(request)
        now, _ = self._now()
        with self.store.lock:
            user = self._user(user_id, now)
            return json_response({
                "user_id": user.user_id, "application_status": "APPROVED",
                "remaining_credits": number(user.remaining_credits),
                "credits_per_month": number(user.credits_per_month),
                "job_names": self.store.job_names(user_id),
            })

    def get_costs(self, request: Request) -> Response:
        return json_response(costs_table())

    # -- routes: jobs ----------------------------------------------------------------------
    def post_jobs(self, request: Request) -> Response:
        user_id = self._authenticate(request)
        body = self._body(request)
        self._stall(user_id, body)
        now, wall = self._now()
        new_jobs, validate_only = validate_jobs(body, self.catalog.lookup, now)
        with self.store.lock:
            user = self._user(user_id, now)
            jobs = self._prepare(user_id, user.remaining_credits, new_jobs, now, wall)
            total = sum((job.credit_cost for job in jobs), Decimal("0.0"))
            if total > user.remaining_credits:
                raise Hyp3ApiError(400, f"These jobs would cost {float(total)} credits, but you have "
                                        f"only {float(user.remaining_credits)} remaining.")
            if not validate_only:
                self.store.add(user, jobs, total)
        if not validate_only:
            for job in jobs:
                if job.fate == SUCCEEDED:
                    self.renderer.request(job)
        base = self._base(request)
        payload: dict[str, Any] = {"jobs": [self.job_json(j, base, now, wall) for j in jobs]}
        if isinstance(body, dict) and "validate_only" in body:
            payload["validate_only"] = body["validate_only"]
        if not validate_only and self._roll(self.settings.get("lost_response_rate", user_id)):
            return problem(502, "sandbox fault injected: the jobs were stored but the answer was lost")
        return json_response(payload)

    def _stall(self, user_id: str, body: Any) -> None:
        """Fault `stall_after_jobs`: a POST that would store jobs beyond N is held (until the
        setting is cleared, at most STALL_MAX_S) and then answered 503 without storing
        anything, as a HyP3 that stopped answering."""
        if isinstance(body, dict) and body.get("validate_only"):
            return
        deadline = time.monotonic() + STALL_MAX_S
        stalled = False
        while time.monotonic() < deadline:
            limit = self.settings.get("stall_after_jobs", user_id)
            with self.store.lock:
                stored = sum(1 for job in self.store.jobs.values() if job.user_id == user_id)
            if limit is None or stored < limit:
                break
            stalled = True
            time.sleep(0.05)
        if stalled:
            raise Hyp3ApiError(503, "sandbox fault injected: HyP3 did not answer in time")

    def _roll(self, rate: float) -> bool:
        with self._random_lock:
            return rate > 0 and self.random.random() < rate

    def _prepare(self, user_id: str, remaining: Decimal, new_jobs: list[NewJob], now: datetime,
                 wall: datetime) -> list[Job]:
        seconds = self.settings.get("job_seconds", user_id)
        seconds = self.options.job_seconds if seconds is None else float(seconds)
        fail_pairs = self.settings.fail_pairs | self.settings.per_user.get(user_id, {}).get("fail_pairs", set())
        fail_rate = self.settings.get("fail_rate", user_id)
        jobs, running = [], Decimal("0.0")
        for new in new_jobs:
            with self._random_lock:
                duration = seconds * (0.6 + 0.4 * self.random.random())
                unlucky = self.random.random() < fail_rate
            fate, reason = SUCCEEDED, None
            if None in new.records:
                fate, reason = FAILED, ("the sandbox catalog has no metadata for "
                                        f"{', '.join(g for g, r in zip(new.granules, new.records, strict=True) if r is None)}, "
                                        "so the simulated Earth cannot process it")
            elif frozenset(new.granules) in fail_pairs:
                fate, reason = FAILED, "this pair is set to fail (sandbox fail_pairs)"
            elif unlucky:
                fate, reason = FAILED, f"random failure (sandbox fail_rate {fail_rate})"
            jobs.append(Job(
                job_id=str(uuid.uuid4()), seq=0, user_id=user_id, job_type=new.job_type,
                job_parameters=new.job_parameters, request_time=now, request_wall=wall,
                credit_cost=new.credit_cost, priority=max(min(round(remaining - running), 9999), 0),
                duration_s=duration, fate=fate, name=new.name, fail_reason=reason,
            ))
            running += new.credit_cost
        for job in jobs:
            job.seq = self.store.next_seq()
        return jobs

    def get_job(self, request: Request) -> Response:
        self._authenticate(request)
        job_id = request.params["job_id"]
        job = self.store.get(job_id)
        if job is None:
            raise Hyp3ApiError(404, f"job_id does not exist: {job_id}")
        now, wall = self._now()
        self._refresh([job], now, wall)
        return json_response(self.job_json(job, self._base(request), now, wall))

    def get_jobs(self, request: Request) -> Response:
        user_id = self._authenticate(request)
        now, wall = self._now()
        offset = now - wall
        start, end = self._time_arg(request, "start"), self._time_arg(request, "end")
        status_code = self._enum_arg(request, "status_code", STATUS_CODES)
        job_type = self._enum_arg(request, "job_type", JOB_TYPES)
        name = request.arg("name")
        owner = request.arg("user_id") or user_id
        after = self._start_token(request)
        jobs = self.store.of_user(owner)
        self._refresh(jobs, now, wall)

        def wanted(job: Job) -> bool:
            shown = (job.request_time - offset).replace(microsecond=0)
            return ((after is None or job.seq < after) and (start is None or shown >= start)
                    and (end is None or shown <= end) and (name is None or job.name == name)
                    and (status_code is None or job.status_code == status_code)
                    and (job_type is None or job.job_type == job_type))

        page_size = int(self.settings.get("page_size", user_id))
        selected = [job for job in jobs if wanted(job)]
        base = self._base(request)
        payload: dict[str, Any] = {"jobs": [self.job_json(j, base, now, wall) for j in selected[:page_size]]}
        if len(selected) > page_size:
            payload["next"] = self._next_url(request, selected[page_size - 1].seq)
        return json_response(payload)

    @staticmethod
    def _time_arg(request: Request, name: str) -> datetime | None:
        value = request.arg(name)
        if value is None:
            return None
        try:
            return parse_time(value)
        except ValueError as exc:
            raise Hyp3ApiError(400, f"{name}: {value!r} is not an ISO 8601 date-time") from exc

    @staticmethod
    def _enum_arg(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
        value = request.arg(name)
        if value is not None and value not in allowed:
            raise Hyp3ApiError(400, f"{name}: {value!r} is not one of {list(allowed)}")
        return value

    @staticmethod
    def _start_token(request: Request) -> int | None:
        token = request.arg("start_token")
        if token is None:
            return None
        try:
            return int(json.loads(base64.urlsafe_b64decode(token.encode()))["seq"])
        except (ValueError, KeyError, TypeError) as exc:
            raise Hyp3ApiError(400, "Invalid start_token value") from exc

    def _next_url(self, request: Request, last_seq: int) -> str:
        """hyp3_api/util.py `build_next_url`: this URL with `start_token` set."""
        token = base64.urlsafe_b64encode(json.dumps({"seq": last_seq}).encode()).decode()
        query = [(k, v) for k, values in request.query.items() if k != "start_token" for v in values]
        query.append(("start_token", token))
        return f"{self._base(request)}{request.path}?{urlencode(query)}"

    def patch_jobs(self, request: Request) -> Response:
        user_id = self._authenticate(request)
        body = self._body(request)
        if not isinstance(body, dict) or set(body) != {"job_ids", "name"}:
            raise Hyp3ApiError(400, "Request body must be {\"job_ids\": [...], \"name\": string or null}")
        job_ids, name = body["job_ids"], body["name"]
        if not isinstance(job_ids, list):
            raise Hyp3ApiError(400, f"job_ids: {job_ids!r} is not of type 'array'")
        if len(job_ids) == 0:
            raise Hyp3ApiError(400, "Must provide at least one job ID")
        if len(job_ids) > MAX_PATCH_JOBS:
            raise Hyp3ApiError(400, f"Cannot update more than {MAX_PATCH_JOBS} jobs")
        for job_id in dict.fromkeys(job_ids):
            self._rename(str(job_id), name, user_id)
        return json_response({})

    def patch_job(self, request: Request) -> Response:
        user_id = self._authenticate(request)
        body = self._body(request)
        if not isinstance(body, dict) or set(body) != {"name"}:
            raise Hyp3ApiError(400, "Request body must be {\"name\": string or null}")
        job = self._rename(request.params["job_id"], body["name"], user_id)
        now, wall = self._now()
        self._refresh([job], now, wall)
        return json_response(self.job_json(job, self._base(request), now, wall))

    def _rename(self, job_id: str, name: Any, user_id: str) -> Job:
        """dynamo/jobs.py `update_job_for_user`, with its messages."""
        if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 100):
            raise Hyp3ApiError(400, f"name: {name!r} must be a string of 1 to 100 characters, or null")
        with self.store.lock:
            job = self.store.get(job_id)
            if job is None:
                raise Hyp3ApiError(404, f"Job {job_id} does not exist")
            if job.user_id != user_id:
                raise Hyp3ApiError(403, "You cannot modify a different user's job")
            job.name = name
            self.store.save([job])
            return job

    # -- routes: files ---------------------------------------------------------------------
    def get_file(self, request: Request) -> Response:
        """A product file, as S3 serves it: 404 NoSuchKey when absent or expired."""
        job = self.store.get(request.params["job_id"])
        filename = request.params["filename"]
        now, wall = self._now()
        if job is not None:
            self._refresh([job], now, wall)
        if job is None or not job.final or job.expired(now) or not self._has_file(job, filename):
            key = f"{request.params['job_id']}/{filename}"
            xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                   f"<Message>The specified key does not exist.</Message><Key>{key}</Key></Error>")
            return Response(404, xml.encode(), content_type="application/xml")
        content_type = "application/zip" if filename.endswith(".zip") else (
            "image/png" if filename.endswith(".png") else "text/plain")
        return file_response(self.renderer.job_dir(job.job_id) / filename, content_type)

    @staticmethod
    def _has_file(job: Job, filename: str) -> bool:
        if filename == f"{job.job_id}.log":
            return True
        if job.status_code != SUCCEEDED or job.product is None:
            return False
        names = {f["filename"] for f in job.product.files}
        return filename in names | set(job.product.browse_images) | set(job.product.thumbnail_images)

    # -- routes: admin ---------------------------------------------------------------------
    def get_settings(self, request: Request) -> Response:
        with self.store.lock:
            counts: dict[str, int] = {}
            for job in self.store.jobs.values():
                counts[job.status_code] = counts.get(job.status_code, 0) + 1
        return json_response({**self.settings.to_json(), "job_counts": counts,
                              "rendering": self.renderer.busy()})

    def post_settings(self, request: Request) -> Response:
        body = self._body(request) or {}
        if not isinstance(body, dict):
            raise Hyp3ApiError(400, "settings must be a JSON object")
        if body.get("reset"):
            self.settings = Settings()
        self.settings.update(body)
        now, _ = self._now()
        for user_id, credits in (body.get("credits") or {}).items():
            if not isinstance(credits, int | float) or credits < 0:
                raise Hyp3ApiError(400, f"credits for {user_id}: {credits!r} must be a number >= 0")
            self.store.set_credits(str(user_id), Decimal(str(credits)), now)
        return self.get_settings(request)

    def list_truth(self, request: Request) -> Response:
        directory = self.renderer.truth_dir / request.params["stack_key"]
        if not directory.is_dir():
            raise Hyp3ApiError(404, f"no truth for stack {request.params['stack_key']!r} yet: it is "
                                    "written when the first product of that stack is rendered")
        return json_response(sorted(p.name for p in directory.iterdir() if p.is_file()))

    def get_truth(self, request: Request) -> Response:
        path = self.renderer.truth_dir / request.params["stack_key"] / request.params["filename"]
        if not path.is_file():
            raise Hyp3ApiError(404, f"no truth file {request.params['filename']!r} for stack "
                                    f"{request.params['stack_key']!r}")
        return file_response(path, "image/tiff" if path.suffix == ".tif" else "application/octet-stream")
