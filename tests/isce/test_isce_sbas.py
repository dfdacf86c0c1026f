"""ISCE_SBAS: MintPy (processor isce) on simulated topsStack outputs recovers the truth."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
from insarhub_sandbox.earth.model import SimulatedEarth, make_scenes, sequential_pairs
from insarhub_sandbox.products.isce import TopsStack, read_isce_raster, write_topsstack

from insarhub import Analyzer
from insarhub.analyzer.isce_sbas import IsceSBASAnalyzer
from insarhub.analyzer.prep import ProductSetError
from insarhub.errors import ConfigError


@dataclass
class Simulated:
    workdir: Path
    stack: TopsStack
    earth: SimulatedEarth


def _simulate(root: Path, count: int = 10, repeat_days: int = 36, **earth_options: float) -> Simulated:
    earth = SimulatedEarth(seed=3, grid_size=40, **earth_options)  # type: ignore[arg-type]
    scenes = make_scenes(count, repeat_days=repeat_days)
    workdir = root / "p100_f466"
    stack = write_topsstack(earth, sequential_pairs(scenes, 3), workdir / "isce")
    return Simulated(workdir, stack, earth)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    # a year of 36-day repeats, real noise but a calm atmosphere: the velocity shows through
    return _simulate(tmp_path_factory.mktemp("isce_sbas"), atmosphere_mm=2.0)


@pytest.fixture(scope="module")
def mintpy_run(simulated: Simulated) -> tuple[IsceSBASAnalyzer, dict[str, Path]]:
    analyzer = Analyzer.create("ISCE_SBAS", workdir=simulated.workdir)
    analyzer.prep_data()
    return analyzer, analyzer.run()


def test_simulated_topsstack_is_what_mintpy_reads(simulated: Simulated) -> None:
    from mintpy.utils import isce_utils, readfile

    isce, stack = simulated.workdir / "isce", simulated.stack
    assert len(stack.pairs) == 9 + 8 + 7 and stack.length > 30 and stack.width > 30
    first = isce / "merged" / "interferograms" / stack.pairs[0]
    atr = readfile.read_attribute(str(first / "filt_fine.unw"), metafile_ext=".xml")
    assert (atr["BANDS"], atr["DATA_TYPE"], int(atr["WIDTH"])) == ("2", "float32", stack.width)
    phase = readfile.read(str(first / "filt_fine.unw"), datasetName="phase")[0]
    assert phase.shape == (stack.length, stack.width) and np.ptp(phase) > 1.0
    assert np.array_equal(phase, read_isce_raster(first / "filt_fine.unw", band=2))  # GDAL agrees
    inc = readfile.read(str(isce / "merged/geom_reference/los.rdr"), datasetName="inc")[0]
    assert 25 < inc.mean() < 50
    lat = read_isce_raster(isce / "merged/geom_reference/lat.rdr")
    assert 37.5 < lat.mean() < 38.2 and lat[0, 0] > lat[-1, 0]  # descending: rows go south
    baselines = isce_utils.read_baseline_timeseries(str(isce / "baselines"))
    assert sorted(baselines) == stack.dates and baselines[stack.dates[0]] == [0, 0]
    rsc, xml = isce / "reference" / "data.rsc", isce / "reference" / "IW1.xml"
    assert rsc.stat().st_mtime > xml.stat().st_mtime  # MintPy reads it instead of the XML
    meta = readfile.read_roipac_rsc(str(rsc))
    assert meta["PROCESSOR"] == "isce" and (meta["RLOOKS"], meta["ALOOKS"]) == ("20", "4")
    assert (simulated.workdir / "truth" / "velocity.rdr.xml").is_file()


def test_prep_data_writes_an_isce_template(mintpy_run: tuple[IsceSBASAnalyzer, dict[str, Path]],
                                           simulated: Simulated) -> None:
    analyzer, _ = mintpy_run
    template = analyzer.template_file.read_text()
    isce = str(simulated.workdir.absolute() / "isce")
    assert "mintpy.load.processor" in template and "= isce" in template
    assert f"{isce}/merged/interferograms/*/filt_fine.unw" in template
    assert f"{isce}/merged/geom_reference/lat.rdr" in template
    assert f"{isce}/reference/IW1.xml" in template and f"{isce}/baselines" in template
    assert analyzer.summary()["interferograms"] == len(simulated.stack.pairs)


def test_velocity_map_matches_the_truth_loosely(mintpy_run: tuple[IsceSBASAnalyzer,
                                                dict[str, Path]], simulated: Simulated) -> None:
    analyzer, outputs = mintpy_run
    assert {"velocity.h5", "timeseries.h5", "temporalCoherence.h5"} <= set(outputs)
    with h5py.File(outputs["velocity.h5"]) as f:
        velocity = f["velocity"][:].astype(np.float64)
    stack = simulated.stack
    assert velocity.shape == (stack.length, stack.width)
    ref = analyzer.summary()["reference_point"]
    truth = read_isce_raster(simulated.workdir / "truth" / "velocity.rdr").astype(np.float64)
    velocity -= velocity[ref["row"], ref["col"]]
    truth -= truth[ref["row"], ref["col"]]
    land = read_isce_raster(simulated.workdir / "isce" / "merged" / "interferograms"
                            / stack.pairs[0] / "filt_fine.unw.conncomp") > 0
    mask = land & np.isfinite(velocity) & (velocity != 0)
    assert mask.mean() > 0.8 and np.ptp(truth[mask]) > 0.03  # a real signal: > 30 mm/yr
    rmse_mm = 1000 * float(np.sqrt(np.mean((velocity - truth)[mask] ** 2)))
    corr = float(np.corrcoef(velocity[mask], truth[mask])[0, 1])
    print(f"ISCE_SBAS velocity vs truth: RMSE {rmse_mm:.1f} mm/yr, correlation {corr:.3f}")
    assert corr > 0.85 and rmse_mm < 10.0
    # geocoded through the lat/lon lookup tables, over the simulated area
    with h5py.File(analyzer.mintpy_dir / "geo" / "geo_velocity.h5") as f:
        north, west = float(f.attrs["Y_FIRST"]), float(f.attrs["X_FIRST"])
    assert 37.8 < north < 38.0 and -113.0 < west < -112.8


def test_aoi_becomes_a_radar_subset_and_reference_point_is_checked(simulated: Simulated,
                                                                   tmp_path: Path) -> None:
    lat = read_isce_raster(simulated.workdir / "isce/merged/geom_reference/lat.rdr")
    lon = read_isce_raster(simulated.workdir / "isce/merged/geom_reference/lon.rdr")
    aoi = [float(lon.mean()) - 0.005, float(lat.mean()) - 0.005, float(lon.max()),
           float(lat.max())]
    analyzer = IsceSBASAnalyzer(simulated.workdir, aoi=aoi, mintpy_dir=tmp_path / "mintpy")
    analyzer.prep_data()
    subset = analyzer.summary()["grid"]
    assert 0 < subset["width"] < simulated.stack.width and 0 < subset["length"] < simulated.stack.length
    assert "mintpy.subset.yx" in analyzer.template_file.read_text()
    with pytest.raises(ConfigError, match="does not overlap"):
        IsceSBASAnalyzer(simulated.workdir, aoi=[10.0, 10.0, 10.1, 10.1],
                         mintpy_dir=tmp_path / "m2").prep_data()
    with pytest.raises(ConfigError, match="outside the data"):
        IsceSBASAnalyzer(simulated.workdir, reference_point=(40.0, -100.0),
                         mintpy_dir=tmp_path / "m3").prep_data()
    chosen = IsceSBASAnalyzer(simulated.workdir, mintpy_dir=tmp_path / "m4",
                              reference_point=(float(lat[20, 20]), float(lon[20, 20])))
    chosen.prep_data()
    assert chosen.reference is not None and (chosen.reference.row, chosen.reference.col) == (20, 20)


def test_missing_topsstack_outputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(ProductSetError, match="no topsStack work directory"):
        IsceSBASAnalyzer(tmp_path).prep_data()
    (tmp_path / "isce" / "merged" / "interferograms" / "20200102_20200114").mkdir(parents=True)
    with pytest.raises(ProductSetError, match="unwrap step has not finished"):
        IsceSBASAnalyzer(tmp_path).prep_data()
    assert os.path.isdir(tmp_path / "isce")
