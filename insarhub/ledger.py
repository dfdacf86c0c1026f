"""The job ledger: one SQLite file per stack working directory, `<workdir>/insarhub.db`.

It records every interferogram pair, each HyP3 job asked for it (one row per attempt), the
job ids HyP3 gave, their status, expiry and files, the downloads, and a log of runs. It is
what makes HyP3 submission safe to repeat and to interrupt:

- every write is one SQLite transaction (WAL journal, `busy_timeout`, `synchronous=FULL`),
  so a process killed at any instant leaves the ledger as it was before or after a write;
- a job is marked `submitting` (the *intent*) before its POST and gets its `job_id` after it;
  a job still `submitting` when a process starts may have reached HyP3: the processor looks
  its (unique, deterministic) name up on HyP3 before sending it again;
- a pair is stored once: adding the same pairs again adds nothing.

Job rows move `queued` -> `submitting` -> `submitted` (or back to `queued` when HyP3 is known
not to have it). A resubmission (failed or expired job) is a new row, attempt n+1, named
`<base name>_r<n>`. The *current* job of a pair is its highest attempt.

`hyp3_jobs.json` is an export of the ledger, merged back by `insarhub.ledger_json`.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from insarhub.errors import LedgerError

log = logging.getLogger(__name__)

DB_NAME = "insarhub.db"
EXPORT_NAME = "hyp3_jobs.json"  # the ledger's export (insarhub.ledger_json), beside it
SCHEMA_VERSION = 1

QUEUED, SUBMITTING, SUBMITTED = "queued", "submitting", "submitted"
JOB_STATES = (QUEUED, SUBMITTING, SUBMITTED)
FINAL_STATUSES = ("SUCCEEDED", "FAILED")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL                       -- JSON
);
CREATE TABLE IF NOT EXISTS pairs (
    pair_id   INTEGER PRIMARY KEY,
    reference TEXT NOT NULL,
    secondary TEXT NOT NULL,
    job_type  TEXT NOT NULL,
    request   TEXT NOT NULL,                  -- JSON job dict without name
    base_name TEXT NOT NULL UNIQUE,
    added_at  TEXT NOT NULL,
    dropped_at TEXT,                          -- replaced in the network: no longer followed
    UNIQUE (reference, secondary, job_type)
);
CREATE TABLE IF NOT EXISTS jobs (
    name            TEXT PRIMARY KEY,         -- the HyP3 job name of this attempt
    pair_id         INTEGER NOT NULL REFERENCES pairs (pair_id),
    attempt         INTEGER NOT NULL,
    reason          TEXT NOT NULL,            -- new | failed | expired | imported
    state           TEXT NOT NULL CHECK (state IN ('queued', 'submitting', 'submitted')),
    job_id          TEXT UNIQUE,
    user_id         TEXT,
    status_code     TEXT,
    request_time    TEXT,
    expiration_time TEXT,
    credit_cost     REAL,
    files           TEXT,                     -- JSON [{url, filename, size}]
    expired         INTEGER NOT NULL DEFAULT 0,
    intent_at       TEXT,
    submitted_at    TEXT,
    updated_at      TEXT NOT NULL,
    UNIQUE (pair_id, attempt),
    CHECK (state != 'submitted' OR job_id IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
CREATE TABLE IF NOT EXISTS downloads (
    job_id       TEXT NOT NULL,
    filename     TEXT NOT NULL,
    url          TEXT NOT NULL,
    size         INTEGER,
    product_dir  TEXT NOT NULL,               -- relative to the workdir
    completed_at TEXT NOT NULL,
    PRIMARY KEY (job_id, filename)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id      INTEGER PRIMARY KEY,
    action      TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT,                         -- ok | error | NULL while running (or killed)
    detail      TEXT                          -- JSON
);
"""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def attempt_name(base_name: str, attempt: int) -> str:
    """The HyP3 job name of attempt `attempt` (0 = the first submission)."""
    return base_name if attempt == 0 else f"{base_name}_r{attempt}"


@dataclass(frozen=True)
class PairSpec:
    """A pair to add: its granules, the job request (without name) and its base job name."""

    reference: str
    secondary: str
    job_type: str
    request: dict[str, Any]
    base_name: str


@dataclass(frozen=True)
class JobRecord:
    """One job row (one attempt of one pair) joined with its pair."""

    name: str
    pair_id: int
    reference: str
    secondary: str
    job_type: str
    base_name: str
    request: dict[str, Any]
    attempt: int
    reason: str
    state: str
    job_id: str | None
    user_id: str | None
    status_code: str | None
    request_time: str | None
    expiration_time: str | None
    credit_cost: float | None
    files: list[dict[str, Any]]
    expired: bool
    downloaded: str | None  # product dir (relative to the workdir) once downloaded

    @property
    def pair(self) -> tuple[str, str]:
        return (self.reference, self.secondary)

    @property
    def granules(self) -> tuple[list[str], list[str]]:
        """Each side's granules (a multi-burst side: its bursts, stored '+'-joined)."""
        return self.reference.split("+"), self.secondary.split("+")

    @property
    def status(self) -> str:
        """HyP3's status code, or QUEUED / SUBMITTING before HyP3 has the job."""
        if self.state == SUBMITTED:
            return self.status_code or "PENDING"
        return self.state.upper()

    def payload(self) -> dict[str, Any]:
        """The POST /jobs entry for this attempt."""
        return {**self.request, "name": self.name}


_JOB_COLUMNS = """
    j.name, j.pair_id, p.reference, p.secondary, p.job_type, p.base_name, p.request,
    j.attempt, j.reason, j.state, j.job_id, j.user_id, j.status_code, j.request_time,
    j.expiration_time, j.credit_cost, j.files, j.expired,
    (SELECT d.product_dir FROM downloads d WHERE d.job_id = j.job_id LIMIT 1)
"""
_CURRENT = "j.attempt = (SELECT MAX(k.attempt) FROM jobs k WHERE k.pair_id = j.pair_id)"


def _record(row: Sequence[Any]) -> JobRecord:
    return JobRecord(
        name=row[0], pair_id=row[1], reference=row[2], secondary=row[3], job_type=row[4],
        base_name=row[5], request=json.loads(row[6]), attempt=row[7], reason=row[8],
        state=row[9], job_id=row[10], user_id=row[11], status_code=row[12],
        request_time=row[13], expiration_time=row[14], credit_cost=row[15],
        files=json.loads(row[16]) if row[16] else [], expired=bool(row[17]), downloaded=row[18],
    )


def _clean_files(files: Any) -> list[dict[str, Any]]:
    """HyP3 `files` reduced to what downloads need (no S3 internals)."""
    out = []
    for item in files or []:
        if isinstance(item, Mapping) and item.get("url"):
            out.append({"url": str(item["url"]), "filename": str(item.get("filename") or ""),
                        "size": item.get("size")})
    return out


class Ledger:
    """The SQLite ledger of one stack working directory (thread-safe, process-safe)."""

    def __init__(self, path: str | Path, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.workdir = self.path.parent
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._con = sqlite3.connect(str(self.path), timeout=busy_timeout_s,
                                        isolation_level=None, check_same_thread=False)
            self._con.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self._con.execute("PRAGMA journal_mode = WAL")
            self._con.execute("PRAGMA synchronous = FULL")
            self._con.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(
                f"ledger {self.path} cannot be opened ({exc}); if it is damaged, move it aside "
                f"and rebuild it from {self.workdir / EXPORT_NAME} with insarhub.ledger_json.import_json()"
            ) from exc

    @classmethod
    def for_workdir(cls, workdir: str | Path) -> Ledger:
        return cls(Path(workdir) / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def lock(self, purpose: str, timeout_s: float | None = 600.0) -> Iterator[bool]:
        """An exclusive lock on this workdir for `purpose` ("submit", "download"), across
        processes (flock; released by the OS if the holder dies). Yields False instead of
        waiting when `timeout_s` is 0 and the lock is held elsewhere.
        """
        import fcntl

        path = self.workdir / f".insarhub-{purpose}.lock"
        with path.open("a+") as handle:
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if timeout_s == 0:
                        yield False
                        return
                    if deadline is not None and time.monotonic() >= deadline:
                        raise LedgerError(
                            f"another process holds the {purpose} lock of {self.workdir} "
                            f"({path}) for more than {timeout_s:.0f} s; wait for it to finish"
                        ) from None
                    time.sleep(0.05)
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- transactions --------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._con.execute(sql, params).fetchall()

    def _migrate(self) -> None:
        version = self._con.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.path} has schema version {version}, newer than this insarhub "
                f"understands ({SCHEMA_VERSION}); upgrade insarhub to use it"
            )
        if version < SCHEMA_VERSION:
            with self.transaction() as con:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        return int(self._query("PRAGMA user_version")[0][0])

    def integrity_ok(self) -> bool:
        return self._query("PRAGMA integrity_check")[0][0] == "ok"

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def set_meta(self, values: Mapping[str, Any]) -> None:
        with self.transaction() as con:
            for key, value in values.items():
                con.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            (key, json.dumps(value, sort_keys=True)))

    def meta(self) -> dict[str, Any]:
        return {key: json.loads(value) for key, value in self._query("SELECT key, value FROM meta")}

    # -- pairs ---------------------------------------------------------------------------
    def add_pairs(self, pairs: Iterable[PairSpec]) -> int:
        """Add pairs not yet in the ledger, each with a queued first job; returns how many."""
        added = 0
        now = utc_now()
        with self.transaction() as con:
            for spec in pairs:
                found = con.execute(
                    "SELECT pair_id FROM pairs WHERE reference = ? AND secondary = ? AND job_type = ?",
                    (spec.reference, spec.secondary, spec.job_type)).fetchone()
                if found:
                    continue
                cursor = con.execute(
                    "INSERT INTO pairs (reference, secondary, job_type, request, base_name, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (spec.reference, spec.secondary, spec.job_type,
                     json.dumps(spec.request, sort_keys=True), spec.base_name, now))
                con.execute(
                    "INSERT INTO jobs (name, pair_id, attempt, reason, state, updated_at) "
                    "VALUES (?, ?, 0, 'new', 'queued', ?)",
                    (attempt_name(spec.base_name, 0), cursor.lastrowid, now))
                added += 1
        return added

    def drop_pairs(self, pairs: Iterable[tuple[str, str]], job_type: str) -> int:
        """Take pairs out of the network (kept as history; queued jobs are not sent)."""
        now = utc_now()
        count = 0
        with self.transaction() as con:
            for reference, secondary in pairs:
                row = con.execute("SELECT pair_id FROM pairs WHERE reference = ? AND secondary = ? "
                                  "AND job_type = ? AND dropped_at IS NULL",
                                  (reference, secondary, job_type)).fetchone()
                if row is None:
                    continue
                con.execute("UPDATE pairs SET dropped_at = ? WHERE pair_id = ?", (now, row[0]))
                con.execute("DELETE FROM jobs WHERE pair_id = ? AND state = 'queued'", (row[0],))
                count += 1
        return count

    def pair_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM pairs WHERE dropped_at IS NULL")[0][0])

    def pairs(self, include_dropped: bool = False) -> list[tuple[str, str]]:
        where = "" if include_dropped else " WHERE dropped_at IS NULL"
        return [(r, s) for r, s in self._query(
            f"SELECT reference, secondary FROM pairs{where} ORDER BY pair_id")]

    # -- jobs: reading -------------------------------------------------------------------
    def jobs(self, *, current_only: bool = True, state: str | None = None,
             names: Iterable[str] | None = None, include_dropped: bool = False) -> list[JobRecord]:
        """Job rows (by default the current attempt of each pair still in the network)."""
        where, params = [], []
        if current_only:
            where.append(_CURRENT)
        if not include_dropped:
            where.append("p.dropped_at IS NULL")
        if state is not None:
            where.append("j.state = ?")
            params.append(state)
        if names is not None:
            wanted = list(names)
            if not wanted:
                return []
            where.append(f"j.name IN ({','.join('?' * len(wanted))})")
            params.extend(wanted)
        sql = (f"SELECT {_JOB_COLUMNS} FROM jobs j JOIN pairs p ON p.pair_id = j.pair_id"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY j.pair_id, j.attempt")
        return [_record(row) for row in self._query(sql, params)]

    def job(self, name: str) -> JobRecord | None:
        found = self.jobs(current_only=False, names=[name])
        return found[0] if found else None

    def known_job_ids(self) -> set[str]:
        return {r[0] for r in self._query("SELECT job_id FROM jobs WHERE job_id IS NOT NULL")}

    def attempts(self, pair_id: int) -> int:
        """How many jobs were sent (or are being sent) to HyP3 for this pair."""
        return int(self._query("SELECT COUNT(*) FROM jobs WHERE pair_id = ? AND state != 'queued'",
                               (pair_id,))[0][0])

    # -- jobs: the submission protocol ---------------------------------------------------
    def mark_submitting(self, names: Sequence[str]) -> list[str]:
        """Write the intent (queued -> submitting) before a POST; returns the names claimed."""
        claimed: list[str] = []
        now = utc_now()
        with self.transaction() as con:
            for name in names:
                cursor = con.execute(
                    "UPDATE jobs SET state = 'submitting', intent_at = ?, updated_at = ? "
                    "WHERE name = ? AND state = 'queued'", (now, now, name))
                if cursor.rowcount:
                    claimed.append(name)
        return claimed

    def requeue(self, names: Sequence[str]) -> None:
        """HyP3 does not have these jobs: back to the queue (submitting -> queued)."""
        now = utc_now()
        with self.transaction() as con:
            for name in names:
                con.execute("UPDATE jobs SET state = 'queued', intent_at = NULL, updated_at = ? "
                            "WHERE name = ? AND state = 'submitting'", (now, name))

    def record_submitted(self, jobs: Sequence[Mapping[str, Any]]) -> int:
        """Store the ids HyP3 gave (matched by job name), in one transaction."""
        now = utc_now()
        count = 0
        with self.transaction() as con:
            for job in jobs:
                name, job_id = job.get("name"), job.get("job_id")
                if not name or not job_id:
                    continue
                row = con.execute("SELECT job_id FROM jobs WHERE name = ?", (name,)).fetchone()
                if row is None:
                    continue
                if row[0] is not None and row[0] != job_id:
                    log.warning("job %s already recorded as %s; ignoring second id %s",
                                name, row[0], job_id)
                    continue
                con.execute(
                    "UPDATE jobs SET state = 'submitted', job_id = ?, submitted_at = COALESCE("
                    "submitted_at, ?), updated_at = ? WHERE name = ?", (job_id, now, now, name))
                self._apply_status(con, job, now)
                count += 1
        return count

    def update_status(self, jobs: Iterable[Mapping[str, Any]]) -> int:
        """Refresh known jobs from HyP3 job JSON (matched by job_id); returns rows changed."""
        now = utc_now()
        count = 0
        with self.transaction() as con:
            for job in jobs:
                count += self._apply_status(con, job, now)
        return count

    @staticmethod
    def _apply_status(con: sqlite3.Connection, job: Mapping[str, Any], now: str) -> int:
        files = _clean_files(job.get("files"))
        cursor = con.execute(
            "UPDATE jobs SET status_code = ?, user_id = COALESCE(?, user_id), "
            "request_time = COALESCE(?, request_time), "
            "expiration_time = COALESCE(?, expiration_time), "
            "credit_cost = COALESCE(?, credit_cost), files = COALESCE(?, files), updated_at = ? "
            "WHERE job_id = ?",
            (job.get("status_code"), job.get("user_id"), job.get("request_time"),
             job.get("expiration_time"), job.get("credit_cost"),
             json.dumps(files) if files else None, now, job.get("job_id")))
        return cursor.rowcount

    def mark_expired(self, job_ids: Iterable[str]) -> None:
        now = utc_now()
        with self.transaction() as con:
            for job_id in job_ids:
                con.execute("UPDATE jobs SET expired = 1, updated_at = ? WHERE job_id = ?",
                            (now, job_id))

    def queue_retry(self, pair_id: int, reason: str) -> str | None:
        """A new queued attempt for `pair_id` (unless one is already waiting); its name."""
        now = utc_now()
        with self.transaction() as con:
            last = con.execute(
                "SELECT j.attempt, j.state, p.base_name FROM jobs j JOIN pairs p "
                "ON p.pair_id = j.pair_id WHERE j.pair_id = ? ORDER BY j.attempt DESC LIMIT 1",
                (pair_id,)).fetchone()
            if last is None:
                raise LedgerError(f"pair_id {pair_id} is not in ledger {self.path}")
            attempt, state, base_name = last
            if state != SUBMITTED:
                return None
            name = attempt_name(base_name, attempt + 1)
            con.execute("INSERT INTO jobs (name, pair_id, attempt, reason, state, updated_at) "
                        "VALUES (?, ?, ?, ?, 'queued', ?)", (name, pair_id, attempt + 1, reason, now))
            return str(name)

    # -- downloads -----------------------------------------------------------------------
    def record_download(self, job_id: str, filename: str, url: str, size: int | None,
                        product_dir: str) -> None:
        with self.transaction() as con:
            con.execute(
                "INSERT INTO downloads (job_id, filename, url, size, product_dir, completed_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, filename) DO UPDATE SET "
                "url = excluded.url, size = excluded.size, product_dir = excluded.product_dir, "
                "completed_at = excluded.completed_at",
                (job_id, filename, url, size, product_dir, utc_now()))

    def start_run(self, action: str) -> int:
        with self.transaction() as con:
            cursor = con.execute("INSERT INTO runs (action, pid, started_at) VALUES (?, ?, ?)",
                                 (action, os.getpid(), utc_now()))
            return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, outcome: str, detail: Mapping[str, Any] | None = None) -> None:
        with self.transaction() as con:
            con.execute("UPDATE runs SET finished_at = ?, outcome = ?, detail = ? WHERE run_id = ?",
                        (utc_now(), outcome, json.dumps(dict(detail or {}), default=str), run_id))

    def runs(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT run_id, action, pid, started_at, finished_at, outcome, detail "
                           "FROM runs ORDER BY run_id")
        keys = ("run_id", "action", "pid", "started_at", "finished_at", "outcome", "detail")
        out = []
        for row in rows:
            item = dict(zip(keys, row, strict=True))
            item["detail"] = json.loads(item["detail"]) if item["detail"] else None
            out.append(item)
        return out

    # -- export / import -----------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Current jobs per status (QUEUED, SUBMITTING, PENDING, RUNNING, SUCCEEDED, FAILED)."""
        counts: dict[str, int] = {}
        for record in self.jobs():
            counts[record.status] = counts.get(record.status, 0) + 1
        return counts

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A consistent read of several queries (one read transaction)."""
        with self._lock:
            self._con.execute("BEGIN")
            try:
                yield
            finally:
                self._con.execute("COMMIT")

    def adopt_job(self, job: Mapping[str, Any], base_name: str, request: dict[str, Any],
                  reference: str, secondary: str) -> bool:
        """Record a job found on HyP3 (seed files hold ids only) with its pair; False if known."""
        now = utc_now()
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM jobs WHERE job_id = ?", (job["job_id"],)).fetchone():
                return False
            job_type = request["job_type"]
            row = con.execute(
                "SELECT pair_id, base_name FROM pairs WHERE reference = ? AND secondary = ? "
                "AND job_type = ?", (reference, secondary, job_type)).fetchone()
            if row is None:
                cursor = con.execute(
                    "INSERT INTO pairs (reference, secondary, job_type, request, base_name, "
                    "added_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (reference, secondary, job_type, json.dumps(request, sort_keys=True),
                     base_name, now))
                pair_id, attempt = int(cursor.lastrowid or 0), 0
            else:
                pair_id = int(row[0])
                attempt = 1 + int(con.execute("SELECT MAX(attempt) FROM jobs WHERE pair_id = ?",
                                              (pair_id,)).fetchone()[0] or 0)
                # a queued first attempt of the same pair is this job: replace it
                queued = con.execute("SELECT attempt FROM jobs WHERE pair_id = ? AND state = "
                                     "'queued'", (pair_id,)).fetchone()
                if queued is not None:
                    con.execute("DELETE FROM jobs WHERE pair_id = ? AND state = 'queued'", (pair_id,))
                    attempt = int(queued[0])
            name = str(job.get("name") or attempt_name(base_name, attempt))
            if con.execute("SELECT 1 FROM jobs WHERE name = ?", (name,)).fetchone():
                name = f"{name}_{str(job['job_id'])[:8]}"
            con.execute(
                "INSERT INTO jobs (name, pair_id, attempt, reason, state, job_id, submitted_at, "
                "updated_at) VALUES (?, ?, ?, 'imported', 'submitted', ?, ?, ?)",
                (name, pair_id, attempt, job["job_id"], now, now))
            self._apply_status(con, job, now)
            return True
