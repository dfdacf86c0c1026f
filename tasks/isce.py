"""ISCE2 topsStack stages: fetch the SLCs, start the background runner, watch its steps.

The runner works on in the background (its own process group); these tasks only start it
and read its markers, so a flow that stops waiting loses nothing: `submit()` resumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from insarhub import Downloader, Processor
from insarhub.aoi import bbox_snwe
from tasks.common import ASF_TAG, NETWORK_RETRIES, SIDE_EFFECTS

JOB_FILE = "isce_job.yaml"


@task(name="download-slcs", **SIDE_EFFECTS, tags=[ASF_TAG], **NETWORK_RETRIES)
def download_slcs(stack: str, stack_dir: str, scenes: Sequence[str]) -> str:
    """Fetch the SLCs of `scenes` into `<stack_dir>/slc/` (verified, resumable); the folder."""
    logger = get_run_logger()
    folder = Path(stack_dir)
    downloader_type: Any = Downloader.resolve("S1_SLC")
    downloader = downloader_type.load(folder.parent, stacks=[stack])
    downloader.download(scenes=list(scenes), workdir=folder.parent, progress=False)
    logger.info("%s: %d SLCs in %s", stack, len(scenes), folder / "slc")
    return str(folder / "slc")


def open_isce(stack_dir: str, pairs: Sequence[Sequence[str]] | None = None,
              options: dict[str, Any] | None = None, aoi: Any = None) -> Any:
    """The stack's ISCE_S1 processor: from its saved job, or a new config for `pairs`."""
    folder = Path(stack_dir)
    if pairs is None:
        return Processor.create("ISCE_S1", saved_job_path=folder / JOB_FILE)
    config = {"workdir": str(folder), "slc_dir": str(folder / "slc"), "bbox": bbox_snwe(aoi),
              **(options or {})}
    return Processor.create("ISCE_S1", pairs=[(p[0], p[1]) for p in pairs], config=config)


def isce_status_dict(status: Any) -> dict[str, Any]:
    return {"counts": dict(status.counts), "failed": list(status.failed),
            "total": status.total, "done": status.done, "finished": status.finished,
            "succeeded": status.succeeded, "line": status.line(),
            "steps": dict(status.detail.get("steps", {})),
            "current_step": status.detail.get("current_step"),
            "runner": status.detail.get("runner")}


@task(name="isce-submit", **SIDE_EFFECTS)
def submit_isce(stack: str, stack_dir: str, pairs: Sequence[Sequence[str]],
                options: dict[str, Any] | None = None, aoi: Any = None) -> dict[str, Any]:
    """Write the run files for exactly these pairs (or reuse them) and start the runner."""
    logger = get_run_logger()
    processor = open_isce(stack_dir, pairs, options, aoi)
    status = processor.submit()
    logger.info("%s: %s", stack, status.line())
    return {"stack": stack, **isce_status_dict(status)}


def isce_snapshot(stack: str, stack_dir: str) -> dict[str, Any]:
    """The step watcher's snapshot (markers on disk; non-blocking; a plain function, polled
    often by the subflow)."""
    return {"stack": stack, **isce_status_dict(open_isce(stack_dir).snapshot())}


poll_isce = task(name="isce-status", **SIDE_EFFECTS)(isce_snapshot)


@task(name="isce-retry", **SIDE_EFFECTS)
def retry_isce(stack: str, stack_dir: str) -> dict[str, Any]:
    """Run the failed commands again, from the first failed step on."""
    return {"stack": stack, **isce_status_dict(open_isce(stack_dir).retry())}
