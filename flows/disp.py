"""The DISP-S1 branch of `insar_pipeline` (product "S1_DISP"/"disp", or "auto" where a frame
covers the AOI): download the frame's products, stack them into the time series, then the
same products as the HyP3+MintPy path. No HyP3 job, no credit."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger

from tasks import artifacts
from tasks.common import artifact_key
from tasks.disp import PRODUCT, disp_timeseries, download_disp
from tasks.products import make_stack_products, publish_stack_products


def disp_pipeline(aoi: Any, start: str, end: str | None, workdir: str, label: str,
                  points: list[tuple[float, float]] | None = None,
                  publish: Any = None) -> dict[str, Any]:
    """What `insar_pipeline` returns, made from DISP-S1."""
    logger = get_run_logger()
    source = download_disp(aoi, start, end, workdir, label)
    stack, folder = source["stack"], source["folder"]
    series = disp_timeseries(stack, folder, start, aoi)
    products = make_stack_products(stack, folder, aoi, points, label)
    if publish is not None:
        publish_stack_products(stack, folder, publish.bucket, publish.prefix,
                               publish.endpoint_url, label, publish.presign_expiry_s)
    result = {
        "workdir": workdir, "product": PRODUCT,
        "stacks": {stack: {"folder": folder, "scenes": source["products"], "pairs": 0,
                           "interferograms": {"credits": {"credits": 0, "line": "0 (DISP-S1)"}},
                           "timeseries": series, "products": products}},
        "waiting": [], "too_few_dates": [],
    }
    vel = series.get("velocity_mm_yr")
    artifacts.markdown(
        f"# InSAR pipeline: {label}\n\nSource: OPERA DISP-S1 frame **{stack}** "
        f"({source['coverage']:.0%} of the AOI), {source['products']} products, "
        f"{len(series['dates'])} dates, 0 HyP3 credits; velocity "
        f"{f'{vel[0]} .. {vel[1]}' if vel else '-'} mm/yr; {len(products)} products.\n",
        key=artifact_key(label, "summary"), description=f"What the pipeline made for {label}")
    logger.info("pipeline done from DISP-S1 frame %s: %d dates, 0 HyP3 credits", stack,
                len(series["dates"]))
    return result


def disp_monitor_cycle(config: Any, end: Any, check_anomaly: Any) -> dict[str, Any]:
    """One monitoring cycle from DISP-S1: fetch what the frame published since the last cycle,
    rebuild the time series when there is something new, then products and the alert."""
    from pathlib import Path

    from insarhub.disp.files import parse_name
    from tasks import limits

    logger = get_run_logger()
    end_text = end.isoformat() if end else None
    source = download_disp(config.aoi, config.start.isoformat(), end_text, str(config.workdir),
                           config.name)
    stack, folder = source["stack"], source["folder"]
    velocity = Path(folder) / "mintpy" / "velocity.h5"
    files = sorted((Path(folder) / "disp").glob("*.nc"))
    seen = velocity.stat().st_mtime if velocity.is_file() else None
    new = [f for f in files if seen is None or f.stat().st_mtime > seen]
    new_dates = sorted({parse_name(f.name)[2].date().isoformat() for f in new})
    result: dict[str, Any] = {
        "aoi": config.name, "stack": stack, "folder": folder, "scenes": source["products"],
        "new_dates": new_dates, "pairs_submitted": 0, "source": "OPERA DISP-S1",
        "interferograms": {"credits": {"credits": 0, "line": "0 (DISP-S1)"}}}
    logger.info("%s: DISP-S1 frame %s, %d products, %d new date(s)", config.name, stack,
                len(files), len(new_dates))
    if not new:
        return {**result, "status": "up to date"}
    with limits.limit(limits.MINTPY):
        result["timeseries"] = disp_timeseries(stack, folder, config.start.isoformat(),
                                               config.aoi)
    result["products"] = make_stack_products(stack, folder, config.aoi, config.points,
                                             config.name)
    if config.publish:
        result["published"] = publish_stack_products(
            stack, folder, config.publish.bucket,
            "/".join(filter(None, [config.publish.prefix, config.name])),
            config.publish.endpoint_url, config.name)
    result["anomaly"] = check_anomaly(config, stack, folder)
    return {**result, "status": "updated"}
