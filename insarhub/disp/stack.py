"""A frame's DISP-S1 products -> the MintPy-style outputs the products and alerts read.

opera-utils does the DISP-S1 part, by one of two engines with the same defaults: "direct"
(`insarhub.disp.direct`: opera-utils' product stack and `rebase_timeseries` on the arrays read
from the files; seconds) or "reformat" (its `reformat_stack` + `disp_nc_to_mintpy`, through an
intermediate NetCDF; much slower). Either way: solid-Earth tide removed, `recommended_mask`
applied, moving ministack reference dates rebased onto the first one, MintPy's
`timeseries.h5` (and `geometryGeo.h5` from the static layers). Then, for the one downstream
path of the MintPy route: `temporalCoherence.h5` and `maskTempCoh.h5` from DISP-S1's coherence
and recommended mask, the series referenced to its most coherent reliable pixel (MintPy's
default) and `velocity.h5` (with `velocityStd`) from MintPy's own `timeseries2velocity`, the
model the HyP3+MintPy path fits.

A rebuild takes every product again (no inversion: seconds), so a monitoring cycle that finds
new dates re-runs `build_timeseries` with all the frame's files.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from insarhub.disp import framedb
from insarhub.disp.errors import DispError, DispFileError
from insarhub.disp.files import check_netcdf, parse_name

log = logging.getLogger(__name__)
STACK_FILE = "disp_stack.nc"
SOURCE_FILE = "disp_source.json"
MIN_RELIABLE = 0.9  # share of dates a pixel must be in recommended_mask to be reliable


@dataclass(frozen=True)
class DispTimeSeries:
    """What `build_timeseries` made."""

    mintpy_dir: Path
    frame: int
    dates: list[date]
    products: int
    shape: tuple[int, int]

    def line(self) -> str:
        return (f"DISP-S1 frame F{self.frame:05d}: {self.products} products -> "
                f"{len(self.dates)} dates {self.dates[0]}..{self.dates[-1]}, "
                f"{self.shape[0]}x{self.shape[1]} px in {self.mintpy_dir}")


class _LogStream(io.TextIOBase):
    """opera-utils prints its progress: send it to the log instead."""

    def write(self, text: str) -> int:
        if text.strip():
            log.debug("opera-utils: %s", text.strip())
        return len(text)


def _quiet() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stdout(_LogStream())


def _frame_files(files: list[Path]) -> tuple[int, list[Path]]:
    if not files:
        raise DispError("no DISP-S1 NetCDF files given: download the frame's products first")
    frames = {parse_name(f.name)[0] for f in files}
    if len(frames) != 1:
        raise DispError(f"DISP-S1 files of several frames given ({sorted(frames)}): stack one "
                        "frame at a time")
    bad = [(f.name, why) for f in files if (why := check_netcdf(f))]
    if bad:
        raise DispFileError("unreadable DISP-S1 file(s): " + "; ".join(f"{n} ({w})" for n, w in bad))
    return frames.pop(), sorted(files)


def build_timeseries(files: list[Path] | list[str], mintpy_dir: Path | str, *,
                     static_dir: Path | str | None = None,
                     first_date: date | str | None = None,
                     engine: str = "direct", aoi: Any = None) -> DispTimeSeries:
    """Stack one frame's DISP-S1 `files` into `mintpy_dir` (timeseries.h5, velocity.h5,
    temporalCoherence.h5, maskTempCoh.h5, geometryGeo.h5 with static layers).

    The series starts at the first product's (ministack) reference date, which may come
    before the dates searched; `first_date` drops the epochs before it and starts the series
    (zero) at the first date kept. `engine="direct"` (default) rebases with opera-utils on the
    arrays read from the files (`insarhub.disp.direct`); `engine="reformat"` goes through
    opera-utils' `reformat_stack` and `disp_nc_to_mintpy` (same result, much slower; whole
    frame). With `aoi`, the direct engine reads only the frame's window over the AOI."""
    framedb.configure()
    frame, paths = _frame_files([Path(f) for f in files])
    final = Path(mintpy_dir)
    out = final.with_name(final.name + ".building")  # the old series stays until the new is whole
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if engine == "direct":
        from insarhub.aoi import load_aoi
        from insarhub.disp.direct import aoi_window, stack_to_mintpy

        window = aoi_window(paths[0], load_aoi(aoi)) if aoi is not None else None
        try:
            with _quiet():
                stack_to_mintpy(paths, out, Path(static_dir) if static_dir else None,
                                MIN_RELIABLE, window)
        except (OSError, ValueError, KeyError) as exc:
            raise DispError(f"opera-utils could not stack frame F{frame:05d} "
                            f"({type(exc).__name__}: {exc})") from exc
        finally:
            _close_xarray_files()
    elif engine == "reformat":
        _reformat(frame, paths, out, static_dir)
    else:
        raise DispError(f"engine={engine!r} is unknown; use 'direct' or 'reformat'")
    _finish(out, frame, paths, first_date)
    _swap(out, final)
    dates, shape = _dates_shape(final / "timeseries.h5")
    result = DispTimeSeries(final, frame, dates, len(paths), shape)
    log.info(result.line())
    return result


def _swap(new: Path, final: Path) -> None:
    """Put the finished folder `new` in place of `final` (the old one removed after)."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _reformat(frame: int, paths: list[Path], out: Path, static_dir: Path | str | None) -> None:
    """opera-utils' own route: reformat_stack into one NetCDF, then disp_nc_to_mintpy."""
    work = out / "disp_work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    stack_nc = work / STACK_FILE
    from opera_utils.disp import reformat_stack
    from opera_utils.disp.mintpy import disp_nc_to_mintpy

    geometry_dir = Path(static_dir) if static_dir and any(Path(static_dir).glob("*los_enu.tif")) else None
    with _quiet():
        try:
            reformat_stack(input_files=paths, output_name=str(stack_nc))
            for stale in ("timeseries.h5", "velocity.h5"):
                (out / stale).unlink(missing_ok=True)
            disp_nc_to_mintpy(stack_nc, sample_disp_nc=paths[0], outdir=out,
                              geometry_dir=geometry_dir, reliability_threshold=MIN_RELIABLE)
        except (OSError, ValueError, KeyError) as exc:
            raise DispError(f"opera-utils could not stack frame F{frame:05d} "
                            f"({type(exc).__name__}: {exc})") from exc
        finally:
            _close_xarray_files()
    # opera-utils' timeseries_density.h5 would be taken for a corrected time series downstream
    (out / "timeseries_density.h5").replace(out / "disp_density.h5")
    shutil.rmtree(work, ignore_errors=True)


def _finish(out: Path, frame: int, paths: list[Path], first_date: date | str | None) -> None:
    """What both engines share: quality files, geometry copy, trim, velocity, source note."""
    _quality_files(out)
    if (out / "geometryGeo.h5").is_file():
        (out / "inputs").mkdir(exist_ok=True)
        shutil.copy2(out / "geometryGeo.h5", out / "inputs" / "geometryGeo.h5")
    if first_date is not None:
        _trim(out / "timeseries.h5", date.fromisoformat(str(first_date)[:10]))
    _velocity(out)
    dates, _ = _dates_shape(out / "timeseries.h5")
    (out / SOURCE_FILE).write_text(json.dumps({
        "source": "OPERA DISP-S1", "frame": frame, "products": [p.name for p in paths],
        "dates": [d.isoformat() for d in dates]}, indent=1))


def _close_xarray_files() -> None:
    """xarray keeps the NetCDFs it opened open; HDF5 would then reuse those handles and not
    see a file replaced or truncated later (a re-download)."""
    from xarray.backends.file_manager import FILE_CACHE

    FILE_CACHE.clear()


def _write(path: Path, name: str, data: np.ndarray, attrs: dict[str, Any]) -> None:
    with h5py.File(path, "w") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        f.create_dataset(name, data=data)


def _quality_files(out: Path) -> None:
    """temporalCoherence.h5 and maskTempCoh.h5, as MintPy names them, from DISP-S1's layers."""
    with h5py.File(out / "avgSpatialCoh.h5", "r") as f:
        coherence = f["avgSpatialCoh"][()].astype(np.float32)
        attrs = dict(f.attrs)
    with h5py.File(out / f"recommended_mask_{int(MIN_RELIABLE * 100)}thresh.h5", "r") as f:
        mask = f["recommendedMask"][()].astype(bool)
    base = {k: v for k, v in attrs.items() if k not in ("FILE_TYPE", "UNIT")}
    coherence = np.nan_to_num(coherence, nan=0.0)
    _write(out / "temporalCoherence.h5", "temporalCoherence", coherence,
           {**base, "FILE_TYPE": "temporalCoherence", "UNIT": "1"})
    _write(out / "maskTempCoh.h5", "mask", mask, {**base, "FILE_TYPE": "mask", "UNIT": "1"})


def _velocity(out: Path) -> None:
    """MintPy's timeseries2velocity (linear, with velocityStd), as in the MintPy path."""
    from mintpy.cli import timeseries2velocity

    ry, rx = _reference_pixel(out)
    with h5py.File(out / "timeseries.h5", "r+") as f:
        ts = f["timeseries"]
        ts[...] = ts[()] - ts[:, ry, rx][:, None, None]
        f.attrs.update({"REF_DATE": f["date"][0].decode(), "REF_Y": str(ry), "REF_X": str(rx),
                        "INSARHUB_SOURCE": "OPERA DISP-S1"})
    (out / "velocity.h5").unlink(missing_ok=True)
    with _quiet():
        try:
            timeseries2velocity.main([str(out / "timeseries.h5"), "-o", str(out / "velocity.h5")])
        except SystemExit as exc:
            raise DispError(f"MintPy timeseries2velocity failed on {out / 'timeseries.h5'} "
                            f"(exit {exc.code})") from None


def _trim(path: Path, first: date) -> None:
    """Drop the epochs before `first`; the first epoch kept becomes the zero."""
    with h5py.File(path, "r+") as f:
        days = [d.decode() for d in f["date"][()]]
        keep = [i for i, d in enumerate(days) if d >= first.strftime("%Y%m%d")]
        if len(keep) < 2:
            raise DispError(f"fewer than 2 DISP-S1 dates on or after {first} in {path}")
        if keep[0] == 0:
            return
        ts = f["timeseries"][()][keep]
        ts -= ts[0]
        attrs = dict(f["timeseries"].attrs)
        values = {"date": f["date"][()][keep], "bperp": f["bperp"][()][keep]}
        for name in ("timeseries", "date", "bperp"):
            del f[name]
        f.create_dataset("timeseries", data=ts.astype(np.float32), chunks=True, compression="gzip")
        f["timeseries"].attrs.update(attrs)
        for name, value in values.items():
            f.create_dataset(name, data=value)
        f.attrs.update({"START_DATE": values["date"][0].decode(),
                        "END_DATE": values["date"][-1].decode()})


def _reference_pixel(out: Path) -> tuple[int, int]:
    """MintPy's default reference: the reliable pixel of highest temporal coherence."""
    with h5py.File(out / "temporalCoherence.h5", "r") as f:
        coherence = f["temporalCoherence"][()]
    with h5py.File(out / "maskTempCoh.h5", "r") as f:
        mask = f["mask"][()].astype(bool)
    with h5py.File(out / "timeseries.h5", "r") as f:
        finite = np.isfinite(f["timeseries"][()]).all(axis=0)
    score = np.where(mask & finite, coherence, -1.0)
    if score.max() < 0:
        raise DispError(f"no reliable pixel in {out} to reference the time series to")
    row, col = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(row), int(col)


def _dates_shape(path: Path) -> tuple[list[date], tuple[int, int]]:
    with h5py.File(path, "r") as f:
        dates = [date.fromisoformat(f"{d[:4]}-{d[4:6]}-{d[6:]}")
                 for d in (x.decode() for x in f["date"][()])]
        shape = tuple(int(v) for v in f["timeseries"].shape[1:])
    return dates, (shape[0], shape[1])
