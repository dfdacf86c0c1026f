"""`monitor_aoi`: keep one AOI's time series current, on a schedule.

Each run: search the catalog afresh, find the acquisitions newer than the last processed one
(the dates in the stack's ledger), pair each new date with its nearest predecessors (plus
bridges where needed), submit only those pairs, wait (bounded), download, update the MintPy
time series and the products, and emit the Prefect event `insarhub.deformation.anomaly` when
the newest displacement leaves the fitted trend by more than the AOI's threshold.

At most one run per AOI at a time, three ways: the deployment's concurrency limit (1, a second
scheduled run is cancelled), a Prefect global concurrency limit named after the AOI (covers
manual and ad-hoc runs on the same server), and an exclusive file lock in the AOI's working
folder (covers workers on other servers sharing the folder; released by the OS if a run dies).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.concurrency.sync import concurrency
from prefect.events import emit_event

from insarhub import settings
from insarhub.anomaly import announce, anomaly_from_mintpy, residual_figure, timeseries_file
from insarhub.monitoring import (
    MIN_TIMESERIES_DATES,
    MonitorBusyError,
    MonitorConfig,
    aoi_lock,
    chosen_product,
    enough_dates,
    find_config,
    new_acquisitions,
    orbit_stack,
    processed_dates,
    record_product,
    timeseries_summary,
)
from insarhub.options import NetworkOptions, as_model
from tasks import artifacts, limits
from tasks.common import SIDE_EFFECTS, artifact_key
from tasks.hyp3 import PROCESSOR_FOR_PRODUCT
from tasks.mintpy import run_timeseries
from tasks.network import extend_stack_pairs, network_figure, select_stack_pairs
from tasks.products import make_stack_products, publish_stack_products
from tasks.reports import monitoring_markdown, verdict
from tasks.search import save_stacks, search_scenes

ANOMALY_EVENT = "insarhub.deformation.anomaly"
AOI_TAG_PREFIX = "aoi:"


def aoi_lease_seconds() -> float:
    """How long the AOI's slot outlives a run killed without a word (SIGKILL): Prefect's
    lease, renewed while the run lives; `INSARHUB_AOI_LEASE_SECONDS` (60..86400, default 300)."""
    return min(max(float(os.environ.get("INSARHUB_AOI_LEASE_SECONDS", "300")), 60.0), 86400.0)


@contextmanager
def aoi_slot(config: MonitorConfig, wait_s: float = 5.0, attempts: int = 3) -> Iterator[None]:
    """Hold the AOI's Prefect global concurrency limit (created with limit 1 if missing).

    A timed-out acquisition is "busy" only when the limit has a slot taken; a server too slow
    to answer in `wait_s` (SQLite under load) is asked again, up to `attempts` times."""
    from prefect.client.orchestration import get_client

    name = config.concurrency_key
    limits.ensure_limits({name: 1})
    slot = ExitStack()
    for attempt in range(1, attempts + 1):
        try:
            slot.enter_context(concurrency(name, occupy=1, timeout_seconds=wait_s, strict=True,
                                           lease_duration=aoi_lease_seconds()))
            break
        except TimeoutError as exc:
            with get_client(sync_client=True) as client:
                taken = client.read_global_concurrency_limit_by_name(name).active_slots
            if taken:
                raise MonitorBusyError(f"another run of AOI {config.name} holds the concurrency "
                                       f"limit {name}; this run stops") from exc
            if attempt == attempts:
                raise MonitorBusyError(f"the Prefect server did not grant the concurrency limit "
                                       f"{name} in {attempts} tries of {wait_s:.0f} s (no run "
                                       "holds it: an overloaded server?); this run stops") from exc
            get_run_logger().info("the Prefect server did not grant %s within %.0f s and no run "
                                  "holds it; asking again", name, wait_s)
    with slot:
        yield


@task(name="ledger-pairs", **SIDE_EFFECTS)
def ledger_pairs(stack_dir: str) -> list[list[str]]:
    """The pairs already in the stack's ledger (submitted or queued)."""
    from insarhub.ledger import DB_NAME, Ledger

    if not (Path(stack_dir) / DB_NAME).is_file():
        return []
    ledger = Ledger.for_workdir(stack_dir)
    try:
        return [list(p) for p in ledger.pairs()]
    finally:
        ledger.close()


@task(name="check-anomaly", **SIDE_EFFECTS)
def check_anomaly(config: MonitorConfig, stack: str, stack_dir: str) -> dict[str, Any]:
    """Judge the newest date; emit one `insarhub.deformation.anomaly` event per region that is
    news (appeared, or confirmed by a later date) and show the residual map as an artifact."""
    logger = get_run_logger()
    report = anomaly_from_mintpy(Path(stack_dir) / "mintpy", config.alert)
    result = report.to_dict()
    result["announced"] = announce(report, stack_dir)
    result["event_ids"] = []
    for region in result["announced"]:
        event = emit_event(
            event=ANOMALY_EVENT,
            resource={"prefect.resource.id": f"insarhub.aoi.{config.name}",
                      "prefect.resource.name": config.name, "insarhub.stack": stack},
            payload={"aoi": config.name, "stack": stack, **region})
        result["event_ids"].append(str(event.id) if event else None)
        site = f", watched site {region['site']}" if region.get("site") else ""
        logger.warning("%s/%s: %s anomaly %+.1f mm over %.2f km2 at lat %s lon %s%s (z %.1f, "
                       "since %s): event %s emitted", config.name, stack, region["status"],
                       region["magnitude_mm"], region["extent_km2"], region["lat"],
                       region["lon"], site, region["significance"], region["first_date"],
                       ANOMALY_EVENT)
    for error in report.unwrapping_errors:
        logger.warning("%s/%s: unwrapping error in interferogram %s (%+d cycle over %.2f km2 at "
                       "lat %s lon %s): corrected, not taken for deformation", config.name, stack,
                       error.interferogram, error.cycles, error.extent_km2, error.lat, error.lon)
    if not report.regions:
        logger.info("%s/%s: newest date %s: %s", config.name, stack, report.date, report.reason)
    if report.residual_map is not None:
        png = residual_figure(report, Path(stack_dir) / "anomaly" / f"residual_{report.date}.png")
        result["figure"] = str(png)
        artifacts.figure(png, artifact_key(config.name, "anomaly"),
                         f"Anomalies of {config.name}, {report.date}",
                         _regions_markdown(report.to_dict()))
    return result


def _regions_markdown(anomaly: dict[str, Any]) -> str:
    """A table of the regions (what the event payloads carry), and the unwrapping errors."""
    errors = "".join(f"\n\nUnwrapping error (corrected, not deformation) in {e['interferogram']}: "
                     f"{e['cycles']:+d} cycle over {e['extent_km2']:.2f} km2 at lat {e['lat']} "
                     f"lon {e['lon']}" for e in anomaly.get("unwrapping_errors") or [])
    if not anomaly.get("regions"):
        return f"No anomaly on {anomaly['date']}: {anomaly.get('reason', '')}{errors}"
    lines = ["| # | status | lat | lon | magnitude mm | extent km2 | z | first date | site |",
             "|---|---|---|---|---|---|---|---|---|"]
    for number, r in enumerate(anomaly["regions"], start=1):
        lines.append(f"| {number} | {r['status']} | {r['lat']} | {r['lon']} | "
                     f"{r['magnitude_mm']:+.1f} | {r['extent_km2']:.2f} | {r['significance']:.1f} "
                     f"| {r['first_date']} | {r.get('site') or ''} |")
    return "\n".join(lines) + errors


@flow(name="monitor-aoi")
def monitor_aoi(
    config: str,
    config_dir: str = "deployments/aois",
    start: date | None = None,
    end: date | None = None,
    threshold_mm: float | None = None,
    network: NetworkOptions | None = None,
    max_credits: float | None = None,
    full_inversion: bool = False,
    credit_allowance: float | None = None,
) -> dict[str, Any]:
    """One monitoring cycle of an AOI: new acquisitions, their pairs, time series, alert.

    Args:
        config: The AOI's monitoring config: its name in `config_dir` (e.g. utah-p100-f466)
            or the path of a YAML file on the worker.
        config_dir: Folder of the AOI configs, relative to the project folder.
        start: Override the config's first acquisition date (YYYY-MM-DD).
        end: Only use acquisitions up to this date (a reprocessing window); empty: up to now.
        threshold_mm: Override the alert threshold: the newest displacement's departure from
            the trend (mm) above which the anomaly event is emitted.
        network: Override the config's pair network options for this run.
        max_credits: HyP3 credit ceiling of this run; empty: the config's.
        full_inversion: Invert every date of the time series again rather than append the
            new ones (also done by itself when older pairs changed, and every
            `full_inversion_every` cycles of the config).
        credit_allowance: Credits this run may spend (a fleet budget's grant): what fits is
            submitted, newest dates first, the rest stays queued in the ledger.

    Returns:
        The cycle's outcome: status, new dates, pairs submitted, time series, products and
        the anomaly check.
    """
    logger = get_run_logger()
    overrides = {k: v for k, v in {"start": start, "end": end, "threshold_mm": threshold_mm,
                                   "network": network, "max_credits": max_credits}.items()
                 if v is not None}
    settings_ = with_overrides(MonitorConfig.from_yaml(find_config(config, config_dir)),
                               **overrides)
    from prefect.runtime import flow_run

    tag_run_with_aoi(settings_.name)
    try:
        with aoi_lock(settings_.workdir, owner=f"flow run {flow_run.id}"), aoi_slot(settings_):
            result = monitor_cycle(settings_, end=end, full_inversion=full_inversion,
                                   allowance=credit_allowance)
    except MonitorBusyError as exc:
        logger.warning("%s", exc)
        result = {"aoi": settings_.name, "status": "skipped", "reason": str(exc)}
    if overrides:
        result["overrides"] = {k: (v.as_kwargs() if isinstance(v, NetworkOptions) else str(v))
                               for k, v in overrides.items()}
    artifacts.markdown(monitoring_markdown(result), key=artifact_key(settings_.name, "monitoring"),
                       description=f"Monitoring cycle of {settings_.name}: {verdict(result)}")
    return result


def with_overrides(config: MonitorConfig, **overrides: Any) -> MonitorConfig:
    """The config with the run's overrides (None: keep the config's value), validated."""
    logger = get_run_logger()
    data = config.model_dump()
    if overrides.get("start") is not None:
        data["start"] = overrides["start"]
    if overrides.get("threshold_mm") is not None:
        data["alert"] = {**data["alert"], "threshold_mm": overrides["threshold_mm"]}
    if overrides.get("network") is not None:
        data["network"] = as_model(NetworkOptions, overrides["network"]).as_kwargs()
    if overrides.get("max_credits") is not None:
        if "max_credits" in MonitorConfig.model_fields:
            data["max_credits"] = overrides["max_credits"]
        else:  # the credit ceiling is not in this version's config yet
            logger.warning("max_credits=%s: this version has no credit ceiling; ignored",
                           overrides["max_credits"])
    changed = {k: v for k, v in overrides.items() if v is not None}
    if changed:
        logger.info("%s: run overrides %s", config.name, changed)
    return MonitorConfig.from_dict(data, origin=f"{config.name} with overrides {changed}")


def tag_run_with_aoi(name: str) -> None:
    """Give this run its AOI's tag (`aoi:<name>`) in place of a deployment's other AOI tag
    (a custom run of one AOI's deployment with another AOI's config)."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    tags = list(flow_run.tags or [])
    wanted = [t for t in tags if not t.startswith(AOI_TAG_PREFIX)] + [f"{AOI_TAG_PREFIX}{name}"]
    if sorted(wanted) == sorted(tags) or not flow_run.id:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(UUID(str(flow_run.id)), tags=wanted)


def monitor_cycle(config: MonitorConfig, end: date | None = None,
                  full_inversion: bool = False, allowance: float | None = None
                  ) -> dict[str, Any]:
    """The body of `monitor_aoi`, under the AOI's locks."""
    logger = get_run_logger()
    workdir = str(config.workdir)
    label = config.name
    product = _product(config)
    if product == "S1_DISP":  # OPERA DISP-S1: no pairs, no HyP3 (flows.disp)
        from flows.disp import disp_monitor_cycle

        return disp_monitor_cycle(config, end, check_anomaly)
    wanted: list[int] | str | None = (list(config.stack) if isinstance(config.stack, tuple)
                                      else config.stack if isinstance(config.stack, str) else None)
    stacks = search_scenes.with_options(refresh_cache=True)(
        config.aoi, config.start.isoformat(), end.isoformat() if end else None, product, wanted,
        catalog=settings.asf_url())
    if config.orbit is not None:  # the stack of that relative orbit (see orbit_stack)
        chosen = orbit_stack(stacks, config.orbit, workdir)
        stacks = [dict(chosen)] if chosen is not None else []
    result: dict[str, Any] = {"aoi": config.name, "new_dates": [], "pairs_submitted": 0}
    if not stacks:
        logger.warning("%s: no scenes in stack %s since %s", config.name, config.stack,
                       config.start)
        return {**result, "status": "no scenes"}
    stack = stacks[0]
    folders = save_stacks([stack], workdir, label)
    stack_dir = folders[stack["name"]]
    existing = ledger_pairs(stack_dir)
    names = _scene_names(stack)
    new = new_acquisitions(names, processed_dates((p[0], p[1]) for p in existing))
    if not existing:
        network = select_stack_pairs(stack, config.network)
        pairs = network["pairs"]
        network_figure([network], stack_dir, label)
    elif new:
        update = extend_stack_pairs(stack, existing, new, config.new_date_pairs, config.network)
        pairs = update["pairs"]
        network_figure([{"stack": stack["name"], "key": stack["key"],
                         "pairs": update["network"], "B": None,
                         "scene_bperp": update["scene_bperp"]}], stack_dir, label)
    else:
        pairs = []
    result.update(stack=stack["name"], folder=stack_dir, scenes=len(names),
                  new_dates=[n for n in new], pairs_submitted=len(pairs))
    logger.info("%s: %d scenes, %d new since the last processed date, %d pairs to submit",
                config.name, len(names), len(new), len(pairs))
    status = _interferograms(config, stack["name"], stack_dir, pairs, product, allowance)
    result["interferograms"] = status
    if status.get("waiting"):
        return {**result, "status": "waiting"}
    if not enough_dates((p[0], p[1]) for p in ledger_pairs(stack_dir)):
        logger.warning("%s: fewer than %d dates so far: the time series starts when there are "
                       "more", config.name, MIN_TIMESERIES_DATES)
        return {**result, "status": "too few dates"}
    if not _needs_update(stack_dir, status):
        return {**result, "status": "up to date"}
    with limits.limit(limits.MINTPY):  # CPU-bound: at most one per core over all runs
        summary = run_timeseries(stack["name"], stack_dir, config.backend, config.aoi,
                                 config.reference_point, config.mintpy, full=full_inversion,
                                 full_inversion_every=config.full_inversion_every)
    result["timeseries"] = summary
    result["products"] = make_stack_products(stack["name"], stack_dir, config.aoi,
                                             config.points, label)
    if config.publish:
        result["published"] = publish_stack_products(
            stack["name"], stack_dir, config.publish.bucket,
            "/".join(filter(None, [config.publish.prefix, config.name])),
            config.publish.endpoint_url, label)
    result["anomaly"] = check_anomaly(config, stack["name"], stack_dir)
    return {**result, "status": "updated"}


def _scene_names(stack: dict[str, Any]) -> list[str]:
    from insarhub.network.baselines import scene_name
    from insarhub.search.multiburst import date_scenes
    from insarhub.search.persist import products_from_items

    nodes = date_scenes(products_from_items(stack["scenes"]), str(stack["name"]))
    return [scene_name(p) for p in nodes]  # a multi-burst date: its '+'-joined node name


def _product(config: MonitorConfig) -> str:
    """The configured product; `auto`: the choice kept from the first cycle, else made now."""
    if config.product != "auto":
        return config.product
    known = chosen_product(config.workdir)
    if known:
        return known
    from tasks.search import choose_product

    product = choose_product(config.aoi, config.start.isoformat(), None,
                             config.processor.get("looks", "20x4"), config.new_date_pairs,
                             catalog=settings.asf_url())
    record_product(config.workdir, product, {"orbit": config.orbit})
    return product


def _interferograms(config: MonitorConfig, stack: str, stack_dir: str,
                    pairs: list[list[str]], product: str,
                    allowance: float | None = None) -> dict[str, Any]:
    job = [{"stack": stack, "workdir": stack_dir, "pairs": pairs}]
    if config.backend == "isce":
        from flows.interferograms import isce_interferograms

        out = isce_interferograms(job, options=config.processor, aoi=config.aoi,
                                  poll_interval_s=config.wait.poll_interval_s,
                                  timeout_s=config.wait.timeout_s, label=config.name)
    else:
        from flows.interferograms import hyp3_interferograms

        out = hyp3_interferograms(job, PROCESSOR_FOR_PRODUCT[product], config.processor,
                                  poll_interval_s=config.wait.poll_interval_s,
                                  timeout_s=config.wait.timeout_s, network=config.network,
                                  label=config.name, max_credits=config.max_credits,
                                  allowance=allowance)
    return dict(out[stack])


def _needs_update(stack_dir: str, status: dict[str, Any]) -> bool:
    """A time series is missing or older than the interferograms downloaded."""
    mintpy_dir = Path(stack_dir) / "mintpy"
    try:
        timeseries_file(mintpy_dir)
    except Exception:
        return True
    made = timeseries_summary(mintpy_dir).get("interferograms")
    return made is None or int(status.get("products", 0)) != int(made)
