"""The quick stacking engine: opera-utils' rebasing on arrays read straight from the NetCDFs.

What opera-utils' `reformat_stack` + `disp_nc_to_mintpy` do, with the same defaults, without
their dask/xarray round trip through an intermediate NetCDF (tens of seconds even for small
frames): products parsed, ordered and de-duplicated by `DispProductStack`; the solid-Earth
tide (`/corrections/solid_earth_tide`) subtracted; pixels outside `recommended_mask` set to
NaN; the moving ministack references rebased by `rebase_timeseries`; a zero epoch at the
first reference date; MintPy metadata from `opera_utils.disp.mintpy`; the reliability mask
(in `recommended_mask` on >= 90 % of the dates) and the harmonic-mean temporal coherence as
opera-utils computes them; `geometryGeo.h5` by its `create_static_layers`. Only the
window of the frame raster holding the AOI is read (a real frame is ~7000 x 9600 pixels).
"""

from __future__ import annotations

import shutil
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


Window = tuple[int, int, int, int]  # row0, row1, col0, col1 of the frame raster


def aoi_window(path: Path, aoi: Any) -> Window:
    """The frame raster's rows/columns holding the AOI's bounds (a shapely polygon, lon/lat)."""
    from pyproj import CRS, Transformer

    with h5py.File(path, "r") as f:
        x, y = f["x"][()], f["y"][()]
        crs = CRS.from_wkt(f["spatial_ref"].attrs["crs_wkt"])
    to_utm = Transformer.from_crs(4326, crs, always_xy=True)
    minx, miny, maxx, maxy = aoi.bounds
    xs, ys = to_utm.transform([minx, maxx, minx, maxx], [miny, miny, maxy, maxy])
    cols = np.flatnonzero((x >= min(xs) - 15) & (x <= max(xs) + 15))
    rows = np.flatnonzero((y >= min(ys) - 15) & (y <= max(ys) + 15))
    if cols.size < 2 or rows.size < 2:
        from insarhub.disp.errors import DispError

        raise DispError(f"the AOI {[round(v, 4) for v in aoi.bounds]} does not overlap the "
                        f"raster of {path.name}")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _crop_tif(src_path: Path, window: Window, out_dir: Path) -> Path:
    import rasterio
    from rasterio.windows import Window as RioWindow

    r0, r1, c0, c1 = window
    with rasterio.open(src_path) as src:
        win = RioWindow(c0, r0, c1 - c0, r1 - r0)
        data = src.read(window=win)
        profile = src.profile | {"width": c1 - c0, "height": r1 - r0,
                                 "transform": src.window_transform(win)}
    out = out_dir / src_path.name
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    return out


def stack_to_mintpy(paths: list[Path], out: Path, static_dir: Path | None,
                    reliability: float, window: Window | None = None) -> None:
    """timeseries.h5, avgSpatialCoh.h5, recommended_mask_<N>thresh.h5, disp_density.h5 and
    (with static layers) geometryGeo.h5 in `out`; only `window` of the frame when given."""
    from opera_utils.disp import DispProductStack, rebase_timeseries
    from opera_utils.disp.mintpy import _mintpy_metadata, create_static_layers

    stack = DispProductStack.from_file_list(paths)
    layers: dict[str, list[np.ndarray]] = {"disp": [], "mask": [], "coh": []}
    bperp = []
    with h5py.File(stack.products[0].filename, "r") as f:
        length, width = f["displacement"].shape
    r0, r1, c0, c1 = window or (0, length, 0, width)
    for product in stack.products:
        with h5py.File(product.filename, "r") as f:
            disp = f["displacement"][r0:r1, c0:c1].astype(np.float32)
            disp -= f["corrections/solid_earth_tide"][r0:r1, c0:c1].astype(np.float32)
            mask = f["recommended_mask"][r0:r1, c0:c1] == 1
            disp[~mask] = np.nan
            baseline = f["corrections/perpendicular_baseline"]
            bperp.append(float(baseline[(r0 + r1) // 2, (c0 + c1) // 2]))
            layers["disp"].append(disp)
            layers["mask"].append(mask)
            layers["coh"].append(f["temporal_coherence"][r0:r1, c0:c1].astype(np.float32))
    references = [p.reference_datetime for p in stack.products]
    rebased = rebase_timeseries(np.stack(layers["disp"]), references)
    zero = np.zeros((1, *rebased.shape[1:]), np.float32)
    series = np.concatenate([zero, rebased]).astype(np.float32)
    days = [references[0], *(p.secondary_datetime for p in stack.products)]
    dates = np.array([d.strftime("%Y%m%d") for d in days], dtype="S8")
    meta = _mintpy_metadata(stack.products[0])
    meta |= {"LENGTH": str(r1 - r0), "WIDTH": str(c1 - c0),
             "X_FIRST": str(float(meta["X_FIRST"]) + c0 * float(meta["X_STEP"])),
             "Y_FIRST": str(float(meta["Y_FIRST"]) + r0 * float(meta["Y_STEP"]))}
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
    if static_dir is not None and next(static_dir.glob("*los_enu.tif"), None) is not None:
        crop = out / "static_window"
        crop.mkdir(exist_ok=True)
        found = {k: next(static_dir.glob(f"*{k}.tif"), None)
                 for k in ("los_enu", "dem", "layover_shadow_mask")}
        cut = {k: _crop_tif(v, (r0, r1, c0, c1), crop) if v else None for k, v in found.items()}
        assert cut["los_enu"] is not None
        create_static_layers(cut["los_enu"], meta, dem_path=cut["dem"],
                             layover_shadow_mask_path=cut["layover_shadow_mask"], outdir=out)
        shutil.rmtree(crop, ignore_errors=True)
