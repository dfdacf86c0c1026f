"""make_products: MintPy outputs -> COGs, CSV, GeoParquet, PNGs, KMZ and a STAC item."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from insarhub.aoi import optional_aoi
from insarhub.products.cog import write_cog
from insarhub.products.geoparquet import write_pixels_geoparquet
from insarhub.products.kmz import write_velocity_kmz
from insarhub.products.outputs import MintPyResult, locate_outputs, read_outputs
from insarhub.products.plots import plot_point_timeseries, plot_velocity_map
from insarhub.products.points import PointsInput, locate_points, write_points_csv
from insarhub.products.stac import AssetSpec, write_stac_item

log = logging.getLogger(__name__)


@dataclass
class ProductSet:
    """Paths of the products written by make_products (None: not asked for)."""

    out_dir: Path
    velocity: Path
    velocity_std: Path
    temporal_coherence: Path
    displacement: Path
    velocity_png: Path
    stac_item: Path
    timeseries_csv: Path | None = None
    timeseries_png: Path | None = None
    geoparquet: Path | None = None
    kmz: Path | None = None

    def files(self) -> list[Path]:
        """Every product file written (the folder itself excluded)."""
        paths = (getattr(self, f.name) for f in fields(self) if f.name != "out_dir")
        return [path for path in paths if path is not None]

    def as_dict(self) -> dict[str, str]:
        """Product name -> path, for reports and artifacts (products not made are left out)."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) is not None}


def make_products(
    mintpy_dir: Path | str,
    out_dir: Path | str,
    points: PointsInput | None = None,
    aoi: Any = None,
    geoparquet: bool = False,
    kmz: bool = False,
) -> ProductSet:
    """Turn a MintPy run into products users open in their own tools.

    mintpy_dir: the MintPy work folder (velocity.h5, timeseries*.h5, temporalCoherence.h5;
        geo/geo_*.h5 for runs in radar coordinates). The most corrected time series is used.
    out_dir: where the products go (created).
    points: (lat, lon) pairs, or {name: (lat, lon)}, for the CSV and the time-series plot.
    aoi: outline drawn on the velocity map: a shapely geometry in EPSG:4326 or anything
        insarhub.aoi.load_aoi reads (bbox list, WKT, GeoJSON, shapefile).
    """
    outline = optional_aoi(aoi)
    result = read_outputs(locate_outputs(mintpy_dir))
    samples = locate_points(result, points) if points else []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    products = ProductSet(
        out_dir=out,
        velocity=_velocity_cog(result, out / "velocity.tif"),
        velocity_std=_velocity_std_cog(result, out / "velocity_std.tif"),
        temporal_coherence=_coherence_cog(result, out / "temporal_coherence.tif"),
        displacement=_displacement_cog(result, out / "displacement.tif"),
        velocity_png=plot_velocity_map(result, out / "velocity.png", aoi=outline, samples=samples),
        stac_item=out / "item.json",
    )
    if samples:
        products.timeseries_csv = write_points_csv(result, samples, out / "timeseries_points.csv")
        products.timeseries_png = plot_point_timeseries(result, samples, out / "timeseries_points.png")
    if geoparquet:
        products.geoparquet = write_pixels_geoparquet(result, out / "pixels.parquet")
    if kmz:
        products.kmz = write_velocity_kmz(result.files, out / "velocity.kmz")
    write_stac_item(result, _assets(products, result), products.stac_item)
    log.info("wrote %d products to %s", len(products.files()), out)
    return products


def _metadata(result: MintPyResult, source: Path) -> dict[str, str]:
    metadata = {
        "SOURCE": source.name,
        "START_DATE": result.dates[0].isoformat(),
        "END_DATE": result.dates[-1].isoformat(),
    }
    if result.reference_date:
        metadata["REF_DATE"] = result.reference_date
    reference = result.reference_lonlat()
    if reference is not None:
        metadata["REF_LON"], metadata["REF_LAT"] = f"{reference[0]:.6f}", f"{reference[1]:.6f}"
    for key in ("PLATFORM", "ORBIT_DIRECTION", "relative_orbit", "HEADING", "WAVELENGTH"):
        if key in result.attrs:
            metadata[key.upper()] = str(result.attrs[key])
    return metadata


def _masked(result: MintPyResult, data: Any) -> Any:
    """A float32 copy with NaN (the COGs' no-data) where MintPy has no data."""
    masked = data.astype("float32", copy=True)
    masked[..., ~result.has_data] = float("nan")
    return masked


def _velocity_cog(result: MintPyResult, path: Path) -> Path:
    return write_cog(
        path, _masked(result, result.velocity), result.grid,
        unit=result.velocity_unit, descriptions=["LOS velocity"],
        metadata={**_metadata(result, result.files.velocity), "QUANTITY": "mean LOS velocity"},
    )


def _velocity_std_cog(result: MintPyResult, path: Path) -> Path:
    return write_cog(
        path, _masked(result, result.velocity_std), result.grid,
        unit=result.velocity_unit, descriptions=["LOS velocity standard deviation"],
        metadata={**_metadata(result, result.files.velocity),
                  "QUANTITY": "standard deviation of the mean LOS velocity"},
    )


def _coherence_cog(result: MintPyResult, path: Path) -> Path:
    return write_cog(
        path, _masked(result, result.temporal_coherence), result.grid,
        unit="1", descriptions=["temporal coherence"],
        metadata={**_metadata(result, result.files.temporal_coherence),
                  "QUANTITY": "temporal coherence (0..1)"},
    )


def _displacement_cog(result: MintPyResult, path: Path) -> Path:
    dates = [date.isoformat() for date in result.dates]
    return write_cog(
        path, _masked(result, result.displacement), result.grid,
        unit=result.displacement_unit, descriptions=dates,
        metadata={**_metadata(result, result.files.timeseries),
                  "QUANTITY": "cumulative LOS displacement", "DATES": ",".join(dates)},
        band_metadata=[{"DATE": date} for date in dates],
    )


def _assets(products: ProductSet, result: MintPyResult) -> dict[str, AssetSpec]:
    count = len(result.dates)
    specs = {
        "velocity": AssetSpec(products.velocity, "Mean LOS velocity", ("data",),
                              result.velocity_unit, 1),
        "velocity_std": AssetSpec(products.velocity_std, "LOS velocity standard deviation",
                                  ("data", "uncertainty"), result.velocity_unit, 1),
        "temporal_coherence": AssetSpec(products.temporal_coherence, "Temporal coherence",
                                        ("data", "quality"), "1", 1),
        "displacement": AssetSpec(products.displacement,
                                  f"Cumulative LOS displacement, {count} dates (one band each)",
                                  ("data",), result.displacement_unit, count),
        "velocity_png": AssetSpec(products.velocity_png, "Velocity map", ("overview", "visual")),
    }
    if products.timeseries_csv is not None:
        specs["timeseries_csv"] = AssetSpec(products.timeseries_csv,
                                            "Displacement time series at points", ("data",),
                                            result.displacement_unit)
    if products.timeseries_png is not None:
        specs["timeseries_png"] = AssetSpec(products.timeseries_png,
                                            "Time-series plot at points", ("visual",))
    if products.geoparquet is not None:
        specs["geoparquet"] = AssetSpec(products.geoparquet, "Reliable pixels (GeoParquet)",
                                        ("data",))
    if products.kmz is not None:
        specs["kmz"] = AssetSpec(products.kmz, "Velocity for Google Earth", ("visual",))
    return specs


