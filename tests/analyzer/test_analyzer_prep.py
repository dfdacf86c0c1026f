"""prep_data: finding, checking and clipping HyP3 products; template keys; reference point errors."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from analyzer_helpers import read_tif, render_pairs
from insarhub_sandbox.earth.model import make_scenes, sequential_pairs
from shapely.geometry import box

from insarhub.analyzer.grid import ProductSetError, raster_grid
from insarhub.analyzer.hyp3_sbas import Hyp3SBASAnalyzer
from insarhub.analyzer.template import read_template
from insarhub.errors import AOIError, ConfigError, MintPyError
from insarhub.factory import Analyzer

SITE_AOI = box(-112.885, 37.855, -112.845, 37.885)  # inside every product of the Utah stack


def products(stack) -> list[Path]:
    return sorted(p for p in stack.hyp3.iterdir() if p.is_dir())


def test_prep_unzips_clips_to_common_overlap_and_writes_template(make_stack) -> None:
    stack = make_stack(dates=5)
    analyzer = Analyzer.create("Hyp3_SBAS", workdir=stack.workdir)
    template = analyzer.prep_data()
    assert len(products(stack)) == len(stack.products) == 9
    grids = [raster_grid(p / f"{p.name}_unw_phase.tif") for p in products(stack)]
    clipped = [raster_grid(p) for p in analyzer.inputs.unw_files]
    assert len({(g.x0, g.y0, g.width, g.length) for g in grids}) > 1  # extents differ ...
    assert len({(g.x0, g.y0, g.width, g.length) for g in clipped}) == 1  # ... until clipped
    common = clipped[0]
    assert common.x0 == max(g.x0 for g in grids) and common.y0 == min(g.y0 for g in grids)
    assert common.bounds[2] == min(g.bounds[2] for g in grids)
    # a clipped layer holds exactly the source pixels
    src = products(stack)[0]
    data, gt = read_tif(src / f"{src.name}_unw_phase.tif")
    clip, _ = read_tif(next(p for p in analyzer.inputs.unw_files if p.parent.name == src.name))
    col, row = round((common.x0 - gt[0]) / gt[1]), round((gt[3] - common.y0) / -gt[5])
    assert np.array_equal(clip, data[row:row + common.length, col:col + common.width])
    options = read_template(template)
    assert Path(options["mintpy.load.demFile"]).is_file()
    assert Path(options["mintpy.load.waterMaskFile"]).is_file()
    assert analyzer.summary()["interferograms"] == 9


def test_aoi_clips_the_grid_and_an_aoi_outside_is_refused(make_stack) -> None:
    stack = make_stack(dates=4)
    analyzer = Hyp3SBASAnalyzer(stack.workdir, aoi=SITE_AOI)
    analyzer.prep_data()
    west, south, east, north = analyzer.inputs.grid.lonlat_extent()
    assert SITE_AOI.bounds[0] - 0.002 < west and east < SITE_AOI.bounds[2] + 0.002
    assert SITE_AOI.bounds[1] - 0.002 < south and north < SITE_AOI.bounds[3] + 0.002
    far = Hyp3SBASAnalyzer(stack.workdir, aoi=box(-100.2, 40.0, -100.0, 40.2))
    with pytest.raises(AOIError, match="does not intersect"):
        far.prep_data()


def test_empty_or_missing_working_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Hyp3SBASAnalyzer(tmp_path / "nope").prep_data()
    with pytest.raises(ProductSetError, match="no HyP3 products.*download the interferograms"):
        Hyp3SBASAnalyzer(tmp_path).prep_data()
    (tmp_path / "hyp3" / "notes").mkdir(parents=True)
    with pytest.raises(MintPyError, match="no HyP3 products in"):
        Hyp3SBASAnalyzer(tmp_path).prep_data()


def test_missing_layer_is_named(make_stack) -> None:
    stack = make_stack(dates=3)
    Hyp3SBASAnalyzer(stack.workdir).prep_data()  # unzips
    victim = products(stack)[1]
    (victim / f"{victim.name}_corr.tif").unlink()
    with pytest.raises(ProductSetError, match=rf"{victim.name} lacks the layer\(s\) \['corr'\]"):
        Hyp3SBASAnalyzer(stack.workdir).prep_data()


def test_missing_geometry_layer_says_how_to_submit(tmp_path: Path) -> None:
    from insarhub_sandbox.earth.model import SimulatedEarth

    scenes = make_scenes(3)
    render_pairs(SimulatedEarth(), sequential_pairs(scenes, 2), tmp_path / "hyp3", params={"include_dem": False})
    with pytest.raises(ProductSetError, match="include_dem=True"):
        Hyp3SBASAnalyzer(tmp_path).prep_data()


def test_corrupt_layer_zip_and_parameter_file(make_stack) -> None:
    stack = make_stack(dates=3)
    Hyp3SBASAnalyzer(stack.workdir).prep_data()
    victim = products(stack)[0]
    layer = victim / f"{victim.name}_unw_phase.tif"
    layer.write_bytes(layer.read_bytes()[: layer.stat().st_size // 2])  # a download cut halfway
    with pytest.raises(ProductSetError, match=rf"{layer.name}.*(corrupt|unreadable)"):
        Hyp3SBASAnalyzer(stack.workdir).prep_data()

    stack = make_stack(dates=3)
    bad_zip = stack.products[0]
    bad_zip.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ProductSetError, match=rf"{bad_zip.name} is not a readable zip"):
        Hyp3SBASAnalyzer(stack.workdir).prep_data()

    stack = make_stack(dates=3)
    Hyp3SBASAnalyzer(stack.workdir).prep_data()
    txt = products(stack)[0] / f"{products(stack)[0].name}.txt"
    txt.write_text(txt.read_text().replace("Baseline:", "\nBaseline:"))
    with pytest.raises(ProductSetError, match=r"line \d+ is not 'key: value'"):
        Hyp3SBASAnalyzer(stack.workdir).prep_data()


def test_products_from_another_stack_or_looks_are_refused(make_stack) -> None:
    stack = make_stack(dates=3)
    other = make_scenes(2, path=93, frame=116, flight_direction="ASCENDING")
    stray = render_pairs(stack.earth, [(other[0], other[1])], stack.hyp3)[0]
    with pytest.raises(ProductSetError, match="differ in stack.*ASCENDING relative orbit 93"):
        Hyp3SBASAnalyzer(stack.workdir).prep_data()
    stray.unlink()
    shutil.rmtree(stack.hyp3 / stray.name[: -len(".zip")], ignore_errors=True)
    render_pairs(stack.earth, [(stack.scenes[0], stack.scenes[2])], stack.hyp3, params={"looks": "10x2"})
    with pytest.raises(ProductSetError, match=r"differ in resolution \(looks\).*INT40"):
        Hyp3SBASAnalyzer(stack.workdir).prep_data()


def test_reference_point_outside_the_data_or_on_water(make_stack) -> None:
    stack = make_stack(dates=3)
    with pytest.raises(ConfigError, match=r"reference_point \(lat=37.0, lon=-112.0\) is outside the data"):
        Hyp3SBASAnalyzer(stack.workdir, reference_point=(37.0, -112.0)).prep_data()
    with pytest.raises(ConfigError, match="out of range.*give \\(lat, lon\\)"):
        Hyp3SBASAnalyzer(stack.workdir, reference_point=(-112.86, 37.87))
    analyzer = Hyp3SBASAnalyzer(stack.workdir)
    analyzer.prep_data()
    water = read_tif(analyzer.inputs.water_mask)[0] == 0
    row, col = (int(v[0]) for v in np.nonzero(water))
    lon, lat = analyzer.inputs.grid.to_lonlat(row, col)
    with pytest.raises(ConfigError, match="falls on water"):
        Hyp3SBASAnalyzer(stack.workdir, reference_point=(lat, lon)).prep_data()
    land_lon, land_lat = analyzer.inputs.grid.to_lonlat(analyzer.reference.row, analyzer.reference.col)
    chosen = Hyp3SBASAnalyzer(stack.workdir, reference_point=(land_lat, land_lon))
    chosen.prep_data()
    assert (chosen.reference.row, chosen.reference.col) == (analyzer.reference.row, analyzer.reference.col)
    assert not chosen.reference.automatic


def test_mintpy_options_are_checked_against_the_template_keys(make_stack, monkeypatch, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"'mintpy.deramp.method' is not a MintPy.*mintpy.deramp"):
        Hyp3SBASAnalyzer(tmp_path, mintpy_options={"mintpy.deramp.method": "linear"})
    with pytest.raises(ConfigError, match="'networkInversion.weightFunc' is not a MintPy"):
        Hyp3SBASAnalyzer(tmp_path, mintpy_options={"networkInversion.weightFunc": "var"})
    stack = make_stack(dates=3)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CDSAPI_URL", raising=False)
    options = {"mintpy.deramp": "linear", "mintpy.network.coherenceBased": True,
               "mintpy.network.excludeDate": ["20200102", "20200114"], "mintpy.compute.maxMemory": 2}
    analyzer = Hyp3SBASAnalyzer(stack.workdir, mintpy_options=options)
    template = read_template(analyzer.prep_data())
    assert template["mintpy.deramp"] == "linear"
    assert template["mintpy.network.coherenceBased"] == "yes"
    assert template["mintpy.network.excludeDate"] == "20200102,20200114"
    assert template["mintpy.compute.maxMemory"] == "2"
    with pytest.raises(ConfigError, match="pyaps needs ERA5"):
        Hyp3SBASAnalyzer(stack.workdir, mintpy_options={"mintpy.troposphericDelay.method": "pyaps"}).prep_data()
    with pytest.raises(ConfigError, match="needs connected components"):
        Hyp3SBASAnalyzer(stack.workdir, mintpy_options={"mintpy.unwrapError.method": "bridging"}).prep_data()
    with pytest.raises(ConfigError, match="not smallbaselineApp steps"):
        analyzer.run(steps=["load_data", "invert"])


def test_duplicate_pair_keeps_the_newest_product(make_stack, caplog) -> None:
    stack = make_stack(dates=3)
    again = render_pairs(stack.earth, [(stack.scenes[0], stack.scenes[1])], stack.hyp3,
                         params={"phase_filter_parameter": 0.5})[0]
    Hyp3SBASAnalyzer(stack.workdir).prep_data()
    newest = stack.hyp3 / again.name[: -len(".zip")]
    later = time.time() + 60
    os.utime(newest, (later, later))
    analyzer = Hyp3SBASAnalyzer(stack.workdir)
    analyzer.prep_data()
    assert len(analyzer.inputs.unw_files) == 3
    assert f"two products for 20200102_20200114: using {newest.name}" in caplog.text
    assert any(newest.name in str(p) for p in analyzer.inputs.unw_files)


def test_two_dates_are_refused_before_mintpy_crashes(make_stack) -> None:
    stack = make_stack(dates=2, neighbours=1)
    with pytest.raises(MintPyError, match="at least 3 dates and 2 interferograms; this stack has 2 dates and 1"):
        Hyp3SBASAnalyzer(stack.workdir).prep_data()
