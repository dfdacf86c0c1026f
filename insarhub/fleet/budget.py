"""The fleet's monthly HyP3 credit budget: a plan per cycle, grants and spend in SQLite.

Each cycle estimates what every AOI needs (`Need`: credits per pending date, newest first),
and `plan` buys what fits: the newest date of every AOI before any older one, higher priority
first among equals. A grant is written before the AOI's run starts (it counts against the
month at once) and settled by the run with what it really spent; a run killed before it
settles leaves its whole grant counted, so the month can only be over-counted, never
over-spent. The file (`<fleet workdir>/fleet.db`) survives restarts; every write is one
transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from insarhub.errors import CreditError

DB_NAME = "fleet.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS grants (
    grant_id   INTEGER PRIMARY KEY,
    month      TEXT NOT NULL,               -- YYYY-MM, the month HyP3 counts credits in
    aoi        TEXT NOT NULL,
    credits    REAL NOT NULL,               -- what the run may spend
    spent      REAL,                        -- what it spent (NULL until settled)
    granted_at TEXT NOT NULL,
    settled_at TEXT,
    flow_run   TEXT
);
CREATE INDEX IF NOT EXISTS grants_month ON grants (month);
CREATE TABLE IF NOT EXISTS spend (
    job_name  TEXT PRIMARY KEY,             -- a HyP3 job is counted once, ever
    month     TEXT NOT NULL,
    aoi       TEXT NOT NULL,
    credits   REAL NOT NULL,
    grant_id  INTEGER,
    counted_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cycles (
    cycle_id   INTEGER PRIMARY KEY,
    month      TEXT NOT NULL,
    planned_at TEXT NOT NULL,
    available  REAL NOT NULL,
    needed     REAL NOT NULL,
    granted    REAL NOT NULL
);
"""


def month_of(moment: datetime | None = None) -> str:
    """`YYYY-MM` of `moment` (UTC now by default)."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Need:
    """What one AOI needs this cycle: credits per pending date, newest date first."""

    aoi: str
    priority: int
    per_date: tuple[float, ...]

    @property
    def total(self) -> float:
        return float(sum(self.per_date))


@dataclass
class Plan:
    """One cycle's allocation: credits granted per AOI, and what waits for next month."""

    month: str
    available: float
    grants: dict[str, float] = field(default_factory=dict)
    deferred: dict[str, float] = field(default_factory=dict)  # credits left for next month

    @property
    def granted(self) -> float:
        return float(sum(self.grants.values()))


def plan(needs: Sequence[Need], available: float, month: str) -> Plan:
    """Buy what fits in `available`: date rank 0 (each AOI's newest) of every AOI first,
    higher priority first among the same rank (then name), then rank 1, ...; a date is
    bought whole or not at all (its pairs are one step of the time series)."""
    result = Plan(month, max(0.0, available))
    left = result.available
    items = sorted(((rank, -need.priority, need.aoi, cost)
                    for need in needs for rank, cost in enumerate(need.per_date)))
    blocked: set[str] = set()  # an AOI whose date did not fit buys nothing older
    for _rank, _priority, aoi, cost in items:
        if aoi in blocked or cost > left + 1e-9:
            blocked.add(aoi)
            result.deferred[aoi] = result.deferred.get(aoi, 0.0) + cost
            continue
        result.grants[aoi] = result.grants.get(aoi, 0.0) + cost
        left -= cost
    for need in needs:
        result.grants.setdefault(need.aoi, 0.0)
    return result


class FleetBudget:
    """The month's accounting of the fleet (SQLite)."""

    def __init__(self, path: str | Path, monthly_credits: float) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.monthly_credits = float(monthly_credits)
        self._con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.executescript(_SCHEMA)

    @classmethod
    def for_workdir(cls, workdir: str | Path, monthly_credits: float) -> FleetBudget:
        return cls(Path(workdir) / DB_NAME, monthly_credits)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> FleetBudget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._con.execute("BEGIN IMMEDIATE")  # one writer: plans never interleave
        try:
            yield self._con
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    # -- reading -------------------------------------------------------------------------
    def committed(self, month: str, con: sqlite3.Connection | None = None) -> float:
        """Credits of `month` spent or granted and not yet settled."""
        db = con or self._con
        settled = db.execute("SELECT COALESCE(SUM(spent), 0) FROM grants WHERE month = ? "
                             "AND spent IS NOT NULL", (month,)).fetchone()[0]
        open_ = db.execute("SELECT COALESCE(SUM(credits), 0) FROM grants WHERE month = ? "
                           "AND spent IS NULL", (month,)).fetchone()[0]
        return float(settled) + float(open_)

    def spent(self, month: str, aoi: str | None = None) -> float:
        """Credits of HyP3 jobs counted for `month` (one AOI or all)."""
        sql, args = "SELECT COALESCE(SUM(credits), 0) FROM spend WHERE month = ?", [month]
        if aoi is not None:
            sql, args = sql + " AND aoi = ?", [*args, aoi]
        return float(self._con.execute(sql, args).fetchone()[0])

    def months(self) -> dict[str, float]:
        """Credits counted per month, as the spend table holds them."""
        rows = self._con.execute("SELECT month, SUM(credits) FROM spend GROUP BY month "
                                 "ORDER BY month").fetchall()
        return {str(m): float(c) for m, c in rows}

    def counted_jobs(self) -> set[str]:
        return {r[0] for r in self._con.execute("SELECT job_name FROM spend")}

    def available(self, month: str, hyp3_remaining: float | None = None) -> float:
        """What can still be granted in `month`: the budget less what is committed, and never
        more than HyP3 says remains (the account's allowance may change)."""
        left = self.monthly_credits - self.committed(month)
        if hyp3_remaining is not None:
            left = min(left, float(hyp3_remaining))
        return max(0.0, left)

    # -- writing -------------------------------------------------------------------------
    def grant(self, needs: Sequence[Need], month: str, hyp3_remaining: float | None = None,
              flow_run: str | None = None) -> tuple[Plan, dict[str, int]]:
        """Plan the cycle and record its grants in one transaction; the plan and grant ids."""
        with self._write() as con:
            left = self.monthly_credits - self.committed(month, con)
            if hyp3_remaining is not None:
                left = min(left, float(hyp3_remaining))
            result = plan(needs, left, month)
            ids: dict[str, int] = {}
            now = _now()
            for aoi, credits in result.grants.items():
                cursor = con.execute("INSERT INTO grants (month, aoi, credits, granted_at, "
                                     "flow_run) VALUES (?, ?, ?, ?, ?)",
                                     (month, aoi, credits, now, flow_run))
                ids[aoi] = int(cursor.lastrowid or 0)
            con.execute("INSERT INTO cycles (month, planned_at, available, needed, granted) "
                        "VALUES (?, ?, ?, ?, ?)", (month, now, result.available,
                                                   sum(n.total for n in needs), result.granted))
        if result.granted > result.available + 1e-6:  # pragma: no cover - plan() guarantees it
            raise CreditError(f"fleet plan grants {result.granted} > {result.available}")
        return result, ids

    def count_jobs(self, jobs: Iterable[tuple[str, float]], aoi: str, month: str,
                   grant_id: int | None = None) -> float:
        """Count HyP3 jobs (name, credit cost) once each; the credits newly counted."""
        added = 0.0
        with self._write() as con:
            for name, credits in jobs:
                cursor = con.execute("INSERT OR IGNORE INTO spend (job_name, month, aoi, credits, "
                                     "grant_id, counted_at) VALUES (?, ?, ?, ?, ?, ?)",
                                     (name, month, aoi, float(credits), grant_id, _now()))
                added += float(credits) if cursor.rowcount else 0.0
        return added

    def settle(self, grant_id: int) -> float:
        """Close a grant with the credits its jobs really cost (counted by `count_jobs`)."""
        with self._write() as con:
            spent = con.execute("SELECT COALESCE(SUM(credits), 0) FROM spend WHERE grant_id = ?",
                                (grant_id,)).fetchone()[0]
            con.execute("UPDATE grants SET spent = ?, settled_at = ? WHERE grant_id = ? "
                        "AND spent IS NULL", (float(spent), _now(), grant_id))
        return float(spent)

    def open_grants(self, aoi: str) -> list[tuple[int, str, float]]:
        """(grant id, month, credits) of the AOI's grants not settled yet (a killed run's)."""
        rows = self._con.execute("SELECT grant_id, month, credits FROM grants WHERE aoi = ? "
                                 "AND spent IS NULL ORDER BY grant_id", (aoi,)).fetchall()
        return [(int(g), str(m), float(c)) for g, m, c in rows]
