"""A world of N generated AOIs: different places, orbits and stack sizes, some with events.

`make_world(n, now)` gives, for AOI i: a relative orbit of its own (ascending and descending
alternate) whose mid frame is centred on the AOI, a 12-day S1A stack with 10 to 19
acquisitions before `now` and enough after it for `cycles` cycles of 12 days, a small bbox at
the scene centre (every third AOI a large one, over 15 bursts), a product (mostly `gamma`) and
a priority; every `event_every`-th AOI gets a deformation event at a known date after `now`.
Registering the world (`register`) adds its orbits to the catalog's path table; the sandbox
then serves its stacks beside Utah's (`insarhub sandbox serve --world N`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from insarhub_sandbox.catalog.stacks import PATHS, PathOrbit, StackSpec, platform_for

REPEAT_DAYS = 12
HALF_SIDE_M = 2500.0  # a small AOI: 5 km square (~62 px at 80 m; the alert needs >= ~60 px)
LARGE_SIDE_DEG = (1.6, 1.1)  # a large AOI (lon, lat extent): more than 15 bursts
RESERVED_PATHS = {20, 93, 100}  # Utah's


@dataclass(frozen=True)
class WorldAOI:
    """One AOI of the generated world and the truth about it."""

    name: str
    path: int
    direction: str
    center: tuple[float, float]  # (lon, lat)
    bbox: tuple[float, float, float, float]
    product: str  # gamma | multi_burst | auto
    priority: int
    stack: StackSpec
    dates_before_now: int
    large: bool
    event: dict[str, Any] | None  # lon, lat, start, magnitude_mm, sigma_m, kind

    def entry(self) -> dict[str, Any]:
        """The AOI as a fleet-file entry (plain YAML-able values)."""
        return {"name": self.name, "geometry": list(self.bbox), "product": self.product,
                "priority": self.priority, "orbit": self.path,
                "start": self.stack.first.isoformat()}


@dataclass(frozen=True)
class World:
    aois: tuple[WorldAOI, ...]
    now: date

    @property
    def stacks(self) -> tuple[StackSpec, ...]:
        return tuple(a.stack for a in self.aois)

    @property
    def sites(self) -> tuple[tuple[float, float], ...]:
        """Where the simulated Earth centres each AOI's canvas."""
        return tuple(a.center for a in self.aois)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [dict(a.event) for a in self.aois if a.event]

    def to_dict(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(),
                "aois": [{**asdict(a), "stack": {**asdict(a.stack),
                                                 "first": a.stack.first.isoformat(),
                                                 "last": a.stack.last.isoformat()}}
                         for a in self.aois]}


def _place(i: int) -> tuple[float, float]:
    """Spread AOIs over the mid latitudes (golden-angle longitudes), none near Utah."""
    lon = -175.0 + (i * 137.508) % 350.0
    lat = -45.0 + (i * 61.8) % 105.0
    if abs(lon + 112.9) < 3 and abs(lat - 37.9) < 3:
        lon += 10.0
    return round(lon, 3), round(lat, 3)


def _paths(n: int) -> list[int]:
    """`n` distinct relative orbits, none of Utah's: every 7th track first (25 of them, spread
    over the 175), then the other tracks in order."""
    free = 175 - len(RESERVED_PATHS)
    if n > free:
        raise ValueError(f"at most {free} world AOIs (one orbit each), got {n}")
    spread = [(3 + 7 * k) % 175 + 1 for k in range(25)]
    rest = [p for p in range(1, 176) if p not in spread]
    return [p for p in spread + rest if p not in RESERVED_PATHS][:n]


def _start_time(lon: float, ascending: bool) -> str:
    """UTC time of day of a dawn-dusk pass: ~18:00 local ascending, ~06:00 descending."""
    local = 18.0 if ascending else 6.0
    hours = (local - lon / 15.0) % 24.0
    h, m = int(hours), int((hours % 1) * 60)
    return f"{h:02d}:{m:02d}:30"


def _bbox(lon: float, lat: float, large: bool) -> tuple[float, float, float, float]:
    if large:
        dlon, dlat = LARGE_SIDE_DEG[0] / 2, LARGE_SIDE_DEG[1] / 2
    else:
        dlat = HALF_SIDE_M / 111_195.0
        dlon = dlat / max(math.cos(math.radians(lat)), 0.2)
    return (round(lon - dlon, 5), round(lat - dlat, 5), round(lon + dlon, 5),
            round(lat + dlat, 5))


def make_world(n: int, now: date | str = date(2023, 1, 1), cycles: int = 30,
               event_every: int = 3, large_every: int = 5) -> World:
    """`n` AOIs around `now` (deterministic: the same arguments give the same world)."""
    today = date.fromisoformat(now) if isinstance(now, str) else now
    if n < 1:
        raise ValueError(f"a world needs at least one AOI, got {n}")
    aois = []
    for i, path in enumerate(_paths(n)):
        lon, lat = _place(i)
        ascending = i % 2 == 0
        direction = "ASCENDING" if ascending else "DESCENDING"
        frame = 150 + i % 40 if ascending else 450 + i % 40
        phase = today - timedelta(days=1 + i % REPEAT_DAYS)  # the newest acquisition before now
        PATHS.setdefault(path, PathOrbit(path, direction, phase, float(frame), (lon, lat),
                                         _start_time(lon, ascending)))
        history = 10 + (i * 7) % 10  # 10..19 acquisitions before now
        first = phase - timedelta(days=REPEAT_DAYS * (history - 1))
        while platform_for(path, first) != "S1A":
            first += timedelta(days=1)
        last = phase + timedelta(days=REPEAT_DAYS * (cycles + 2))
        count = (last - first).days // REPEAT_DAYS + 1
        stack = StackSpec(path, frame, count, first, first + timedelta(days=REPEAT_DAYS * (count - 1)))
        large = large_every > 0 and i % large_every == large_every - 1
        product = "auto" if large else ("multi_burst" if i % 7 == 3 else "gamma")
        event = None
        if event_every > 0 and i % event_every == event_every - 1 and not large:
            onset = phase + timedelta(days=REPEAT_DAYS * (3 + (i // event_every) % 5) + 1)
            event = {"lon": round(lon + 0.003, 5), "lat": round(lat - 0.002, 5),
                     "start": onset.isoformat(), "magnitude_mm": -40.0, "sigma_m": 400.0,
                     "kind": "step"}
        aois.append(WorldAOI(name=f"w{i:03d}-p{path}", path=path, direction=direction,
                             center=(lon, lat), bbox=_bbox(lon, lat, large), product=product,
                             priority=(i * 3) % 5, stack=stack, dates_before_now=history,
                             large=large, event=event))
    return World(tuple(aois), today)


def register(world: World) -> None:
    """Make sure the world's orbits are in the catalog's path table (make_world does it)."""
    for aoi in world.aois:
        if aoi.path not in PATHS:  # pragma: no cover - make_world registers them
            raise ValueError(f"orbit {aoi.path} of {aoi.name} is not registered")
