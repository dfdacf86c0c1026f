"""Does DISP-S1 cover an AOI for the dates asked? Which frame is nearest when it does not?

`find_coverage` searches the catalog (asf_search, through `S1DispDownloader`) and measures the
share of the AOI inside each frame's footprint; `require_coverage` raises a
`DispCoverageError` naming the nearest frame of opera-utils' frame database and suggesting
`product="auto"`. `product="auto"` uses DISP-S1 when `find_coverage(...).covered` (tasks.search).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pyproj import Geod

from insarhub.disp.errors import DispCoverageError, DispError

log = logging.getLogger(__name__)
MIN_COVERAGE = 0.95  # share of the AOI a frame must hold for DISP-S1 to serve it


@dataclass
class DispCoverage:
    """The frames over an AOI with products in the dates asked."""

    frames: dict[str, float] = field(default_factory=dict)  # "F31466": share of the AOI
    products: dict[str, int] = field(default_factory=dict)  # "F31466": products in the dates
    downloader: Any = None

    @property
    def best(self) -> str | None:
        good = [k for k in self.frames if self.products.get(k)]
        return max(good, key=lambda k: (self.frames[k], self.products[k])) if good else None

    @property
    def covered(self) -> bool:
        return self.best is not None and self.frames[self.best] >= MIN_COVERAGE

    def line(self) -> str:
        if self.best is None:
            return "no OPERA DISP-S1 frame has products over the AOI for these dates"
        return (f"OPERA DISP-S1 frame {self.best}: {self.frames[self.best]:.0%} of the AOI, "
                f"{self.products[self.best]} products, 0 HyP3 credits")


def find_coverage(aoi: Any, start: Any = None, end: Any = None) -> DispCoverage:
    """Search DISP-S1 over `aoi` (a shapely polygon or anything `load_aoi` takes)."""
    from insarhub.search.disp import S1DispDownloader

    downloader = S1DispDownloader(aoi, **{k: v for k, v in (("start", start), ("end", end)) if v})
    stacks = downloader.search(allow_empty=True)
    coverage = DispCoverage(downloader=downloader)
    for key, products in stacks.items():
        coverage.frames[str(key)] = downloader.coverage(key)
        coverage.products[str(key)] = len(products)
    return coverage


def nearest_frame(aoi: Any) -> tuple[str, float] | None:
    """('F<frame>', distance in km) of the database frame nearest the AOI, or None."""
    from insarhub.disp import framedb

    try:
        frames = framedb.frame_geodataframe()
    except DispError as exc:
        log.info("no frame database for the nearest frame: %s", exc)
        return None
    if frames.empty:
        return None
    centre = aoi.centroid
    distances = frames.geometry.distance(aoi)
    frame_id = int(distances.idxmin())
    nearest = frames.geometry.loc[frame_id]
    point = nearest.boundary.interpolate(nearest.boundary.project(centre))
    km = 0.0 if nearest.intersects(aoi) else Geod(ellps="WGS84").inv(
        centre.x, centre.y, point.x, point.y)[2] / 1000.0
    return f"F{frame_id:05d}", km


def require_coverage(aoi: Any, start: Any = None, end: Any = None) -> DispCoverage:
    """`find_coverage`, or a `DispCoverageError` naming the nearest frame."""
    from insarhub.aoi import load_aoi

    polygon = load_aoi(aoi)
    coverage = find_coverage(polygon, start, end)
    if coverage.covered:
        return coverage
    bounds = [round(v, 4) for v in polygon.bounds]
    when = f" between {start or 'the start'} and {end or 'now'}"
    if coverage.best is not None:
        detail = (f"frame {coverage.best} holds only {coverage.frames[coverage.best]:.0%} of it "
                  f"(at least {MIN_COVERAGE:.0%} needed)")
    else:
        near = nearest_frame(polygon)
        detail = ("no frame of the OPERA frame database is near" if near is None else
                  f"the nearest frame is {near[0]}, {near[1]:.0f} km from the AOI centre")
    raise DispCoverageError(
        f"no OPERA DISP-S1 frame covers the AOI {bounds}{when}: {detail}. DISP-S1 exists over "
        "North America only; use product='auto' to fall back to HyP3 multi-burst or "
        "INSAR_GAMMA interferograms")
