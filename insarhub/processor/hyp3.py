"""HyP3 interferograms: `Hyp3S1Processor` (INSAR_GAMMA) and `Hyp3BurstProcessor` (INSAR_ISCE_BURST).

    p = Processor.create('Hyp3_S1', pairs=pairs, workdir='p100_f466', looks='20x4')
    p.submit(); p.save()                       # never pays twice: the ledger remembers
    p = Processor.create('Hyp3_S1', saved_job_path='p100_f466/hyp3_jobs.json')
    p.refresh(); p.download(); p.retry(); p.watch(refresh_interval=120)

Every pair, job and download is recorded in the ledger `<workdir>/insarhub.db`
(`insarhub.ledger`). Submitting writes the intent before the POST and the ids after it; a job
whose POST may have reached HyP3 (a crash, a lost answer) is looked up by its unique name
before it is ever sent again. Credits are checked first (`GET /user`, `GET /costs`): what fits
is submitted, the rest stays queued and `CreditError` says how many credits are missing.

Products are unzipped into `<workdir>/hyp3/<product_name>/`. Pairs whose jobs keep failing
(more than `max_retries` resubmissions) are listed by `failed_pairs()`: repair the network
(`insarhub.network`) and feed the new pairs back with `add_pairs()` then `submit()`.
"""

from __future__ import annotations

import logging
import shutil
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from tqdm.auto import tqdm

from insarhub.errors import (
    ConfigError,
    CredentialsError,
    CreditError,
    DownloadError,
    HyP3Error,
)
from insarhub.ledger import (
    DB_NAME,
    EXPORT_NAME,
    FINAL_STATUSES,
    QUEUED,
    SUBMITTED,
    SUBMITTING,
    JobRecord,
    Ledger,
    PairSpec,
)
from insarhub.processor.base import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    BaseProcessor,
    ProcessingStatus,
)
from insarhub.processor.hyp3_client import Hyp3Client, RetryPolicy, TransientHyP3Error
from insarhub.processor.hyp3_jobs import (
    INSAR_GAMMA,
    INSAR_ISCE_BURST,
    MAX_JOBS_PER_REQUEST,
    JobOptions,
    check_granule,
    check_prefix,
    job_cost,
    job_name,
    make_options,
    prepare_job,
)
from insarhub.settings import redact

log = logging.getLogger(__name__)

PRODUCTS_DIR = "hyp3"
DEFAULT_PREFIX = "ifg"
DOWNLOAD_RETRIES = 8  # per product; each retry resumes where the last attempt stopped
TABLE_COLUMNS = ["name", "job_id", "status", "expiration_time", "expired", "downloaded",
                 "reference", "secondary", "attempt"]


class InsufficientCreditsError(CreditError):
    """Credits ran short: some jobs were submitted, `queued` stay in the ledger."""

    def __init__(self, message: str, *, missing_credits: float, queued: int, submitted: int) -> None:
        super().__init__(message)
        self.missing_credits = missing_credits
        self.queued = queued
        self.submitted = submitted


@dataclass
class SubmitResult:
    """What one submit() did (job names)."""

    submitted: list[str] = field(default_factory=list)  # sent to HyP3 now
    recovered: list[str] = field(default_factory=list)  # found on HyP3 by name, not sent again
    queued: list[str] = field(default_factory=list)  # still waiting (credits)


@dataclass
class RetryReport:
    """What one retry() did."""

    resubmitted: list[str] = field(default_factory=list)  # new job names (failed or expired)
    exhausted: list[tuple[str, str]] = field(default_factory=list)  # pairs past max_retries


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _granule_of(item: Any) -> Any:
    """A granule name from a string or an asf_search product (sceneName / fileID)."""
    props = getattr(item, "properties", None)
    if isinstance(props, Mapping):
        if str(props.get("processingLevel", "")).upper() == "BURST" and props.get("fileID"):
            return props["fileID"]
        return props.get("sceneName") or props.get("fileID")
    return item


def stack_folder(key: Any) -> str:
    """The stack folder name (helper A's `stack_dirname`, else the same rule)."""
    try:
        from insarhub.search.stacks import stack_dirname
    except ImportError:
        if isinstance(key, tuple) and len(key) == 2:
            return f"p{int(key[0])}_f{int(key[1])}"
        return str(key)
    return str(stack_dirname(key))


def normalize_pairs(pairs: Any, job_type: str) -> tuple[list[tuple[str, str]], Any]:
    """(list of (reference, secondary), stack key or None) from the forms users pass.

    Accepted: a list of (reference, secondary); one (reference, secondary); the dict
    `select_pairs` returns with exactly one stack; or its whole (pair_stacks, B, bperp) tuple.
    """
    stack = None
    if isinstance(pairs, tuple) and len(pairs) == 3 and isinstance(pairs[0], Mapping):
        pairs = pairs[0]
    if isinstance(pairs, Mapping):
        keys = list(pairs)
        if len(keys) != 1:
            shown = ", ".join(repr(k) for k in keys[:6]) + (" ..." if len(keys) > 6 else "")
            raise ConfigError(
                f"pairs holds {len(keys)} stacks ({shown}); a processor works on one stack: "
                f"pass one of them, e.g. pairs=pair_stacks[{keys[0]!r}]" if keys else
                "pairs is an empty dict: select_pairs found no stack")
        stack = keys[0]
        pairs = pairs[stack]
    if isinstance(pairs, tuple) and len(pairs) == 2 and all(
            isinstance(_granule_of(p), str) for p in pairs):
        pairs = [pairs]
    if isinstance(pairs, str | bytes) or not isinstance(pairs, Iterable):
        raise ConfigError(f"pairs={pairs!r:.80} must be a list of (reference, secondary) granule "
                          "names or the dict select_pairs returns")
    out: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for i, pair in enumerate(pairs):
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ConfigError(f"pairs[{i}]={pair!r:.120} must be a (reference, secondary) pair")
        reference = check_granule(job_type, _granule_of(pair[0]), f"pairs[{i}][0]")
        secondary = check_granule(job_type, _granule_of(pair[1]), f"pairs[{i}][1]")
        if reference == secondary:
            raise ConfigError(f"pairs[{i}] uses {reference} twice; a pair needs two dates")
        if (reference, secondary) not in seen:
            seen.add((reference, secondary))
            out.append((reference, secondary))
    return out, stack


class Hyp3Processor(BaseProcessor):
    """HyP3 jobs for the pairs of one stack, followed through the ledger of its workdir."""

    processor_name: ClassVar[str] = ""
    job_type: ClassVar[str] = ""

    def __init__(self, pairs: Any = None, workdir: str | Path | None = None,
                 saved_job_path: str | Path | None = None, *, name_prefix: str | None = None,
                 max_retries: int = 2, max_workers: int = 8,
                 batch_size: int = MAX_JOBS_PER_REQUEST, client: Hyp3Client | None = None,
                 retry_policy: RetryPolicy | None = None, **options: Any) -> None:
        pair_list, stack = ([], None) if pairs is None else normalize_pairs(pairs, self.job_type)
        saved = Path(saved_job_path).expanduser() if saved_job_path is not None else None
        if saved is not None and not saved.is_file():
            raise ConfigError(f"saved_job_path={str(saved)!r} does not exist; give the "
                              f"{EXPORT_NAME} written by save() (it sits in the workdir)")
        if workdir is None:
            if saved is not None:
                workdir = saved.parent
            elif stack is not None:
                workdir = stack_folder(stack)
            else:
                raise ConfigError("workdir is required (the stack's working directory, e.g. "
                                  "workdir='p100_f466'), or pass saved_job_path=")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError(f"max_retries={max_retries!r} must be a whole number >= 0")
        if not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_JOBS_PER_REQUEST:
            raise ConfigError(f"batch_size={batch_size!r} must be 1 to {MAX_JOBS_PER_REQUEST} "
                              "(HyP3 takes at most 200 jobs a request)")
        self.workdir = Path(workdir).expanduser().resolve()
        self.max_retries = max_retries
        self.max_workers = max(1, int(max_workers))
        self.batch_size = batch_size
        self.retry_policy = retry_policy or RetryPolicy()
        self._client = client
        self.ledger = Ledger(self.workdir / DB_NAME)
        if saved is not None:
            self._import(saved)
        self._setup_meta(name_prefix, options, stack)
        if pair_list:
            self.add_pairs(pair_list)

    # -- set-up --------------------------------------------------------------------------
    def _import(self, saved: Path) -> None:
        result = self.ledger.import_json(saved)
        other = result.meta.get("job_type")
        if other and other != self.job_type:
            raise ConfigError(f"{saved} holds {other} jobs; open it with the processor for that "
                              f"type (this is {self.processor_name}, {self.job_type})")
        for key in ("name_prefix", "options"):
            if key in result.meta and self.ledger.get_meta(key) is None:
                self.ledger.set_meta({key: result.meta[key]})
        if result.unresolved_job_ids:
            pending = list(self.ledger.get_meta("unresolved_job_ids", []))
            ids = list(dict.fromkeys([*pending, *result.unresolved_job_ids]))  # keep the order
            self.ledger.set_meta({"unresolved_job_ids": ids})
        log.info("loaded %s: %d pairs, %d jobs added to the ledger", saved,
                 result.pairs_added, result.jobs_added)

    def _setup_meta(self, name_prefix: str | None, options: Mapping[str, Any], stack: Any) -> None:
        existing = self.ledger.get_meta("job_type")
        if existing and existing != self.job_type:
            raise ConfigError(
                f"workdir {self.workdir} holds {existing} jobs; use the processor for that type "
                f"or another workdir (this is {self.processor_name}, {self.job_type})")
        saved_options = self.ledger.get_meta("options") or {}
        merged = {**saved_options, **options}
        merged.pop("include_los_displacement", None)
        self.options: JobOptions = make_options(self.job_type, merged)
        self.name_prefix = check_prefix(name_prefix or self.ledger.get_meta("name_prefix")
                                        or DEFAULT_PREFIX)
        values: dict[str, Any] = {"processor": self.processor_name, "job_type": self.job_type,
                                  "options": asdict(self.options), "name_prefix": self.name_prefix}
        if stack is not None:
            values["stack"] = stack_folder(stack)
        self.ledger.set_meta(values)

    @property
    def client(self) -> Hyp3Client:
        """The HyP3 client, built on first use (credentials are read then)."""
        if self._client is None:
            self._client = Hyp3Client(retry=self.retry_policy)
        return self._client

    @property
    def products_dir(self) -> Path:
        return self.workdir / PRODUCTS_DIR

    def close(self) -> None:
        self.ledger.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(workdir={str(self.workdir)!r}, "
                f"pairs={self.ledger.pair_count()})")

    # -- pairs ---------------------------------------------------------------------------
    def prepare(self, reference: str, secondary: str) -> PairSpec:
        """The ledger entry (job request and unique name) for one pair."""
        request = prepare_job(self.job_type, reference, secondary, self.options)
        return PairSpec(reference, secondary, self.job_type, request,
                        job_name(self.name_prefix, request))

    def add_pairs(self, pairs: Any) -> int:
        """Add pairs (any form `pairs=` takes) to the queue; those already known are skipped."""
        pair_list, _ = normalize_pairs(pairs, self.job_type)
        added = self.ledger.add_pairs(self.prepare(r, s) for r, s in pair_list)
        if added:
            log.info("%d new pairs queued in %s (%d known already)", added,
                     self.ledger.path, len(pair_list) - added)
        return added

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return self.ledger.pairs()

    # -- submit --------------------------------------------------------------------------
    def submit(self) -> SubmitResult:
        """Send the queued jobs (idempotent: what HyP3 has already is never sent again).

        Raises CreditError (after submitting what fits) when credits run short.
        """
        return self._run("submit", self._submit_locked)

    def _run(self, action: str, func: Callable[[], Any], lock: str | None = "submit") -> Any:
        run = self.ledger.start_run(action)
        try:
            if lock is None:
                result = func()
            else:
                with self.ledger.lock(lock):
                    result = func()
        except BaseException as exc:
            self.ledger.finish_run(run, "error", {"error": redact(f"{type(exc).__name__}: {exc}")})
            self._export()
            raise
        detail = asdict(result) if hasattr(result, "__dataclass_fields__") else {}
        self.ledger.finish_run(run, "ok", {k: len(v) if isinstance(v, list) else v
                                           for k, v in detail.items()})
        self._export()
        return result

    def _submit_locked(self) -> SubmitResult:
        result = SubmitResult(recovered=self._recover())
        self._resolve_imported()
        queued = self.ledger.jobs(state=QUEUED)
        if not queued:
            return result
        fit, missing, remaining = self._fit_credits(queued)
        for start in range(0, len(fit), self.batch_size):
            result.submitted += self._post(fit[start:start + self.batch_size])
        result.queued = [r.name for r in self.ledger.jobs(state=QUEUED)]
        log.info("submitted %d jobs to HyP3 (%d recovered by name, %d queued)",
                 len(result.submitted), len(result.recovered), len(result.queued))
        if len(fit) < len(queued):
            left = len(queued) - len(fit)
            raise InsufficientCreditsError(
                f"not enough HyP3 credits: {len(queued)} jobs need {missing + remaining:g} credits "
                f"but {remaining:g} remain, {missing:g} credits missing; submitted {len(fit)}, "
                f"{left} stay queued in the ledger ({self.ledger.path}): call submit() again "
                "when credits are renewed; nothing is lost",
                missing_credits=missing, queued=left, submitted=len(result.submitted))
        return result

    def _fit_credits(self, queued: list[JobRecord]) -> tuple[list[JobRecord], float, float]:
        """The queued jobs that fit the remaining credits, in order; missing and remaining."""
        remaining = self.client.user().get("remaining_credits")
        if remaining is None:
            return queued, 0.0, float("inf")
        costs = self.client.costs()
        prices = [job_cost(r.request, costs) for r in queued]
        fit: list[JobRecord] = []
        spent = 0.0
        for record, price in zip(queued, prices, strict=True):
            if spent + price > float(remaining) + 1e-9:
                break
            fit.append(record)
            spent += price
        return fit, max(0.0, sum(prices) - float(remaining)), float(remaining)

    def _post(self, chunk: list[JobRecord]) -> list[str]:
        """POST one batch (intent first, ids after); on doubt, look the names up first."""
        claimed = set(self.ledger.mark_submitting([r.name for r in chunk]))
        pending = [r for r in chunk if r.name in claimed]
        done: list[str] = []
        policy = self.client.retry_policy
        for attempt in range(policy.attempts):
            if not pending:
                return done
            try:
                answer = self.client.post_jobs([r.payload() for r in pending])
            except TransientHyP3Error as exc:
                if exc.status != 429:  # a 5xx or a lost answer may hide created jobs
                    found = self._lookup([r.name for r in pending])
                    self.ledger.record_submitted(list(found.values()))
                    done += list(found)
                    pending = [r for r in pending if r.name not in found]
                log.info("POST /jobs: %s; %d jobs to send again", exc, len(pending))
                if pending and attempt + 1 < policy.attempts:
                    time.sleep(policy.delay(attempt, exc.retry_after))
                continue
            except CredentialsError:  # 401/403: HyP3 took none of them
                self.ledger.requeue([r.name for r in pending])
                raise
            except HyP3Error as exc:  # a 4xx: HyP3 took none of them
                self.ledger.requeue([r.name for r in pending])
                if "credit" in str(exc).lower():
                    raise InsufficientCreditsError(
                        f"{exc}; {len(pending)} jobs stay queued in the ledger: call submit() "
                        "again when credits are renewed", missing_credits=float("nan"),
                        queued=len(pending), submitted=len(done)) from None
                raise
            self.ledger.record_submitted(answer)
            returned = {str(job.get("name")) for job in answer}
            done += [r.name for r in pending if r.name in returned]
            pending = [r for r in pending if r.name not in returned]
            if pending:  # HyP3 answered without some names: check, never guess
                found = self._lookup([r.name for r in pending])
                self.ledger.record_submitted(list(found.values()))
                done += list(found)
                self.ledger.requeue([r.name for r in pending if r.name not in found])
            return done
        self.ledger.requeue([r.name for r in pending])  # looked up after the last failure
        raise TransientHyP3Error(
            f"POST /jobs failed {policy.attempts} times; {len(pending)} jobs stay queued in "
            f"the ledger: call submit() again later")

    def _lookup(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Jobs on HyP3 by exact name (`GET /jobs?name=`), one request per name, in parallel."""
        if not names:
            return {}

        def find(name: str) -> list[dict[str, Any]]:
            return self.client.find_jobs(name=name, job_type=self.job_type)

        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(names))) as pool:
            answers = list(pool.map(find, names))
        found: dict[str, dict[str, Any]] = {}
        for name, jobs in zip(names, answers, strict=True):
            jobs = sorted((j for j in jobs if j.get("name") == name),
                          key=lambda j: str(j.get("request_time")))
            if len(jobs) > 1:
                log.warning("%d HyP3 jobs are named %s; keeping the first, %s", len(jobs), name,
                            jobs[0].get("job_id"))
            if jobs:
                found[name] = jobs[0]
        return found

    def _recover(self) -> list[str]:
        """Jobs whose POST may have reached HyP3 (intent written, no id): found by name."""
        intents = self.ledger.jobs(current_only=False, state=SUBMITTING, include_dropped=True)
        if not intents:
            return []
        found = self._lookup([r.name for r in intents])
        self.ledger.record_submitted(list(found.values()))
        self.ledger.requeue([r.name for r in intents if r.name not in found])
        log.info("recovered %d of %d interrupted submissions by name; %d back in the queue",
                 len(found), len(intents), len(intents) - len(found))
        return list(found)

    def _resolve_imported(self) -> None:
        """Jobs known by id only (the seed's hyp3_jobs.json): fetch them and record pairs."""
        ids = list(self.ledger.get_meta("unresolved_job_ids", []) or [])
        if not ids:
            return
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(ids))) as pool:
            jobs = list(pool.map(self.client.get_job, ids))
        for job in jobs:
            params = dict(job.get("job_parameters") or {})
            granules = params.get("granules") or []
            if job.get("job_type") != self.job_type or len(granules) != 2:
                log.warning("job %s is %s with %d granules; not a pair of this processor, "
                            "skipped", job.get("job_id"), job.get("job_type"), len(granules))
                continue
            request = {"job_type": job["job_type"], "job_parameters": params}
            self.ledger.adopt_job(job, job_name(self.name_prefix, request), request,
                                  granules[0], granules[1])
        self.ledger.set_meta({"unresolved_job_ids": []})

    # -- status --------------------------------------------------------------------------
    def _now(self) -> datetime:
        return datetime.now(UTC)

    def is_expired(self, record: JobRecord) -> bool:
        """Products gone from HyP3 (expiry passed, or the files answered 404/410)."""
        if record.expired:
            return True
        expiry = _parse_time(record.expiration_time)
        return record.status == SUCCEEDED and expiry is not None and expiry <= self._now()

    def has_product(self, record: JobRecord) -> bool:
        return bool(record.downloaded) and (self.workdir / str(record.downloaded)).is_dir()

    def _update(self, deep: bool = False) -> None:
        """Bring the ledger up to date with HyP3: paged `GET /jobs`, not one call per job.

        Jobs still pending or running are asked for; `deep` also asks again for succeeded
        jobs not downloaded yet (their expiry), as retry() does.
        """
        with self.ledger.lock("submit", timeout_s=0) as free:
            if free:
                self._recover()
                self._resolve_imported()

        def needs_update(r: JobRecord) -> bool:
            if r.status_code not in FINAL_STATUSES or (r.status_code == SUCCEEDED and not r.files):
                return True
            return deep and r.status_code == SUCCEEDED and not r.expired and not self.has_product(r)

        active = [r for r in self.ledger.jobs(current_only=False, state=SUBMITTED)
                  if needs_update(r)]
        if not active:
            return
        times = [t for t in (_parse_time(r.request_time) for r in active) if t is not None]
        listed: dict[str, dict[str, Any]] = {}
        if times:
            start = min(times) - timedelta(seconds=1)
            for job in self.client.find_jobs(start=start, job_type=self.job_type):
                listed[str(job.get("job_id"))] = job
        wanted = {str(r.job_id) for r in active}
        missing = sorted(wanted - set(listed))
        if missing:
            with ThreadPoolExecutor(max_workers=min(self.max_workers, len(missing))) as pool:
                for job in pool.map(self.client.get_job, missing):
                    listed[str(job.get("job_id"))] = job
        self.ledger.update_status(job for job_id, job in listed.items() if job_id in wanted)

    def table(self) -> pd.DataFrame:
        """The current job of every pair, from the ledger (no HyP3 call)."""
        rows = [{"name": r.name, "job_id": r.job_id, "status": r.status,
                 "expiration_time": r.expiration_time, "expired": self.is_expired(r),
                 "downloaded": self.has_product(r), "reference": r.reference,
                 "secondary": r.secondary, "attempt": r.attempt} for r in self.ledger.jobs()]
        return pd.DataFrame(rows, columns=TABLE_COLUMNS)

    def refresh(self) -> pd.DataFrame:
        """Update from HyP3, print the status table (and counts per status), return it."""
        self._run("refresh", self._update, lock=None)
        table = self.table()
        print(format_table(table))
        return table

    def snapshot(self) -> ProcessingStatus:
        """Update from HyP3 and return where things stand, without printing."""
        self._update()
        self._export()
        return self.status()

    def status(self) -> ProcessingStatus:
        """Where things stand per the ledger (no HyP3 call).

        counts: PENDING (includes jobs being submitted), RUNNING, SUCCEEDED, FAILED, and
        QUEUED (not sent: waiting for credits; call submit()). detail: queued, expired (names
        of succeeded jobs whose products expired before download), downloaded, exhausted.
        """
        records = self.ledger.jobs()
        counts: Counter[str] = Counter()
        for r in records:
            counts[PENDING if r.status == SUBMITTING.upper() else r.status] += 1
        failed = [r.name for r in records if r.status == FAILED]
        detail = {
            "workdir": str(self.workdir),
            "queued": counts.get(QUEUED.upper(), 0),
            "expired": [r.name for r in records if r.status == SUCCEEDED and self.is_expired(r)
                        and not self.has_product(r)],
            "downloaded": sum(1 for r in records if self.has_product(r)),
            "exhausted": self.failed_pairs(),
        }
        ordered = {s: counts[s] for s in (QUEUED.upper(), PENDING, RUNNING, SUCCEEDED, FAILED)
                   if counts.get(s)}
        return ProcessingStatus(counts=ordered, failed=failed, detail=detail)

    # -- retry ---------------------------------------------------------------------------
    def retry(self, max_retries: int | None = None) -> RetryReport:
        """Resubmit failed jobs (up to `max_retries` times a pair) and expired, undownloaded ones."""
        limit = self.max_retries if max_retries is None else max_retries

        def work() -> RetryReport:
            self._update(deep=True)
            report = RetryReport()
            failures = Counter(r.pair_id for r in self.ledger.jobs(current_only=False)
                               if r.status == FAILED)
            for r in self.ledger.jobs():
                reason = None
                if r.status == FAILED:
                    if failures[r.pair_id] > limit:
                        report.exhausted.append(r.pair)
                        continue
                    reason = "failed"
                elif r.status == SUCCEEDED and self.is_expired(r) and not self.has_product(r):
                    reason = "expired"
                if reason:
                    name = self.ledger.queue_retry(r.pair_id, reason)
                    if name:
                        report.resubmitted.append(name)
            if report.exhausted:
                log.warning("%d pairs failed more than %d times: %s; repair the network and "
                            "add_pairs() the new ones", len(report.exhausted), limit,
                            report.exhausted[:5])
            self._submit_locked()
            return report

        return self._run("retry", work)

    def failed_pairs(self, max_retries: int | None = None) -> list[tuple[str, str]]:
        """Pairs whose current job failed and that have used up their resubmissions."""
        limit = self.max_retries if max_retries is None else max_retries
        failures = Counter(r.pair_id for r in self.ledger.jobs(current_only=False)
                           if r.status == FAILED)
        return [r.pair for r in self.ledger.jobs()
                if r.status == FAILED and failures[r.pair_id] > limit]

    def drop_pairs(self, pairs: Any) -> int:
        """Take pairs out of the network: no longer followed, retried or counted (kept in the
        ledger's history and in hyp3_jobs.json with "dropped": true)."""
        pair_list, _ = normalize_pairs(pairs, self.job_type)
        dropped = self.ledger.drop_pairs(pair_list, self.job_type)
        self._export()
        return dropped

    def repair_network(self, scenes: Sequence[Any] | None = None, **options: Any) -> Any:
        """Replace the pairs that keep failing with new ones that keep the network connected.

        `scenes`: the stack's asf_search products (e.g. `downloader.stacks[key]`; default: the
        `scenes.json` that `insarhub search` saved in this workdir); `options` as for
        `insarhub.network.select_pairs` (dt_max, pb_max, max_degree, ...). Uses
        `insarhub.network.repair_pairs`: the failing pairs are dropped, the replacement pairs
        queued; call submit() to send them. Returns the `NetworkUpdate`.
        """
        from insarhub.network import repair_pairs

        if scenes is None:
            from insarhub.search.persist import SCENES_FILE, load_stack

            if not (self.workdir / SCENES_FILE).is_file():
                raise ConfigError(f"repair_network needs the stack's scenes: pass scenes= (e.g. "
                                  f"downloader.stacks[key]) or save the search into {self.workdir}")
            scenes = load_stack(self.workdir)
        failed = self.failed_pairs()
        update = repair_pairs(self.pairs, scenes, failed, **options)
        self.ledger.drop_pairs(update.removed or failed, self.job_type)
        added = self.add_pairs(update.pairs) if update.pairs else 0
        log.info("network repaired: %d failing pairs dropped, %d replacement pairs queued",
                 len(update.removed or failed), added)
        self._export()
        return update

    # -- download ------------------------------------------------------------------------
    def download(self, max_workers: int | None = None, progress: bool = True,
                 keep_zip: bool = False) -> list[Path]:
        """Fetch every succeeded product into `<workdir>/hyp3/<product_name>/`.

        Parallel, resumable (HTTP Range), size-verified; products already there are skipped.
        Returns the product folders. Raises DownloadError naming what failed (run again to
        resume).
        """
        workers = max_workers or self.max_workers
        return self._run("download", lambda: self._download(workers, progress, keep_zip),
                         lock="download")

    def _download(self, workers: int, progress: bool, keep_zip: bool) -> list[Path]:
        self._update()
        latest: dict[int, JobRecord] = {}
        for r in self.ledger.jobs(current_only=False):
            if r.status == SUCCEEDED:
                latest[r.pair_id] = r  # rows come by attempt: the last success wins
        products: list[Path] = []
        todo: list[tuple[JobRecord, dict[str, Any]]] = []
        for r in latest.values():
            if self.has_product(r):
                products.append(self.workdir / str(r.downloaded))
            elif not self.is_expired(r):
                todo += [(r, f) for f in r.files if f.get("filename")]
        if not todo:
            return products
        self.products_dir.mkdir(parents=True, exist_ok=True)
        failed: list[str] = []
        gone: list[str] = []
        with _plain_session(workers) as session, \
                ThreadPoolExecutor(max_workers=workers) as pool, \
                tqdm(total=len(todo), unit="product", desc="HyP3 products",
                     disable=not progress) as bar:
            # each worker fetches one product (insarhub.transfer: resumable, size-verified)
            # and unzips it at once, so that unzipping overlaps the other transfers
            futures = {pool.submit(self._fetch_product, session, file, keep_zip): (record, file)
                       for record, file in todo}
            for future in as_completed(futures):
                record, file = futures[future]
                bar.update(1)
                try:
                    folder = future.result()
                except DownloadError as exc:
                    if _is_gone(session, file["url"]):
                        gone.append(str(record.job_id))
                    else:
                        failed.append(str(exc))
                    continue
                except (zipfile.BadZipFile, OSError) as exc:
                    failed.append(f"{file['filename']} ({type(exc).__name__}: {exc})")
                    continue
                self.ledger.record_download(str(record.job_id), str(file["filename"]),
                                            file["url"], file.get("size"),
                                            str(folder.relative_to(self.workdir)))
                products.append(folder)
        if gone:
            self.ledger.mark_expired(gone)
            log.warning("%d products expired on HyP3 before download: retry() resubmits them",
                        len(gone))
        if failed:
            raise DownloadError(
                f"{len(failed)} of {len(todo)} HyP3 products did not download: "
                f"{'; '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}; "
                "run download() again to resume")
        return products

    def _fetch_product(self, session: requests.Session, file: Mapping[str, Any],
                       keep_zip: bool) -> Path:
        from insarhub.transfer import FileSpec, download_files

        path = self.products_dir / Path(str(file["filename"])).name
        download_files([FileSpec(url=str(file["url"]), path=path, size=file.get("size"))],
                       session=session, max_workers=1, progress=False, retries=DOWNLOAD_RETRIES,
                       backoff=0.25)
        try:
            folder = extract_product(path, self.products_dir)
        except zipfile.BadZipFile:
            path.unlink(missing_ok=True)  # damaged despite its size: fetch it again next time
            raise
        if not keep_zip:
            path.unlink(missing_ok=True)
        return folder

    # -- persistence ---------------------------------------------------------------------
    def _export(self) -> Path:
        return self.ledger.export_json(self.workdir / EXPORT_NAME)

    def save(self, save_path: str | Path | None = None) -> Path:
        """Write `hyp3_jobs.json` (an export of the ledger, no secrets); returns its path."""
        path = self.ledger.export_json(Path(save_path) if save_path else self.workdir / EXPORT_NAME)
        print(f"Jobs saved to {path}; reload with "
              f"Processor.create({self.processor_name!r}, saved_job_path={str(path)!r})")
        return path


def _plain_session(workers: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=workers, pool_maxsize=workers)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _is_gone(session: requests.Session, url: str) -> bool:
    """True when the product host says the file no longer exists (expired: 404/410)."""
    try:
        return session.head(url, timeout=(10, 30)).status_code in (404, 410)
    except requests.RequestException:
        return False


def _complete(path: Path, size: Any) -> bool:
    return path.is_file() and (size is None or path.stat().st_size == int(size))


def extract_product(zip_path: Path, products_dir: Path) -> Path:
    """Unzip a HyP3 product into `products_dir/<product_name>/` (atomically: temp + rename)."""
    product = zip_path.name.removesuffix(".zip")
    target = products_dir / product
    tmp = products_dir / f".{product}.extracting"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.namelist():
            if member.startswith("/") or ".." in Path(member).parts:
                raise zipfile.BadZipFile(f"unsafe path {member!r} in {zip_path.name}")
        archive.extractall(tmp)  # CRC-checked while reading
    inner = tmp / product
    source = inner if inner.is_dir() else tmp
    if target.exists():
        shutil.rmtree(target)
    source.rename(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


def format_table(table: pd.DataFrame) -> str:
    """The status table as printed by refresh(): one row per pair, then counts."""
    if table.empty:
        return "no HyP3 jobs in this workdir yet"
    shown = table[["name", "job_id", "status", "expiration_time"]].fillna("-")
    counts = table["status"].value_counts()
    parts = [f"{counts[s]} {s.lower()}" for s in
             ("QUEUED", "SUBMITTING", PENDING, RUNNING, SUCCEEDED, FAILED) if s in counts]
    extra = f"; {int(table['expired'].sum())} expired, {int(table['downloaded'].sum())} downloaded"
    return f"{shown.to_string(index=False)}\n{len(table)} jobs: {', '.join(parts)}{extra}"


class Hyp3S1Processor(Hyp3Processor):
    """INSAR_GAMMA interferograms from Sentinel-1 IW SLC pairs (`Processor.create('Hyp3_S1')`).

    Options: looks ('20x4' | '10x2'), include_dem, include_look_vectors, include_inc_map,
    apply_water_mask, phase_filter_parameter (0-1), include_displacement_maps,
    include_wrapped_phase; name_prefix; max_retries.
    """

    processor_name = "Hyp3_S1"
    job_type = INSAR_GAMMA


class Hyp3BurstProcessor(Hyp3Processor):
    """INSAR_ISCE_BURST interferograms from burst pairs (`Processor.create('Hyp3_Burst')`).

    Options: looks ('20x4' | '10x2' | '5x1'), apply_water_mask; name_prefix; max_retries.
    """

    processor_name = "Hyp3_Burst"
    job_type = INSAR_ISCE_BURST


__all__ = ["Hyp3BurstProcessor", "Hyp3Processor", "Hyp3S1Processor", "InsufficientCreditsError",
           "RetryReport", "SubmitResult", "extract_product", "format_table", "normalize_pairs"]
