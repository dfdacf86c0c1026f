"""Run smallbaselineApp steps in a subprocess (`insarhub.analyzer.runner`), logging its output.

Used for the full run in MintPy's work directory and, by an append, for the few MintPy steps
that run in the staging folder. MintPy's output goes to the log file; markers tell which step
starts, ends or fails; a failure raises `MintPyError` with the step and the last lines.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from insarhub.analyzer.runner import MARK
from insarhub.errors import MintPyError

log = logging.getLogger(__name__)

SECRET_ENV = ("EARTHDATA_TOKEN", "EARTHDATA_PASSWORD", "AWS_SECRET_ACCESS_KEY")


@dataclass
class StepsResult:
    """Seconds per step, wall time and the subprocess's peak memory (MB)."""

    steps: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    peak_rss_mb: float | None = None


def run_steps(template: Path, work_dir: Path, steps: Sequence[str], log_file: Path, *,
              plot: bool = False, title: str = "") -> StepsResult:
    """Run `steps` of smallbaselineApp on `template` in `work_dir`; MintPyError on failure."""
    command = [sys.executable, "-m", "insarhub.analyzer.runner", str(template), str(work_dir), *steps]
    if plot and len(steps) > 1:
        command.append("--plot")
    return run_marked(command, work_dir, log_file, f"{title + ' ' if title else ''}steps: {' '.join(steps)}")


def run_marked(command: Sequence[str], work_dir: Path, log_file: Path, title: str) -> StepsResult:
    """Run a Python process that prints the runner's markers; its output goes to `log_file`."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env.update(MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    work_dir.mkdir(parents=True, exist_ok=True)
    result = StepsResult()
    failed: tuple[str, str] | None = None
    current = "(start)"
    tail: deque[str] = deque(maxlen=40)
    started = time.perf_counter()
    with log_file.open("a") as log_out:
        log_out.write(f"\n===== insarhub run {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {title}\n")
        log_out.flush()
        with subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, cwd=work_dir, bufsize=1) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                log_out.write(line)
                if not line.startswith(MARK):
                    tail.append(line.rstrip("\n"))
                    continue
                words = line.split()
                if words[1:3] == ["step", "start"]:
                    current = words[3]
                    log.info("MintPy step %s ...", words[3])
                elif words[1:3] == ["step", "done"]:
                    result.steps[words[3]] = float(words[4])
                    log.info("MintPy step %s done in %.1f s", words[3], float(words[4]))
                elif words[1:3] == ["step", "failed"]:
                    failed = (words[3], " ".join(words[4:]))
                elif words[1] == "warning":
                    log.warning("MintPy %s", line[len(MARK) + 9:].strip())
                elif words[1] == "peak_rss_mb":
                    result.peak_rss_mb = float(words[2])
            code = proc.wait()
    result.wall_s = time.perf_counter() - started
    if failed or code:
        step, reason = failed or (current, f"exit status {code}")
        last = "\n".join(tail)
        raise MintPyError(f"MintPy step {step!r} failed: {reason}\n"
                          f"full log: {log_file}\nlast lines of MintPy's output:\n{last}")
    return result
