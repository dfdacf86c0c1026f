"""The sandbox's OPERA DISP-S1 frames and the opera-utils frame database that describes them.

Frames are sandbox inventions (numbers are not ASF's): one per chosen Utah stack, with that
stack's footprint and acquisition dates, so the seed's AOI is covered (North America only;
Fairbanks and the fleet's other sites have no DISP-S1). A frame's raster grid is the simulated
Earth's canvas of the stack at 30 m (DISP-S1's posting), like the small HyP3 products.

`write_frame_db` writes the files opera-utils fetches with pooch on first use (burst_db
release 0.9.0 names), for this world only, so `OPERA_UTILS_DATA_DIR` can point at them and
nothing needs the internet.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pyproj import Transformer

from insarhub_sandbox.products.geotiff import GeoGrid

BURST_DB_VERSION = "0.9.0"  # the names opera-utils 0.25 asks pooch for
FRAME_GEOMETRIES = f"frame-geometries-simple-{BURST_DB_VERSION}.geojson.zip"
FRAME_TO_BURST = f"opera-s1-disp-{BURST_DB_VERSION}-frame-to-burst.json.zip"
BURST_TO_FRAME = f"opera-s1-disp-{BURST_DB_VERSION}-burst-to-frame.json.zip"
SPACING = 30.0  # DISP-S1 posting (m)
MINISTACK = 15  # dates per ministack: the reference date moves every 15 acquisitions


@dataclass(frozen=True)
class DispFrame:
    """One sandbox DISP-S1 frame: which SLC stack it follows."""

    frame_id: int
    path: int
    slc_frame: int  # the ASF frame of the stack whose dates and footprint it takes

    @property
    def stack_key(self) -> str:
        return f"p{self.path}_f{self.slc_frame}"

    @property
    def name(self) -> str:
        return f"F{self.frame_id:05d}"


FRAMES: tuple[DispFrame, ...] = (
    DispFrame(31466, 100, 466),  # descending, over the seed's Utah AOI (the HyP3 stack's dates)
    DispFrame(31118, 20, 118),  # ascending, over the same AOI
)


def frame_of(frame_id: int) -> DispFrame | None:
    return next((f for f in FRAMES if f.frame_id == int(frame_id)), None)


def _zip_json(path: Path, payload: object) -> None:
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(path.name.removesuffix(".zip"), json.dumps(payload))
    tmp.replace(path)


def write_frame_db(out_dir: Path, frames: dict[int, tuple[str, str, GeoGrid]]) -> list[Path]:
    """The opera-utils database for `frames` ({id: (direction, footprint ring WKT-free coords
    as GeoJSON polygon text, grid)}): frame geometries, frame->burst and burst->frame maps."""
    out_dir.mkdir(parents=True, exist_ok=True)
    features, frame_data = [], {}
    for frame_id, (direction, polygon_json, grid) in sorted(frames.items()):
        features.append({"type": "Feature", "id": frame_id, "geometry": json.loads(polygon_json),
                         "properties": {"frame_id": frame_id, "orbit_pass": direction.upper(),
                                        "is_land": True, "is_north_america": True}})
        frame_data[str(frame_id)] = {
            "epsg": grid.epsg, "is_land": True, "is_north_america": True,
            "xmin": grid.x0, "ymin": grid.y0 - grid.length * grid.spacing,
            "xmax": grid.x0 + grid.width * grid.spacing, "ymax": grid.y0, "burst_ids": []}
    meta = {"version": BURST_DB_VERSION, "source": "insarhub sandbox (generated)"}
    paths = [out_dir / FRAME_GEOMETRIES, out_dir / FRAME_TO_BURST, out_dir / BURST_TO_FRAME]
    _zip_json(paths[0], {"type": "FeatureCollection", "features": features})
    _zip_json(paths[1], {"data": frame_data, "metadata": meta})
    _zip_json(paths[2], {"data": {}, "metadata": meta})
    return paths


def grid_lonlat(grid: GeoGrid, row: int, col: int) -> tuple[float, float]:
    """(lon, lat) of a pixel centre."""
    to_geo = Transformer.from_crs(grid.epsg, 4326, always_xy=True)
    lon, lat = to_geo.transform(grid.x0 + (col + 0.5) * grid.spacing,
                                grid.y0 - (row + 0.5) * grid.spacing)
    return float(lon), float(lat)
