"""The simulated Earth: real-format HyP3 products with a known, consistent truth."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
from insarhub_sandbox.earth.model import (
    WAVELENGTH,
    SimulatedEarth,
    make_scenes,
    product_name,
    sequential_pairs,
)
from insarhub_sandbox.errors import SandboxError
from osgeo import gdal

gdal.UseExceptions()
GAMMA, BURST = "INSAR_GAMMA", "INSAR_ISCE_BURST"
BASE_LAYERS = {"_unw_phase.tif", "_corr.tif", "_dem.tif", "_lv_theta.tif", "_lv_phi.tif", "_water_mask.tif"}


def render(earth: SimulatedEarth, ref, sec, out: Path, params: dict | None = None, job_type: str = GAMMA,
           job_id: str = "job") -> tuple[str, Path]:
    params = params or {}
    name = product_name(job_type, ref, sec, params, job_id)
    zpath = earth.render_product(job_type, ref, sec, params, out, name)
    with zipfile.ZipFile(zpath) as archive:
        archive.extractall(out)
    return name, out / name


def read(path: Path) -> tuple[np.ndarray, tuple[float, ...], str]:
    ds = gdal.Open(str(path))
    return ds.ReadAsArray(), ds.GetGeoTransform(), ds.GetSpatialRef().GetAuthorityCode(None)


def window_of(truth_gt: tuple[float, ...], gt: tuple[float, ...], shape: tuple[int, int]) -> tuple[slice, slice]:
    col = round((gt[0] - truth_gt[0]) / truth_gt[1])
    row = round((gt[3] - truth_gt[3]) / truth_gt[5])
    return slice(row, row + shape[0]), slice(col, col + shape[1])


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(6)


def test_gamma_product_has_real_name_layers_and_utm_grid(tmp_path: Path, scenes) -> None:
    from mintpy.prep_hyp3 import _get_product_name_and_type

    earth = SimulatedEarth(seed=1)
    name, folder = render(earth, scenes[0], scenes[1], tmp_path)
    assert name.startswith("S1AB_20200102T133501_20200114T133501_VVP012_INT80_G_ueF_")
    assert _get_product_name_and_type(f"{name}_unw_phase.tif") == (name, GAMMA)
    files = {p.name[len(name):] for p in folder.iterdir()}
    assert BASE_LAYERS | {".txt", "_amp.tif"} <= files
    phase, gt, epsg = read(folder / f"{name}_unw_phase.tif")
    assert epsg == "32612"  # the Utah AOI lies in UTM zone 12N
    assert gt[1] == 80.0 and gt[5] == -80.0
    assert phase.shape[0] >= 60 and phase.shape[1] >= 60
    theta, _, _ = read(folder / f"{name}_lv_theta.tif")
    incidence = 90 - np.degrees(theta)
    assert 30 < incidence.min() < incidence.max() < 47
    txt = (folder / f"{name}.txt").read_text()
    assert "\n\n" not in txt and txt.splitlines()[0] == f"Reference Granule: {scenes[0].name}"


def test_mintpy_prep_hyp3_reads_gamma_and_burst_products(tmp_path: Path, scenes) -> None:
    from mintpy.prep_hyp3 import add_hyp3_metadata
    from mintpy.utils import readfile

    earth = SimulatedEarth()
    name, folder = render(earth, scenes[0], scenes[2], tmp_path / "gamma")
    unw = folder / f"{name}_unw_phase.tif"
    meta = add_hyp3_metadata(str(unw), readfile.read_gdal_vrt(str(unw)), is_ifg=True)
    assert meta["DATE12"] == "200102-200126"
    assert meta["relative_orbit"] == 100 and meta["ORBIT_DIRECTION"] == "DESCENDING"
    expected = earth.baseline(scenes[2]) - earth.baseline(scenes[0])
    assert float(meta["P_BASELINE_TOP_HDR"]) == pytest.approx(expected, abs=1e-3)

    bursts = make_scenes(3, burst_id="100_372326_IW3")
    bname, bfolder = render(earth, bursts[0], bursts[1], tmp_path / "burst", {"looks": "10x2"}, BURST)
    assert bname.startswith("S1_372326_IW3_20200102_20200114_VV_INT40_")
    bunw = bfolder / f"{bname}_unw_phase.tif"
    bmeta = add_hyp3_metadata(str(bunw), readfile.read_gdal_vrt(str(bunw)), is_ifg=True)
    assert bmeta["DATE12"] == "200102-200114" and bmeta["beam_swath"] == "3"
    assert {p.name[len(bname):] for p in bfolder.iterdir()} >= BASE_LAYERS | {"_conncomp.tif", "_los_disp.tif"}
    assert read(bunw)[1][1] == 40.0


def test_same_pair_renders_identical_bytes_and_extents_differ(tmp_path: Path, scenes) -> None:
    a = SimulatedEarth(seed=3).render_product(GAMMA, scenes[0], scenes[1], {}, tmp_path / "a", "p")
    b = SimulatedEarth(seed=3).render_product(GAMMA, scenes[0], scenes[1], {}, tmp_path / "b", "p")
    assert a.read_bytes() == b.read_bytes()
    earth = SimulatedEarth(seed=3)
    extents = set()
    for ref, sec in sequential_pairs(scenes, 2):
        name, folder = render(earth, ref, sec, tmp_path / "all")
        data, gt, _ = read(folder / f"{name}_corr.tif")
        extents.add((gt[0], gt[3], data.shape))
        assert gt[0] % 80 == 0 and gt[3] % 80 == 0  # one pixel lattice
    assert len(extents) > 1


def test_noise_free_phase_is_the_truth_displacement_with_mintpy_sign(tmp_path: Path, scenes) -> None:
    earth = SimulatedEarth(noise=False, step_date="2020-01-20", step_mm=15.0)
    truth = tmp_path / "truth"
    earth.write_truth("p100_f466", scenes, truth)
    tdisp = {d: read(truth / f"displacement_{d}.tif")[0] for d in ("20200102", "20200114", "20200126")}
    truth_gt = read(truth / "velocity.tif")[1]
    assert np.all(tdisp["20200102"] == 0)
    for ref, sec, d1, d2 in ((scenes[0], scenes[1], "20200102", "20200114"),
                             (scenes[0], scenes[2], "20200102", "20200126")):
        name, folder = render(earth, ref, sec, tmp_path)
        phase, gt, _ = read(folder / f"{name}_unw_phase.tif")
        rows, cols = window_of(truth_gt, gt, phase.shape)
        # MintPy: displacement = -wavelength / (4 pi) * phase, positive towards the satellite
        disp = -WAVELENGTH / (4 * math.pi) * phase.astype(np.float64)
        expected = tdisp[d2][rows, cols] - tdisp[d1][rows, cols]
        offset = np.median(disp - expected)  # HyP3 references each product to its own pixel
        assert np.abs(disp - expected - offset).max() < 1e-5
    # the step (after 2020-01-20) shows in the 26 Jan displacement but not the 14 Jan one
    assert np.ptp(tdisp["20200126"] - 2 * tdisp["20200114"]) > 0.005


def test_truth_velocity_is_a_subsidence_bowl_on_the_product_grid(tmp_path: Path, scenes) -> None:
    earth = SimulatedEarth(velocity_mm_yr=-50.0)
    paths = earth.write_truth("p100_f466", scenes, tmp_path)
    assert [p.name for p in paths][:2] == ["velocity.tif", "displacement_20200102.tif"]
    assert len(paths) == 2 + len(scenes)
    velocity, gt, epsg = read(tmp_path / "velocity.tif")
    assert epsg == "32612" and gt[1] == 80
    assert -0.05 <= velocity.min() < -0.03  # LOS of a 50 mm/yr vertical subsidence
    assert velocity.max() > 0  # the weaker uplift lobe
    assert earth.grid_of(scenes[0]).width == velocity.shape[1]


def test_noise_decorrelation_and_unwrapping_errors(tmp_path: Path, scenes) -> None:
    earth = SimulatedEarth(unwrap_error_rate=1.0)
    clean = SimulatedEarth(noise=False)
    short, f_short = render(earth, scenes[0], scenes[1], tmp_path / "s")
    long, f_long = render(earth, scenes[0], scenes[5], tmp_path / "l")
    c_short = read(f_short / f"{short}_corr.tif")[0]
    c_long = read(f_long / f"{long}_corr.tif")[0]
    water = read(f_short / f"{short}_water_mask.tif")[0] == 0
    assert water.any() and np.median(c_short[water]) < 0.2
    long_water = read(f_long / f"{long}_water_mask.tif")[0] == 0
    assert np.median(c_long[~long_water]) < np.median(c_short[~water]) - 0.1
    noisy = read(f_short / f"{short}_unw_phase.tif")[0]
    ideal = read(render(clean, scenes[0], scenes[1], tmp_path / "c")[1] / f"{short}_unw_phase.tif")[0]
    jumps = np.round((noisy - ideal - np.median(noisy - ideal)) / (2 * math.pi))
    assert np.count_nonzero(jumps) > 50  # a patch shifted by 2 pi


def test_optional_layers_follow_job_parameters(tmp_path: Path, scenes) -> None:
    earth = SimulatedEarth()
    params = {"include_dem": False, "include_inc_map": True, "include_displacement_maps": True,
              "include_wrapped_phase": True, "apply_water_mask": True, "looks": "10x2"}
    name, folder = render(earth, scenes[0], scenes[1], tmp_path, params)
    assert "_INT40_G_weF_" in name
    files = {p.name[len(name):] for p in folder.iterdir()}
    assert "_dem.tif" not in files
    assert {"_inc_map.tif", "_los_disp.tif", "_vert_disp.tif", "_wrapped_phase.tif"} <= files
    phase = read(folder / f"{name}_unw_phase.tif")[0]
    water = read(folder / f"{name}_water_mask.tif")[0] == 0
    assert np.all(phase[water] == 0)


def test_bad_requests_raise_sandbox_errors(tmp_path: Path, scenes) -> None:
    earth = SimulatedEarth()
    other = make_scenes(2, path=93, frame=116, flight_direction="ASCENDING")
    with pytest.raises(SandboxError, match="different stacks"):
        earth.render_product(GAMMA, scenes[0], other[1], {}, tmp_path, "x")
    with pytest.raises(SandboxError, match="looks '5x1' is not allowed for INSAR_GAMMA"):
        earth.render_product(GAMMA, scenes[0], scenes[1], {"looks": "5x1"}, tmp_path, "x")
    with pytest.raises(SandboxError, match="job_type 'RTC_GAMMA'"):
        product_name("RTC_GAMMA", scenes[0], scenes[1], {}, "j")
    with pytest.raises(SandboxError, match="is not a Sentinel-1 burst granule name"):
        product_name("INSAR_ISCE_MULTI_BURST", scenes[0], scenes[1], {}, "j")
    with pytest.raises(SandboxError, match="is not a Sentinel-1 burst granule name"):
        earth.render_product("INSAR_ISCE_MULTI_BURST", scenes[0], scenes[1], {}, tmp_path, "x")
    with pytest.raises(SandboxError, match="not a burst"):
        earth.render_product(BURST, scenes[0], scenes[1], {}, tmp_path, "x")
    with pytest.raises(SandboxError, match="no scene of stack"):
        earth.write_truth("nope", scenes, tmp_path)
    assert not list(tmp_path.iterdir())


def test_atmosphere_and_dem_error_belong_to_dates_so_triplets_close(tmp_path: Path, scenes) -> None:
    # no decorrelation noise: what is left (deformation, atmosphere, DEM error) is per date
    earth = SimulatedEarth(seed=5, equivalent_looks=1e12)
    phases = {}
    for i, j in ((0, 1), (1, 2), (0, 2)):
        name, folder = render(earth, scenes[i], scenes[j], tmp_path / f"{i}{j}")
        phase, gt, _ = read(folder / f"{name}_unw_phase.tif")
        phases[i, j] = (phase.astype(np.float64), gt)
    x0 = max(gt[0] for _, gt in phases.values())
    y0 = min(gt[3] for _, gt in phases.values())

    def cut(key: tuple[int, int]) -> np.ndarray:
        phase, gt = phases[key]
        col, row = round((x0 - gt[0]) / 80), round((gt[3] - y0) / 80)
        return phase[row:row + 50, col:col + 50]

    closure = cut((0, 1)) + cut((1, 2)) - cut((0, 2))
    assert np.ptp(closure) < 1e-3  # only each product's own reference constant remains
    clean = SimulatedEarth(seed=5, noise=False)
    name, folder = render(clean, scenes[0], scenes[1], tmp_path / "clean")
    assert np.std(read(folder / f"{name}_unw_phase.tif")[0][:50, :50] - phases[0, 1][0][:50, :50]) > 0.3
