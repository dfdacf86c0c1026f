"""Prefect orchestration benchmark against the sandbox (ephemeral Prefect, no server to run).

1. Orchestration overhead: the whole pipeline on stack (100, 466) (30 dates of 2020) as the
   `insar_pipeline` flow, against the same stages called straight from the library in the
   same order with the same HyP3 polling (no Prefect). Overhead = flow wall time minus the
   stages' own time (the library run), as a share of the flow's time (aim: < 10 %).
   Each is run `--repeats` times (fresh workdir, HyP3 user and result cache each time); the
   medians are compared. Also measured inside the flow: its wall time minus the stages'
   own time there (the task runs' durations from the Prefect API plus the time the HyP3
   subflow slept waiting for jobs). The temporary Prefect server is started before timing.
   Two sizes:
   the demo's (40 px products, 1 s HyP3 jobs) and a larger one (`--grid-size`, 120 px;
   `--job-seconds`, 20 s jobs: still ~100x faster than real HyP3 jobs of 30-70 min). The
   overhead is a roughly fixed few seconds per run (flow and subflow start/stop, ~25 task
   runs, artifacts), so its share shrinks as the stages grow.
2. Monitoring: on the same 30-date stack, one new acquisition: the pairs and HyP3 credits a
   `monitor_aoi` cycle submits and its wall time, against a full rerun (a fresh folder:
   every pair of the 31 dates).

    .venv/bin/python bench/flows.py [--repeats 3] [--grid-size 120] [--job-seconds 20]

Writes bench/results/flows.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# bench/ itself must not be on the path: bench/mintpy.py would shadow the mintpy package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
RESULTS = REPO / "bench" / "results" / "flows.json"
AOI = [-113.05, 37.74, -112.68, 38.0]
STACK = (100, 466)
START = "2020-01-01"
NOW = "2021-01-01T00:00:00+00:00"
POLL_S = 0.5


def _quiet_environment(root: Path) -> None:
    os.environ.update({"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                       "MPLBACKEND": "Agg", "PREFECT_LOGGING_LEVEL": "ERROR",
                       "PREFECT_HOME": str(root / "prefect"),
                       # SQLite waits for its lock instead of failing a write (then retried)
                       "PREFECT_SERVER_DATABASE_TIMEOUT": "60"})
    os.environ.pop("PREFECT_API_URL", None)


def _new_user() -> str:
    token = f"bench-flows-{uuid.uuid4().hex[:12]}"
    os.environ["EARTHDATA_TOKEN"] = token
    return token


def _credits(url: str, token: str) -> float:
    import requests

    response = requests.get(f"{url}/user", headers={"Authorization": f"Bearer {token}"},
                            timeout=30)
    response.raise_for_status()
    return float(response.json()["remaining_credits"])


def library_run(workdir: Path) -> float:
    """The pipeline's stages straight from insarhub (what the flow's tasks call); seconds."""
    import contextlib
    import io

    from insarhub import Analyzer, Downloader, Processor
    from insarhub.network import select_pairs
    from insarhub.products import make_products
    from insarhub.search.stacks import stack_dirname

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        s1 = Downloader.create("S1_SLC", intersectsWith=AOI, start=START)
        s1.search()
        s1.filter(path_frame=STACK, start=START)
        s1.save(workdir)
        pair_stacks, _, _ = select_pairs(s1.stacks, max_degree=5)
        folder = workdir / stack_dirname(STACK)
        processor = Processor.create("Hyp3_S1", pairs=pair_stacks[STACK], workdir=folder)
        processor.submit()
        while not processor.snapshot().finished:
            time.sleep(POLL_S)
        processor.download(progress=False)
        processor.save()
        processor.close()
        analyzer = Analyzer.create("Hyp3_SBAS", workdir=folder, aoi=AOI)
        analyzer.prep_data()
        analyzer.run()
        make_products(folder / "mintpy", folder / "products", aoi=AOI)
    return time.perf_counter() - started


def flow_run(workdir: Path) -> tuple[float, float]:
    """(flow wall time, the stages' own time inside it): the task runs' durations as the
    Prefect API records them plus the time the HyP3 subflow slept waiting for the jobs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
    )

    from flows.pipeline import insar_pipeline

    started = time.perf_counter()
    state = insar_pipeline(aoi=AOI, start=START, path_frame=STACK, workdir=str(workdir),
                           network={"max_degree": 5}, poll_interval_s=POLL_S,
                           wait_timeout_s=900, return_state=True)
    wall = time.perf_counter() - started
    result = state.result()
    waited = sum(s["interferograms"].get("waited_s", 0.0) for s in result["stacks"].values())
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id])))
        subflows = {c.id for c in children}
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[run_id, *subflows])))
    # a subflow also shows as a task run of its parent: count its tasks, not itself
    own = sum((r.end_time - r.start_time).total_seconds() for r in runs
              if r.start_time and r.end_time
              and not (r.state and r.state.state_details.child_flow_run_id))
    return wall, own + waited


def fresh_cache(root: Path) -> Any:
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    return temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: root / uuid.uuid4().hex})


def overhead(root: Path, repeats: int) -> dict[str, Any]:
    from prefect import flow

    @flow(name="bench-warm-up")
    def warm_up() -> int:
        return 1

    started = time.perf_counter()
    warm_up()  # starts the temporary server (not counted)
    server_s = time.perf_counter() - started
    library: list[float] = []
    flows: list[float] = []
    stages: list[float] = []
    for i in range(repeats):
        _new_user()
        library.append(library_run(root / f"library-{i}"))
        _new_user()
        with fresh_cache(root):
            wall, own = flow_run(root / f"flow-{i}")
        flows.append(wall)
        stages.append(own)
        print(f"  run {i + 1}: library {library[-1]:.1f} s, flow {wall:.1f} s "
              f"(stages inside it {own:.1f} s)", flush=True)
    lib, flo = statistics.median(library), statistics.median(flows)
    inside = statistics.median([f - s for f, s in zip(flows, stages, strict=True)])
    return {"stack": "p100_f466", "dates": 30, "poll_interval_s": POLL_S,
            "temporary_server_start_s": round(server_s, 1),
            "library_s": [round(v, 2) for v in library], "flow_s": [round(v, 2) for v in flows],
            "library_median_s": round(lib, 2), "flow_median_s": round(flo, 2),
            "overhead_s": round(flo - lib, 2),
            "overhead_pct": round(100.0 * (flo - lib) / flo, 1),
            "stages_in_flow_s": [round(v, 2) for v in stages],
            "in_flow_overhead_s": round(inside, 2),
            "in_flow_overhead_pct": round(100.0 * inside / flo, 1)}


def monitoring(root: Path, sandbox: Any) -> dict[str, Any]:
    from flows.monitor import monitor_aoi
    from insarhub.monitoring import MonitorConfig

    def cycle(name: str, workdir: Path) -> dict[str, Any]:
        token = _new_user() if name != "incremental" else os.environ["EARTHDATA_TOKEN"]
        config = MonitorConfig.from_dict({
            "name": f"bench-{name}", "aoi": AOI, "stack": STACK, "start": START,
            "workdir": workdir, "network": {"max_degree": 5}, "new_date_pairs": 3,
            "wait": {"poll_interval_s": POLL_S, "timeout_s": 900}})
        path = root / f"{name}.yaml"
        config.to_yaml(path)
        before = _credits(sandbox.url, token)
        started = time.perf_counter()
        with fresh_cache(root):
            result = monitor_aoi(str(path))
        seconds = time.perf_counter() - started
        return {"status": result["status"], "wall_s": round(seconds, 2),
                "new_dates": len(result["new_dates"]),
                "pairs_submitted": result["pairs_submitted"],
                "credits": before - _credits(sandbox.url, token),
                "dates_in_timeseries": len((result.get("timeseries") or {}).get("dates", []))}

    first = cycle("initial", root / "monitor")
    sandbox.clock.advance(days=12)  # one new acquisition (2021-01-08)
    incremental = cycle("incremental", root / "monitor")
    full = cycle("full-rerun", root / "monitor-full")
    return {"initial_cycle_30_dates": first, "one_new_date": incremental,
            "full_rerun_31_dates": full,
            "pairs_ratio": round(incremental["pairs_submitted"] / full["pairs_submitted"], 3),
            "credits_ratio": round(incremental["credits"] / full["credits"], 3),
            "wall_ratio": round(incremental["wall_s"] / full["wall_s"], 3)}


def _with_sandbox(root: Path, grid_size: int, job_seconds: float, work: Any) -> Any:
    from insarhub_sandbox.server import Sandbox, SandboxOptions

    sandbox = Sandbox(SandboxOptions(data_dir=root / f"sandbox-{grid_size}", now=NOW,
                                     job_seconds=job_seconds, grid_size=grid_size)).start()
    os.environ.update(sandbox.env())
    try:
        return work(sandbox)
    finally:
        sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grid-size", type=int, default=120, help="the larger size's pixels")
    parser.add_argument("--job-seconds", type=float, default=20.0,
                        help="the larger size's HyP3 job time")
    args = parser.parse_args(argv)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="insarhub-bench-flows-") as tmp:
        root = Path(tmp)
        _quiet_environment(root)
        for label, grid, job_s in (("demo_size", 40, 1.0),
                                   ("larger", args.grid_size, args.job_seconds)):
            print(f"orchestration overhead, {label} ({grid} px, {job_s:g} s jobs, 30 dates):",
                  flush=True)
            folder = root / label
            measured = _with_sandbox(folder, grid, job_s,
                                     lambda _, where=folder: overhead(where, args.repeats))
            result[f"overhead_{label}"] = {"grid_size": grid, "job_seconds": job_s, **measured}
            print(json.dumps(result[f"overhead_{label}"], indent=1), flush=True)
        print("monitoring: one new acquisition vs a full rerun (40 px, 1 s jobs):", flush=True)
        result["monitoring"] = _with_sandbox(root / "monitoring", 40, 1.0,
                                             lambda sandbox: monitoring(root, sandbox))
        print(json.dumps(result["monitoring"], indent=1), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
