"""The sandbox HyP3's state: users with credits and jobs with their life cycle, kept in SQLite.

Time: every instant is stored on the *sandbox clock* (the catalog's movable "now"). A job moves
PENDING -> RUNNING -> SUCCEEDED/FAILED as its elapsed time grows, computed lazily on each
read; elapsed time is the larger of the sandbox-clock and the wall-clock time since submission,
so jobs finish in `job_seconds` of real time and also when the clock is advanced past them.
Products expire 14 days (sandbox clock) after the job finished, like HyP3's content bucket.

The database is `<data_dir>/hyp3/jobs.sqlite` (one JSON document per user and per job), so a
restarted sandbox keeps its users, credits and jobs. All access goes through one lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from insarhub_sandbox.clock import parse_time
from insarhub_sandbox.hyp3.multiburst import job_granules

PENDING, RUNNING, SUCCEEDED, FAILED = "PENDING", "RUNNING", "SUCCEEDED", "FAILED"
STATUS_CODES = (PENDING, RUNNING, SUCCEEDED, FAILED)
EXPIRY = timedelta(days=14)
PENDING_SHARE = 0.3  # share of a job's duration spent PENDING


@dataclass
class User:
    """One HyP3 user (one bearer token) and its monthly credits (dynamo/user.py)."""

    user_id: str
    remaining_credits: Decimal
    credits_per_month: Decimal
    month_of_last_credit_reset: str

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "remaining_credits": str(self.remaining_credits),
                "credits_per_month": str(self.credits_per_month),
                "month_of_last_credit_reset": self.month_of_last_credit_reset}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> User:
        return cls(data["user_id"], Decimal(data["remaining_credits"]),
                   Decimal(data["credits_per_month"]), data["month_of_last_credit_reset"])


@dataclass
class Product:
    """What a successful job produced: files under `<data_dir>/products/<job_id>/`."""

    name: str
    files: list[dict[str, Any]]  # {"filename", "size"}
    browse_images: list[str] = field(default_factory=list)  # file names
    thumbnail_images: list[str] = field(default_factory=list)


@dataclass
class Job:
    """One job as stored; `status_code` is final once SUCCEEDED or FAILED."""

    job_id: str
    seq: int
    user_id: str
    job_type: str
    job_parameters: dict[str, Any]
    request_time: datetime  # sandbox clock
    request_wall: datetime  # real time, to run jobs in wall time too
    credit_cost: Decimal
    priority: int
    duration_s: float  # from submission to completion
    fate: str  # SUCCEEDED or FAILED, decided at submission
    name: str | None = None
    fail_reason: str | None = None
    status_code: str = PENDING
    finished_at: datetime | None = None  # sandbox clock
    product: Product | None = None
    render_error: str | None = None

    @property
    def final(self) -> bool:
        return self.status_code in (SUCCEEDED, FAILED)

    @property
    def expiration_time(self) -> datetime | None:
        return self.finished_at + EXPIRY if self.finished_at else None

    def expired(self, now: datetime) -> bool:
        expiration = self.expiration_time
        return expiration is not None and now >= expiration

    @property
    def granules(self) -> list[str]:
        """Every granule of the job: `granules`, or the multi-burst `reference` + `secondary`."""
        return job_granules(self.job_parameters)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("request_time", "request_wall", "finished_at"):
            data[key] = data[key].isoformat() if data[key] else None
        data["credit_cost"] = str(self.credit_cost)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        data = dict(data)
        for key in ("request_time", "request_wall", "finished_at"):
            data[key] = parse_time(data[key]) if data.get(key) else None
        data["credit_cost"] = Decimal(data["credit_cost"])
        data["product"] = Product(**data["product"]) if data.get("product") else None
        return cls(**data)

    # -- life cycle ------------------------------------------------------------------------
    def elapsed(self, now: datetime, wall: datetime) -> float:
        return max((now - self.request_time).total_seconds(), (wall - self.request_wall).total_seconds())

    def advance(self, now: datetime, wall: datetime, render: Callable[[Job], None]) -> bool:
        """Move the job on to where time has brought it; True when it just became final.

        `render(job)` is asked for the product of a job that is due to succeed but has none yet
        (the job stays RUNNING until the product exists).
        """
        if self.final:
            return False
        elapsed = self.elapsed(now, wall)
        if elapsed < self.duration_s * PENDING_SHARE:
            self.status_code = PENDING
            return False
        if self.fate == SUCCEEDED and self.product is None and self.render_error is None:
            render(self)
        if elapsed < self.duration_s or (self.fate == SUCCEEDED and self.product is None
                                         and self.render_error is None):
            self.status_code = RUNNING
            return False
        if self.fate == SUCCEEDED and self.render_error is not None:
            self.fail_reason = f"processing failed: {self.render_error}"
            self.status_code = FAILED
        else:
            self.status_code = self.fate
        self.finished_at = min(self.request_time + timedelta(seconds=self.duration_s), now)
        return True

    @property
    def processing_times(self) -> list[float] | None:
        """Seconds of the single processing step (null for failed jobs, as in the spec)."""
        if self.status_code != SUCCEEDED:
            return None
        return [round(self.duration_s * (1 - PENDING_SHARE), 3)]


def month_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


class JobStore:
    """Users and jobs in memory, written through to SQLite; every method is thread-safe."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, "
                         "user_id TEXT NOT NULL, doc TEXT NOT NULL)")
        self.users: dict[str, User] = {}
        self.jobs: dict[str, Job] = {}
        for (doc,) in self._db.execute("SELECT doc FROM users"):
            user = User.from_json(json.loads(doc))
            self.users[user.user_id] = user
        for (doc,) in self._db.execute("SELECT doc FROM jobs ORDER BY seq"):
            job = Job.from_json(json.loads(doc))
            self.jobs[job.job_id] = job
        self._seq = max((job.seq for job in self.jobs.values()), default=0)

    def close(self) -> None:
        with self.lock:
            self._db.close()

    # -- users -----------------------------------------------------------------------------
    def user(self, user_id: str, now: datetime, credits_per_month: Decimal) -> User:
        """The user, created on first sight; credits reset at each new month (sandbox clock)."""
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                user = User(user_id, credits_per_month, credits_per_month, month_of(now))
                self.users[user_id] = user
                self._save_users([user])
            elif user.month_of_last_credit_reset < month_of(now):
                user.remaining_credits = user.credits_per_month
                user.month_of_last_credit_reset = month_of(now)
                self._save_users([user])
            return user

    def set_credits(self, user_id: str, credits: Decimal, now: datetime) -> User:
        with self.lock:
            user = self.user(user_id, now, credits)
            user.remaining_credits = credits
            self._save_users([user])
            return user

    def job_names(self, user_id: str) -> list[str]:
        with self.lock:
            return sorted({j.name for j in self.jobs.values() if j.user_id == user_id and j.name})

    # -- jobs ------------------------------------------------------------------------------
    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    def add(self, user: User, jobs: list[Job], total_cost: Decimal) -> None:
        """Store a batch and charge its cost in one transaction: all or nothing."""
        with self.lock:
            user.remaining_credits -= total_cost
            try:
                self._db.execute("BEGIN")
                self._write_users([user])
                self._write_jobs(jobs)
                self._db.execute("COMMIT")
            except Exception:
                self._db.execute("ROLLBACK")
                user.remaining_credits += total_cost
                raise
            for job in jobs:
                self.jobs[job.job_id] = job

    def save(self, jobs: Iterable[Job]) -> None:
        with self.lock:
            jobs = list(jobs)
            if jobs:
                self._db.execute("BEGIN")
                self._write_jobs(jobs)
                self._db.execute("COMMIT")

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def of_user(self, user_id: str) -> list[Job]:
        """The user's jobs, newest first (HyP3 queries with ScanIndexForward=False)."""
        with self.lock:
            return sorted((j for j in self.jobs.values() if j.user_id == user_id),
                          key=lambda j: j.seq, reverse=True)

    def _save_users(self, users: list[User]) -> None:
        self._db.execute("BEGIN")
        self._write_users(users)
        self._db.execute("COMMIT")

    def _write_users(self, users: list[User]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO users (user_id, doc) VALUES (?, ?)",
                             [(u.user_id, json.dumps(u.to_json())) for u in users])

    def _write_jobs(self, jobs: list[Job]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO jobs (job_id, seq, user_id, doc) VALUES (?, ?, ?, ?)",
                             [(j.job_id, j.seq, j.user_id, json.dumps(j.to_json())) for j in jobs])
