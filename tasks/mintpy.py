"""The MintPy SBAS time series of one stack (prepare, then smallbaselineApp step by step).

Not cached: MintPy writes into the stack folder and itself skips what is up to date, so a
rerun after new interferograms arrive updates the time series rather than rebuilding it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from insarhub import Analyzer
from insarhub.monitoring import timeseries_summary
from tasks.common import SIDE_EFFECTS

ANALYZER_FOR_BACKEND = {"hyp3": "Hyp3_SBAS", "isce": "ISCE_SBAS"}


@task(name="mintpy-timeseries", **SIDE_EFFECTS)
def run_timeseries(stack: str, stack_dir: str, backend: str = "hyp3", aoi: Any = None,
                   reference_point: tuple[float, float] | None = None,
                   mintpy_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Prepare the stack's interferograms for MintPy and run smallbaselineApp; a summary
    (dates, interferograms, velocity range in mm/yr)."""
    logger = get_run_logger()
    analyzer = Analyzer.create(ANALYZER_FOR_BACKEND[backend], workdir=stack_dir, aoi=aoi,
                               reference_point=reference_point,
                               mintpy_options=mintpy_options or None)
    analyzer.prep_data()
    analyzer.run()
    summary = timeseries_summary(Path(stack_dir) / "mintpy")
    logger.info("%s: %d dates, %s interferograms, velocity %s mm/yr", stack,
                len(summary["dates"]), summary.get("interferograms"),
                summary.get("velocity_mm_yr"))
    return {"stack": stack, **summary}
