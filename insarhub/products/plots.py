"""PNG figures: the velocity map (colour bar, AOI outline, reference point) and point time series."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from pyproj import Transformer
from shapely import transform as transform_coordinates
from shapely.geometry.base import BaseGeometry

from insarhub.products.grid import WGS84
from insarhub.products.outputs import MintPyResult
from insarhub.products.points import PointSample

DPI = 150


def display_scale(unit: str) -> tuple[float, str]:
    """Metres are shown as millimetres: (factor, display unit)."""
    if unit.strip() == "m":
        return 1000.0, "mm"
    if unit.strip() in ("m/year", "m/yr"):
        return 1000.0, "mm/year"
    return 1.0, unit


def plot_velocity_map(
    result: MintPyResult,
    path: Path,
    *,
    aoi: BaseGeometry | None = None,
    samples: Sequence[PointSample] = (),
) -> Path:
    """Velocity of the reliable pixels with a colour bar, the AOI outline and the reference point."""
    scale, unit = display_scale(result.velocity_unit)
    shown = result.reliable if result.reliable.any() else result.has_data
    velocity = np.where(shown, result.velocity * scale, np.nan)
    limit = _symmetric_limit(velocity)

    figure = Figure(figsize=(7.0, 6.0), dpi=DPI)
    axes = figure.add_subplot()
    image = axes.imshow(
        velocity, cmap="RdBu_r", vmin=-limit, vmax=limit,
        extent=result.grid.extent(), interpolation="nearest",
    )
    colorbar = figure.colorbar(image, ax=axes, shrink=0.85)
    colorbar.set_label(f"LOS velocity [{unit}]")

    if aoi is not None:
        _draw_outline(axes, aoi, result.grid.epsg)
    if result.reference_rowcol is not None:
        x, y = result.grid.pixel_centres(*result.reference_rowcol)
        axes.plot(x, y, "ks", markersize=7, markerfacecolor="none", markeredgewidth=2,
                  label="reference point")
    for sample in samples:
        x, y = result.grid.pixel_centres(sample.row, sample.col)
        axes.plot(x, y, "k^", markersize=6)
        axes.annotate(sample.name, (float(x), float(y)), xytext=(4, 4), textcoords="offset points")

    axes.set_xlim(*result.grid.extent()[:2])
    axes.set_ylim(*result.grid.extent()[2:])
    axes.ticklabel_format(useOffset=False, style="plain")
    axis_unit = "degrees" if result.grid.is_geographic else "m"
    axes.set_xlabel(f"x [{axis_unit}] (EPSG:{result.grid.epsg})")
    axes.set_ylabel(f"y [{axis_unit}]")
    axes.set_title(f"Mean LOS velocity {_date_range(result)}")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="best", fontsize="small")
    return _save(figure, path)


def plot_point_timeseries(result: MintPyResult, samples: Sequence[PointSample], path: Path) -> Path:
    """Displacement against date, one line per point."""
    scale, unit = display_scale(result.displacement_unit)
    figure = Figure(figsize=(8.0, 4.5), dpi=DPI)
    axes = figure.add_subplot()
    for sample in samples:
        series = result.displacement[:, sample.row, sample.col] * scale
        axes.plot(np.array(result.dates, dtype="datetime64[D]"), series, "o-", markersize=3,
                  label=f"{sample.name} ({sample.lat:.5f}, {sample.lon:.5f})")
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_ylabel(f"LOS displacement [{unit}]")
    reference_date = result.reference_date or "the first date"
    axes.set_title(f"Displacement relative to the reference point and {reference_date}")
    axes.legend(fontsize="small")
    figure.autofmt_xdate()
    return _save(figure, path)


def _symmetric_limit(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    limit = float(np.percentile(finite, 98)) if finite.size else 0.0
    return limit if limit > 0 else 1.0


def _draw_outline(axes: Axes, aoi: BaseGeometry, epsg: int) -> None:
    transformer = Transformer.from_crs(WGS84, epsg, always_xy=True)
    projected = transform_coordinates(
        aoi, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )
    polygons = getattr(projected, "geoms", [projected])
    for index, polygon in enumerate(polygons):
        x, y = polygon.exterior.xy
        axes.plot(x, y, color="black", linewidth=1.2, label="AOI" if index == 0 else None)


def _date_range(result: MintPyResult) -> str:
    return f"{result.dates[0].isoformat()} .. {result.dates[-1].isoformat()}"


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    return path
