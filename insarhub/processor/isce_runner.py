"""The detached runner of a topsStack work directory, and the files it keeps there.

`python -m insarhub.processor.isce_runner ISCE_DIR --max-workers N` runs the steps of the plan
(`.insarhub/plan.json`, the pruned run files) in order, the commands of a step in parallel up to
N, and stops after a step in which a command failed. It is started in its own session, so it
outlives the notebook or flow that started it.

Everything lives under `<isce_dir>/.insarhub/` and survives crashes:

    plan.json                      hash of config+pairs, the pairs, the steps and their commands
    runner.lock                    flock held by the live runner (released by the kernel on death)
    runner.pid                     pid of the last runner started (its process group id too)
    runner.json                    last state the runner wrote: running / finished / failed;
                                   cancelled (written by cancel())
    runner.log                     the runner's own output
    cancel                         present while a cancel is under way
    steps/<step>/cmd_NNNN.log      the command's output, one "# insarhub attempt" header per run
    steps/<step>/cmd_NNNN.started  "pid pgid" of the wrapper running it
    steps/<step>/cmd_NNNN.done     exit code 0   } written atomically (rename) by the command's
    steps/<step>/cmd_NNNN.failed   exit code     } own wrapper, so they survive a killed runner

A command whose wrapper is still alive when a new runner starts (its runner was SIGKILLed) is
adopted, not started again; a command with neither `.done` nor `.failed` and no live wrapper is
run again.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from insarhub.processor.base import FAILED, PENDING, RUNNING, SUCCEEDED
from insarhub.processor.isce_runfiles import Step

log = logging.getLogger(__name__)

STATE_DIRNAME = ".insarhub"
POLL_S = 0.05
LOCK_WAIT_S = 5.0

# Runs one command: records its pid, appends its output to the log, then writes .done or
# .failed atomically. A command killed by cancel() (exit >= 128 while the cancel file exists)
# leaves no result, so it counts as not run.
WRAPPER = r"""
base=$1; cmd=$2; pgid=$3; cancel=$4
printf '%s %s\n' "$$" "$pgid" > "$base.started.tmp" && mv -f "$base.started.tmp" "$base.started"
printf '# insarhub attempt started %(%Y-%m-%dT%H:%M:%S%z)T pid %s\n# %s\n' -1 "$$" "$cmd" >> "$base.log"
bash -c "$cmd" >> "$base.log" 2>&1 < /dev/null
rc=$?
printf '# insarhub attempt ended %(%Y-%m-%dT%H:%M:%S%z)T exit %s\n' -1 "$rc" >> "$base.log"
if [ "$rc" -ge 128 ] && [ -e "$cancel" ]; then exit "$rc"; fi
if [ "$rc" -eq 0 ]; then kind=done; other=failed; else kind=failed; other=done; fi
printf '%s\n' "$rc" > "$base.$kind.tmp" && mv -f "$base.$kind.tmp" "$base.$kind"
rm -f "$base.$other"
exit "$rc"
"""
WRAPPER_NAME = "insarhub-isce-command"


# ---- files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunnerPaths:
    """Where the runner keeps its state for one topsStack work directory."""

    isce_dir: Path

    @property
    def root(self) -> Path:
        return self.isce_dir / STATE_DIRNAME

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def lock(self) -> Path:
        return self.root / "runner.lock"

    @property
    def pid(self) -> Path:
        return self.root / "runner.pid"

    @property
    def state(self) -> Path:
        return self.root / "runner.json"

    @property
    def log(self) -> Path:
        return self.root / "runner.log"

    @property
    def cancel(self) -> Path:
        return self.root / "cancel"

    def step_dir(self, step: str) -> Path:
        return self.root / "steps" / step

    def command_base(self, step: str, index: int) -> Path:
        return self.step_dir(step) / f"cmd_{index:04d}"


def write_atomic(path: Path, text: str) -> None:
    """Write text so that a reader sees the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Plan:
    """What a runner executes: the pruned run files of one config + pair list."""

    hash: str
    pairs: list[tuple[str, str]]
    steps: list[Step]
    created: str = ""

    def to_json(self) -> str:
        return json.dumps({"hash": self.hash, "created": self.created or now_iso(),
                           "pairs": [list(p) for p in self.pairs],
                           "steps": [asdict(s) for s in self.steps]}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(hash=data["hash"], created=data.get("created", ""),
                   pairs=[(r, s) for r, s in data["pairs"]],
                   steps=[Step(s["name"], list(s["commands"])) for s in data["steps"]])


def write_plan(paths: RunnerPaths, plan: Plan) -> None:
    write_atomic(paths.plan, plan.to_json())


def read_plan(paths: RunnerPaths) -> Plan | None:
    try:
        return Plan.from_json(paths.plan.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable plan %s: %s", paths.plan, exc)
        return None


def read_state(paths: RunnerPaths) -> dict[str, Any]:
    try:
        data = json.loads(paths.state.read_text())
        return data if isinstance(data, dict) else {}
    except (FileNotFoundError, ValueError):
        return {}


def write_state(paths: RunnerPaths, state: str, **extra: Any) -> None:
    write_atomic(paths.state, json.dumps({"state": state, "updated": now_iso(), **extra}))


# ---- processes -------------------------------------------------------------------------------


def process_matches(pid: int, argument: str) -> bool:
    """Is `pid` a live (not zombie) process with `argument` as one of its arguments?"""
    if pid <= 0:
        return False
    if Path("/proc/self").exists():
        try:  # NUL-separated; empty for a zombie
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return b"\0" + argument.encode() + b"\0" in b"\0" + cmdline
    try:  # no /proc: trust the pid
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def lock_held(paths: RunnerPaths) -> bool:
    """Does a live runner hold the lock of this work directory?"""
    if not paths.lock.exists():
        return False
    fd = os.open(paths.lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def runner_pid(paths: RunnerPaths) -> int:
    try:
        return int(paths.pid.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return 0


def runner_alive(paths: RunnerPaths) -> bool:
    """A runner holds the lock, or the one just started is still coming up."""
    return lock_held(paths) or process_matches(runner_pid(paths), str(paths.isce_dir))


def _exiting(paths: RunnerPaths) -> bool:
    """Has the live runner nothing left to do (it only has to write its state and exit)?"""
    if read_state(paths).get("state") in ("finished", "failed", "cancelled"):
        return True
    plan = read_plan(paths)
    if plan is None:
        return False
    states = [s for step in plan.steps for s in command_states(paths, step)]
    return RUNNING not in states and (FAILED in states or all(s == SUCCEEDED for s in states))


def settle_exiting_runner(paths: RunnerPaths, timeout: float = 10.0) -> bool:
    """Wait for a runner that has finished its work to exit; True if no runner is alive."""
    deadline = time.monotonic() + timeout
    while runner_alive(paths):
        if not _exiting(paths) or time.monotonic() >= deadline:
            return False
        reap_children()
        time.sleep(POLL_S)
    return True


def read_started(base: Path) -> tuple[int, int]:
    try:
        pid, pgid = (int(v) for v in base.with_suffix(".started").read_text().split()[:2])
        return pid, pgid
    except (FileNotFoundError, ValueError):
        return 0, 0


def wrapper_alive(base: Path) -> bool:
    pid, _ = read_started(base)
    return process_matches(pid, str(base))


def command_states(paths: RunnerPaths, step: Step) -> list[str]:
    """SUCCEEDED / FAILED / RUNNING / PENDING of each command of a step, from its markers."""
    step_dir = paths.step_dir(step.name)
    try:
        names = set(os.listdir(step_dir))
    except FileNotFoundError:
        names = set()
    states = []
    for index in range(len(step.commands)):
        stem = f"cmd_{index:04d}"
        if f"{stem}.done" in names:
            states.append(SUCCEEDED)
        elif f"{stem}.failed" in names:
            states.append(FAILED)
        elif f"{stem}.started" in names and wrapper_alive(step_dir / stem):
            states.append(RUNNING)
        else:
            states.append(PENDING)
    return states


_CHILDREN: list[subprocess.Popen[bytes]] = []  # runners started by this process, to reap


def start_runner(paths: RunnerPaths, max_workers: int) -> subprocess.Popen[bytes]:
    """Start a detached runner (own session: it survives its caller); returns its process."""
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.cancel.unlink(missing_ok=True)
    write_state(paths, "starting")
    with paths.log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "insarhub.processor.isce_runner", str(paths.isce_dir),
             "--max-workers", str(max_workers)],
            cwd=paths.isce_dir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    write_atomic(paths.pid, f"{proc.pid}\n")
    _CHILDREN.append(proc)
    return proc


def reap_children() -> None:
    """Collect runners of this process that have exited (no zombies left behind)."""
    for proc in list(_CHILDREN):
        if proc.poll() is not None:
            _CHILDREN.remove(proc)


def _live_groups(paths: RunnerPaths, plan: Plan | None) -> set[int]:
    groups = set()
    pid = runner_pid(paths)
    if runner_alive(paths) and pid:
        groups.add(pid)  # started with start_new_session: pgid == pid
    for step in plan.steps if plan else []:
        step_dir = paths.step_dir(step.name)
        if not step_dir.is_dir():
            continue
        for started in step_dir.glob("cmd_*.started"):
            base = started.with_suffix("")
            if wrapper_alive(base):
                groups.add(read_started(base)[1] or read_started(base)[0])
    return groups


def cancel_runner(paths: RunnerPaths, plan: Plan | None, timeout: float = 10.0) -> int:
    """Stop the runner and every command it started; returns how many process groups it hit."""
    groups = _live_groups(paths, plan)
    if not groups:
        return 0
    write_atomic(paths.cancel, now_iso())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in _live_groups(paths, plan) if sig == signal.SIGKILL else groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
        deadline = time.monotonic() + timeout
        while _live_groups(paths, plan) and time.monotonic() < deadline:
            reap_children()
            time.sleep(POLL_S)
        if not _live_groups(paths, plan):
            break
    reap_children()
    write_state(paths, "cancelled")
    return len(groups)


# ---- the runner itself -----------------------------------------------------------------------


@contextlib.contextmanager
def _runner_lock(paths: RunnerPaths) -> Iterator[bool]:
    paths.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + LOCK_WAIT_S  # a status check may hold it for a moment
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(POLL_S)
        yield True
    finally:
        os.close(fd)


class _Running:
    """A command being run: started by this runner (Popen) or adopted from a dead one (pid)."""

    def __init__(self, paths: RunnerPaths, base: Path,
                 proc: subprocess.Popen[bytes] | None = None) -> None:
        self.base, self.proc, self.cancel = base, proc, paths.cancel

    def finished(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is not None
        return not wrapper_alive(self.base)

    def settle(self) -> None:
        """A wrapper that died without writing its result (killed) counts as failed."""
        done, failed = self.base.with_suffix(".done"), self.base.with_suffix(".failed")
        if done.exists() or failed.exists() or self.cancel.exists():
            return
        rc = self.proc.returncode if self.proc is not None else "unknown"
        write_atomic(failed, f"{rc} (the command's wrapper ended without a result)\n")


def _spawn(paths: RunnerPaths, base: Path, command: str) -> _Running:
    base.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        ["/bin/bash", "-c", WRAPPER, WRAPPER_NAME, str(base), command, str(os.getpgrp()),
         str(paths.cancel)],
        cwd=paths.isce_dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, close_fds=True,
    )
    return _Running(paths, base, proc)


def run_step(paths: RunnerPaths, step: Step, max_workers: int) -> bool:
    """Run the unfinished commands of a step, up to max_workers at a time; True if all succeed."""
    states = command_states(paths, step)
    running = {i: _Running(paths, paths.command_base(step.name, i))
               for i, s in enumerate(states) if s == RUNNING}  # adopted from a dead runner
    queue = [i for i, s in enumerate(states) if s == PENDING]
    if queue or running:
        log.info("%s: %d to run, %d adopted, %d done", step.name, len(queue), len(running),
                 states.count(SUCCEEDED))
    while queue or running:
        while queue and len(running) < max_workers:
            index = queue.pop(0)
            running[index] = _spawn(paths, paths.command_base(step.name, index),
                                    step.commands[index])
        time.sleep(POLL_S)
        for index, item in list(running.items()):
            if item.finished():
                item.settle()
                del running[index]
    return all(s == SUCCEEDED for s in command_states(paths, step))


def run_stack(isce_dir: Path, max_workers: int) -> int:
    """The runner's main: every step in order; stop after a step with a failure."""
    paths = RunnerPaths(isce_dir)
    with _runner_lock(paths) as locked:
        if not locked:
            log.info("another runner is active in %s; leaving it alone", isce_dir)
            return 0
        plan = read_plan(paths)
        if plan is None:
            write_state(paths, "failed", message=f"no plan in {paths.plan}")
            return 2
        write_state(paths, "running", pid=os.getpid(), max_workers=max_workers)
        for step in plan.steps:
            write_state(paths, "running", pid=os.getpid(), max_workers=max_workers, step=step.name)
            if not run_step(paths, step, max_workers):
                write_state(paths, "failed", pid=os.getpid(), step=step.name,
                            message=f"{step.name} has failed commands")
                log.error("%s failed: stopping; retry() runs it again", step.name)
                return 1
        write_state(paths, "finished", pid=os.getpid())
        log.info("all %d steps succeeded", len(plan.steps))
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the topsStack steps of a work directory.")
    parser.add_argument("isce_dir", type=Path)
    parser.add_argument("--max-workers", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return run_stack(args.isce_dir.absolute(), max(1, args.max_workers))


if __name__ == "__main__":
    sys.exit(main())
