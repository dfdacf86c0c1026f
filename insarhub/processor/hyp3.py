"""HyP3 interferograms: `Hyp3S1Processor` (INSAR_GAMMA) and `Hyp3BurstProcessor`
(INSAR_ISCE_MULTI_BURST; workdirs of single-burst INSAR_ISCE_BURST jobs keep working).

    p = Processor.create('Hyp3_S1', pairs=pairs, workdir='p100_f466', looks='20x4')
    p.submit(); p.save()                       # never pays twice: the ledger remembers
    p = Processor.create('Hyp3_S1', saved_job_path='p100_f466/hyp3_jobs.json')
    p.refresh(); p.download(); p.retry(); p.watch(refresh_interval=120)

Every pair, job and download is recorded in the ledger `<workdir>/insarhub.db`
(`insarhub.ledger`). Submitting writes the intent before the POST and the ids after it; a job
whose POST may have reached HyP3 (a crash, a lost answer) is looked up by its unique name
before it is ever sent again (`hyp3_submit`). Credits are estimated first (`estimate()`,
`insarhub.credits`) and checked against `max_credits` (nothing is sent above it) and the
account (`GET /user`): what fits is submitted, newest dates first, the rest stays queued and
`CreditError` says how many credits are missing.

Products are unzipped into `<workdir>/hyp3/<product_name>/`. Pairs whose jobs keep failing
(more than `max_retries` resubmissions) are listed by `failed_pairs()`: repair the network
(`insarhub.network`) and feed the new pairs back with `add_pairs()` then `submit()`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from insarhub import ledger_json
from insarhub.console import show
from insarhub.credits import CreditEstimate, check_ceiling, estimate_jobs, job_cost
from insarhub.errors import ConfigError, HyP3Error
from insarhub.ledger import (
    DB_NAME,
    EXPORT_NAME,
    FINAL_STATUSES,
    QUEUED,
    SUBMITTED,
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
    JobStatus,
    ProcessingStatus,
)
from insarhub.processor.hyp3_client import HYP3_POLICY, Hyp3Client
from insarhub.processor.hyp3_download import Hyp3Downloads, extract_product
from insarhub.processor.hyp3_jobs import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_PREFIX,
    INSAR_GAMMA,
    INSAR_ISCE_BURST,
    INSAR_ISCE_MULTI_BURST,
    MAX_JOBS_PER_REQUEST,
    JobOptions,
    acquisition_date,
    check_prefix,
    job_granules,
    job_name,
    make_options,
    prepare_job,
)
from insarhub.processor.hyp3_pairs import normalize_pairs, stack_folder
from insarhub.processor.hyp3_repair import Hyp3Repairs, RetryReport
from insarhub.processor.hyp3_submit import Hyp3Posting, InsufficientCreditsError
from insarhub.retry import RetryPolicy
from insarhub.settings import redact

log = logging.getLogger(__name__)

TABLE_COLUMNS = ["name", "job_id", "status", "expiration_time", "expired", "downloaded",
                 "reference", "secondary", "attempt"]


@dataclass
class SubmitResult:
    """What one submit() did (job names)."""

    submitted: list[str] = field(default_factory=list)  # sent to HyP3 now
    recovered: list[str] = field(default_factory=list)  # found on HyP3 by name, not sent again
    queued: list[str] = field(default_factory=list)  # still waiting (credits)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Hyp3Processor(Hyp3Posting, Hyp3Downloads, Hyp3Repairs, BaseProcessor):
    """HyP3 jobs for the pairs of one stack, followed through the ledger of its workdir."""

    processor_name: ClassVar[str] = ""
    job_type: str = ""  # per class; a processor may go on with a workdir's older type

    def __init__(self, pairs: Any = None, workdir: str | Path | None = None,
                 saved_job_path: str | Path | None = None, *, name_prefix: str | None = None,
                 max_retries: int = DEFAULT_MAX_RETRIES, max_workers: int = 8,
                 batch_size: int = MAX_JOBS_PER_REQUEST, client: Hyp3Client | None = None,
                 retry_policy: RetryPolicy | None = None, **options: Any) -> None:
        saved = Path(saved_job_path).expanduser() if saved_job_path is not None else None
        self._adopt_job_type(workdir, saved)
        pair_list, stack = ([], None) if pairs is None else normalize_pairs(pairs, self.job_type)
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
        self.retry_policy = retry_policy or HYP3_POLICY
        self.last_estimate: CreditEstimate | None = None  # of the last submit()
        self._client = client
        self.ledger = Ledger(self.workdir / DB_NAME)
        if saved is not None:
            self._import(saved)
        self._setup_meta(name_prefix, options, stack)
        if pair_list:
            self.add_pairs(pair_list)

    # -- set-up --------------------------------------------------------------------------
    def _adopt_job_type(self, workdir: str | Path | None, saved: Path | None) -> None:
        """Hook: a processor that accepts older job types in an existing workdir."""

    def _import(self, saved: Path) -> None:
        result = ledger_json.import_json(self.ledger, saved)
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
    def submit(self, max_credits: float | None = None,
               allowance: float | None = None) -> SubmitResult:
        """Send the queued jobs (idempotent: what HyP3 has already is never sent again).

        The credits the queued jobs cost are estimated and logged first (`estimate()`); above
        `max_credits` nothing is sent and `CreditCeilingError` says what the network needs.
        Raises CreditError (after submitting what fits) when the account runs short: the rest
        stays queued, pairs of the newest dates first. `allowance` (a fleet budget's grant)
        caps the credits spent like a smaller account: what fits is sent, the rest stays queued.
        """
        return self._run("submit", lambda: self._submit_locked(max_credits, allowance))

    def queued(self) -> list[JobRecord]:
        """The jobs waiting to be sent, in submission order: pairs of the newest dates first
        (monitoring's new dates before a backfill of old ones), then in the order queued."""
        records = self.ledger.jobs(state=QUEUED)
        return sorted(records, key=lambda r: (acquisition_date(r.secondary),
                                              acquisition_date(r.reference), -r.pair_id),
                      reverse=True)

    def estimate(self, pairs: Any = None, costs: Mapping[str, Any] | None = None
                 ) -> CreditEstimate:
        """The credits the queued jobs, and `pairs` not in the ledger yet (not queued by this
        call), will cost: HyP3's `/costs` table when it answers (or `costs` given), the
        bundled job-spec table otherwise. No HyP3 call when there is nothing to price."""
        requests = [r.request for r in self.queued()]
        if pairs is not None:
            known = set(self.ledger.pairs(include_dropped=True))
            requests += [self.prepare(r, s).request
                         for r, s in normalize_pairs(pairs, self.job_type)[0] if (r, s) not in known]
        if costs is None and requests:
            costs = self._costs()
        return estimate_jobs(requests, costs,
                             stack=self.ledger.get_meta("stack") or self.workdir.name)

    def _costs(self) -> Mapping[str, Any] | None:
        """HyP3's `/costs` table, or None (then the bundled table is used) when it cannot be
        asked (no token, HyP3 down)."""
        try:
            return self.client.costs()
        except (HyP3Error, OSError) as exc:
            log.info("GET /costs failed (%s): the bundled job-spec cost table is used", exc)
            return None

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

    def _submit_locked(self, max_credits: float | None = None,
                       allowance: float | None = None) -> SubmitResult:
        result = SubmitResult(recovered=self._recover())
        self._resolve_imported()
        queued = self.queued()
        if not queued:
            return result
        costs = self._costs()
        estimate = estimate_jobs((r.request for r in queued), costs,
                                 stack=self.ledger.get_meta("stack") or self.workdir.name)
        self.last_estimate = estimate
        log.info("%s: HyP3 credits for the queued jobs: %s", estimate.stack, estimate.line())
        check_ceiling(estimate, max_credits)
        fit, missing, remaining = self._fit_credits(queued, costs, allowance)
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

    def _fit_credits(self, queued: list[JobRecord], costs: Mapping[str, Any] | None,
                     allowance: float | None = None) -> tuple[list[JobRecord], float, float]:
        """The queued jobs that fit the remaining credits (and `allowance`), in order; missing
        and remaining."""
        remaining = self.client.user().get("remaining_credits")
        if allowance is not None:
            remaining = allowance if remaining is None else min(float(remaining), allowance)
        if remaining is None:
            return queued, 0.0, float("inf")
        prices = [job_cost(r.request, costs) for r in queued]
        fit: list[JobRecord] = []
        spent = 0.0
        for record, price in zip(queued, prices, strict=True):
            if spent + price > float(remaining) + 1e-9:
                break
            fit.append(record)
            spent += price
        return fit, max(0.0, sum(prices) - float(remaining)), float(remaining)

    def _resolve_imported(self) -> None:
        """Jobs known by id only (the seed's hyp3_jobs.json): fetch them and record pairs."""
        ids = list(self.ledger.get_meta("unresolved_job_ids", []) or [])
        if not ids:
            return
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(ids))) as pool:
            jobs = list(pool.map(self.client.get_job, ids))
        for job in jobs:
            params = dict(job.get("job_parameters") or {})
            request = {"job_type": job.get("job_type"), "job_parameters": params}
            try:
                reference, secondary = job_granules(request)
            except (KeyError, TypeError, ValueError):
                reference = secondary = ""
            if job.get("job_type") != self.job_type or not reference or not secondary:
                log.warning("job %s is %s, not a pair of this processor (%s): skipped",
                            job.get("job_id"), job.get("job_type"), self.job_type)
                continue
            self.ledger.adopt_job(job, job_name(self.name_prefix, request), request,
                                  reference, secondary)
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
        show(format_table(table))
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
            counts[PENDING if r.status == JobStatus.SUBMITTING else r.status] += 1
        failed = [r.name for r in records if r.status == FAILED]
        detail = {
            "workdir": str(self.workdir),
            "queued": counts.get(JobStatus.QUEUED, 0),
            "expired": [r.name for r in records if r.status == SUCCEEDED and self.is_expired(r)
                        and not self.has_product(r)],
            "downloaded": sum(1 for r in records if self.has_product(r)),
            "exhausted": self.failed_pairs(),
        }
        ordered = {s: counts[s] for s in (JobStatus.QUEUED, PENDING, RUNNING, SUCCEEDED, FAILED)
                   if counts.get(s)}
        return ProcessingStatus(counts=ordered, failed=failed, detail=detail)

    # -- persistence ---------------------------------------------------------------------
    def _export(self) -> Path:
        return ledger_json.export_json(self.ledger, self.workdir / EXPORT_NAME)

    def save(self, save_path: str | Path | None = None) -> Path:
        """Write `hyp3_jobs.json` (an export of the ledger, no secrets); returns its path."""
        path = ledger_json.export_json(self.ledger, Path(save_path) if save_path else self.workdir / EXPORT_NAME)
        show(f"Jobs saved to {path}; reload with "
              f"Processor.create({self.processor_name!r}, saved_job_path={str(path)!r})")
        return path


def format_table(table: pd.DataFrame) -> str:
    """The status table as printed by refresh(): one row per pair, then counts."""
    if table.empty:
        return "no HyP3 jobs in this workdir yet"
    shown = table[["name", "job_id", "status", "expiration_time"]].fillna("-")
    counts = table["status"].value_counts()
    parts = [f"{counts[s]} {s.lower()}" for s in
             (JobStatus.QUEUED, JobStatus.SUBMITTING, PENDING, RUNNING, SUCCEEDED, FAILED)
             if s in counts]
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
    """Multi-burst interferograms (INSAR_ISCE_MULTI_BURST) of a burst stack
    (`Processor.create('Hyp3_Burst')`).

    A pair side is one date's bursts: the '+'-joined node name the pair network gives, a list
    of burst names or a `MultiBurstScene`; a single burst name is a one-burst set. A workdir
    whose ledger holds single-burst (INSAR_ISCE_BURST) jobs goes on with that job type.
    Options: looks ('20x4' | '10x2' | '5x1'), apply_water_mask; name_prefix; max_retries.
    """

    processor_name = "Hyp3_Burst"
    job_type = INSAR_ISCE_MULTI_BURST
    legacy_job_types: ClassVar[tuple[str, ...]] = (INSAR_ISCE_BURST,)

    def _adopt_job_type(self, workdir: str | Path | None, saved: Path | None) -> None:
        known = saved_job_type(workdir, saved)
        if known in self.legacy_job_types:
            self.job_type = known
            log.info("%s holds %s jobs: this processor goes on with them", workdir or saved,
                     known)


def saved_job_type(workdir: str | Path | None, saved: Path | None) -> str | None:
    """The job type recorded in a saved hyp3_jobs.json or in the workdir's ledger, if any."""
    import json

    if saved is not None and saved.is_file():
        try:
            value = json.loads(saved.read_text()).get("job_type")
        except (OSError, ValueError, AttributeError):
            value = None
        if value:
            return str(value)
    if workdir is not None and (Path(workdir).expanduser() / DB_NAME).is_file():
        ledger = Ledger(Path(workdir).expanduser() / DB_NAME)
        try:
            value = ledger.get_meta("job_type")
        finally:
            ledger.close()
        return str(value) if value else None
    return None


__all__ = ["Hyp3BurstProcessor", "Hyp3Processor", "Hyp3S1Processor", "InsufficientCreditsError",
           "RetryReport", "SubmitResult", "extract_product", "format_table", "normalize_pairs"]
