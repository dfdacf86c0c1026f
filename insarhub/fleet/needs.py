"""What one AOI needs this cycle, in credits per pending date, from its search and ledger.

Pending: the jobs queued in the ledger (priced exactly) and the acquisitions newer than the
last processed date (each will join the network with `new_date_pairs` pairs). An AOI not
started yet needs its whole first network (about `new_date_pairs` pairs a date). The price of
a pair: INSAR_GAMMA for SLC frames (and for `auto` before its first choice: an upper bound),
INSAR_ISCE_MULTI_BURST of the date's bursts for burst stacks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from insarhub.credits import gamma_pair_cost, job_cost, multi_burst_pair_cost
from insarhub.fleet.budget import Need
from insarhub.ledger import DB_NAME, QUEUED, SUBMITTED, Ledger
from insarhub.monitoring import (
    MonitorConfig,
    acquisition_date,
    chosen_product,
    orbit_stack,
    processed_dates,
)

ORBIT_FILE = "fleet_orbit.json"


def scene_dates(stack: Mapping[str, Any]) -> list[date]:
    """The acquisition dates of a searched stack (`search_scenes` record), sorted."""
    days = {date.fromisoformat(str(item["umm"]["TemporalExtent"]["RangeDateTime"]
                                   ["BeginningDateTime"])[:10]) for item in stack["scenes"]}
    return sorted(days)


def pick_stack(stacks: Sequence[Mapping[str, Any]], orbit: int | None, workdir: str | Path
               ) -> Mapping[str, Any] | None:
    """The stack of `orbit` (the one the monitor takes), or the one with most dates."""
    if orbit:
        return orbit_stack(stacks, orbit, workdir)
    return max(stacks, key=lambda s: (len(scene_dates(s)), str(s["name"])), default=None)


def stack_orbit(stack: Mapping[str, Any]) -> int:
    """The relative orbit of a stack named `p<orbit>_...`."""
    return int(str(stack["name"]).split("_", 1)[0].lstrip("p"))


def remembered_orbit(workdir: str | Path) -> int | None:
    try:
        return int(json.loads((Path(workdir) / ORBIT_FILE).read_text())["orbit"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_orbit(workdir: str | Path, orbit: int) -> None:
    """Keep the orbit chosen for an AOI without one (a time series never changes orbit)."""
    path = Path(workdir) / ORBIT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"orbit": orbit}))


def pair_cost(config: MonitorConfig, stack: Mapping[str, Any]) -> float:
    """Credits of one new pair of this AOI's stack."""
    looks = str(config.processor.get("looks", "20x4"))
    product = config.product if config.product != "auto" else chosen_product(config.workdir)
    if product == "S1_DISP":  # OPERA DISP-S1: published, no HyP3 job
        return 0.0
    if product == "S1_Burst":
        days = scene_dates(stack)
        bursts = max(1, round(len(stack["scenes"]) / max(1, len(days))))  # an upper bound
        return multi_burst_pair_cost(min(bursts, 15), looks)
    return gamma_pair_cost(looks)


def ledger_state(stack_dir: str | Path) -> tuple[set[date], dict[date, float], list[Any]]:
    """Processed dates, queued credits per secondary date, and the submitted job records."""
    if not (Path(stack_dir) / DB_NAME).is_file():
        return set(), {}, []
    with Ledger.for_workdir(stack_dir) as ledger:
        done = processed_dates(ledger.pairs())
        queued: dict[date, float] = {}
        for record in ledger.jobs(state=QUEUED):
            day = acquisition_date(record.secondary)
            queued[day] = queued.get(day, 0.0) + job_cost(record.request)
        submitted = ledger.jobs(state=SUBMITTED, current_only=False)
    return done, queued, submitted


def estimate_need(config: MonitorConfig, stack: Mapping[str, Any], priority: int) -> Need:
    """Credits per pending date of the AOI (newest first)."""
    stack_dir = Path(config.workdir) / str(stack["name"])
    done, queued, _ = ledger_state(stack_dir)
    last = max(done, default=None)
    price = pair_cost(config, stack)
    per_date = dict(queued)
    for day in scene_dates(stack):
        if last is None or day > last:
            per_date[day] = per_date.get(day, 0.0) + config.new_date_pairs * price
    if last is None and per_date:  # the first date pairs with nothing before it
        per_date.pop(min(per_date))
    ordered = tuple(per_date[d] for d in sorted(per_date, reverse=True))
    return Need(config.name, priority, ordered)


def submitted_jobs(workdir: str | Path) -> list[tuple[str, float]]:
    """(job name, credit cost) of every job sent to HyP3 from the AOI's stack folders."""
    jobs: list[tuple[str, float]] = []
    for db in sorted(Path(workdir).glob(f"*/{DB_NAME}")):
        _, _, submitted = ledger_state(db.parent)
        jobs += [(r.name, float(r.credit_cost or job_cost(r.request))) for r in submitted]
    return jobs
