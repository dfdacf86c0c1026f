"""Interferogram subflows: HyP3 (submit, then short polls) and ISCE2 (the step watcher).

Waiting without holding a worker for hours
------------------------------------------
HyP3 jobs take 30-70 minutes and run in parallel. The subflow submits, then polls a
non-blocking snapshot every `poll_interval_s` seconds (one cheap paged `GET /jobs`), updating
a progress artifact and the job table, for at most `timeout_s` seconds. If the jobs are not
done by then the subflow RETURNS (it does not sleep on, suspend or pause): the result says
which stacks are still waiting. Nothing is lost, because the ledger holds every job: the next
run (the next scheduled monitoring run, or a rerun / the follow-up run the pipeline schedules
for itself when it runs from a deployment) submits nothing twice and picks up the same jobs.
A worker is therefore busy for at most `timeout_s`, and a crashed or cancelled run costs
nothing. (Prefect's suspend_flow_run would also free the worker, but it needs somebody or an
automation to resume it; a return plus a schedule needs neither.)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from prefect import flow, get_run_logger

from insarhub.credits import check_ceiling, combine, estimate_from_dict
from insarhub.errors import HyP3Error
from tasks import artifacts
from tasks.common import artifact_key
from tasks.hyp3 import (
    download_products,
    estimate_credits,
    ledger_status,
    repair_network,
    retry_failed,
    snapshot_status,
    submit_pairs,
)


def _poll(stack: str, processor_type: str, workdir: str) -> dict[str, Any]:
    """A status snapshot; when HyP3 cannot be reached even after the client's retries, the
    ledger's last known status (the next poll tries again)."""
    try:
        return snapshot_status(stack, processor_type, workdir)
    except (HyP3Error, OSError) as exc:  # requests' errors are OSErrors
        get_run_logger().warning("%s: status poll failed (%s); trying again at the next poll",
                                 stack, exc)
        return ledger_status(stack, processor_type, workdir)


def _day(value: Any) -> str:
    """A granule name or a timestamp as its date (YYYY-MM-DD); '-' for none."""
    from insarhub.errors import ConfigError
    from insarhub.monitoring import acquisition_date

    text = str(value or "")
    if not text or text in ("None", "NaT", "nan"):
        return "-"
    try:
        return acquisition_date(text).isoformat()
    except ConfigError:
        return text[:10]


def job_rows(statuses: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The HyP3 job table a user reads: one short row per pair (dates, not granule names)."""
    rows = []
    for stack, status in statuses.items():
        for job in status.get("jobs", []):
            rows.append({"stack": stack, "reference": _day(job.get("reference")),
                         "secondary": _day(job.get("secondary")),
                         "status": job.get("status"), "attempt": job.get("attempt"),
                         "expires": _day(job.get("expiration_time")),
                         "downloaded": str(job.get("downloaded")) == "True"})
    return sorted(rows, key=lambda r: (r["stack"], r["reference"], r["secondary"]))


@flow(name="hyp3-interferograms")
def hyp3_interferograms(
    stacks: Sequence[Mapping[str, Any]],
    processor_type: str = "Hyp3_S1",
    options: dict[str, Any] | None = None,
    poll_interval_s: float = 30.0,
    timeout_s: float = 3600.0,
    retry_failures: bool = True,
    network: dict[str, Any] | None = None,
    label: str | None = None,
    max_credits: float | None = None,
    allowance: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Make the interferograms of every stack on HyP3 and download them.

    The credits of all stacks' queued jobs are estimated first (log and `credits-<stack>`
    artifacts); above `max_credits` (all stacks together) nothing is submitted and
    CreditCeilingError says what the network needs and how to lower it.

    Failed jobs are resubmitted (a few times a pair); pairs that keep failing are dropped
    and replaced by pairs that keep the network connected (`network`: the pair selection
    options), once per run.

    `stacks`: [{"stack": name, "workdir": folder, "pairs": [[reference, secondary], ...]}]
    (pairs already in the ledger may be left out: the ledger's unfinished jobs are followed
    too). `label` (the AOI or run name) prefixes the artifact keys; the progress and the job
    table (written after the downloads) are put on the run the user opened. Returns, per
    stack: the last status (counts, finished, succeeded), what was submitted, and `waiting: True` when the jobs outlived `timeout_s` (run again later).
    """
    logger = get_run_logger()
    estimates = {s["stack"]: estimate_credits(s["stack"], processor_type, s["workdir"],
                                              s.get("pairs") or [], options, max_credits)
                 for s in stacks}
    total = combine(estimate_from_dict(e) for e in estimates.values())
    logger.info("HyP3 credits of this run: %s", total.line())
    check_ceiling(total, max_credits)
    submitted = {s["stack"]: submit_pairs.submit(s["stack"], processor_type, s["workdir"],
                                                 s.get("pairs") or [], options,
                                                 allowance=allowance)
                 for s in stacks}
    # a submission that failed for good raises its error here (credits, token, bad pairs)
    results: dict[str, dict[str, Any]] = {name: {"submit": future.result(),
                                                 "credits": estimates[name]}
                                          for name, future in submitted.items()}
    workdirs = {s["stack"]: s["workdir"] for s in stacks}
    progress = artifacts.Progress(artifact_key(label, "hyp3-progress"),
                                  "HyP3 jobs finished (succeeded or failed)", unit="jobs")
    deadline = time.monotonic() + timeout_s
    retried: dict[str, list[str]] = {name: [] for name in workdirs}
    repaired: dict[str, dict[str, Any]] = {}
    waited = 0.0  # seconds slept between polls: time HyP3 worked, not orchestration
    while True:
        statuses = {name: _poll(name, processor_type, workdir)
                    for name, workdir in workdirs.items()}
        total = sum(s["total"] for s in statuses.values())
        done = sum(s["done"] for s in statuses.values())
        progress.update(done, total, "; ".join(f"{n}: {s['line']}"
                                               for n, s in statuses.items()))
        again = []
        for name, status in statuses.items():
            if not retry_failures or not status["failed"]:
                continue
            if len(status["exhausted"]) < len(status["failed"]):
                retried[name] += retry_failed(name, processor_type, workdirs[name])["resubmitted"]
                again.append(name)
            elif name not in repaired:
                repaired[name] = repair_network(name, processor_type, workdirs[name], network)
                again.append(name)
        finished = all(s["finished"] for s in statuses.values()) and not again
        if finished or time.monotonic() >= deadline:
            break
        pause = max(0.0, min(poll_interval_s, deadline - time.monotonic()))
        time.sleep(pause)
        waited += pause
    for name, status in statuses.items():
        results[name].update(status)
        results[name].pop("jobs", None)
        results[name]["waiting"] = not status["finished"]
        results[name]["resubmitted"] = retried[name]
        results[name]["repaired"] = repaired.get(name)
        results[name]["waited_s"] = round(waited, 3)
        if status["finished"]:
            folders = download_products(name, processor_type, workdirs[name])
            results[name]["products"] = len(folders)
            statuses[name] = ledger_status(name, processor_type, workdirs[name])
            results[name]["downloaded"] = statuses[name]["downloaded"]
        else:
            logger.warning("%s: %s after %.0f s; the next run picks these jobs up from the "
                           "ledger (nothing is submitted twice)", name, status["line"], timeout_s)
    artifacts.table(job_rows(statuses), key=artifact_key(label, "hyp3-jobs"), on_root=True,
                    description="HyP3 jobs, one row per pair (current attempt): dates, status, "
                                "product expiry, downloaded")
    return results


@flow(name="isce-interferograms")
def isce_interferograms(
    stacks: Sequence[Mapping[str, Any]],
    options: dict[str, Any] | None = None,
    aoi: Any = None,
    poll_interval_s: float = 30.0,
    timeout_s: float = 3600.0,
    retry_failures: bool = True,
    label: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Make the interferograms of every stack locally with ISCE2 topsStack, step by step.

    Per stack: the SLCs of its pairs are downloaded, the run files written for exactly those
    pairs and the background runner started; then the step watcher polls the runner's markers
    (a progress artifact and the step table) until every step has ended or `timeout_s`
    passed. The runner goes on when the flow stops waiting; the next run resumes it.
    `options`: ISCE_S1_Config fields (dem, swaths, looks_range, ..., max_workers, dry_run).
    """
    from tasks.isce import download_slcs, isce_snapshot, retry_isce, submit_isce

    logger = get_run_logger()
    results: dict[str, dict[str, Any]] = {}
    for s in stacks:
        scenes = sorted({name for pair in s["pairs"] for name in pair})
        if not (options or {}).get("slc_dir"):
            download_slcs(s["stack"], s["workdir"], scenes)
        results[s["stack"]] = {"submit": submit_isce(s["stack"], s["workdir"], s["pairs"],
                                                     options, aoi)}
    progress = artifacts.Progress(artifact_key(label, "isce-progress"),
                                  "ISCE2 topsStack commands finished", unit="commands")
    deadline = time.monotonic() + timeout_s
    retried: set[str] = set()
    while True:
        statuses = {s["stack"]: isce_snapshot(s["stack"], s["workdir"]) for s in stacks}
        total = sum(st["total"] for st in statuses.values())
        done = sum(st["done"] for st in statuses.values())
        progress.update(done, total, "; ".join(f"{n}: step {st['current_step'] or 'done'}"
                                               for n, st in statuses.items()))
        again = [n for n, st in statuses.items()
                 if retry_failures and st["finished"] and st["failed"] and n not in retried]
        for name in again:
            retried.add(name)
            logger.warning("%s: %d command(s) failed; retrying once", name,
                           len(statuses[name]["failed"]))
            retry_isce(name, next(s["workdir"] for s in stacks if s["stack"] == name))
        if (all(st["finished"] for st in statuses.values()) and not again) or \
                time.monotonic() >= deadline:
            break
        time.sleep(max(0.0, min(poll_interval_s, deadline - time.monotonic())))
    rows = [{"stack": n, "step": step, "status": state}
            for n, st in statuses.items() for step, state in st["steps"].items()]
    artifacts.table(rows, key=artifact_key(label, "isce-steps"), on_root=True,
                    description="ISCE2 topsStack steps")
    for name, status in statuses.items():
        results[name].update(status)
        results[name]["waiting"] = not status["finished"]
        if not status["succeeded"] and status["finished"]:
            logger.error("%s: topsStack stopped: %s", name, status["line"])
    return results
