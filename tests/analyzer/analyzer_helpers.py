"""Helpers for the analyzer tests: stacks of simulated HyP3 products and truth maths."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
from insarhub_sandbox.earth.model import (
    WAVELENGTH,
    SimulatedEarth,
    make_scenes,
    product_name,
    sequential_pairs,
)
from insarhub_sandbox.records import SceneRecord
from osgeo import gdal

gdal.UseExceptions()
GAMMA = "INSAR_GAMMA"


@dataclass
class Stack:
    workdir: Path
    scenes: list[SceneRecord]
    earth: SimulatedEarth
    products: list[Path]

    @property
    def hyp3(self) -> Path:
        return self.workdir / "hyp3"


def render_pairs(earth: SimulatedEarth, pairs: Sequence[tuple[SceneRecord, SceneRecord]], hyp3: Path,
                 job_type: str = GAMMA, params: dict | None = None) -> list[Path]:
    """Render zips the way the HyP3 processor leaves them in `<workdir>/hyp3/`."""
    params = params or {}
    out = []
    for ref, sec in pairs:
        name = product_name(job_type, ref, sec, params, f"{ref.name}-{sec.name}-{params}")
        out.append(earth.render_product(job_type, ref, sec, params, hyp3, name))
    return out


def build_stack(workdir: Path, dates: int = 10, neighbours: int = 3, **earth_options: object) -> Stack:
    earth = SimulatedEarth(**earth_options)  # type: ignore[arg-type]
    scenes = make_scenes(dates)
    products = render_pairs(earth, sequential_pairs(scenes, neighbours), workdir / "hyp3")
    earth.write_truth(scenes[0].stack_key, scenes, workdir / "truth")
    return Stack(workdir, scenes, earth, products)


# -- truth maths --------------------------------------------------------------------------------
def read_tif(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    ds = gdal.Open(str(path))
    return ds.ReadAsArray().astype(np.float64), ds.GetGeoTransform()


def prep_record(workdir: Path) -> dict:
    return json.loads((workdir / "mintpy" / "insarhub_prep.json").read_text())


def truth_velocity_on_grid(workdir: Path) -> np.ndarray:
    """The truth LOS velocity (m/yr) cut to MintPy's grid, referenced to MintPy's reference pixel."""
    record = prep_record(workdir)
    grid, ref = record["grid"], record["reference_point"]
    truth, gt = read_tif(workdir / "truth" / "velocity.tif")
    col0 = round((grid["x0"] - gt[0]) / gt[1])
    row0 = round((gt[3] - grid["y0"]) / -gt[5])
    cut = truth[row0:row0 + grid["length"], col0:col0 + grid["width"]]
    return cut - cut[ref["row"], ref["col"]]


def mintpy_velocity(workdir: Path) -> np.ndarray:
    ref = prep_record(workdir)["reference_point"]
    with h5py.File(workdir / "mintpy" / "velocity.h5") as f:
        velocity = f["velocity"][:].astype(np.float64)
        assert (int(f.attrs["REF_Y"]), int(f.attrs["REF_X"])) == (ref["row"], ref["col"])
    return velocity - velocity[ref["row"], ref["col"]]


def ideal_velocity(workdir: Path) -> np.ndarray:
    """Per-pixel least squares of the same clipped interferograms: phase = a dt + k dbperp."""
    ref = prep_record(workdir)["reference_point"]
    rows, data = [], []
    for unw in sorted((workdir / "mintpy" / "clipped").glob("*/*_unw_phase_clip.tif")):
        name = unw.parent.name
        params = dict(line.split(":", 1) for line in (unw.parent / f"{name}.txt").read_text().splitlines())
        d1, d2 = (datetime.strptime(x, "%Y%m%dT%H%M%S") for x in name.split("_")[1:3])
        rows.append([(d2 - d1).days / 365.25, float(params["Baseline"])])
        phase = read_tif(unw)[0]
        data.append((phase - phase[ref["row"], ref["col"]]).ravel())
        shape = phase.shape
    solution, *_ = np.linalg.lstsq(np.array(rows), np.array(data), rcond=None)
    return (-WAVELENGTH / (4 * math.pi) * solution[0]).reshape(shape)


def land_mask(workdir: Path) -> np.ndarray:
    water = next((workdir / "mintpy" / "clipped").glob("*/*_water_mask_clip.tif"))
    return read_tif(water)[0] > 0


def rmse_mm(estimate: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    return float(1000 * np.sqrt(np.mean((estimate - truth)[mask] ** 2)))
