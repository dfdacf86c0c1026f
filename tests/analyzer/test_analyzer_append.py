"""Appending new dates to a MintPy time series: equal to a full run, reads only the new
products, survives a kill, falls back to a full inversion when it must."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import h5py
import numpy as np
import pytest
from analyzer_helpers import Stack, build_stack, render_pairs
from insarhub_sandbox.earth.model import make_scenes, sequential_pairs

from insarhub.analyzer.append import KILL_ENV
from insarhub.analyzer.hyp3_sbas import Hyp3SBASAnalyzer
from insarhub.analyzer.journal import JOURNAL_NAME, STAGING_NAME
from insarhub.analyzer.template import read_template
from insarhub.analyzer.update_plan import STATE_NAME, plan_update, read_state
from insarhub.anomaly import AlertConfig, anomaly_from_mintpy
from insarhub.monitoring import timeseries_summary

DATES = 10


@dataclass
class Appended:
    stack: Stack
    pending: Path  # a copy taken after the first full run, with the new products downloaded
    appended: Hyp3SBASAnalyzer  # the same, updated by an append
    full: Hyp3SBASAnalyzer  # the same, updated by a full inversion
    old_series: np.ndarray  # timeseries_demErr.h5 before the update


def read(path: Path, name: str = "timeseries") -> np.ndarray:
    with h5py.File(path, "r") as h5:
        return h5[name][()].astype(np.float64)


def dates_of(path: Path) -> list[str]:
    with h5py.File(path, "r") as h5:
        return [d.decode() for d in h5["date"][()]]


def rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values[np.isfinite(values)] ** 2)))


def copy_stack(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


@pytest.fixture(scope="module")
def appended(tmp_path_factory: pytest.TempPathFactory) -> Appended:
    """A 10-date stack run in full, then one new date (3 pairs): appended, and run in full."""
    base = tmp_path_factory.mktemp("append")
    with pytest.MonkeyPatch.context() as patch:  # no ERA5 credentials: troposphere off
        patch.setenv("HOME", str(base))
        patch.delenv("CDSAPI_URL", raising=False)
        patch.delenv("CDSAPI_KEY", raising=False)
        stack = build_stack(base / "p100_f466", dates=DATES, neighbours=3, seed=5)
        first = Hyp3SBASAnalyzer(stack.workdir)
        first.prep_data()
        first.run()
        assert first.last_run is not None and first.last_run.mode == "full"
        old_series = read(stack.workdir / "mintpy" / "timeseries_demErr.h5")
        scenes = make_scenes(DATES + 1)
        rendered = render_pairs(stack.earth, [p for p in sequential_pairs(scenes, 3) if p[1] is scenes[-1]],
                                stack.hyp3)
        pending = copy_stack(stack.workdir, base / "pending")
        full = Hyp3SBASAnalyzer(copy_stack(stack.workdir, base / "full"))
        full.prep_data()
        full.run(full=True)

        analyzer = Hyp3SBASAnalyzer(stack.workdir)
        analyzer.prep_data()
        clipped = stack.workdir / "mintpy" / "clipped"
        new_products = {p.name.removesuffix(".zip") for p in rendered}
        assert len(new_products) == 3
        # the old interferograms must not be read again: make them unreadable (same mtime)
        for layer in clipped.glob("*/*_clip.tif"):
            old = layer.parent.name not in new_products
            if old and ("_unw_phase_" in layer.name or "_corr_" in layer.name):
                stamp = layer.stat()
                layer.write_bytes(b"not a raster: an append must not read old interferograms")
                os.utime(layer, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        analyzer.run()
    return Appended(stack, pending, analyzer, full, old_series)


def test_append_adds_the_new_date_and_matches_a_full_inversion(appended: Appended) -> None:
    report = appended.appended.last_run
    assert report is not None and report.mode == "append"
    assert "3 new pair(s) adding 1 date(s)" in report.reason
    assert appended.full.last_run is not None and appended.full.last_run.mode == "full"
    ours, theirs = (a.mintpy_dir for a in (appended.appended, appended.full))
    assert dates_of(ours / "timeseries_demErr.h5") == dates_of(theirs / "timeseries_demErr.h5")
    assert len(dates_of(ours / "timeseries.h5")) == DATES + 1
    with h5py.File(ours / "inputs" / "ifgramStack.h5") as h5:
        assert h5["unwrapPhase"].shape[0] == h5["date"].shape[0] == len(appended.appended.inputs.pairs)
        assert h5["dropIfgram"][()].all()
    # the raw inversion of the newest date (since the first, as the reference dates may differ):
    # within 2 mm of MintPy's full inversion
    mine, full = read(ours / "timeseries.h5"), read(theirs / "timeseries.h5")
    newest = (mine[-1] - mine[0]) - (full[-1] - full[0])
    assert rms(newest) * 1000 < 2.0
    coherence = read(ours / "temporalCoherence.h5", "temporalCoherence")
    assert rms(coherence - read(theirs / "temporalCoherence.h5", "temporalCoherence")) < 0.02
    # MintPy's quick-overview means take the new pairs in, as a full run's do
    for name, dataset, tolerance in (("avgSpatialCoh.h5", "coherence", 1e-4),
                                     ("avgPhaseVelocity.h5", "velocity", 1e-5)):
        difference = read(ours / name, dataset) - read(theirs / name, dataset)
        assert rms(difference) < tolerance, name
        before = read(appended.pending / "mintpy" / name, dataset)
        assert rms(read(ours / name, dataset) - before) > 10 * tolerance, f"{name} not updated"
    # the old dates are held as they were (same reference date)
    series = read(ours / "timeseries_demErr.h5")
    with h5py.File(ours / "timeseries_demErr.h5") as h5:
        assert h5.attrs["END_DATE"] == dates_of(ours / "timeseries.h5")[-1]
        ref_index = dates_of(ours / "timeseries.h5").index(h5.attrs["REF_DATE"])
    old = appended.old_series - appended.old_series[ref_index]
    assert np.allclose(series[:DATES], old, atol=1e-6)


def test_new_date_gets_the_existing_dem_error_correction(appended: Appended) -> None:
    from mintpy import dem_error

    folder = appended.appended.mintpy_dir
    raw, corrected = read(folder / "timeseries.h5"), read(folder / "timeseries_demErr.h5")
    dem_err = read(folder / "demErr.h5", "dem").ravel()
    sin_inc, distance, pbase = dem_error.read_geometry(str(folder / "timeseries.h5"),
                                                       str(folder / "inputs" / "geometryGeo.h5"))
    expected = (pbase / (distance * sin_inc) * dem_err).reshape(raw.shape)
    assert np.abs((raw - corrected) - expected).max() < 1e-6  # every date, the new one included


def test_velocity_is_fitted_to_the_appended_series(appended: Appended) -> None:
    folder = appended.appended.mintpy_dir
    series = read(folder / "timeseries_demErr.h5")
    days = np.array([(date.fromisoformat(d) - date.fromisoformat(dates_of(folder / "timeseries.h5")[0])).days
                     for d in dates_of(folder / "timeseries.h5")]) / 365.25
    design = np.column_stack([days, np.ones_like(days)])
    slope = np.linalg.lstsq(design, series.reshape(len(days), -1), rcond=None)[0][0]
    velocity = read(folder / "velocity.h5", "velocity").ravel()
    assert np.abs(velocity - slope).max() < 1e-5
    with h5py.File(folder / "velocity.h5") as h5:
        assert h5.attrs["END_DATE"] == dates_of(folder / "timeseries.h5")[-1]
        assert "velocityStd" in h5


def test_append_leaves_no_staging_and_records_the_mode(appended: Appended) -> None:
    folder = appended.appended.mintpy_dir
    assert not (folder / STAGING_NAME).exists() and not (folder / JOURNAL_NAME).exists()
    state = read_state(folder)
    assert state["mode"] == "append" and state["appends_since_full"] == 1 and state["dates"] == DATES + 1
    assert read_state(appended.full.mintpy_dir)["mode"] == "full"
    log = appended.appended.log_file.read_text()
    assert "===== insarhub run" in log and "append (3 new pair(s)" in log and "step done load_new_pairs" in log
    again = Hyp3SBASAnalyzer(appended.stack.workdir)
    again.run()
    assert again.last_run is not None and again.last_run.mode == "append"
    assert again.last_run.reason.startswith("nothing new")


def test_anomaly_check_and_summary_work_on_appended_outputs(appended: Appended) -> None:
    folder = appended.appended.mintpy_dir
    report = anomaly_from_mintpy(folder, AlertConfig())
    assert str(report.date).replace("-", "") == dates_of(folder / "timeseries.h5")[-1]
    assert report.valid_pixels > 0 and report.residual_mm is not None
    summary = timeseries_summary(folder)
    assert len(summary["dates"]) == DATES + 1
    assert summary["interferograms"] == len(appended.appended.inputs.pairs)


def _plan(analyzer: Hyp3SBASAnalyzer, **changes: object):  # type: ignore[no-untyped-def]
    options = read_template(analyzer.template_file)
    options.update(changes.pop("options", {}))  # type: ignore[arg-type]
    pairs = changes.pop("pairs", analyzer.inputs.pairs)
    ref = changes.pop("ref", (analyzer.reference.row, analyzer.reference.col))
    return plan_update(analyzer.mintpy_dir, pairs, ref, options, ["timeseries_demErr.h5"], **changes)


def test_full_inversion_triggers(appended: Appended) -> None:
    analyzer = appended.appended
    pairs = list(analyzer.inputs.pairs)
    next_date = "20200601"
    new_pair = [f"{pairs[-1].split('_')[1]}_{next_date}"]
    assert _plan(analyzer, pairs=pairs + new_pair).mode == "append"
    cases = {
        "requested": _plan(analyzer, full=True),
        "dropped": _plan(analyzer, pairs=pairs[1:] + new_pair),
        "between old": _plan(analyzer, pairs=pairs + [f"{pairs[0].split('_')[0]}_{pairs[-1].split('_')[1]}"]),
        "reference point": _plan(analyzer, ref=(0, 0)),
        "options": _plan(analyzer, options={"mintpy.velocity.bootstrap": "yes"}),
        "every": _plan(analyzer, pairs=pairs + new_pair, full_every=2),
        "replaced": _plan(analyzer, replaced=[pairs[0]]),
        "grid": _plan(analyzer, pairs=pairs + new_pair, size=(10, 10)),
    }
    reasons = {name: plan.reason for name, plan in cases.items()}
    assert all(plan.mode == "full" for plan in cases.values()), reasons
    assert "requested" in reasons["requested"] and "dropped" in reasons["dropped"]
    assert "between old dates" in reasons["between old"] and "reference point" in reasons["reference point"]
    assert "options changed" in reasons["options"] and "every 2 runs" in reasons["every"]
    assert "replaced" in reasons["replaced"] and cases["dropped"].reload_stack
    assert "grid changed" in reasons["grid"] and cases["grid"].reload_stack


def test_corrections_that_need_every_date_force_a_full_inversion(appended: Appended, tmp_path: Path) -> None:
    folder = copy_stack(appended.stack.workdir, tmp_path / "copy") / "mintpy"
    options = read_template(folder / "insarhub.cfg")
    options["mintpy.deramp"] = "linear"
    state = read_state(folder)
    from insarhub.analyzer.update_plan import options_digest, write_state

    write_state(folder / STATE_NAME, {**state, "options": options_digest(options, folder)})
    plan = plan_update(folder, appended.appended.inputs.pairs + ["20200513_20200601"],
                       (appended.appended.reference.row, appended.appended.reference.col), options,
                       ["timeseries_demErr.h5"])
    assert plan.mode == "full" and "mintpy.deramp = linear" in plan.reason


def _run_killed(workdir: Path, point: str) -> subprocess.CompletedProcess[str]:
    """prep_data(); run() in a process whose append subprocess is SIGKILLed at `point`."""
    code = ("import sys; from insarhub.analyzer.hyp3_sbas import Hyp3SBASAnalyzer as A; "
            "a = A(sys.argv[1]); a.prep_data(); a.run()")
    env = {**os.environ, KILL_ENV: point, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-c", code, str(workdir)], env=env, capture_output=True, text=True,
                          timeout=600)


def test_killed_update_keeps_the_old_series_and_the_next_run_finishes(appended: Appended,
                                                                       tmp_path: Path) -> None:
    workdir = copy_stack(appended.pending, tmp_path / "killed")
    folder = workdir / "mintpy"
    before = read(folder / "timeseries_demErr.h5")
    killed = _run_killed(workdir, "estimated")  # the stack has grown, new files half staged
    assert killed.returncode != 0 and "exit status -9" in killed.stderr, killed.stderr[-2000:]
    assert (folder / JOURNAL_NAME).is_file()
    assert np.array_equal(read(folder / "timeseries_demErr.h5"), before)  # old series intact
    assert len(dates_of(folder / "timeseries.h5")) == DATES

    again = Hyp3SBASAnalyzer(workdir)
    again.prep_data()
    again.run()
    assert again.last_run is not None and again.last_run.mode == "append"
    assert "undid an interrupted append" in again.last_run.reason
    assert np.allclose(read(folder / "timeseries_demErr.h5"), read(appended.appended.mintpy_dir /
                                                                   "timeseries_demErr.h5"), atol=1e-7)
    with h5py.File(folder / "inputs" / "ifgramStack.h5") as h5:
        assert h5["date"].shape[0] == len(again.inputs.pairs)  # the new pairs once, not twice


def test_kill_while_swapping_files_in_is_finished_by_the_next_run(appended: Appended, tmp_path: Path) -> None:
    workdir = copy_stack(appended.pending, tmp_path / "swapping")
    folder = workdir / "mintpy"
    killed = _run_killed(workdir, "moved timeseries.h5")  # one file swapped in, the rest staged
    assert killed.returncode != 0 and "exit status -9" in killed.stderr, killed.stderr[-2000:]
    assert len(dates_of(folder / "timeseries.h5")) == DATES + 1
    assert len(dates_of(folder / "timeseries_demErr.h5")) == DATES  # still the old, readable one
    again = Hyp3SBASAnalyzer(workdir)
    again.run()
    assert again.last_run is not None and "finished the interrupted append" in again.last_run.reason
    assert np.allclose(read(folder / "timeseries_demErr.h5"), read(appended.appended.mintpy_dir /
                                                                   "timeseries_demErr.h5"), atol=1e-7)
    assert read_state(folder)["mode"] == "append" and not (folder / STAGING_NAME).exists()


def test_new_products_that_would_shrink_the_common_grid_keep_the_earlier_grid() -> None:
    from insarhub.analyzer.grid import Grid, common_grid
    from insarhub.analyzer.prep import Hyp3Product, _grid_record, kept_grid

    def product(name: str) -> Hyp3Product:
        return Hyp3Product(name, "INSAR_GAMMA", Path(name), date(2020, 1, 2), date(2020, 1, 14), 80, "VV")

    def grid(x0: float, width: int) -> Grid:
        return Grid(32612, x0, 4_200_000.0, 80.0, 80.0, width, 50)

    old = [grid(0.0, 60), grid(80.0, 60)]
    manifest = {"grid": _grid_record(common_grid(old)), "products": ["a", "b"]}
    earlier = common_grid(old)
    slightly_smaller = grid(240.0, 60)  # misses 3 of the 59 columns of the earlier grid
    products = [product("a"), product("b"), product("c")]
    assert common_grid([*old, slightly_smaller]).width < earlier.width
    assert kept_grid(manifest, products, [*old, slightly_smaller], None) == earlier
    assert kept_grid(manifest, products, [*old, grid(3200.0, 60)], None) is None  # mostly outside
    assert kept_grid({**manifest, "products": ["a"]}, products, [*old, slightly_smaller], None) is None
