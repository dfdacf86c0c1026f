"""ISCE_S1 end to end with the stand-in topsStack: run, status table, crash resume, retry, cancel."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from isce_helpers import DATES, PAIRS, attempts, runs, scene, wait_for

from insarhub import Processor
from insarhub.errors import ConfigError, IsceError
from insarhub.processor.isce import ISCE_S1_Config, IsceS1Processor
from insarhub.processor.isce_runner import process_matches, read_started

Config = Callable[..., ISCE_S1_Config]


def _max_overlap(isce_dir: Path, prefix: str) -> int:
    """Most stand-in commands (names starting with prefix) running at one instant."""
    spans = [(float(p[1]), float(p[2])) for p in (line.split() for line in
             (isce_dir / ".standin_runs.log").read_text().splitlines()) if p[0].startswith(prefix)]
    return max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)


def test_seed_example_end_to_end(standin: Path, make_config: Config,
                                 capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISCE_STANDIN_SLOW", "config_merge_[0-9lh]:0.3")  # overlap for sure
    cfg = make_config(max_workers=2)
    p = Processor.create("ISCE_S1", pairs={(100, 466): PAIRS}, config=cfg)
    assert isinstance(p, IsceS1Processor)
    first = p.submit()
    # 1 reference + 4 x 4 per-secondary + 1 valid region + 11 merges + 4 x 6 per-pair commands
    assert first.total == 53 and not first.finished
    table = p.refresh()
    out = capsys.readouterr().out
    assert "STEP" in out and "STATUS" in out and "run_01_unpack_topo_reference" in out
    assert "cmd_0000" in out and "config_igram_unw_20200102_20200114" in out
    assert list(table.columns) == ["step", "cmd", "status", "label", "log"]
    assert set(table["status"]) <= {"SUCCEEDED", "RUNNING", "PENDING", "FAILED"}
    status = p.watch(refresh_interval=0.2, timeout=120)
    assert status.succeeded and status.counts["SUCCEEDED"] == status.total == len(table)
    assert status.detail["runner"] == "finished"
    out = capsys.readouterr().out
    assert "Succeeded : 11  Running : 0  Pending : 0  Failed : 0" in out
    # exactly the selected interferograms were made, each command ran once
    isce = cfg.isce_dir
    made = sorted(d.name for d in (isce / "merged" / "interferograms").iterdir())
    assert made == sorted(f"{a[17:25]}_{b[17:25]}" for a, b in PAIRS)
    assert all((isce / "merged" / "interferograms" / d / "filt_fine.unw").exists() for d in made)
    counts = runs(isce)
    assert sum(counts.values()) == status.total and set(counts.values()) == {1}
    # a step's commands ran side by side, never more than max_workers at once
    assert _max_overlap(isce, "config_merge_") == 2
    final = p.refresh()
    assert (final["status"] == "SUCCEEDED").all()
    log = Path(final.loc[final["label"] == "config_igram_unw_20200102_20200114", "log"].iloc[0])
    assert "config_igram_unw_20200102_20200114: done" in log.read_text()


def test_sigkill_of_the_runner_then_submit_finishes_the_rest_once(
        standin: Path, make_config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISCE_STANDIN_SLOW", "config_fullBurst_geo2rdr_20200126:3")
    cfg = make_config(max_workers=2)
    p = IsceS1Processor(pairs=PAIRS, config=cfg)
    p.submit()
    slow = cfg.isce_dir / ".insarhub" / "steps" / "run_04_fullBurst_geo2rdr" / "cmd_0001"
    wait_for(p, lambda s: s.detail["steps"]["run_04_fullBurst_geo2rdr"] == "RUNNING"
             and slow.with_suffix(".started").exists())
    runner = int((cfg.isce_dir / ".insarhub" / "runner.pid").read_text())
    os.kill(runner, signal.SIGKILL)
    crashed = wait_for(p, lambda s: not s.runner_alive)
    assert crashed.finished and not crashed.succeeded
    assert crashed.detail["runner"].startswith("stopped unexpectedly")
    runner_log = (cfg.isce_dir / ".insarhub" / "runner.log").read_text()
    assert crashed.detail["runner_log"] and crashed.detail["runner_log"] in runner_log
    done_before = crashed.counts["SUCCEEDED"]
    assert 0 < done_before < crashed.total
    orphan = read_started(slow)[0]
    assert process_matches(orphan, str(slow))  # the killed runner's command still runs
    resumed = p.submit()
    assert resumed.counts["SUCCEEDED"] >= done_before
    status = p.watch(refresh_interval=0.2, timeout=120)
    assert status.succeeded
    # every command ran exactly once: the finished ones were skipped, the orphan adopted
    counts = runs(cfg.isce_dir)
    assert sum(counts.values()) == status.total and set(counts.values()) == {1}
    assert set(attempts(cfg.isce_dir).values()) == {1}
    assert "1 adopted" in (cfg.isce_dir / ".insarhub" / "runner.log").read_text()


def test_failure_stops_the_stack_and_retry_resumes_from_it(
        standin: Path, make_config: Config, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ISCE_STANDIN_FAIL", "config_igram_filt_coh_20200114_20200126")
    cfg = make_config()
    p = IsceS1Processor(pairs=PAIRS, config=cfg)
    p.submit()
    status = p.watch(refresh_interval=0.2, timeout=120)
    assert status.finished and not status.succeeded and status.detail["runner"] == "failed"
    assert status.counts["FAILED"] == 1
    assert status.failed == ["run_10_filter_coherence/cmd_0002 "
                             "(config_igram_filt_coh_20200114_20200126)"]
    assert status.detail["steps"]["run_10_filter_coherence"] == "FAILED"
    assert status.detail["steps"]["run_11_unwrap"] == "PENDING"
    assert status.counts["PENDING"] == len(PAIRS)  # unwrap never started
    assert not any(name.startswith("config_igram_unw") for name in runs(cfg.isce_dir))
    out = capsys.readouterr().out
    assert "FAILED run_10_filter_coherence/cmd_0002" in out and "cmd_0002.log" in out
    monkeypatch.delenv("ISCE_STANDIN_FAIL")
    p.retry()
    status = p.watch(refresh_interval=0.2, timeout=120)
    assert status.succeeded
    counts = runs(cfg.isce_dir)
    assert counts.pop("config_igram_filt_coh_20200114_20200126") == 2  # failed, then retried
    assert set(counts.values()) == {1}  # nothing else ran twice
    log = cfg.isce_dir / ".insarhub" / "steps" / "run_10_filter_coherence" / "cmd_0002.log"
    assert log.read_text().count("# insarhub attempt started") == 2


def test_cancel_stops_runner_and_commands_and_submit_resumes(
        standin: Path, make_config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISCE_STANDIN_SLOW", "config_secondary_:30")
    cfg = make_config(max_workers=4)
    p = IsceS1Processor(pairs=PAIRS, config=cfg)
    p.submit()
    running = wait_for(p, lambda s: s.counts["RUNNING"] == 4)
    assert running.detail["current_step"] == "run_02_unpack_secondary_slc"
    with pytest.raises(IsceError, match="still working"):
        p.retry()
    step_dir = cfg.isce_dir / ".insarhub" / "steps" / "run_02_unpack_secondary_slc"
    pids = [read_started(step_dir / f"cmd_{i:04d}")[0] for i in range(4)]
    start = time.monotonic()
    cancelled = p.cancel()
    assert time.monotonic() - start < 10
    assert not cancelled.runner_alive and cancelled.detail["runner"] == "cancelled"
    assert cancelled.finished and not cancelled.succeeded
    assert cancelled.counts["RUNNING"] == 0 and cancelled.counts["FAILED"] == 0
    assert not any(process_matches(pid, str(step_dir / f"cmd_{i:04d}"))
                   for i, pid in enumerate(pids))
    assert not runs(cfg.isce_dir)["config_secondary_20200114"]  # killed before it ended
    monkeypatch.setenv("ISCE_STANDIN_SLOW", "none^:0")
    p.submit()
    assert p.watch(refresh_interval=0.2, timeout=120).succeeded
    assert set(runs(cfg.isce_dir).values()) == {1}


def test_changed_config_regenerates_run_files(standin: Path, make_config: Config) -> None:
    cfg = make_config()
    p = IsceS1Processor(pairs=PAIRS[:3], config=cfg)
    p.submit()
    assert p.watch(refresh_interval=0.2, timeout=120).succeeded
    plan_file = cfg.isce_dir / ".insarhub" / "plan.json"
    stamp = plan_file.stat().st_mtime_ns
    # same config and pairs (only max_workers differs): nothing regenerated, nothing re-run
    again = IsceS1Processor(pairs=PAIRS[:3], config=make_config(max_workers=1)).submit()
    assert again.succeeded and plan_file.stat().st_mtime_ns == stamp
    assert set(runs(cfg.isce_dir).values()) == {1}
    # other looks: fresh run files with the new looks, the old results set aside
    changed = IsceS1Processor(pairs=PAIRS[:3], config=make_config(looks_range=4))
    changed.submit()
    assert "range_looks : 4" in (cfg.isce_dir / "configs" / "config_merge_lat").read_text()
    superseded = list((cfg.workdir / "isce_superseded").iterdir())
    assert len(superseded) == 1
    assert "range_looks : 9" in (superseded[0] / "configs" / "config_merge_lat").read_text()
    assert changed.watch(refresh_interval=0.2, timeout=120).succeeded
    # a dry run of yet another config does not displace these results
    with pytest.raises(IsceError, match="dry run does not set them aside"):
        IsceS1Processor(pairs=PAIRS, config=make_config(looks_range=5, dry_run=True)).submit()
    # other pairs: regenerated for exactly those pairs
    more = IsceS1Processor(pairs=PAIRS, config=make_config(looks_range=4))
    more.submit()
    unwrap = more.steps[-1]
    assert len(unwrap.commands) == len(PAIRS)
    assert len(list((cfg.workdir / "isce_superseded").iterdir())) == 2



def test_dry_run_writes_run_files_and_executes_nothing(standin: Path, make_config: Config) -> None:
    cfg = make_config(dry_run=True)
    p = IsceS1Processor(pairs=PAIRS, config=cfg)
    status = p.submit()
    run_files = sorted(f.name for f in (cfg.isce_dir / "run_files").iterdir())
    assert run_files[0] == "run_01_unpack_topo_reference" and len(run_files) == 11
    assert status.counts["PENDING"] == status.total == 53
    assert status.finished and not status.succeeded  # nothing will run
    assert status.detail["runner"] == "dry run (nothing executed)"
    assert p.retry().counts["PENDING"] == 53
    time.sleep(0.3)
    assert not (cfg.isce_dir / ".standin_runs.log").exists()
    assert not (cfg.isce_dir / ".insarhub" / "steps").exists()
    assert not (cfg.isce_dir / ".insarhub" / "runner.pid").exists()
    assert not (cfg.isce_dir / "merged").exists()
    # the same config for real reuses these run files
    plan = cfg.isce_dir / ".insarhub" / "plan.json"
    stamp = plan.stat().st_mtime_ns
    real = IsceS1Processor(pairs=PAIRS, config=make_config())
    real.submit()
    done = real.watch(refresh_interval=0.2, timeout=120)
    assert done.succeeded, (done.detail["runner"], done.detail.get("runner_log"))
    assert plan.stat().st_mtime_ns == stamp


def test_dry_run_needs_no_dem(standin: Path, make_config: Config, tmp_path: Path) -> None:
    cfg = make_config(dry_run=True, dem=None, workdir=tmp_path / "nodem")
    status = IsceS1Processor(pairs=PAIRS[:2], config=cfg).submit()
    assert status.total > 0 and not (cfg.isce_dir / ".insarhub" / "steps").exists()


def test_missing_isce2_is_a_clear_error(make_config: Config, monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    p = IsceS1Processor(pairs=PAIRS, config=make_config())
    with pytest.raises(IsceError) as info:
        p.submit()
    assert "stackSentinel.py was not found on PATH" in str(info.value)
    assert "conda install -c conda-forge isce2" in str(info.value)
    assert not make_config().isce_dir.exists()


def test_missing_slcs_and_dem_are_clear_errors(standin: Path, make_config: Config,
                                               slc_dir: Path, tmp_path: Path) -> None:
    (slc_dir / f"{scene(DATES[3])}.zip").unlink()
    with pytest.raises(IsceError) as info:
        IsceS1Processor(pairs=PAIRS, config=make_config()).submit()
    assert f"{scene(DATES[3])}.zip" in str(info.value) and "missing" in str(info.value)
    with pytest.raises(ConfigError, match="dem=.*nowhere.*not found"):
        IsceS1Processor(pairs=PAIRS[:2], config=make_config(dem=tmp_path / "nowhere")).submit()
    with pytest.raises(ConfigError, match="no bbox to stitch one"):
        IsceS1Processor(pairs=PAIRS[:2], config=make_config(dem=None, bbox=None)).submit()
    with pytest.raises(ConfigError, match="reference_date='20210101' is not a date of the pairs"):
        IsceS1Processor(pairs=PAIRS[:2], config=make_config(reference_date="20210101")).submit()
    with pytest.raises(IsceError, match="call submit"):
        IsceS1Processor(pairs=PAIRS[:2], config=make_config()).snapshot()


def test_saved_job_reloads_config_and_pairs(standin: Path, make_config: Config) -> None:
    cfg = make_config(dry_run=True)
    p = IsceS1Processor(pairs=PAIRS[:2], config=cfg)
    p.submit()
    job = cfg.workdir / "isce_job.yaml"
    again = Processor.create("ISCE_S1", saved_job_path=job)
    assert again.pairs == PAIRS[:2]
    assert again.config.workdir == cfg.workdir.absolute() and again.isce_dir == cfg.isce_dir
    assert again.config.bbox == cfg.bbox and again.config.dry_run
    assert again.snapshot().total == p.snapshot().total


def test_without_a_dem_isce2_dem_py_stitches_one_once(standin: Path, make_config: Config,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_config(dem=None)   # bbox [37.74, 38.00, -113.05, -112.68]
    monkeypatch.setenv("ISCE_STANDIN_FAIL", "dem")
    with pytest.raises(IsceError, match="could not stitch a DEM over .37, 38, -114, -112.*netrc"):
        IsceS1Processor(pairs=PAIRS[:2], config=cfg).submit()
    monkeypatch.delenv("ISCE_STANDIN_FAIL")
    p = IsceS1Processor(pairs=PAIRS[:2], config=cfg)
    p.submit()
    dem = cfg.workdir / "dem" / "demLat_N37_N38_Lon_W114_W112.dem.wgs84"
    assert p.config.dem == dem and dem.with_name(dem.name + ".xml").is_file()
    assert str(dem) in (cfg.workdir / "isce_job.yaml").read_text()  # saved for reloads
    p.watch(refresh_interval=0.2, timeout=120)
    mtime = dem.stat().st_mtime_ns
    IsceS1Processor(pairs=PAIRS[:2], config=cfg).submit()   # reused, not stitched again
    assert dem.stat().st_mtime_ns == mtime
