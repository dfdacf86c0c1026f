"""Deformation events injected into the simulated Earth: a local bowl that appears on a date.

An event is where (lon, lat), when (`start`), how big (`magnitude_mm`, vertical, negative for
subsidence), how wide (`sigma_m`, a Gaussian bowl) and how: `step` (all of it from `start` on)
or `accelerating` (magnitude * (days since start / `duration_days`)^2, growing past it) or
`ramp` (growing linearly to its magnitude over `duration_days`, then holding). Events
are given to a running sandbox through its admin API (`POST /_sandbox/events`,
`SandboxAdmin.add_event`) or at start (`insarhub sandbox serve --event ...`); the book persists
them in `<data_dir>/events.json` and the truth folder of every stack gets a copy.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import Transformer

from insarhub_sandbox.errors import SandboxError
from insarhub_sandbox.products.geotiff import GeoGrid

KINDS = ("step", "accelerating", "ramp")


@dataclass(frozen=True)
class DeformationEvent:
    """One local deformation event (vertical displacement)."""

    lon: float
    lat: float
    start: date
    magnitude_mm: float = -30.0
    sigma_m: float = 400.0
    kind: str = "step"
    duration_days: float = 60.0  # accelerating: the magnitude is reached after this long

    def __post_init__(self) -> None:
        if not (-180 <= self.lon <= 180 and -90 <= self.lat <= 90):
            raise SandboxError(f"event position lon={self.lon}, lat={self.lat} is not a place")
        if self.sigma_m <= 0 or self.duration_days <= 0:
            raise SandboxError(f"event sigma_m {self.sigma_m} and duration_days "
                               f"{self.duration_days} must be > 0")
        if self.kind not in KINDS:
            raise SandboxError(f"event kind {self.kind!r} unknown; allowed: {', '.join(KINDS)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeformationEvent:
        try:
            values = dict(data)
            values["start"] = date.fromisoformat(str(values["start"])[:10])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise SandboxError(f"bad event {dict(data)}: {exc}; give lon, lat, start "
                               "(YYYY-MM-DD) and optionally magnitude_mm, sigma_m, kind "
                               f"({'|'.join(KINDS)}), duration_days") from exc

    @classmethod
    def parse(cls, text: str) -> DeformationEvent:
        """`lon,lat,start,magnitude_mm[,sigma_m[,kind]]` (the command-line form)."""
        parts = [p.strip() for p in text.split(",")]
        if not 4 <= len(parts) <= 6:
            raise SandboxError(f"event {text!r} must be lon,lat,start,magnitude_mm"
                               "[,sigma_m[,kind]], e.g. -112.87,37.86,2020-03-01,-30,400,step")
        keys = ["lon", "lat", "start", "magnitude_mm", "sigma_m", "kind"]
        data: dict[str, Any] = dict(zip(keys, parts, strict=False))
        try:
            for key in ("lon", "lat", "magnitude_mm", "sigma_m"):
                if key in data:
                    data[key] = float(data[key])
        except ValueError as exc:
            raise SandboxError(f"event {text!r}: {exc}") from exc
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        return data

    def fraction(self, day: date) -> float:
        """How much of the magnitude has happened by `day`."""
        days = (day - self.start).days
        if days < 0:
            return 0.0
        if self.kind == "ramp":  # grows linearly to its magnitude over duration_days
            return min(1.0, days / self.duration_days)
        return 1.0 if self.kind == "step" else (days / self.duration_days) ** 2


def vertical_displacement(events: Sequence[DeformationEvent], grid: GeoGrid, day: date
                          ) -> np.ndarray | None:
    """The events' vertical displacement (m) on `grid` at `day` (None when there is none)."""
    active = [e for e in events if e.fraction(day) > 0]
    if not active:
        return None
    to_utm = Transformer.from_crs(4326, grid.epsg, always_xy=True)
    x = grid.x0 + (np.arange(grid.width) + 0.5) * grid.spacing
    y = grid.y0 - (np.arange(grid.length) + 0.5) * grid.spacing
    total = np.zeros((grid.length, grid.width), dtype=np.float32)
    for event in active:
        ex, ey = to_utm.transform(event.lon, event.lat)
        dx2 = ((x - ex) ** 2)[None, :]
        dy2 = ((y - ey) ** 2)[:, None]
        bowl = np.exp(-(dx2 + dy2) / (2 * event.sigma_m ** 2))
        total += np.float32(event.magnitude_mm / 1000.0 * event.fraction(day)) * bowl.astype(np.float32)
    return total


class EventBook:
    """The events of one sandbox: a list the simulated Earth reads, saved to a JSON file."""

    FILE_NAME = "events.json"

    def __init__(self, data_dir: Path, initial: Sequence[DeformationEvent] = ()) -> None:
        self.path = Path(data_dir) / self.FILE_NAME
        self.events: list[DeformationEvent] = []
        self._lock = threading.Lock()
        if self.path.is_file():
            self.events.extend(DeformationEvent.from_dict(d)
                               for d in json.loads(self.path.read_text()))
        for event in initial:
            if event not in self.events:
                self.events.append(event)
        self._save()

    def add(self, event: DeformationEvent) -> list[dict[str, Any]]:
        with self._lock:
            if event not in self.events:
                self.events.append(event)
            self._save()
        return self.listing()

    def clear(self) -> None:
        with self._lock:
            self.events.clear()
            self._save()

    def listing(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.events]

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.listing(), indent=1))
        truth = self.path.parent / "truth"
        for stack_dir in sorted(truth.iterdir()) if truth.is_dir() else []:
            if stack_dir.is_dir():
                write_truth(self.events, stack_dir)


def write_truth(events: Sequence[DeformationEvent], out_dir: Path) -> Path:
    """The events beside a stack's truth files (`events.json`), with their UTM position."""
    path = Path(out_dir) / EventBook.FILE_NAME
    path.write_text(json.dumps([e.to_dict() for e in events], indent=1))
    return path


def distance_m(event: DeformationEvent, lat: float, lon: float) -> float:
    """Great-circle distance (m) from the event centre to (lat, lon)."""
    phi1, phi2 = math.radians(event.lat), math.radians(lat)
    dphi, dlmb = phi2 - phi1, math.radians(lon - event.lon)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(math.sqrt(a))
