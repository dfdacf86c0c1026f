"""What the anomaly detector reports: regions with place, extent, size, date and significance."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np

Status = Literal["new", "confirmed"]


@dataclass
class AnomalyRegion:
    """One connected region whose displacement departs from its trend beyond its noise."""

    row: int  # pixel of the region's centre (significance-weighted)
    col: int
    magnitude_mm: float  # signed amplitude of the departure (LOS, + towards the satellite)
    extent_km2: float  # area where the departure is at least half its peak
    significance: float  # peak z-score (per-pixel noise units)
    p_value: float  # family-wise: chance of so strong a region in an event-free cycle
    first_date: str  # YYYYMMDD: the first date the region is seen on
    status: Status  # new (first seen on the newest date) or confirmed (persists on it)
    pixels: int
    scale_m: float  # width of the best-matching bowl
    watched: bool = False  # peaks in a watched site (judged at the sites' threshold)
    site: str | None = None  # the watched site's name
    lat: float | None = None
    lon: float | None = None
    x: float | None = None  # map coordinates of the centre (the time series' own CRS)
    y: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class UnwrappingErrorRegion:
    """A patch of one interferogram off by whole cycles: reported, corrected, not deformation."""

    reference_date: str  # YYYYMMDD: the interferogram's dates
    secondary_date: str
    cycles: int  # signed whole cycles (one cycle = lambda / 2 in LOS)
    los_mm: float  # the patch's median departure from the other pairs (LOS)
    row: int  # the patch's centre
    col: int
    pixels: int
    extent_km2: float
    lat: float | None = None
    lon: float | None = None

    @property
    def interferogram(self) -> str:
        return f"{self.reference_date}_{self.secondary_date}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "interferogram": self.interferogram}


@dataclass
class AnomalyReport:
    """The newest date judged against each pixel's trend and noise; `regions` strongest first."""

    date: str  # the newest date, YYYYMMDD
    residual_mm: float  # |magnitude| of the strongest local departure (region or not)
    max_residual_mm: float  # largest |newest - trend| of one pixel, after the plane removal
    threshold_mm: float
    anomalous: bool  # at least one region
    pixels_over: int  # pixels inside reported regions
    valid_pixels: int
    row: int | None = None  # the strongest region's (or, with none, the strongest departure's)
    col: int | None = None
    lat: float | None = None
    lon: float | None = None
    reason: str = ""
    regions: list[AnomalyRegion] = field(default_factory=list)
    z_threshold: float | None = None  # significance a region's peak needs
    previous_date: str | None = None
    pixel_size_m: float | None = None
    # interferograms of the newest dates with a patch off by whole cycles (corrected first)
    unwrapping_errors: list[UnwrappingErrorRegion] = field(default_factory=list)
    masked_pixels: int = 0  # reliable pixels masked on the newest date (decorrelated, missing)
    calibration: float | None = None  # calibrated over random-field threshold (past cycles)
    watch_z_threshold: float | None = None  # what a region needs in a watched site
    # maps for figures, never serialised: the newest residual (m) and the region labels
    residual_map: np.ndarray | None = field(default=None, repr=False, compare=False)
    region_labels: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in {"residual_map", "region_labels"}}
        data["regions"] = [r.to_dict() for r in self.regions]
        data["unwrapping_errors"] = [u.to_dict() for u in self.unwrapping_errors]
        return data
