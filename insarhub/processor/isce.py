"""`ISCE_S1`: interferograms made locally with ISCE2 topsStack, run step by step in the background.

    cfg = ISCE_S1_Config(workdir="p100_f466", bbox=[S, N, W, E], slc_dir="p100_f466/slc",
                         dem="dem/dem.wgs84")
    p = Processor.create("ISCE_S1", pairs=pairs, config=cfg)
    p.submit()                       # run files for exactly these pairs, runner started
    p.refresh()                      # step table (STEP, STATUS, per command)
    p.watch(refresh_interval=120)    # until every step has ended
    p.retry(); p.cancel()

`submit()` is idempotent: it reuses the run files of the same config and pairs, resumes after a
crash (only unfinished commands run) and regenerates them when the config or pairs changed (the
previous work directory is set aside under `<workdir>/isce_superseded/`, never deleted).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from insarhub.console import show
from insarhub.errors import ConfigError, IsceError
from insarhub.processor.base import (
    FAILED,
    PENDING,
    RUNNING,
    STATES,
    SUCCEEDED,
    BaseProcessor,
    ProcessingStatus,
)
from insarhub.processor.isce_config import ISCE_S1_Config
from insarhub.processor.isce_dem import stitch_dem
from insarhub.processor.isce_runfiles import (
    INPUT_SLC_DIR,
    Step,
    find_slcs,
    find_stack_sentinel,
    generate_run_files,
    scene_date,
)
from insarhub.processor.isce_runner import (
    STATE_DIRNAME,
    Plan,
    RunnerPaths,
    cancel_runner,
    command_states,
    now_iso,
    read_plan,
    read_state,
    reap_children,
    runner_alive,
    runner_pid,
    settle_exiting_runner,
    start_runner,
    write_atomic,
    write_plan,
)

__all__ = ["ISCE_S1_Config", "IsceS1Processor", "IsceStatus", "normalize_pairs"]

log = logging.getLogger(__name__)

JOB_FILE = "isce_job.yaml"
LOCAL_CHECK_S = 1.0  # how often watch() reads the runner's local state
SUPERSEDED_DIR = "isce_superseded"
# what stackSentinel.py itself writes: removable without losing processing results
GENERATION_ONLY = {"run_files", "configs", INPUT_SLC_DIR, STATE_DIRNAME, "SAFE_files.txt"}


@dataclass
class IsceStatus(ProcessingStatus):
    """A ProcessingStatus that also ends when the runner has stopped (failure, cancel, crash)."""

    @property
    def runner_alive(self) -> bool:
        return bool(self.detail.get("runner_alive"))

    @property
    def finished(self) -> bool:
        """Nothing pending or running, or nothing will run any more until retry()/submit()."""
        return super().finished or not self.runner_alive

    @property
    def succeeded(self) -> bool:
        return self.total > 0 and self.counts.get(SUCCEEDED, 0) == self.total

    def line(self) -> str:
        return f"{super().line()}; runner {self.detail.get('runner', '?')}"


def normalize_pairs(pairs: Any) -> list[tuple[str, str]]:
    """list[(ref, sec)] of S1 SLC scene names, from a list or a one-stack `select_pairs` dict."""
    if isinstance(pairs, Mapping):
        if len(pairs) != 1:
            keys = ", ".join(repr(k) for k in list(pairs)[:6]) or "none"
            raise ConfigError(
                f"pairs: a dict of {len(pairs)} stacks ({keys}); ISCE_S1 processes one stack: "
                "pass pairs=pair_stacks[key] for one of them"
            )
        pairs = next(iter(pairs.values()))
    if isinstance(pairs, str | bytes) or not isinstance(pairs, Sequence) or not pairs:
        raise ConfigError("pairs: give a non-empty list of (reference, secondary) SLC scene names")
    result: list[tuple[str, str]] = []
    for item in pairs:
        if isinstance(item, str | bytes) or not isinstance(item, Sequence) or len(item) != 2:
            raise ConfigError(f"pairs: {item!r} is not a (reference, secondary) pair of scene names")
        ref, sec = (re.sub(r"\.(zip|SAFE)$", "", str(name).strip()) for name in item)
        ref_date, sec_date = scene_date(ref), scene_date(sec)
        if ref_date >= sec_date:
            raise ConfigError(f"pairs: ({ref}, {sec}): the reference must be acquired before the "
                              "secondary (on an earlier date)")
        if (ref, sec) not in result:
            result.append((ref, sec))
    return result


def _command_label(command: str) -> str:
    """A short name for a run-file line: its config file, else its script."""
    match = re.search(r"-c\s+(\S+)", command)
    if match:
        return Path(match[1]).name
    words = [w for w in command.split(";")[-1].split() if not w.startswith("-")]
    return Path(words[0]).name if words else command[:40]


def _step_status(states: list[str], alive: bool) -> str:
    if FAILED in states:
        return FAILED
    if states and all(s == SUCCEEDED for s in states):
        return SUCCEEDED
    if RUNNING in states or (alive and SUCCEEDED in states):
        return RUNNING
    return PENDING


class IsceS1Processor(BaseProcessor):
    """Local ISCE2 topsStack processing of one Sentinel-1 SLC stack (see the module doc)."""

    def __init__(self, pairs: Any = None, config: ISCE_S1_Config | Mapping[str, Any] | str | Path
                 | None = None, saved_job_path: str | Path | None = None, **options: Any) -> None:
        saved_pairs = None
        if saved_job_path is not None:
            job = _read_job(Path(saved_job_path))
            config = config if config is not None else job["config"]
            saved_pairs = job.get("pairs")
        self.config = _build_config(config, options)
        raw_pairs = pairs if pairs is not None else saved_pairs
        self.pairs: list[tuple[str, str]] | None = (
            normalize_pairs(raw_pairs) if raw_pairs is not None else None)
        self.paths = RunnerPaths(self.config.isce_dir)

    def __repr__(self) -> str:
        n = len(self.pairs) if self.pairs else 0
        return f"IsceS1Processor(workdir={str(self.config.workdir)!r}, pairs={n})"

    @property
    def workdir(self) -> Path:
        return Path(self.config.workdir).expanduser().absolute()

    @property
    def isce_dir(self) -> Path:
        return self.config.isce_dir

    # ---- submit ------------------------------------------------------------------------------

    def submit(self) -> IsceStatus:
        """Write the run files (unless current ones fit) and start the runner; idempotent."""
        pairs = self._require_pairs()
        if self.config.dem is None and not self.config.dry_run:
            find_stack_sentinel()  # no ISCE2 at all: say that first
            dem = stitch_dem(self.config.bbox, Path(self.config.workdir).expanduser().absolute())
            self.config = self.config.model_copy(update={"dem": dem})
        cfg = self.config
        digest = cfg.processing_hash(pairs)
        plan = read_plan(self.paths)
        if plan is not None and plan.hash == digest and not cfg.dry_run:
            done = self.snapshot()
            if done.succeeded:
                log.info("every step already succeeded in %s", self.isce_dir)
                return done
        dates = sorted({scene_date(name) for pair in pairs for name in pair})
        if cfg.reference_date and cfg.reference_date not in dates:
            raise ConfigError(f"reference_date={cfg.reference_date!r} is not a date of the pairs; "
                              f"choose one of {', '.join(dates)} (or None: the first)")
        find_stack_sentinel()
        scenes = list(dict.fromkeys(name for pair in pairs for name in pair))
        slcs = find_slcs(Path(cfg.slc_dir).expanduser().absolute(), scenes)
        if not cfg.dry_run:
            self._check_dem()
        if not settle_exiting_runner(self.paths):
            if plan is not None and plan.hash == digest:
                log.info("the runner is already working in %s", self.isce_dir)
                return self.snapshot()
            raise IsceError(f"a runner is processing another configuration in {self.isce_dir}; "
                            "cancel() it (or wait for it) before submitting a changed one")
        if plan is None or plan.hash != digest:
            plan = self._generate(pairs, slcs, digest, previous=plan)
        else:
            log.info("reusing the run files of %s (config and pairs unchanged)", self.isce_dir)
        self.save()
        if cfg.dry_run:
            n = sum(len(s.commands) for s in plan.steps)
            log.info("dry run: %d steps, %d commands written to %s; nothing executed",
                     len(plan.steps), n, self.isce_dir / "run_files")
            return self.snapshot()
        status = self.snapshot()
        if status.failed:
            log.warning("%d command(s) failed earlier (%s ...): retry() runs them again",
                        len(status.failed), status.failed[0])
        start_runner(self.paths, cfg.max_workers)
        log.info("runner started for %d pairs in %s (max_workers=%d)", len(pairs),
                 self.isce_dir, cfg.max_workers)
        return self.snapshot()

    def _require_pairs(self) -> list[tuple[str, str]]:
        if self.pairs is None:
            plan = read_plan(self.paths)
            if plan is None:
                raise ConfigError("pairs: required for a first submit(); give pairs=[(ref, sec), "
                                  "...] of S1 SLC scene names")
            self.pairs = plan.pairs
        return self.pairs

    def _check_dem(self) -> None:
        dem = self.config.dem
        if dem is not None and not Path(dem).expanduser().exists():
            raise ConfigError(f"dem={str(dem)!r}: file not found")

    def _generate(self, pairs: list[tuple[str, str]], slcs: dict[str, Path], digest: str,
                  previous: Plan | None) -> Plan:
        self._set_aside(previous)
        steps = generate_run_files(self.config, pairs, slcs, self.paths.root / "stackSentinel.log")
        plan = Plan(hash=digest, pairs=pairs, steps=steps, created=now_iso())
        write_plan(self.paths, plan)
        log.info("wrote %d run files (%d commands) for %d pairs in %s", len(steps),
                 sum(len(s.commands) for s in steps), len(pairs), self.isce_dir / "run_files")
        return plan

    def _set_aside(self, previous: Plan | None) -> None:
        """Clear stale run files; move earlier processing results aside (never delete them)."""
        isce = self.isce_dir
        if not isce.exists():
            return
        produced = set(os.listdir(isce)) - GENERATION_ONLY
        if (self.paths.root / "steps").exists():
            produced.add("command logs")
        if not produced:
            for name in GENERATION_ONLY:
                target = isce / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
            return
        if self.config.dry_run:
            raise IsceError(f"{isce} holds results of another configuration; a dry run does not "
                            "set them aside: preview in another workdir, or submit without dry_run")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        tag = previous.hash[:8] if previous else "unplanned"
        dest = self.workdir / SUPERSEDED_DIR / f"{stamp}_{tag}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        isce.rename(dest)
        log.warning("config or pairs changed: previous topsStack results moved to %s "
                    "(delete it to free space)", dest)

    # ---- status ------------------------------------------------------------------------------

    def _collect(self) -> tuple[Plan, list[list[str]], bool, dict[str, Any]]:
        plan = read_plan(self.paths)
        if plan is None:
            raise IsceError(f"nothing submitted in {self.isce_dir}: call submit() first")
        reap_children()
        alive = runner_alive(self.paths)
        states = [command_states(self.paths, step) for step in plan.steps]
        return plan, states, alive, read_state(self.paths)

    def _runner_word(self, alive: bool, state: dict[str, Any]) -> str:
        name = state.get("state")
        if name in ("finished", "failed", "cancelled"):  # (a runner may still be exiting)
            return str(name)
        if alive:
            return "running" if name == "running" else "starting"
        if name in ("starting", "running"):
            return "stopped unexpectedly (submit() resumes)"
        return "dry run (nothing executed)" if self.config.dry_run else "not started"

    def _status(self, plan: Plan, states: list[list[str]], alive: bool,
                state: dict[str, Any]) -> IsceStatus:
        counts = dict.fromkeys(STATES, 0)
        failed = []
        for step, step_states in zip(plan.steps, states, strict=True):
            for index, s in enumerate(step_states):
                counts[s] += 1
                if s == FAILED:
                    failed.append(f"{step.name}/cmd_{index:04d} "
                                  f"({_command_label(step.commands[index])})")
        step_status = {step.name: _step_status(s, alive)
                       for step, s in zip(plan.steps, states, strict=True)}
        current = next((n for n, s in step_status.items() if s != SUCCEEDED), None)
        runner = self._runner_word(alive, state)
        detail = {"runner": runner, "runner_alive": alive,
                  "steps": step_status, "current_step": current,
                  "isce_dir": str(self.isce_dir), "logs": str(self.paths.root / "steps")}
        if runner.startswith("stopped unexpectedly"):  # say why, where it can be read
            detail["runner_log"] = _tail(self.paths.log)
        return IsceStatus(counts=counts, failed=failed, detail=detail)

    def snapshot(self) -> IsceStatus:
        """Where the commands stand now (non-blocking, prints nothing): for the Prefect watcher."""
        return self._status(*self._collect())

    def refresh(self) -> pd.DataFrame:
        """Print the step table and return one row per command (step, cmd, status, label, log)."""
        plan, states, alive, state = self._collect()
        status = self._status(plan, states, alive, state)
        rows = []
        for step, step_states in zip(plan.steps, states, strict=True):
            for index, s in enumerate(step_states):
                rows.append({"step": step.name, "cmd": f"cmd_{index:04d}", "status": s,
                             "label": _command_label(step.commands[index]),
                             "log": str(self.paths.command_base(step.name, index)) + ".log"})
        table = pd.DataFrame(rows, columns=["step", "cmd", "status", "label", "log"])
        show(self._render(plan, states, status, state))
        return table

    def _render(self, plan: Plan, states: list[list[str]], status: IsceStatus,
                state: dict[str, Any]) -> str:
        runner = status.detail["runner"]
        pid = runner_pid(self.paths) if status.runner_alive else None
        lines = [f"ISCE2 topsStack {self.isce_dir}  (runner: {runner}"
                 + (f", pid {pid})" if pid else ")"),
                 f"\n    {'STEP':<45} STATUS", "-" * 65]
        step_counts = dict.fromkeys(STATES, 0)
        for step, step_states in zip(plan.steps, states, strict=True):
            step_state = status.detail["steps"][step.name]
            step_counts[step_state] += 1
            done = step_states.count(SUCCEEDED)
            lines.append(f"  - {step.name:<43}  {step_state:<9}  {done}/{len(step_states)}")
            if len(step_states) > 1:
                for index, s in enumerate(step_states):
                    lines.append(f"      cmd_{index:04d}  {s:<9}  "
                                 f"{_command_label(step.commands[index])}")
        lines.append("")
        lines.append(f"  Succeeded : {step_counts[SUCCEEDED]}  Running : {step_counts[RUNNING]}  "
                     f"Pending : {step_counts[PENDING]}  Failed : {step_counts[FAILED]}  (steps)")
        lines.append(f"  commands: {status.line()}")
        for name in status.failed[:10]:
            step_name, _, rest = name.partition("/")
            lines.append(f"  FAILED {name}: log {self.paths.step_dir(step_name) / rest.split()[0]}.log")
        if state.get("message") and not status.runner_alive:
            lines.append(f"  {state['message']}")
        return "\n".join(lines)

    def watch(self, refresh_interval: float = 60.0, timeout: float | None = None) -> IsceStatus:
        """Block until every step has ended or the runner stopped; print the table at the end.

        The runner's state is local and cheap to read, so it is checked every second and
        `watch` returns as soon as the work ends; progress is logged every `refresh_interval`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        next_log = time.monotonic()
        while True:
            status = self.snapshot()
            if time.monotonic() >= next_log:
                log.info("%s", status.line())
                next_log = time.monotonic() + refresh_interval
            if status.finished:
                settle_exiting_runner(self.paths)  # let a runner that is done record it
                self.refresh()
                status = self.snapshot()
                if not status.succeeded:
                    log.warning("topsStack stopped: %s", status.line())
                return status
            if deadline is not None and time.monotonic() >= deadline:
                raise IsceError(f"still running after {timeout:.0f} s ({status.line()}); call "
                                "watch() again or refresh() later: the runner goes on")
            wait = min(refresh_interval, LOCAL_CHECK_S)
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            time.sleep(max(0.0, wait))

    # ---- control -----------------------------------------------------------------------------

    def retry(self) -> IsceStatus:
        """Run again what failed (and whatever did not finish), from the first failed step on."""
        settle_exiting_runner(self.paths)
        plan, states, alive, _ = self._collect()
        if alive:
            raise IsceError(f"the runner is still working in {self.isce_dir}: watch() until it "
                            "stops, or cancel() it, then retry()")
        cleared = 0
        for step, step_states in zip(plan.steps, states, strict=True):
            for index, s in enumerate(step_states):
                if s == FAILED:
                    self.paths.command_base(step.name, index).with_suffix(".failed").unlink(
                        missing_ok=True)
                    cleared += 1
        status = self.snapshot()
        if self.config.dry_run:
            log.info("dry run: nothing executed")
            return status
        if status.succeeded:
            log.info("nothing to retry: every command succeeded")
            return status
        log.info("retrying: %d failed command(s) cleared; runner started", cleared)
        start_runner(self.paths, self.config.max_workers)
        return self.snapshot()

    def cancel(self) -> IsceStatus:
        """Stop the runner and the commands it runs; submit() or retry() resumes later."""
        plan = read_plan(self.paths)
        stopped = cancel_runner(self.paths, plan)
        log.info("cancelled: %d process group(s) stopped in %s", stopped, self.isce_dir)
        return self.snapshot() if plan is not None else IsceStatus()

    # ---- persistence -------------------------------------------------------------------------

    def save(self, path: str | Path | None = None) -> Path:
        """Write the config and pairs (`<workdir>/isce_job.yaml`); load with saved_job_path=."""
        target = Path(path) if path is not None else self.workdir / JOB_FILE
        config = self.config.model_dump(mode="json")
        for key in ("workdir", "slc_dir", "orbit_dir", "aux_dir", "dem"):  # loadable anywhere
            if config.get(key):
                config[key] = str(Path(config[key]).expanduser().absolute())
        data = {"config": config, "pairs": [list(p) for p in self.pairs or []]}
        write_atomic(target, yaml.safe_dump(data, sort_keys=False))
        return target

    @property
    def steps(self) -> list[Step]:
        """The steps (pruned run files) of the current plan."""
        plan = read_plan(self.paths)
        return plan.steps if plan else []


def _build_config(config: Any, options: dict[str, Any]) -> ISCE_S1_Config:
    if isinstance(config, ISCE_S1_Config):
        return ISCE_S1_Config(**{**config.model_dump(), **options}) if options else config
    if isinstance(config, str | Path):
        base = ISCE_S1_Config.from_yaml(config).model_dump()
        return ISCE_S1_Config(**{**base, **options})
    if isinstance(config, Mapping):
        return ISCE_S1_Config(**{**config, **options})
    if config is None:
        if not options:
            raise ConfigError("config: required; give config=ISCE_S1_Config(workdir=..., "
                              "slc_dir=..., ...) or its YAML file")
        return ISCE_S1_Config(**options)
    raise ConfigError(f"config: {type(config).__name__} is not an ISCE_S1_Config, mapping or "
                      "YAML path")


def _read_job(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"saved_job_path={str(path)!r}: file not found")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or "config" not in data:
        raise ConfigError(f"saved_job_path={str(path)!r}: not an ISCE job file (no 'config')")
    return data


def _tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log ('' if there is none)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
