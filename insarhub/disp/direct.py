"""The quick stacking engine: opera-utils' rebasing on arrays read straight from the NetCDFs.

What opera-utils' `reformat_stack` + `disp_nc_to_mintpy` do, with the same defaults, without
their dask/xarray round trip through an intermediate NetCDF (tens of seconds even for small
frames): products parsed, ordered and de-duplicated by `DispProductStack`; the solid-Earth
tide (`/corrections/solid_earth_tide`) subtracted; pixels outside `recommended_mask` set to
NaN; the moving ministack references rebased by `rebase_timeseries`; a zero epoch at the
first reference date; MintPy metadata from `opera_utils.disp.mintpy`; the reliability mask
(in `recommended_mask` on >= 90 % of the dates) and the harmonic-mean temporal coherence as
opera-utils computes them; `geometryGeo.h5` by its `create_static_layers`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np


def _write(path: Path, datasets: dict[str, np.ndarray], attrs: dict[str, Any]) -> None:
    with h5py.File(path, "w") as f:
        f.attrs.update(attrs)
        for name, data in datasets.items():
            chunks = True if data.ndim >= 2 else None
            f.create_dataset(name, data=data, chunks=chunks,
                             compression="gzip" if data.ndim >= 2 else None)


def stack_to_mintpy(paths: list[Path], out: Path, static_dir: Path | None,
                    reliability: float) -> None:
    """timeseries.h5, avgSpatialCoh.h5, recommended_mask_<N>thresh.h5, disp_density.h5 and
    (with static layers) geometryGeo.h5 in `out`."""
    from opera_utils.disp import DispProductStack, rebase_timeseries
    from opera_utils.disp.mintpy import _mintpy_metadata, create_static_layers

    stack = DispProductStack.from_file_list(paths)
    layers: dict[str, list[np.ndarray]] = {"disp": [], "mask": [], "coh": []}
    bperp = []
    for product in stack.products:
        with h5py.File(product.filename, "r") as f:
            disp = f["displacement"][()].astype(np.float32)
            disp -= f["corrections/solid_earth_tide"][()].astype(np.float32)
            mask = f["recommended_mask"][()] == 1
            disp[~mask] = np.nan
            baseline = f["corrections/perpendicular_baseline"]
            bperp.append(float(baseline[baseline.shape[0] // 2, baseline.shape[1] // 2]))
            layers["disp"].append(disp)
            layers["mask"].append(mask)
            layers["coh"].append(f["temporal_coherence"][()].astype(np.float32))
    references = [p.reference_datetime for p in stack.products]
    rebased = rebase_timeseries(np.stack(layers["disp"]), references)
    zero = np.zeros((1, *rebased.shape[1:]), np.float32)
    series = np.concatenate([zero, rebased]).astype(np.float32)
    days = [references[0], *(p.secondary_datetime for p in stack.products)]
    dates = np.array([d.strftime("%Y%m%d") for d in days], dtype="S8")
    meta = _mintpy_metadata(stack.products[0])
    _write(out / "timeseries.h5", {"date": dates, "bperp": np.array([0.0, *bperp], np.float32),
                                   "timeseries": series}, meta)
    coherence = np.stack(layers["coh"])
    harmonic = (coherence.shape[0] / np.sum(1.0 / coherence, axis=0)).astype(np.float32)
    _write(out / "avgSpatialCoh.h5", {"avgSpatialCoh": harmonic},
           meta | {"FILE_TYPE": "mask", "UNIT": "1"})
    density = np.mean(np.stack(layers["mask"]), axis=0).astype(np.float32)
    reliable = (np.sum(np.stack(layers["mask"]), axis=0)
                >= int(np.ceil(len(stack.products) * reliability))).astype(np.int8)
    _write(out / "disp_density.h5", {"timeseriesDensity": density},
           meta | {"FILE_TYPE": "timeseriesdensity", "UNIT": "1"})
    _write(out / f"recommended_mask_{int(reliability * 100)}thresh.h5",
           {"recommendedMask": reliable}, meta | {"FILE_TYPE": "mask", "DATA_TYPE": "int8",
                                                  "UNIT": "1"})
    if static_dir is not None:
        los = next(static_dir.glob("*los_enu.tif"), None)
        if los is not None:
            create_static_layers(los, meta, dem_path=next(static_dir.glob("*dem.tif"), None),
                                 layover_shadow_mask_path=next(
                                     static_dir.glob("*layover_shadow_mask.tif"), None),
                                 outdir=out)
