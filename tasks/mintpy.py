"""The MintPy SBAS time series of one stack (prepare, then update: append or full inversion).

Not cached: MintPy writes into the stack folder. A rerun after new interferograms arrive
appends the new dates to the existing time series; a full inversion runs when asked
(`full=True`), when the network under old dates changed, or every `full_inversion_every` runs.
The mode and its reason are logged and shown in a markdown artifact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from insarhub import Analyzer
from insarhub.monitoring import timeseries_summary
from tasks.common import SIDE_EFFECTS, artifact_key

ANALYZER_FOR_BACKEND = {"hyp3": "Hyp3_SBAS", "isce": "ISCE_SBAS"}


@task(name="mintpy-timeseries", **SIDE_EFFECTS)
def run_timeseries(stack: str, stack_dir: str, backend: str = "hyp3", aoi: Any = None,
                   reference_point: tuple[float, float] | None = None,
                   mintpy_options: dict[str, Any] | None = None, full: bool = False,
                   full_inversion_every: int | None = None) -> dict[str, Any]:
    """Prepare the stack's interferograms for MintPy and bring the time series up to date; a
    summary (mode and reason, dates, interferograms, velocity range in mm/yr)."""
    logger = get_run_logger()
    analyzer = Analyzer.create(ANALYZER_FOR_BACKEND[backend], workdir=stack_dir, aoi=aoi,
                               reference_point=reference_point,
                               mintpy_options=mintpy_options or None,
                               full_inversion_every=full_inversion_every)
    analyzer.prep_data()
    analyzer.run(full=full)
    report = analyzer.last_run
    run = {"mode": report.mode, "reason": report.reason, "seconds": round(report.wall_s, 1),
           "peak_rss_mb": report.peak_rss_mb}
    summary = timeseries_summary(Path(stack_dir) / "mintpy")
    logger.info("%s: %s run of the time series (%s) in %.1f s: %d dates, %s interferograms, "
                "velocity %s mm/yr", stack, report.mode, report.reason, report.wall_s,
                len(summary["dates"]), summary.get("interferograms"),
                summary.get("velocity_mm_yr"))
    create_markdown_artifact(
        markdown=(f"## Time series of {stack}\n\n- mode: **{report.mode}** ({report.reason})\n"
                  f"- {len(summary['dates'])} dates, {summary.get('interferograms')} interferograms\n"
                  f"- {report.wall_s:.1f} s, peak memory {report.peak_rss_mb} MB\n"),
        key=artifact_key(f"timeseries-{stack}"), description=f"MintPy time series of {stack}")
    return {"stack": stack, "run": run, **summary}
