"""A fleet of AOIs on Prefect: `fleet_cycle` plans the month's credits, `fleet_aoi` runs one AOI.

Two deployments serve any number of AOIs (`insarhub fleet deploy` registers both):

- `fleet-cycle/fleet` (scheduled, the fleet file's cron): reads the fleet file, estimates what
  every AOI needs, grants the credits that fit the month's budget (newest dates first, higher
  priority first) and creates one `fleet-aoi` run per AOI, then returns (it holds no worker
  while the AOIs run);
- `fleet-aoi/fleet-aoi` (no schedule of its own: its runs carry their AOI as parameters):
  settles the grant around one `monitor_aoi` cycle. Any worker of the pool takes any AOI;
  one AOI never runs twice at once (its global concurrency limit `insarhub-aoi-<name>` and its
  folder lock, held by `monitor_aoi`).

Why not one deployment per AOI: N deployments to keep in step with the file, and the budget
needs one place that sees every AOI's need at once. Why not one deployment with a schedule
per AOI: each scheduled run would plan alone. Here adding an AOI is an edit of the fleet
file, picked up at the next cycle: no code, no re-registration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from insarhub import settings
from insarhub.fleet.budget import FleetBudget, Need, month_of
from insarhub.fleet.model import PRODUCTS, Fleet, FleetEntry, FleetError, load_fleet
from insarhub.fleet.needs import (
    estimate_need,
    pick_stack,
    remember_orbit,
    remembered_orbit,
    scene_dates,
    stack_orbit,
    submitted_jobs,
)
from insarhub.fleet.status import fleet_status, record_cycle
from insarhub.monitoring import MonitorBusyError, MonitorConfig, aoi_lock, chosen_product
from tasks import artifacts
from tasks.search import search_scenes

AOI_DEPLOYMENT = "fleet-aoi/fleet-aoi"
STATUS_KEY = "fleet-status"


def hyp3_remaining() -> float | None:
    """HyP3's remaining credits this month (`check_credits()`), None when it cannot say."""
    from insarhub.errors import HyP3Error
    from insarhub.processor.hyp3_client import Hyp3Client

    try:
        value = Hyp3Client().user().get("remaining_credits")
    except (HyP3Error, OSError) as exc:
        get_run_logger().warning("HyP3 remaining credits unknown (%s): planning on the "
                                 "fleet budget alone", exc)
        return None
    return None if value is None else float(value)


def _search(fleet: Fleet, entry: FleetEntry) -> Any:
    config = fleet.monitor_config(entry)
    product = PRODUCTS[entry.product]
    if product == "auto":
        product = chosen_product(config.workdir) or "S1_SLC"
    return config, search_scenes.with_options(refresh_cache=True).submit(
        config.aoi, config.start.isoformat(), None, product, None, catalog=settings.asf_url())


def estimate_all(fleet: Fleet) -> tuple[dict[str, tuple[Need, list[str]]], dict[str, str]]:
    """Need and catalog dates per AOI; problems (bad entry, no coverage) per AOI name."""
    problems = {f"{p.name} (entry #{p.index + 1})": str(p) for p in fleet.problems}
    pending: dict[str, Any] = {}
    for entry in fleet.enabled():
        try:
            pending[entry.name] = (entry, *_search(fleet, entry))
        except FleetError as exc:
            problems[entry.name] = str(exc)
    needs: dict[str, tuple[Need, list[str]]] = {}
    for name, (entry, config, future) in pending.items():
        try:
            stacks = future.result()
        except Exception as exc:  # a failed search names its AOI; the others go on
            problems[name] = f"fleet entry {name}: search failed: {exc}"
            continue
        orbit = entry.orbit or remembered_orbit(config.workdir)
        stack = pick_stack(stacks, orbit, config.workdir)
        if stack is None:
            where = f" on orbit {orbit}" if orbit else ""
            problems[name] = (f"fleet entry {name}: no Sentinel-1 acquisition over geometry "
                              f"{entry.geometry}{where} since {config.start}: check the "
                              "geometry and orbit, or remove the entry")
            continue
        if not entry.orbit and orbit is None:
            remember_orbit(config.workdir, stack_orbit(stack))
        fleet.write_monitor_config(entry, orbit=stack_orbit(stack))
        needs[name] = (estimate_need(config, stack, entry.priority),
                       [d.isoformat() for d in scene_dates(stack)])
    return needs, problems


@flow(name="fleet-cycle")
def fleet_cycle(fleet_file: str = "deployments/fleet.yaml", month: str | None = None,
                aoi_deployment: str = AOI_DEPLOYMENT) -> dict[str, Any]:
    """One cycle of the fleet: plan the credits, start one `fleet-aoi` run per AOI.

    Args:
        fleet_file: The fleet file (YAML), relative to the project folder.
        month: The month HyP3 counts credits in (YYYY-MM); empty: the current UTC month.
        aoi_deployment: The deployment that runs one AOI.

    Returns:
        The plan (credits granted and deferred per AOI), the AOI runs and the problems.
    """
    from prefect.deployments import run_deployment
    from prefect.runtime import flow_run

    logger = get_run_logger()
    fleet = load_fleet(fleet_file)
    month = month or month_of()
    needs, problems = estimate_all(fleet)
    in_file = {f"{p.name} (entry #{p.index + 1})" for p in fleet.problems}  # no AOI folder
    for name, problem in problems.items():
        logger.error("%s (the other AOIs keep running)", problem)
        if name not in in_file:
            record_cycle(fleet.workdir / name, {"aoi": name, "status": "error", "problem": problem,
                                                "finished": datetime.now(UTC).isoformat(
                                                    timespec="seconds")})
    remaining = hyp3_remaining() if fleet.top.budget.follow_hyp3 else None
    with FleetBudget.for_workdir(fleet.workdir, fleet.top.budget.monthly_credits) as budget:
        plan, grants = budget.grant([n for n, _ in needs.values()], month, remaining,
                                    flow_run=str(flow_run.id or ""))
    logger.info("fleet %s, %s: %d AOIs need %.0f credits; %.0f available (budget %.0f, HyP3 "
                "remaining %s); granted %.0f, deferred %.0f", fleet.path.name, month,
                len(needs), sum(n.total for n, _ in needs.values()), plan.available,
                fleet.top.budget.monthly_credits, remaining, plan.granted,
                sum(plan.deferred.values()))
    runs: dict[str, str] = {}
    order = sorted(needs, key=lambda n: (-needs[n][0].priority, n))
    for name in order:
        run = run_deployment(aoi_deployment, timeout=0, as_subflow=False,
                             tags=["insarhub", "fleet", f"aoi:{name}"],
                             idempotency_key=f"fleet-{fleet.workdir}-{grants[name]}",
                             parameters={"fleet_file": str(fleet_file), "name": name,
                                         "allowance": plan.grants.get(name, 0.0),
                                         "grant_id": grants[name], "month": month,
                                         "catalog_dates": needs[name][1]})
        runs[name] = str(run.id)  # type: ignore[union-attr]  # the sync form
    artifacts.table(fleet_status(fleet, month), STATUS_KEY,
                    f"Fleet {fleet.path.name}, {month}: {len(runs)} AOI runs started, "
                    f"{len(problems)} problems, {plan.granted:.0f} credits granted")
    return {"month": month, "available": plan.available, "granted": plan.grants,
            "deferred": plan.deferred, "runs": runs, "problems": problems,
            "hyp3_remaining": remaining}


def reconcile(budget: FleetBudget, name: str, folder: Path, grant_id: int | None,
              month: str) -> float:
    """Count the AOI's HyP3 jobs that no run counted yet (a run killed before it settled):
    to the oldest other open grant of the AOI (its month), else to this one."""
    counted = budget.counted_jobs()
    new = [(job, credits) for job, credits in submitted_jobs(folder) if job not in counted]
    if not new:
        return 0.0
    stale = [g for g in budget.open_grants(name) if g[0] != grant_id]
    target, target_month = (stale[0][0], stale[0][1]) if stale else (grant_id, month)
    return budget.count_jobs(new, name, target_month, target)


def free_dead_slot(config: MonitorConfig) -> bool:
    """Give back the AOI's concurrency slot held by a run that died (SIGKILL), at once.

    Every live holder of the slot holds the AOI's folder lock too (taken first, released by
    the OS when its process dies). So while this lock is ours, a taken slot belongs to a dead
    run: the limit is deleted (its dead lease goes with it) and `monitor_aoi` makes it anew.
    Without this the slot would wait for its lease to expire (`INSARHUB_AOI_LEASE_SECONDS`).
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with aoi_lock(config.workdir, owner="fleet-aoi: looking for a dead holder"), \
                get_client(sync_client=True) as client:
            try:
                limit = client.read_global_concurrency_limit_by_name(config.concurrency_key)
            except ObjectNotFound:
                return False
            if not limit.active_slots:
                return False
            client.delete_global_concurrency_limit_by_name(config.concurrency_key)
    except MonitorBusyError:
        return False  # a live run holds the AOI
    get_run_logger().warning("%s: the run holding %s died without a word (its folder lock was "
                             "free); slot given back, the ledger resumes its work",
                             config.name, config.concurrency_key)
    return True


@flow(name="fleet-aoi")
def fleet_aoi(fleet_file: str, name: str, allowance: float = 0.0, grant_id: int | None = None,
              month: str | None = None, catalog_dates: list[str] | None = None
              ) -> dict[str, Any]:
    """One AOI's cycle under its fleet grant: the monitoring cycle, then what it spent.

    Args:
        fleet_file: The fleet file the AOI is an entry of.
        name: The AOI's name in the fleet file.
        allowance: Credits granted to this run (what fits is submitted, the rest waits).
        grant_id: The grant in the fleet budget that this run settles.
        month: The month the grant belongs to (YYYY-MM).
        catalog_dates: The acquisition dates the planner found (for `fleet status`).
    """
    logger = get_run_logger()
    fleet = load_fleet(fleet_file)
    entry = fleet.entry(name)
    folder = fleet.workdir / entry.name
    config_path = folder / "monitor.yaml"
    if not config_path.is_file():
        config_path = fleet.write_monitor_config(entry)
    month = month or month_of()
    budget = FleetBudget.for_workdir(fleet.workdir, fleet.top.budget.monthly_credits)
    from prefect.runtime import flow_run

    from flows.monitor import monitor_aoi  # here: the planner's runs need none of its imports

    cycle: dict[str, Any] = {"aoi": name, "month": month, "allowance": allowance,
                             "flow_run": str(flow_run.id or ""),
                             "catalog_dates": catalog_dates or [],
                             "started": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        reconcile(budget, name, folder, grant_id, month)
        free_dead_slot(MonitorConfig.from_yaml(config_path))
        result = monitor_aoi(config=str(config_path), config_dir=str(folder),
                             credit_allowance=allowance)
        cycle.update(status=result.get("status"), new_dates=result.get("new_dates", []),
                     pairs_submitted=result.get("pairs_submitted", 0))
        return {**result, "allowance": allowance}
    except Exception as exc:
        cycle.update(status="failed", problem=str(exc)[:500])
        raise
    finally:  # a skipped run (another holds the AOI) leaves the jobs to their own run
        counted = budget.counted_jobs()
        new = ([] if cycle.get("status") == "skipped" else
               [(j, c) for j, c in submitted_jobs(folder) if j not in counted])
        spent = budget.count_jobs(new, name, month, grant_id)
        if grant_id is not None:
            budget.settle(grant_id)
        budget.close()
        cycle.update(spent=spent, finished=datetime.now(UTC).isoformat(timespec="seconds"))
        record_cycle(folder, cycle)
        logger.info("%s: %s; %.0f of %.0f granted credits spent", name, cycle.get("status"),
                    spent, allowance)
