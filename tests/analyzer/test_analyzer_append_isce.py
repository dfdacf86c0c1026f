"""ISCE_SBAS appends too: new topsStack interferograms of a new date are appended."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
from insarhub_sandbox.earth.model import SimulatedEarth, make_scenes, sequential_pairs
from insarhub_sandbox.products.isce import write_topsstack

from insarhub.analyzer.isce_sbas import IsceSBASAnalyzer


def test_isce_stack_appends_the_pairs_of_a_new_date(tmp_path: Path) -> None:
    earth = SimulatedEarth(seed=3, grid_size=40, atmosphere_mm=2.0)
    scenes = make_scenes(7, repeat_days=36)
    workdir = tmp_path / "p100_f466"
    write_topsstack(earth, sequential_pairs(scenes, 3), workdir / "isce")
    newest = f"{scenes[-1].start:%Y%m%d}"
    ifgs = workdir / "isce" / "merged" / "interferograms"
    held = tmp_path / "held"  # topsStack has not made the new date's pairs yet
    held.mkdir()
    for folder in ifgs.glob(f"*_{newest}"):
        shutil.move(folder, held / folder.name)
    first = IsceSBASAnalyzer(workdir)
    first.prep_data()
    first.run()
    assert first.last_run is not None and first.last_run.mode == "full"
    with h5py.File(workdir / "mintpy" / "timeseries.h5") as h5:
        old = h5["timeseries"][()]

    for folder in held.iterdir():  # ... now it has
        shutil.move(folder, ifgs / folder.name)
    again = IsceSBASAnalyzer(workdir)
    again.prep_data()
    again.run()
    assert again.last_run is not None and again.last_run.mode == "append", again.last_run.reason
    with h5py.File(workdir / "mintpy" / "inputs" / "ifgramStack.h5") as h5:
        assert h5["date"].shape[0] == len(sequential_pairs(scenes, 3))
    with h5py.File(workdir / "mintpy" / "timeseries.h5") as h5:
        series = h5["timeseries"][()]
        assert [d.decode() for d in h5["date"][()]][-1] == newest
    shift = old[0] - series[0]  # the old dates are kept (up to a change of reference date)
    assert np.allclose(series[:-1] + shift, old, atol=1e-6)
    assert np.isfinite(series[-1]).all() and np.abs(series[-1] - series[-2]).max() > 0
