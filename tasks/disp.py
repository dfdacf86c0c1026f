"""OPERA DISP-S1 tasks: download (after the coverage check), time series.

No HyP3 credit is spent on this path. The download is retried (a file still corrupt after
its own second fetch, a busy catalog); an AOI no frame covers is not (it will not change).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from insarhub.disp.stack import build_timeseries
from insarhub.monitoring import timeseries_summary
from insarhub.search.disp_coverage import require_coverage
from tasks import artifacts
from tasks.common import ASF_TAG, NETWORK_RETRIES, SIDE_EFFECTS, artifact_key

PRODUCT = "S1_DISP"
ALIASES = {"disp": PRODUCT, "S1_DISP": PRODUCT, "DISP-S1": PRODUCT}


@task(name="disp-download", tags=[ASF_TAG], **SIDE_EFFECTS, **NETWORK_RETRIES)
def download_disp(aoi: Any, start: str, end: str | None, workdir: str,
                  label: str | None = None) -> dict[str, Any]:
    """Download the covering frame's products and static layers into `<workdir>/F<frame>/`;
    raises `DispCoverageError` (naming the nearest frame) when no frame covers the AOI."""
    logger = get_run_logger()
    coverage = require_coverage(aoi, start, end)
    downloader = coverage.downloader
    stack = str(coverage.best)
    downloader.filter(frame=stack)
    downloader.download(workdir=workdir, progress=False)
    folder = Path(workdir) / stack
    products = downloader.stacks[stack]
    logger.info("%s: %d DISP-S1 products downloaded (0 HyP3 credits)", stack, len(products))
    artifacts.markdown(f"## OPERA DISP-S1 source\n\n- {coverage.line()}\n- folder `{folder}`\n",
                       key=artifact_key(label, stack, "disp-source"),
                       description=f"DISP-S1 frame {stack} used instead of HyP3")
    return {"stack": stack, "folder": str(folder.resolve()), "products": len(products),
            "coverage": coverage.frames[stack]}


@task(name="disp-timeseries", **SIDE_EFFECTS)
def disp_timeseries(stack: str, stack_dir: str, first_date: str | None = None,
                    aoi: Any = None) -> dict[str, Any]:
    """Stack every downloaded product of the frame (opera-utils) into `<stack_dir>/mintpy`,
    the series starting at `first_date` (the run's start) when given."""
    folder = Path(stack_dir)
    files = sorted((folder / "disp").glob("*.nc"))
    result = build_timeseries(files, folder / "mintpy", static_dir=folder / "static",
                              first_date=first_date, aoi=aoi)
    get_run_logger().info("%s", result.line())
    return {"stack": stack, "source": "OPERA DISP-S1", "products": result.products,
            "run": {"mode": "rebuild", "reason": "DISP-S1 products stacked by opera-utils"},
            **timeseries_summary(folder / "mintpy")}
