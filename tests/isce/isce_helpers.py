"""Shared helpers of the ISCE tests (a module name of its own: no clash with other folders)."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from pathlib import Path

from insarhub.processor.isce import IsceS1Processor, IsceStatus

DATES = ["20200102", "20200114", "20200126", "20200207", "20200219"]


def scene(date: str, platform: str = "S1A") -> str:
    return f"{platform}_IW_SLC__1SDV_{date}T133501_{date}T133528_030617_038217_ABCD"


# a connected small-baseline network: neighbours plus two skip-one pairs
PAIRS = [(scene(DATES[0]), scene(DATES[1])), (scene(DATES[1]), scene(DATES[2])),
         (scene(DATES[2]), scene(DATES[3])), (scene(DATES[3]), scene(DATES[4])),
         (scene(DATES[0]), scene(DATES[2])), (scene(DATES[2]), scene(DATES[4]))]


def wait_for(processor: IsceS1Processor, predicate: Callable[[IsceStatus], bool],
             timeout: float = 60.0) -> IsceStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = processor.snapshot()
        if predicate(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout} s: {status.line()}")
        time.sleep(0.02)


def runs(isce_dir: Path) -> collections.Counter[str]:
    """How many times each stand-in command really ran (ended), from its own records."""
    log = isce_dir / ".standin_runs.log"
    if not log.exists():
        return collections.Counter()
    return collections.Counter(line.split()[0] for line in log.read_text().splitlines())


def attempts(isce_dir: Path) -> dict[str, int]:
    """How many times the runner started each command, from the per-command logs."""
    counts = {}
    for path in (isce_dir / ".insarhub" / "steps").rglob("cmd_*.log"):
        counts[f"{path.parent.name}/{path.stem}"] = path.read_text().count(
            "# insarhub attempt started")
    return counts
