"""ISCE runner benchmark: what the background runner costs per command, and status polling.

A plan of 8 steps x 25 short commands (`sleep 0.2`, like a quick topsStack command) runs through
the real detached runner at max_workers 1 and 8. Reported per setting: wall time, the ideal
time (steps x ceil(commands / workers) x 0.2 s), the runner's overhead per command, and how
long one `snapshot()` (the Prefect watcher's poll) takes on the 200-command plan.

    .venv/bin/python bench/isce_runner.py [--steps 8] [--commands 25] [--seconds 0.2]

Writes bench/results/isce_runner.json.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from insarhub.processor.isce import ISCE_S1_Config, IsceS1Processor
from insarhub.processor.isce_runfiles import Step
from insarhub.processor.isce_runner import (
    Plan,
    RunnerPaths,
    settle_exiting_runner,
    start_runner,
    write_plan,
)

RESULTS = Path(__file__).resolve().parent / "results" / "isce_runner.json"


def run(steps: int, commands: int, seconds: float, workers: int, root: Path) -> dict[str, float]:
    cfg = ISCE_S1_Config(workdir=root / f"w{workers}", slc_dir=root, max_workers=workers)
    cfg.isce_dir.mkdir(parents=True)
    paths = RunnerPaths(cfg.isce_dir)
    plan = Plan(hash="bench", pairs=[], steps=[
        Step(f"run_{s + 1:02d}_bench", [f"sleep {seconds}" for _ in range(commands)])
        for s in range(steps)])
    write_plan(paths, plan)
    processor = IsceS1Processor(config=cfg)
    started = time.perf_counter()
    start_runner(paths, workers)
    polls: list[float] = []
    while True:
        t0 = time.perf_counter()
        status = processor.snapshot()
        polls.append(time.perf_counter() - t0)
        if status.finished:
            break
        time.sleep(0.2)
    wall = time.perf_counter() - started
    assert status.succeeded, status.line()
    settle_exiting_runner(paths)
    ideal = steps * math.ceil(commands / workers) * seconds
    total = steps * commands
    return {"max_workers": workers, "commands": total, "wall_s": round(wall, 2),
            "ideal_s": round(ideal, 2),
            "overhead_ms_per_command": round(1000 * (wall - ideal) / total * workers, 1),
            "snapshot_ms_median": round(1000 * sorted(polls)[len(polls) // 2], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--commands", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-isce-") as tmp:
        results = [run(args.steps, args.commands, args.seconds, w, Path(tmp)) for w in (1, 8)]
    for r in results:
        print(f"max_workers={r['max_workers']}: {r['commands']} commands in {r['wall_s']} s "
              f"(ideal {r['ideal_s']} s): overhead {r['overhead_ms_per_command']} ms per command "
              f"per worker slot; snapshot() {r['snapshot_ms_median']} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": results}, indent=1))
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
