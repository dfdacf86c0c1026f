"""Every reliable pixel as a point in GeoParquet: velocity, coherence and the displacement series."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from insarhub.errors import ProductError
from insarhub.products.outputs import MintPyResult
from insarhub.products.points import column_unit


def write_pixels_geoparquet(result: MintPyResult, path: Path) -> Path:
    """Write the reliable pixels (MintPy's mask) as points in the products' CRS.

    Columns: row, col, latitude, longitude, velocity, its standard deviation, temporal
    coherence and one displacement column per date (``displacement_<unit>_<YYYY-MM-DD>``).
    """
    import geopandas as gpd

    rows, cols = np.nonzero(result.reliable)
    if rows.size == 0:
        raise ProductError(
            f"no reliable pixel to write to {path.name}: every pixel of "
            f"{result.files.velocity} is masked (temporal coherence too low)"
        )
    x, y = result.grid.pixel_centres(rows, cols)
    lon, lat = result.grid.to_lonlat(x, y)
    velocity_unit = column_unit(result.velocity_unit)
    unit = column_unit(result.displacement_unit)
    columns: dict[str, np.ndarray] = {
        "row": rows.astype(np.int32),
        "col": cols.astype(np.int32),
        "latitude": lat,
        "longitude": lon,
        f"velocity_{velocity_unit}": result.velocity[rows, cols],
        f"velocity_std_{velocity_unit}": result.velocity_std[rows, cols],
        "temporal_coherence": result.temporal_coherence[rows, cols],
    }
    for index, date in enumerate(result.dates):
        columns[f"displacement_{unit}_{date.isoformat()}"] = result.displacement[index, rows, cols]
    frame = gpd.GeoDataFrame(
        columns, geometry=gpd.points_from_xy(x, y), crs=f"EPSG:{result.grid.epsg}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        frame.to_parquet(partial, index=False, compression="zstd")
    except ImportError as exc:
        raise ProductError(f"GeoParquet needs pyarrow: pip install pyarrow ({exc})") from exc
    os.replace(partial, path)
    return path
