"""Generated Sentinel-1 IW SLC stacks over the seed's Utah AOI, with a simple but consistent orbit.

ASF's real catalog over `[-113.05, 37.74, -112.68, 38.00]` (relative orbit, frame, count, first
and last date) is reproduced stack by stack in `UTAH_STACKS`. Scenes are placed on the 6-day
Sentinel-1 grid of their path: dates on the path's S1A phase are S1A, the others S1B (while it
flew, 2016-09-26 .. 2021-12-23) or S1C (from 2025-03-01); stacks prefer the 12-day S1A grid.

Geometry comes from one circular, sun-synchronous orbit per path (ECEF, spherical Earth):
times since the ascending node give the state vectors, the nadir track and, looking right, the
footprint. Each pass sits in a small orbital tube offset (tens of metres), so asf_search's own
baseline maths gives perpendicular baselines of tens to ~200 m.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache

import numpy as np

UTAH_AOI = (-113.05, 37.74, -112.68, 38.00)

EARTH_RADIUS = 6_371_000.0
ORBIT_RADIUS = 7_064_000.0
ORBIT_PERIOD = 12 * 86400 / 175  # 175 orbits in the 12-day repeat cycle
OMEGA = 2 * math.pi / ORBIT_PERIOD
OMEGA_EARTH = 7.2921159e-5
INCLINATION = math.radians(98.18)
NEAR_RANGE, FAR_RANGE = 435_000.0, 685_000.0  # ground range of the IW swath from nadir (m)
SCENE_SECONDS = 28.0
FRAME_SECONDS = 4.6  # along-track time between consecutive ASF frame numbers

S1B_ERA = (date(2016, 9, 26), date(2021, 12, 23))
S1C_START = date(2025, 3, 1)


@dataclass(frozen=True)
class PathOrbit:
    """Where one relative orbit crosses the AOI."""

    path: int
    direction: str  # ASCENDING | DESCENDING
    s1a_phase: date  # any S1A acquisition date of this path (the 12-day S1A grid)
    mid_frame: float  # the frame centred on `center`
    center: tuple[float, float]  # (lon, lat) of the mid frame's scene centre
    mid_start: str  # "HH:MM:SS" start time of day (UTC) of the mid frame


PATHS = {
    20: PathOrbit(20, "ASCENDING", date(2015, 4, 5), 120.0, (-112.35, 37.87), "01:05:20"),
    93: PathOrbit(93, "ASCENDING", date(2014, 11, 5), 119.0, (-113.60, 37.87), "01:13:40"),
    100: PathOrbit(100, "DESCENDING", date(2017, 2, 22), 466.5, (-112.60, 37.87), "13:35:03"),
}


@dataclass(frozen=True)
class StackSpec:
    """One (path, frame) stack: how many scenes between which dates, and known gaps."""

    path: int
    frame: int
    count: int
    first: date
    last: date
    gaps: tuple[date, ...] = ()  # grid dates known to be missing
    dense: bool = False  # allow any 6-day slot regardless of platform eras (benchmarks)

    @property
    def direction(self) -> str:
        return PATHS[self.path].direction


def _d(text: str) -> date:
    return date.fromisoformat(text)


UTAH_STACKS: tuple[StackSpec, ...] = (
    StackSpec(20, 117, 10, _d("2015-04-05"), _d("2016-11-19")),
    StackSpec(20, 118, 156, _d("2016-12-13"), _d("2026-02-24")),
    StackSpec(20, 119, 2, _d("2015-03-24"), _d("2015-12-25")),
    StackSpec(20, 120, 12, _d("2014-10-31"), _d("2016-09-14")),
    StackSpec(20, 121, 6, _d("2015-04-05"), _d("2015-08-27")),
    StackSpec(20, 122, 4, _d("2016-05-05"), _d("2016-11-19")),
    StackSpec(20, 123, 151, _d("2016-12-13"), _d("2026-02-24")),
    StackSpec(93, 116, 85, _d("2014-11-05"), _d("2021-12-16")),
    StackSpec(93, 117, 25, _d("2015-03-29"), _d("2026-03-01")),
    StackSpec(93, 118, 5, _d("2016-10-07"), _d("2017-01-11")),
    StackSpec(93, 119, 1, _d("2017-02-10"), _d("2017-02-10")),
    StackSpec(93, 120, 14, _d("2015-11-12"), _d("2025-07-04")),
    StackSpec(93, 121, 85, _d("2014-11-05"), _d("2021-12-16")),
    StackSpec(93, 122, 22, _d("2025-05-05"), _d("2026-03-01")),
    StackSpec(100, 464, 119, _d("2015-11-24"), _d("2026-02-23")),
    StackSpec(100, 465, 20, _d("2014-11-29"), _d("2017-01-05")),
    # 164 slots on the 12-day grid, 161 acquired: one gap in 2020 leaves 30 scenes that year
    StackSpec(100, 466, 161, _d("2017-02-22"), _d("2022-07-02"),
              gaps=(_d("2018-08-16"), _d("2020-06-06"), _d("2021-10-23"))),
    StackSpec(100, 469, 119, _d("2015-11-24"), _d("2026-02-23")),
)


# -- dates and platforms ----------------------------------------------------------------------
def platform_for(path: int, day: date, dense: bool = False) -> str | None:
    """The Sentinel-1 unit that flies `path` on `day`, or None when none did."""
    phase = (day - PATHS[path].s1a_phase).days % 12
    if phase == 0:
        return "S1A"
    if phase != 6:
        return None
    if S1B_ERA[0] <= day <= S1B_ERA[1]:
        return "S1B"
    if day >= S1C_START:
        return "S1C"
    return "S1B" if dense else None


def _spread(candidates: list[date], n: int) -> list[date]:
    if n <= 0 or not candidates:
        return []
    if n >= len(candidates):
        return list(candidates)
    index = np.unique(np.round(np.linspace(0, len(candidates) - 1, n)).astype(int))
    return [candidates[i] for i in index]


def stack_dates(spec: StackSpec) -> list[date]:
    """The acquisition dates of a stack: both ends, then S1A 12-day slots, then S1B/S1C ones."""
    slots = [spec.first + timedelta(days=6 * k) for k in range((spec.last - spec.first).days // 6 + 1)]
    slots = [d for d in slots if d not in spec.gaps and platform_for(spec.path, d, spec.dense)]
    ends = sorted({spec.first, spec.last})
    inner = [d for d in slots if d not in ends]
    s1a = [d for d in inner if platform_for(spec.path, d) == "S1A"]
    others = [d for d in inner if platform_for(spec.path, d) != "S1A"]
    want = spec.count - len(ends)
    chosen = _spread(s1a, want)
    chosen += _spread(others, want - len(chosen))
    dates = sorted(set(ends) | set(chosen))
    if len(dates) != spec.count:
        raise ValueError(f"stack {spec.path}/{spec.frame}: {spec.count} scenes do not fit "
                         f"between {spec.first} and {spec.last}")
    return dates


# -- orbit model ------------------------------------------------------------------------------
def _rotz(vector: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    x, y, z = vector
    return np.array([c * x - s * y, s * x + c * y, z])


def sat_position(node_lon: float, tau: float) -> np.ndarray:
    """ECEF position (m) `tau` seconds after the ascending node at ECEF longitude `node_lon`."""
    u = OMEGA * tau
    inertial = ORBIT_RADIUS * np.array([math.cos(u), math.sin(u) * math.cos(INCLINATION),
                                        math.sin(u) * math.sin(INCLINATION)])
    return _rotz(inertial, node_lon - OMEGA_EARTH * tau)


def sat_velocity(node_lon: float, tau: float) -> np.ndarray:
    return sat_position(node_lon, tau + 0.5) - sat_position(node_lon, tau - 0.5)


def _lonlat(vector: np.ndarray) -> tuple[float, float]:
    x, y, z = vector
    return math.degrees(math.atan2(y, x)), math.degrees(math.asin(z / np.linalg.norm(vector)))


def _bearing(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.atan2(y, x)


def _destination(lon: float, lat: float, bearing: float, distance: float) -> tuple[float, float]:
    p1, l1, delta = math.radians(lat), math.radians(lon), distance / EARTH_RADIUS
    p2 = math.asin(math.sin(p1) * math.cos(delta) + math.cos(p1) * math.sin(delta) * math.cos(bearing))
    l2 = l1 + math.atan2(math.sin(bearing) * math.sin(delta) * math.cos(p1),
                         math.cos(delta) - math.sin(p1) * math.sin(p2))
    return (math.degrees(l2) + 540) % 360 - 180, math.degrees(p2)


def ground_point(node_lon: float, tau: float, ground_range: float) -> tuple[float, float]:
    """The point `ground_range` m to the right of the nadir track at `tau`."""
    lon, lat = _lonlat(sat_position(node_lon, tau))
    lon2, lat2 = _lonlat(sat_position(node_lon, tau + 1.0))
    heading = _bearing(lon, lat, lon2, lat2)
    return _destination(lon, lat, heading + math.pi / 2, ground_range)


@dataclass(frozen=True)
class PathGeometry:
    orbit: PathOrbit
    node_lon: float  # ECEF longitude of the ascending node
    tau_mid: float  # seconds from the node to the mid frame's scene centre

    def tau(self, frame: float) -> float:
        return self.tau_mid + (frame - self.orbit.mid_frame) * FRAME_SECONDS


@cache
def path_geometry(path: int) -> PathGeometry:
    """Solve the orbit of `path` so that its mid frame is centred on `PATHS[path].center`."""
    orbit = PATHS[path]
    lon0, lat0 = orbit.center
    mid_range = (NEAR_RANGE + FAR_RANGE) / 2
    u = math.asin(math.sin(math.radians(lat0)) / math.sin(INCLINATION))
    if orbit.direction == "DESCENDING":
        u = math.pi - u
    low, high = u / OMEGA - 300, u / OMEGA + 300
    ascending = orbit.direction == "ASCENDING"
    for _ in range(60):  # bisection on the scene-centre latitude
        mid = (low + high) / 2
        lat = ground_point(0.0, mid, mid_range)[1]
        if (lat < lat0) == ascending:
            low = mid
        else:
            high = mid
    tau_mid = (low + high) / 2
    lon = ground_point(0.0, tau_mid, mid_range)[0]
    return PathGeometry(orbit, math.radians(lon0 - lon), tau_mid)


# -- scenes -----------------------------------------------------------------------------------
def _hash(*parts: object) -> int:
    text = "|".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def _unit_normal(seed: int) -> float:
    rng = np.random.default_rng(seed)
    return float(rng.standard_normal())


ABS_ORBIT_REF = {  # (platform): (reference UTC time, absolute orbit near it, orbit-number offset)
    "S1A": (datetime(2020, 1, 2, tzinfo=UTC), 30628, 73),
    "S1B": (datetime(2021, 1, 2, tzinfo=UTC), 24970, 27),
    "S1C": (datetime(2025, 6, 1, tzinfo=UTC), 2600, 172),
}


def absolute_orbit(platform: str, path: int, moment: datetime) -> int:
    """The absolute orbit number of `platform` on relative orbit `path` at `moment`."""
    ref_time, ref_orbit, offset = ABS_ORBIT_REF[platform]
    nominal = ref_orbit + (moment - ref_time).total_seconds() / ORBIT_PERIOD
    base = round(nominal)
    for delta in range(0, 200):
        for candidate in (base + delta, base - delta):
            if (candidate - offset) % 175 + 1 == path:
                return candidate
    raise ValueError(f"no absolute orbit for {platform} path {path}")  # pragma: no cover


@dataclass(frozen=True)
class GeneratedScene:
    """Everything needed to render one generated SLC as CMR UMM."""

    name: str
    platform: str  # S1A | S1B | S1C
    path: int
    frame: int
    direction: str
    start: datetime
    stop: datetime
    node_time: datetime
    absolute_orbit: int
    center: tuple[float, float]
    corners: tuple[tuple[float, float], ...]  # 4 points: near-start, far-start, far-end, near-end (lon, lat)
    sv_times: tuple[datetime, datetime]
    positions: tuple[tuple[float, float, float], tuple[float, float, float]]
    velocities: tuple[tuple[float, float, float], tuple[float, float, float]]
    group_id: str
    esa_frame: int
    polarization: str = "VV+VH"
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def footprint(self) -> list[tuple[float, float]]:
        """Counter-clockwise closed ring (lon, lat), as ASF lists SLC footprints."""
        ring = [self.corners[3], self.corners[0], self.corners[1], self.corners[2]]
        if self.direction == "DESCENDING":
            ring = [self.corners[1], self.corners[0], self.corners[3], self.corners[2]]
        return [*ring, ring[0]]


def _tube_offset(platform: str, path: int, day: date) -> tuple[float, float]:
    """(cross-track, radial) offset in metres of one pass from the nominal orbit."""
    seed = _hash("tube", platform, path, day)
    cross = float(np.clip(_unit_normal(seed) * 55.0, -140, 140))
    radial = float(np.clip(_unit_normal(seed + 1) * 20.0, -60, 60))
    return cross, radial


Vector = tuple[float, float, float]


def _round_vector(values: np.ndarray) -> Vector:
    return round(float(values[0]), 6), round(float(values[1]), 6), round(float(values[2]), 6)


def _round_point(point: tuple[float, float]) -> tuple[float, float]:
    return round(point[0], 6), round(point[1], 6)


def state_vectors(platform: str, path: int, day: date, node_time: datetime,
                  moments: Sequence[datetime]) -> tuple[tuple[Vector, ...], tuple[Vector, ...]]:
    """ECEF positions and velocities of one pass (its orbital-tube offset included) at `moments`.

    SLCs and their bursts share the pass, so asf_search's baselines agree between them.
    """
    geometry = path_geometry(path)
    cross, radial = _tube_offset(platform, path, day)
    positions: list[Vector] = []
    velocities: list[Vector] = []
    for moment in moments:
        tau = (moment - node_time).total_seconds()
        pos = sat_position(geometry.node_lon, tau)
        vel = sat_velocity(geometry.node_lon, tau)
        r_hat = pos / np.linalg.norm(pos)
        c_hat = np.cross(pos, vel)
        c_hat /= np.linalg.norm(c_hat)
        pos = pos + cross * c_hat + radial * r_hat
        positions.append(_round_vector(pos))
        velocities.append(_round_vector(vel))
    return tuple(positions), tuple(velocities)


def make_scene(spec: StackSpec, day: date) -> GeneratedScene:
    """The SLC of stack `spec` acquired on `day`."""
    platform = platform_for(spec.path, day, spec.dense)
    assert platform is not None
    geometry = path_geometry(spec.path)
    orbit = geometry.orbit
    hh, mm, ss = (int(x) for x in orbit.mid_start.split(":"))
    jitter = (_hash("time", spec.path, day) % 2001 - 1000) / 1000.0  # +-1 s per pass
    mid_tau = geometry.tau(orbit.mid_frame)
    node_time = (datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=UTC)
                 + timedelta(seconds=SCENE_SECONDS / 2 - mid_tau + jitter))
    tau_center = geometry.tau(spec.frame)
    tau_start, tau_stop = tau_center - SCENE_SECONDS / 2, tau_center + SCENE_SECONDS / 2
    start = node_time + timedelta(seconds=tau_start + (_hash("s", day, spec.frame) % 97) / 1e4)
    stop = node_time + timedelta(seconds=tau_stop + (_hash("e", day, spec.frame) % 97) / 1e4)

    center_time = start + (stop - start) / 2
    pre = center_time.replace(microsecond=0) - timedelta(seconds=5)
    sv_times = (pre, pre + timedelta(seconds=10))
    positions, velocities = state_vectors(platform, spec.path, day, node_time, sv_times)

    node_lon = geometry.node_lon
    corners = tuple(_round_point(ground_point(node_lon, tau, ground_range))
                    for tau, ground_range in ((tau_start, NEAR_RANGE), (tau_start, FAR_RANGE),
                                              (tau_stop, FAR_RANGE), (tau_stop, NEAR_RANGE)))
    center = ground_point(node_lon, tau_center, (NEAR_RANGE + FAR_RANGE) / 2)
    center = (round(center[0], 4), round(center[1], 4))

    abs_orbit = absolute_orbit(platform, spec.path, start)
    datatake = (abs_orbit * 7 + _hash("dt", platform, abs_orbit) % 7) % 0xFFFFFF
    product_id = _hash("pid", platform, spec.path, spec.frame, day) % 0x10000
    name = (f"{platform}_IW_SLC__1SDV_{start:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_"
            f"{abs_orbit:06d}_{datatake:06X}_{product_id:04X}")
    mid = int(orbit.mid_frame)
    group_id = f"{platform}_IWDV_{mid - 8:04d}_{mid + 8:04d}_{abs_orbit:06d}_{spec.path:03d}"
    esa_frame = (1150 + spec.frame - 110) if orbit.direction == "ASCENDING" else (spec.frame - 20)
    return GeneratedScene(
        name=name, platform=platform, path=spec.path, frame=spec.frame,
        direction=orbit.direction, start=start, stop=stop, node_time=node_time,
        absolute_orbit=abs_orbit, center=center, corners=corners, sv_times=sv_times,
        positions=(positions[0], positions[1]), velocities=(velocities[0], velocities[1]),
        group_id=group_id, esa_frame=esa_frame,
    )


def generate(stacks: Iterable[StackSpec]) -> list[GeneratedScene]:
    """Every scene of `stacks`, in stack then date order."""
    return [make_scene(spec, day) for spec in stacks for day in stack_dates(spec)]


@lru_cache(maxsize=4)
def generate_cached(stacks: tuple[StackSpec, ...] = UTAH_STACKS) -> tuple[GeneratedScene, ...]:
    """`generate` once per process for the same stacks."""
    return tuple(generate(stacks))


def dense_stacks(total: int, first: date = date(2016, 10, 1)) -> tuple[StackSpec, ...]:
    """Benchmark stacks: `total` scenes on a 6-day grid spread over the three Utah paths."""
    specs: list[StackSpec] = []
    per_stack = 550
    frames = {20: range(117, 124), 93: range(116, 123), 100: range(462, 472)}
    remaining = total
    for path, frame_range in frames.items():
        for frame in frame_range:
            if remaining <= 0:
                break
            n = min(per_stack, remaining)
            start = first
            while platform_for(path, start, dense=True) != "S1A":
                start += timedelta(days=1)
            specs.append(StackSpec(path, frame, n, start, start + timedelta(days=6 * (n - 1)),
                                   dense=True))
            remaining -= n
    if remaining > 0:
        raise ValueError(f"at most {total - remaining} benchmark scenes are available")
    return tuple(specs)


def scene_lists(scenes: Sequence[GeneratedScene]) -> dict[tuple[int, int], list[GeneratedScene]]:
    """Scenes grouped by (path, frame)."""
    groups: dict[tuple[int, int], list[GeneratedScene]] = {}
    for scene in scenes:
        groups.setdefault((scene.path, scene.frame), []).append(scene)
    return groups
