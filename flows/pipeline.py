"""`insar_pipeline`: AOI -> search -> stacks -> pairs -> interferograms -> MintPy -> products.

Fanned out over stacks: pair selection, time series and products run per stack as mapped
tasks on the flow's task runner (threads by default; `with_dask()` for a Dask cluster), the
interferograms of all stacks are made and waited for together in one subflow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from prefect import flow, get_run_logger, unmapped

from insarhub import settings
from insarhub.errors import ConfigError, PairNetworkError, SearchError
from insarhub.monitoring import MIN_TIMESERIES_DATES, enough_dates
from insarhub.options import (
    Hyp3Options,
    IsceOptions,
    MintPyOptions,
    NetworkOptions,
    Point,
    PublishOptions,
    as_model,
    point_tuples,
    processor_options,
)
from tasks import artifacts
from tasks.common import artifact_key
from tasks.hyp3 import PROCESSOR_FOR_PRODUCT
from tasks.mintpy import run_timeseries
from tasks.network import network_figure, select_stack_pairs
from tasks.products import make_stack_products, publish_stack_products
from tasks.search import choose_product, save_stacks, search_scenes

Backend = Literal["hyp3", "isce"]
Product = Literal["S1_SLC", "S1_Burst", "S1_DISP", "disp", "auto"]
DEFAULT_NETWORK = NetworkOptions()
DEFAULT_PROCESSOR = Hyp3Options()
DEFAULT_MINTPY = MintPyOptions()


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
    network: NetworkOptions | None = DEFAULT_NETWORK,
    processor: Hyp3Options | IsceOptions | None = DEFAULT_PROCESSOR,
    mintpy: MintPyOptions | None = DEFAULT_MINTPY,
    reference_point: tuple[float, float] | None = None,
    points: list[Point] | None = None,
    poll_interval_s: float = 30.0,
    wait_timeout_s: float = 3600.0,
    publish: PublishOptions | None = None,
    resume_after_s: float = 1800.0,
    name: str | None = None,
    max_credits: float | None = None,
    full_inversion: bool = False,
) -> dict[str, Any]:
    """Process an area end to end: search, stacks, pairs, interferograms, MintPy, products.

    Args:
        aoi: The area of interest: [min_lon, min_lat, max_lon, max_lat] in degrees, a WKT
            polygon, or the path of a GeoJSON/shapefile on the worker.
        start: First acquisition date to use (YYYY-MM-DD).
        end: Last acquisition date to use; empty: up to now.
        path_frame: Keep one stack: [path, frame] for SLCs (e.g. [100, 466]) or a full burst
            ID; empty: process every stack that covers the AOI.
        backend: Where interferograms are made: hyp3 (ASF's cloud, costs credits) or isce
            (ISCE2 topsStack on the worker).
        product: S1_SLC (full-frame INSAR_GAMMA jobs), S1_Burst (INSAR_ISCE_MULTI_BURST
            jobs on the AOI's burst groups), S1_DISP or disp (OPERA DISP-S1 time series, 0
            credits, North America) or auto (DISP-S1 where a frame covers the AOI, else the
            one whose stacks cost the fewest HyP3 credits per new date).
        workdir: Folder on the worker that holds one subfolder per stack (ledger, products).
        network: How pairs are chosen (a connected small-baseline network per stack).
        processor: Options of the interferogram backend: HyP3 job options (backend hyp3)
            or ISCE2 options (backend isce).
        mintpy: MintPy smallbaselineApp options; empty: MintPy's defaults.
        reference_point: (lat, lon) of the time series' reference pixel; empty: MintPy picks
            a coherent one.
        points: Places (lat, lon) for the displacement time-series CSV and plot.
        poll_interval_s: Seconds between status checks while interferograms are made.
        wait_timeout_s: Longest wait for interferograms in this run; longer jobs leave the
            stack `waiting` and a deployment run schedules its own follow-up.
        publish: Upload the products to S3 and link them with presigned URLs.
        resume_after_s: Delay of that follow-up run (seconds); nothing is redone.
        name: Short name of this AOI in artifact keys and titles (letters, digits, dashes);
            empty: the workdir's folder name.
        max_credits: HyP3 credit ceiling of this run; above it nothing is submitted. The
            credits are estimated, logged and shown as `credits` artifacts before any
            submission; empty: only the account's remaining credits limit it.
        full_inversion: Invert every date again. By default a rerun with new dates appends
            them to the existing time series (a full inversion runs by itself when the
            network under old dates changed).

    Returns:
        What was made, per stack: folder, scenes, pairs, interferograms, time series and
        product paths; the stacks still waiting for interferograms.
    """
    logger = get_run_logger()
    label = run_label(name, workdir)
    network_opts = (as_model(NetworkOptions, network) or DEFAULT_NETWORK).as_kwargs()
    processor_opts = processor_options(backend, processor)
    mintpy_opts = mintpy_template(mintpy)
    point_list = point_tuples(points)
    publish_opts: PublishOptions | None = as_model(PublishOptions, publish)
    start_text, end_text = str(_iso(start)), _iso(end)
    if product == "auto":
        if path_frame is not None:
            raise ConfigError("product='auto' chooses among every stack over the AOI; with "
                              f"path_frame={path_frame!r} give product='S1_SLC' or 'S1_Burst'")
        product = cast(Product, choose_product(aoi, start_text, end_text,
                                               (processor_opts or {}).get("looks", "20x4"),
                                               catalog=settings.asf_url()))
    if product in ("S1_DISP", "disp"):
        from flows.disp import disp_pipeline

        return disp_pipeline(aoi, start_text, end_text, workdir, label, point_list, publish_opts)
    stacks = search_scenes(aoi, start_text, end_text, product, path_frame,
                           catalog=settings.asf_url())
    if not stacks:
        raise SearchError(f"no Sentinel-1 {product} scenes over aoi={aoi} between {start_text} "
                          f"and {end_text or 'now'}{f' in stack {path_frame}' if path_frame else ''}"
                          "; widen the dates or check path_frame")
    folders = save_stacks(stacks, workdir, label)
    networks = [f.result() for f in select_stack_pairs.map(stacks, unmapped(network_opts))]
    figure = network_figure.submit(networks, workdir, label)  # drawn while HyP3 works
    jobs = [{"stack": n["stack"], "workdir": folders[n["stack"]], "pairs": n["pairs"]}
            for n in networks if n["pairs"]]
    if not jobs:
        counts = ", ".join(f"{s['name']}: {len(s['scenes'])} scene(s)" for s in stacks)
        raise PairNetworkError(f"no interferogram pair can be made ({counts}); a time series "
                               f"needs at least 2 dates: widen start={start_text} / "
                               f"end={end_text}")
    interferograms = make_interferograms(jobs, backend, product, processor_opts, aoi,
                                         poll_interval_s, wait_timeout_s, network_opts, label,
                                         max_credits)
    waiting = [s["stack"] for s in jobs if interferograms[s["stack"]].get("waiting")]
    too_few = [s["stack"] for s in jobs if not enough_dates((p[0], p[1]) for p in s["pairs"])]
    if too_few:
        logger.warning("no time series for %s: fewer than %d dates; widen the dates",
                       ", ".join(too_few), MIN_TIMESERIES_DATES)
    ready = [s for s in jobs if s["stack"] not in waiting and s["stack"] not in too_few]
    series = run_timeseries.map([s["stack"] for s in ready], [s["workdir"] for s in ready],
                                unmapped(backend), unmapped(aoi), unmapped(reference_point),
                                unmapped(mintpy_opts), unmapped(full_inversion))
    summaries = {f.result()["stack"]: f.result() for f in series}
    figure.wait()  # matplotlib: one figure at a time
    made = make_stack_products.map([s["stack"] for s in ready], [s["workdir"] for s in ready],
                                   unmapped(aoi), unmapped(point_list), unmapped(label))
    products = {s["stack"]: f.result() for s, f in zip(ready, made, strict=True)}
    if publish_opts and ready:
        for s in ready:
            publish_stack_products(s["stack"], s["workdir"], publish_opts.bucket,
                                   publish_opts.prefix, publish_opts.endpoint_url, label,
                                   publish_opts.presign_expiry_s)
    if waiting:
        _schedule_follow_up(resume_after_s, waiting)
    result = {
        "workdir": workdir,
        "product": product,
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
    artifacts.markdown(summary_markdown(result, label), key=artifact_key(label, "summary"),
                       description=f"What the pipeline made for {label}")
    logger.info("pipeline done: %d stack(s), %d waiting for interferograms",
                len(result["stacks"]), len(waiting))
    return result


def make_interferograms(jobs: list[dict[str, Any]], backend: str, product: str,
                        processor: dict[str, Any] | None, aoi: Any, poll_interval_s: float,
                        wait_timeout_s: float, network: dict[str, Any] | None = None,
                        label: str | None = None, max_credits: float | None = None
                        ) -> dict[str, dict[str, Any]]:
    """The interferogram subflow of the chosen backend."""
    if not jobs:
        return {}
    if backend == "isce":
        from flows.interferograms import isce_interferograms

        return isce_interferograms(jobs, options=processor, aoi=aoi,
                                   poll_interval_s=poll_interval_s, timeout_s=wait_timeout_s,
                                   label=label)
    from flows.interferograms import hyp3_interferograms

    return hyp3_interferograms(jobs, PROCESSOR_FOR_PRODUCT[product], processor,
                               poll_interval_s=poll_interval_s, timeout_s=wait_timeout_s,
                               network=network, label=label, max_credits=max_credits)


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


def run_label(name: str | None, workdir: str) -> str:
    """The AOI's name in artifact keys: `name`, else the workdir's folder name."""
    label = artifact_key(name or Path(workdir).name)
    if not label:
        raise ConfigError(f"name={name!r} gives an empty artifact key; use letters, digits "
                          "and dashes")
    return label


def mintpy_template(mintpy: Any) -> dict[str, Any] | None:
    """MintPy template keys from the form's options (None: MintPy's defaults)."""
    model = as_model(MintPyOptions, mintpy)
    return (model.as_template() or None) if model is not None else None


def summary_markdown(result: dict[str, Any], label: str = "") -> str:
    lines = [f"# InSAR pipeline{f': {label}' if label else ''}", "",
             "| stack | scenes | pairs | HyP3 credits | dates | velocity (mm/yr) | "
             "products (artifact) |", "|---|---|---|---|---|---|---|"]
    for name, stack in result["stacks"].items():
        ts = stack.get("timeseries") or {}
        velocity = ts.get("velocity_mm_yr")
        credits = (stack.get("interferograms") or {}).get("credits") or {}
        made = len(stack.get("products") or {})
        page = f"{made} (`{artifact_key(label, name, 'products')}`)" if made else "-"
        lines.append(f"| {name} | {stack['scenes']} | {stack['pairs']} | "
                     f"{credits.get('line', '-')} | {len(ts.get('dates', []))} | "
                     f"{f'{velocity[0]} .. {velocity[1]}' if velocity else '-'} | "
                     f"{page} |")
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
