"""`insar_pipeline`: AOI -> search -> stacks -> pairs -> interferograms -> MintPy -> products.

Fanned out over stacks: pair selection, time series and products run per stack as mapped
tasks on the flow's task runner (threads by default; `with_dask()` for a Dask cluster), the
interferograms of all stacks are made and waited for together in one subflow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, cast

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_markdown_artifact

from insarhub import settings
from insarhub.errors import PairNetworkError, SearchError
from insarhub.monitoring import MIN_TIMESERIES_DATES, enough_dates
from tasks.hyp3 import PROCESSOR_FOR_PRODUCT
from tasks.mintpy import run_timeseries
from tasks.network import network_figure, select_stack_pairs
from tasks.products import make_stack_products, publish_stack_products
from tasks.search import save_stacks, search_scenes

Backend = Literal["hyp3", "isce"]
Product = Literal["S1_SLC", "S1_Burst"]


def _iso(value: date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


@flow(name="insar-pipeline")
def insar_pipeline(
    aoi: list[float] | str,
    start: date,
    end: date | None = None,
    path_frame: tuple[int, int] | str | None = None,
    backend: Backend = "hyp3",
    product: Product = "S1_SLC",
    workdir: str = "insarhub_work/pipeline",
    network: dict[str, Any] | None = None,
    processor: dict[str, Any] | None = None,
    mintpy: dict[str, Any] | None = None,
    reference_point: tuple[float, float] | None = None,
    points: list[tuple[float, float]] | None = None,
    poll_interval_s: float = 30.0,
    wait_timeout_s: float = 3600.0,
    publish: dict[str, str] | None = None,
    resume_after_s: float = 1800.0,
    full_inversion: bool = False,
) -> dict[str, Any]:
    """Process an AOI end to end and return what was made, per stack.

    aoi: [min_lon, min_lat, max_lon, max_lat], WKT or a vector file path.
    path_frame: keep one SLC stack (path, frame) or one burst ID; None keeps every stack.
    network: pair selection options (e.g. {"max_degree": 5}); processor: HyP3/ISCE options
    (e.g. {"looks": "20x4"}); mintpy: MintPy template keys.
    poll_interval_s / wait_timeout_s: how often and how long to wait for interferograms; when
    they take longer the run ends with those stacks `waiting` and, when run from a
    deployment, schedules a follow-up run `resume_after_s` later (nothing is redone).
    publish: {"bucket": ..., "prefix": ..., "endpoint_url": ...} to upload the products.
    full_inversion: invert every date again; by default a rerun with new dates appends them
    to the existing time series (a full inversion runs when the network under old dates changed).
    """
    logger = get_run_logger()
    start_text, end_text = str(_iso(start)), _iso(end)
    stacks = search_scenes(aoi, start_text, end_text, product, path_frame,
                           catalog=settings.asf_url())
    if not stacks:
        raise SearchError(f"no Sentinel-1 {product} scenes over aoi={aoi} between {start_text} "
                          f"and {end_text or 'now'}{f' in stack {path_frame}' if path_frame else ''}"
                          "; widen the dates or check path_frame")
    folders = save_stacks(stacks, workdir)
    networks = [f.result() for f in select_stack_pairs.map(stacks, unmapped(network or {}))]
    figure = network_figure.submit(networks, workdir)  # drawn while HyP3 works
    jobs = [{"stack": n["stack"], "workdir": folders[n["stack"]], "pairs": n["pairs"]}
            for n in networks if n["pairs"]]
    if not jobs:
        counts = ", ".join(f"{s['name']}: {len(s['scenes'])} scene(s)" for s in stacks)
        raise PairNetworkError(f"no interferogram pair can be made ({counts}); a time series "
                               f"needs at least 2 dates: widen start={start_text} / "
                               f"end={end_text}")
    interferograms = make_interferograms(jobs, backend, product, processor, aoi,
                                         poll_interval_s, wait_timeout_s, network)
    waiting = [s["stack"] for s in jobs if interferograms[s["stack"]].get("waiting")]
    too_few = [s["stack"] for s in jobs if not enough_dates((p[0], p[1]) for p in s["pairs"])]
    if too_few:
        logger.warning("no time series for %s: fewer than %d dates; widen the dates",
                       ", ".join(too_few), MIN_TIMESERIES_DATES)
    ready = [s for s in jobs if s["stack"] not in waiting and s["stack"] not in too_few]
    series = run_timeseries.map([s["stack"] for s in ready], [s["workdir"] for s in ready],
                                unmapped(backend), unmapped(aoi), unmapped(reference_point),
                                unmapped(mintpy), unmapped(full_inversion))
    summaries = {f.result()["stack"]: f.result() for f in series}
    figure.wait()  # matplotlib: one figure at a time
    made = make_stack_products.map([s["stack"] for s in ready], [s["workdir"] for s in ready],
                                   unmapped(aoi), unmapped(points))
    products = {s["stack"]: f.result() for s, f in zip(ready, made, strict=True)}
    if publish and ready:
        for s in ready:
            publish_stack_products(s["stack"], s["workdir"], publish["bucket"],
                                   publish.get("prefix", ""), publish.get("endpoint_url"))
    if waiting:
        _schedule_follow_up(resume_after_s, waiting)
    result = {
        "workdir": workdir,
        "stacks": {n["stack"]: {
            "folder": folders[n["stack"]],
            "scenes": len(next(s["scenes"] for s in stacks if s["name"] == n["stack"])),
            "pairs": len(n["pairs"]),
            "interferograms": interferograms.get(n["stack"], {}),
            "timeseries": summaries.get(n["stack"]),
            "products": products.get(n["stack"], {}),
        } for n in networks},
        "waiting": waiting,
        "too_few_dates": too_few,
    }
    create_markdown_artifact(markdown=summary_markdown(result), key="pipeline-summary",
                             description="What the pipeline made")
    logger.info("pipeline done: %d stack(s), %d waiting for interferograms",
                len(result["stacks"]), len(waiting))
    return result


def make_interferograms(jobs: list[dict[str, Any]], backend: str, product: str,
                        processor: dict[str, Any] | None, aoi: Any, poll_interval_s: float,
                        wait_timeout_s: float, network: dict[str, Any] | None = None
                        ) -> dict[str, dict[str, Any]]:
    """The interferogram subflow of the chosen backend."""
    if not jobs:
        return {}
    if backend == "isce":
        from flows.interferograms import isce_interferograms

        return isce_interferograms(jobs, options=processor, aoi=aoi,
                                   poll_interval_s=poll_interval_s, timeout_s=wait_timeout_s)
    from flows.interferograms import hyp3_interferograms

    return hyp3_interferograms(jobs, PROCESSOR_FOR_PRODUCT[product], processor,
                               poll_interval_s=poll_interval_s, timeout_s=wait_timeout_s,
                               network=network)


def _schedule_follow_up(delay_s: float, waiting: list[str]) -> None:
    """From a deployment: schedule the same deployment with the same parameters later."""
    from prefect.runtime import deployment, flow_run

    logger = get_run_logger()
    if not deployment.id:
        logger.warning("stacks %s are still waiting for interferograms: run the pipeline "
                       "again later with the same parameters (nothing will be redone)", waiting)
        return
    from prefect.deployments import run_deployment

    when = datetime.now(UTC) + timedelta(seconds=delay_s)
    follow_up = run_deployment(f"{flow_run.flow_name}/{deployment.name}",
                               parameters=dict(flow_run.parameters), scheduled_time=when,
                               timeout=0, as_subflow=False)
    logger.warning("stacks %s still waiting for interferograms: follow-up run %s scheduled "
                   "at %s", waiting, getattr(follow_up, "id", "?"), when.isoformat())


def summary_markdown(result: dict[str, Any]) -> str:
    lines = ["# InSAR pipeline", "", "| stack | scenes | pairs | dates | velocity (mm/yr) | "
             "products |", "|---|---|---|---|---|---|"]
    for name, stack in result["stacks"].items():
        ts = stack.get("timeseries") or {}
        velocity = ts.get("velocity_mm_yr")
        lines.append(f"| {name} | {stack['scenes']} | {stack['pairs']} | "
                     f"{len(ts.get('dates', []))} | "
                     f"{f'{velocity[0]} .. {velocity[1]}' if velocity else '-'} | "
                     f"{len(stack.get('products') or {})} |")
    if result["waiting"]:
        lines += ["", f"Still waiting for interferograms: {', '.join(result['waiting'])}"]
    return "\n".join(lines) + "\n"


def with_dask(n_workers: int = 2, threads_per_worker: int = 1) -> Any:
    """`insar_pipeline` on a local Dask cluster (needs prefect-dask): stacks in parallel
    processes. Or pass `cluster_class`/`address` to DaskTaskRunner for a real cluster."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:  # an optional extra
        from insarhub.errors import ConfigError

        raise ConfigError("the Dask task runner needs prefect-dask: pip install prefect-dask"
                          ) from exc
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": n_workers,
                                            "threads_per_worker": threads_per_worker,
                                            "processes": True})
    return insar_pipeline.with_options(task_runner=cast(Any, runner))
