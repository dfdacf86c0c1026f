"""run(): MintPy step by step, failures named, reruns that update; burst products; the CLI."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from analyzer_helpers import build_stack, render_pairs
from insarhub_sandbox.earth.model import SimulatedEarth, make_scenes, sequential_pairs
from shapely.geometry import box

from flows.cli import main  # the `insarhub` command
from insarhub.analyzer.hyp3_sbas import Hyp3SBASAnalyzer
from insarhub.errors import MintPyError

SITE_AOI = box(-112.885, 37.855, -112.845, 37.885)


def ifgram_count(workdir: Path) -> int:
    with h5py.File(workdir / "mintpy" / "inputs" / "ifgramStack.h5") as f:
        return int(f["unwrapPhase"].shape[0])


def test_failing_step_raises_mintpy_error_with_step_and_log_tail(make_stack) -> None:
    stack = make_stack(dates=3)
    analyzer = Hyp3SBASAnalyzer(stack.workdir)
    analyzer.prep_data()
    with pytest.raises(MintPyError, match=r"MintPy step 'invert_network' failed") as info:
        analyzer.run(steps=["invert_network"])  # nothing loaded yet
    message = str(info.value)
    assert "last lines of MintPy's output" in message and str(analyzer.log_file) in message
    assert "ifgramStack" in message or "FileNotFoundError" in message


def test_rerun_with_new_interferograms_updates(tmp_path: Path) -> None:
    stack = build_stack(tmp_path / "p100_f466", dates=7, neighbours=2)
    first = Hyp3SBASAnalyzer(stack.workdir, aoi=SITE_AOI)
    first.prep_data()
    first.run()
    geometry = stack.workdir / "mintpy" / "inputs" / "geometryGeo.h5"
    old_clip = first.inputs.unw_files[0]
    stamps = (geometry.stat().st_mtime_ns, old_clip.stat().st_mtime_ns)
    assert ifgram_count(stack.workdir) == 11

    scenes = make_scenes(9)  # two new acquisitions after the first seven
    new_pairs = [p for p in sequential_pairs(scenes, 2) if p[1] in scenes[7:]]
    render_pairs(stack.earth, new_pairs, stack.hyp3)
    again = Hyp3SBASAnalyzer(stack.workdir, aoi=SITE_AOI)
    again.prep_data()
    again.run()
    assert ifgram_count(stack.workdir) == 11 + len(new_pairs)
    with h5py.File(stack.workdir / "mintpy" / "timeseries.h5") as f:
        assert f["timeseries"].shape[0] == 9
    assert old_clip.stat().st_mtime_ns == stamps[1]  # prep kept the clipped layers it had
    assert geometry.stat().st_mtime_ns == stamps[0]  # the append kept the geometry
    assert again.last_run is not None and again.last_run.mode == "append"
    assert "adding 2 date(s)" in again.last_run.reason
    assert (again.reference.lat, again.reference.lon) == (first.reference.lat, first.reference.lon)


def test_burst_products_load_into_mintpy(tmp_path: Path) -> None:
    earth = SimulatedEarth()
    scenes = make_scenes(5, burst_id="100_372326_IW3")
    render_pairs(earth, sequential_pairs(scenes, 2), tmp_path / "hyp3", job_type="INSAR_ISCE_BURST")
    analyzer = Hyp3SBASAnalyzer(tmp_path)
    analyzer.prep_data()
    analyzer.run(steps=["load_data", "modify_network", "reference_point"])
    assert ifgram_count(tmp_path) == 7
    with h5py.File(tmp_path / "mintpy" / "inputs" / "ifgramStack.h5") as f:
        assert f.attrs["PROCESSOR"] == "hyp3" and f.attrs["beam_swath"] == "3"
        assert (int(f.attrs["REF_Y"]), int(f.attrs["REF_X"])) == (analyzer.reference.row, analyzer.reference.col)


def test_cli_prepares_runs_and_reports_errors(make_stack, tmp_path: Path, capsys, monkeypatch) -> None:
    stack = make_stack(dates=3)
    monkeypatch.chdir(stack.workdir.parent)  # a relative workdir, as users type it
    assert main(["analyze", "--workdir", stack.workdir.name, "--steps", "load_data", "modify_network",
                 "-o", "mintpy.network.startDate=20200101"]) == 0
    out = capsys.readouterr().out
    assert "reference point: lat 37.8" in out and "automatic" in out and "ifgramStack.h5" in out
    assert "time series: steps run (steps requested: load_data modify_network)" in out
    assert main(["analyze", "--workdir", stack.workdir.name, "--full", "--steps", "velocity"]) == 1
    assert "give --full or --steps, not both" in capsys.readouterr().err

    assert main(["analyze", "--workdir", str(stack.workdir), "--prep-only",
                 "--aoi=-112.885,37.855,-112.845,37.885"]) == 0
    assert "template:" in capsys.readouterr().out
    assert main(["analyze", "--workdir", str(stack.workdir), "--prep-only", "--aoi=-100.2,40,-100,40.2"]) == 1
    assert "error: the AOI" in capsys.readouterr().err

    assert main(["analyze", "--workdir", str(tmp_path / "empty")]) == 1
    assert "error: workdir" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["analyze", "--workdir", str(tmp_path / "empty")]) == 1
    assert "error: no HyP3 products" in capsys.readouterr().err
    assert main(["analyze", "--workdir", str(stack.workdir), "--ref-lat", "37.8"]) == 1
    assert "give both --ref-lat and --ref-lon" in capsys.readouterr().err
    assert main(["analyze", "--workdir", str(stack.workdir), "-o", "mintpy.nope=1"]) == 1
    assert "'mintpy.nope' is not a MintPy" in capsys.readouterr().err
    assert main(["analyze", "--workdir", str(stack.workdir), "--prep-only", "--ref-lat", "10",
                 "--ref-lon", "10"]) == 1
    assert "is outside the data" in capsys.readouterr().err
