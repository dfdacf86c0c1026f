"""The MintPy reference point: the user's lat/lon, else a coherent, valid pixel away from the edges."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal
from scipy.ndimage import uniform_filter

from insarhub.analyzer.grid import Grid, ProductSetError
from insarhub.errors import ConfigError

gdal.UseExceptions()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferencePoint:
    """A pixel of the common grid and where it is."""

    row: int
    col: int
    lat: float
    lon: float
    coherence: float  # mean coherence of the pixel over the interferograms
    automatic: bool

    @property
    def yx(self) -> str:
        return f"{self.row},{self.col}"


def _read(path: Path) -> np.ndarray:
    try:
        ds = gdal.Open(str(path))
        return np.asarray(ds.GetRasterBand(1).ReadAsArray(), dtype=np.float32)
    except RuntimeError as exc:
        raise ProductSetError(f"layer {path} is corrupt ({exc}); delete the product and download it again") from exc


def stack_quality(unw_files: Sequence[Path], cor_files: Sequence[Path],
                  water_mask: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean coherence, valid) per pixel; valid = finite, non-zero phase everywhere and on land."""
    mean_coh: np.ndarray | None = None
    valid: np.ndarray | None = None
    for unw_file, cor_file in zip(unw_files, cor_files, strict=True):
        unw = _read(unw_file)
        coh = np.nan_to_num(_read(cor_file), nan=0.0)
        ok = np.isfinite(unw) & (unw != 0)
        valid = ok if valid is None else valid & ok
        mean_coh = coh if mean_coh is None else mean_coh + coh
    if mean_coh is None or valid is None:
        raise ProductSetError("no interferograms to choose a reference point from")
    mean_coh /= len(unw_files)
    if water_mask is not None and water_mask.is_file():
        valid &= _read(water_mask) > 0
    return mean_coh, valid


def choose_reference(grid: Grid, unw_files: Sequence[Path], cor_files: Sequence[Path],
                     water_mask: Path | None = None,
                     requested: tuple[float, float] | None = None) -> ReferencePoint:
    """The user's (lat, lon) checked against the data, else the best automatic pixel."""
    mean_coh, valid = stack_quality(unw_files, cor_files, water_mask)
    if requested is not None:
        return _requested(grid, mean_coh, valid, requested)
    return _automatic(grid, mean_coh, valid)


def check_latlon(value: object) -> tuple[float, float]:
    """`reference_point` as (lat, lon) floats in range, or `ConfigError`."""
    try:
        lat, lon = (float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"reference_point {value!r} must be (lat, lon) in degrees") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        raise ConfigError(f"reference_point (lat={lat}, lon={lon}) is out of range: latitude -90..90, "
                          "longitude -180..180 (is it (lon, lat)? give (lat, lon))")
    return lat, lon


def _requested(grid: Grid, mean_coh: np.ndarray, valid: np.ndarray,
               requested: tuple[float, float]) -> ReferencePoint:
    lat, lon = check_latlon(requested)
    row_f, col_f = grid.to_rowcol(lat, lon)
    row, col = math.floor(row_f), math.floor(col_f)
    west, south, east, north = grid.lonlat_extent()
    if not (0 <= row < grid.length and 0 <= col < grid.width):
        raise ConfigError(f"reference_point (lat={lat}, lon={lon}) is outside the data: the clipped "
                          f"interferograms cover lat {south:.4f}..{north:.4f}, lon {west:.4f}..{east:.4f}")
    if not valid[row, col]:
        raise ConfigError(f"reference_point (lat={lat}, lon={lon}) falls on water or on a pixel without "
                          "valid phase in every interferogram; choose a point on stable, coherent land")
    if mean_coh[row, col] < 0.5:
        log.warning("reference point (%.5f, %.5f) has a low mean coherence (%.2f)", lat, lon, mean_coh[row, col])
    return ReferencePoint(row, col, lat, lon, float(mean_coh[row, col]), automatic=False)


def _automatic(grid: Grid, mean_coh: np.ndarray, valid: np.ndarray) -> ReferencePoint:
    length, width = mean_coh.shape
    # a coherent neighbourhood, not a lone bright pixel
    score = uniform_filter(np.where(valid, mean_coh, 0.0), size=5, mode="constant")
    score[~valid] = -1.0
    margin_r, margin_c = max(2, length // 10), max(2, width // 10)
    inner = np.full(score.shape, False)
    inner[margin_r:length - margin_r, margin_c:width - margin_c] = True
    candidates = np.where(inner, score, -1.0)
    if candidates.max() <= 0:
        candidates = score  # a tiny grid: allow the edges rather than fail
    if candidates.max() <= 0:
        raise ProductSetError("no pixel has valid phase in every interferogram on land: cannot choose a "
                              "reference point (check the products' coverage and water mask)")
    row, col = (int(v) for v in np.unravel_index(int(np.argmax(candidates)), candidates.shape))
    lon, lat = grid.to_lonlat(row, col)
    log.info("automatic reference point: row %d col %d (lat %.5f, lon %.5f), mean coherence %.2f",
             row, col, lat, lon, mean_coh[row, col])
    return ReferencePoint(row, col, lat, lon, float(mean_coh[row, col]), automatic=True)
