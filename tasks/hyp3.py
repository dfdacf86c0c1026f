"""HyP3 stages: submit pairs, poll a status snapshot, retry failures, download products.

Each task opens the stack's processor from its working directory: the ledger
(`<workdir>/insarhub.db`) is the state, so tasks pass only names and paths. Submission is
idempotent through the ledger (a rerun or a retry never creates a second job for a pair);
this is why none of these tasks is cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from insarhub import Processor
from insarhub.credits import CreditCeilingError
from insarhub.errors import CreditError, HyP3Error
from insarhub.ledger_json import export_json
from insarhub.processor.base import JobStatus
from tasks import limits
from tasks.common import HYP3_TAG, NETWORK_RETRIES, SIDE_EFFECTS, artifact_key

PROCESSOR_FOR_PRODUCT = {"S1_SLC": "Hyp3_S1", "S1_Burst": "Hyp3_Burst"}


def open_processor(processor_type: str, workdir: str, pairs: Any = None,
                   options: dict[str, Any] | None = None) -> Any:
    """The stack's HyP3 processor, its state read from the ledger in `workdir`."""
    return Processor.create(processor_type, pairs=pairs or None, workdir=workdir,
                            **(options or {}))


def status_dict(processor: Any) -> dict[str, Any]:
    """A JSON-friendly status: counts, failed names, finished/succeeded, the job table."""
    status = processor.status()
    table = processor.table()
    return {
        "counts": dict(status.counts),
        "failed": list(status.failed),
        "total": status.total,
        "done": status.done,
        "finished": status.finished,
        "succeeded": status.succeeded,
        "line": status.line(),
        "downloaded": int(status.detail.get("downloaded", 0)),
        "exhausted": [list(p) for p in status.detail.get("exhausted", [])],
        "jobs": table.astype(str).to_dict("records"),
    }


@task(name="hyp3-credits", **SIDE_EFFECTS, tags=[HYP3_TAG], **NETWORK_RETRIES)
def estimate_credits(stack: str, processor_type: str, workdir: str,
                     pairs: Sequence[Sequence[str]], options: dict[str, Any] | None = None,
                     max_credits: float | None = None) -> dict[str, Any]:
    """What the stack's queued jobs and `pairs` will cost (HyP3's `/costs`, else ASF's
    job-spec table), nothing queued or sent; logged and published as the `credits-<stack>`
    artifact with the month's allowance, before anything is submitted."""
    logger = get_run_logger()
    processor = open_processor(processor_type, workdir, None, options)
    try:
        estimate = processor.estimate([tuple(p) for p in pairs])
        try:
            remaining = processor.client.user().get("remaining_credits") if estimate.jobs else None
        except (HyP3Error, OSError):
            remaining = None
        logger.info("%s: HyP3 credits before submission: %s; %s remaining this month", stack,
                    estimate.line(), "unknown" if remaining is None else f"{float(remaining):g}")
        create_markdown_artifact(markdown=estimate.markdown(remaining, max_credits),
                                 key=artifact_key("credits", stack),
                                 description=f"HyP3 credits of {stack} before submission")
        return {**estimate.to_dict(), "line": estimate.line(),
                "remaining": None if remaining is None else float(remaining)}
    finally:
        processor.close()


@task(name="hyp3-submit", **SIDE_EFFECTS, tags=[HYP3_TAG], **NETWORK_RETRIES)
def submit_pairs(stack: str, processor_type: str, workdir: str,
                 pairs: Sequence[Sequence[str]], options: dict[str, Any] | None = None,
                 max_credits: float | None = None,
                 allowance: float | None = None) -> dict[str, Any]:
    """Queue `pairs` in the ledger and submit every queued job; what was sent and what waits.

    Above `max_credits` nothing is sent (CreditCeilingError). Short of credits, what fits is
    submitted (newest dates first) and the rest stays queued for the next run (`credit_error`
    says how many credits are missing); nothing is ever submitted twice.
    """
    logger = get_run_logger()
    processor = open_processor(processor_type, workdir, [tuple(p) for p in pairs], options)
    credit_error = None
    try:
        try:
            with limits.limit(limits.HYP3_SUBMIT):
                result = processor.submit(max_credits=max_credits, allowance=allowance)
            submitted, recovered, queued = result.submitted, result.recovered, result.queued
        except CreditCeilingError:
            raise
        except CreditError as exc:
            credit_error = str(exc)
            submitted, recovered = [], []
            queued = [r.name for r in processor.ledger.jobs() if r.status == JobStatus.QUEUED]
            logger.warning("%s: %s", stack, credit_error)
        export_json(processor.ledger, processor.workdir / "hyp3_jobs.json")
        logger.info("%s: %d pairs in the ledger; %d submitted now, %d found on HyP3, %d queued",
                    stack, processor.ledger.pair_count(), len(submitted), len(recovered),
                    len(queued))
        return {"stack": stack, "pairs": processor.ledger.pair_count(),
                "submitted": list(submitted), "recovered": list(recovered),
                "queued": list(queued), "credit_error": credit_error}
    finally:
        processor.close()


def snapshot_status(stack: str, processor_type: str, workdir: str) -> dict[str, Any]:
    """One non-blocking status snapshot from HyP3 (paged `GET /jobs`), recorded in the ledger.

    A plain function: the interferogram subflow polls it often (one task run per poll would
    cost more than the poll); the HyP3 client retries 5xx/429 answers itself.
    """
    processor = open_processor(processor_type, workdir)
    try:
        processor.snapshot()
        return {"stack": stack, **status_dict(processor)}
    finally:
        processor.close()


def ledger_status(stack: str, processor_type: str, workdir: str) -> dict[str, Any]:
    """The last known status from the ledger alone (no HyP3 call)."""
    processor = open_processor(processor_type, workdir)
    try:
        return {"stack": stack, **status_dict(processor)}
    finally:
        processor.close()


poll_status = task(name="hyp3-status", tags=[HYP3_TAG], **SIDE_EFFECTS,
                   **NETWORK_RETRIES)(snapshot_status)


@task(name="hyp3-retry", **SIDE_EFFECTS, tags=[HYP3_TAG], **NETWORK_RETRIES)
def retry_failed(stack: str, processor_type: str, workdir: str) -> dict[str, Any]:
    """Resubmit failed and expired jobs (a few times a pair); the pairs that keep failing."""
    logger = get_run_logger()
    processor = open_processor(processor_type, workdir)
    try:
        report = processor.retry()
        if report.resubmitted:
            logger.warning("%s: resubmitted %d failed/expired jobs", stack, len(report.resubmitted))
        return {"resubmitted": list(report.resubmitted),
                "exhausted": [list(p) for p in report.exhausted]}
    finally:
        processor.close()


@task(name="hyp3-download", **SIDE_EFFECTS, tags=[HYP3_TAG], **NETWORK_RETRIES)
def download_products(stack: str, processor_type: str, workdir: str) -> list[str]:
    """Download and unzip every succeeded product not yet in `<workdir>/hyp3/` (resumable)."""
    logger = get_run_logger()
    processor = open_processor(processor_type, workdir)
    try:
        with limits.limit(limits.DOWNLOAD):
            folders = processor.download(progress=False)
        export_json(processor.ledger, processor.workdir / "hyp3_jobs.json")
        logger.info("%s: %d products in %s", stack, len(folders), processor.products_dir)
        return [str(f) for f in folders]
    finally:
        processor.close()


@task(name="hyp3-repair-network", **SIDE_EFFECTS, tags=[HYP3_TAG], **NETWORK_RETRIES)
def repair_network(stack: str, processor_type: str, workdir: str,
                   network: dict[str, Any] | None = None) -> dict[str, Any]:
    """Drop the pairs that keep failing, queue replacements that keep the network in one
    piece (insarhub.network.repair_pairs) and submit them."""
    logger = get_run_logger()
    processor = open_processor(processor_type, workdir)
    try:
        update = processor.repair_network(**(network or {}))
        result = processor.submit()
        logger.warning("%s: %d pairs kept failing and were dropped; %d replacement pairs "
                       "submitted", stack, len(update.removed), len(result.submitted))
        return {"removed": [list(p) for p in update.removed],
                "added": [list(p) for p in update.pairs], "submitted": list(result.submitted)}
    finally:
        processor.close()
