"""Sentinel-1 IW bursts of the generated SLCs, laid out on ESA's burst-ID grid.

Each pass of a generated stack is cut into bursts the way ESA's burst map does it: one burst
cycle every `T_BEAM` s counted from the ascending node (ANX), three sub-swaths per cycle, and

    relative burst ID = 1 + floor(((path - 1) * T_ORB + t_anx - T_PRE) / T_BEAM)

so that IDs grow by one per cycle along the track and are unique over all 175 tracks (the
absolute ID counts from the first orbit instead). A burst's footprint depends only on the path
and its ID and swath (the orbit is the same every pass), so it is computed once per path; a
burst granule exists on a date when an SLC of that date holds the whole burst. Where frames of
one date overlap, the burst goes to the earliest SLC (one granule per burst, date and
polarization, as in ASF's catalog). Each burst gets VV and VH granules (the SLCs are 1SDV) and
state vectors of its own pass (the SLC's orbital tube), so baselines agree with the SLCs'.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache

import numpy as np

from insarhub_sandbox.catalog.stacks import (
    FAR_RANGE,
    NEAR_RANGE,
    ORBIT_PERIOD,
    UTAH_STACKS,
    GeneratedScene,
    StackSpec,
    Vector,
    generate_cached,
    ground_point,
    path_geometry,
    state_vectors,
)

T_BEAM = 2.758273  # burst cycle (s), S1 IPF DPM table 9-7
T_PRE = 2.299849  # preamble (s)
T_ORB = ORBIT_PERIOD  # nominal orbit (s): 12 days / 175
LEAD = 1.15  # from a burst's azimuth time to its first valid line (s), as ASF's records show
DURATION = 3.12  # valid lines x azimuth time interval (s): consecutive bursts overlap ~0.36 s
SWATHS: dict[int, tuple[float, float]] = {  # ground range from nadir (m): ~85, ~75, ~70 km wide
    1: (NEAR_RANGE, NEAR_RANGE + 85_000.0),
    2: (NEAR_RANGE + 78_000.0, NEAR_RANGE + 153_000.0),
    3: (NEAR_RANGE + 146_000.0, NEAR_RANGE + 216_000.0),
}
PHASE = {1: 0.15, 2: 0.45, 3: 0.75}  # where in its ID's cycle each swath's burst starts
SAMPLES = {1: 21_648, 2: 25_344, 3: 24_792}
LINES_PER_BURST = 1517
POLARIZATIONS = ("VV", "VH")
assert SWATHS[3][1] <= FAR_RANGE


@dataclass(frozen=True)
class BurstCell:
    """One burst ID and sub-swath of a path: where and when (since ANX) it is imaged."""

    path: int
    relative_id: int
    swath: int
    anx_time: float  # azimuth time since the ascending node (s)
    footprint: tuple[tuple[float, float], ...]  # closed ring (lon, lat), ASF's 6-point layout
    center: tuple[float, float]

    @property
    def full_id(self) -> str:
        return f"{self.path:03d}_{self.relative_id:06d}_IW{self.swath}"


@dataclass(frozen=True)
class GeneratedBurst:
    """One burst granule: a cell imaged on one pass, in one polarization."""

    cell: BurstCell
    parent: GeneratedScene
    polarization: str
    burst_index: int  # position of the burst in its SLC's swath (0-based)

    @property
    def azimuth_time(self) -> datetime:
        return self.parent.node_time + timedelta(seconds=self.cell.anx_time)

    @property
    def start(self) -> datetime:
        return self.azimuth_time + timedelta(seconds=LEAD)

    @property
    def stop(self) -> datetime:
        return self.start + timedelta(seconds=DURATION)

    @property
    def name(self) -> str:
        return burst_name(self.cell, self.azimuth_time, self.polarization, self.parent.name)

    @property
    def absolute_id(self) -> int:
        return absolute_burst_id(self.parent.absolute_orbit, self.cell.anx_time)

    def state_vectors(self) -> tuple[tuple[datetime, datetime], tuple[Vector, ...], tuple[Vector, ...]]:
        """(times, positions, velocities) around the burst, like ASF's burst records."""
        pre = self.azimuth_time.replace(microsecond=0) - timedelta(seconds=2)
        times = (pre, pre + timedelta(seconds=10))
        day = self.parent.start.date()
        positions, velocities = state_vectors(self.parent.platform, self.parent.path, day,
                                              self.parent.node_time, times)
        return times, positions, velocities


def relative_burst_id(path: int, anx_time: float) -> int:
    """ESA's relative burst ID of a burst whose azimuth time is `anx_time` s after the ANX."""
    return 1 + math.floor(((path - 1) * T_ORB + anx_time - T_PRE) / T_BEAM)


def absolute_burst_id(absolute_orbit: int, anx_time: float) -> int:
    """ESA's absolute burst ID: bursts counted from the first orbit."""
    return 1 + math.floor(((absolute_orbit - 1) * T_ORB + anx_time - T_PRE) / T_BEAM)


def burst_name(cell: BurstCell, azimuth_time: datetime, polarization: str, slc_name: str) -> str:
    """ASF's burst granule name, e.g. `S1_213494_IW2_20200114T133510_VV_942E-BURST`."""
    return (f"S1_{cell.relative_id:06d}_IW{cell.swath}_{azimuth_time:%Y%m%dT%H%M%S}"
            f"_{polarization}_{slc_name[-4:]}-BURST")


def _anx_time(path: int, relative_id: int, swath: int) -> float:
    return T_PRE + (relative_id - 1 + PHASE[swath]) * T_BEAM - (path - 1) * T_ORB


def _round(point: tuple[float, float]) -> tuple[float, float]:
    return round(point[0], 6), round(point[1], 6)


@cache
def burst_cell(path: int, relative_id: int, swath: int) -> BurstCell:
    """The geometry of burst `relative_id` in swath `swath` of `path` (computed once)."""
    anx = _anx_time(path, relative_id, swath)
    node_lon = path_geometry(path).node_lon
    first, last = anx + LEAD, anx + LEAD + DURATION
    near, far = SWATHS[swath]
    mid = (near + far) / 2
    points = [ground_point(node_lon, tau, ground_range) for tau, ground_range in (
        (last, near), (first, near), (first, mid), (first, far), (last, far), (last, mid))]
    ring = tuple(_round(p) for p in points)
    center = ground_point(node_lon, (first + last) / 2, mid)
    return BurstCell(path, relative_id, swath, anx, (*ring, ring[0]), _round(center))


def cells_within(path: int, tau_start: float, tau_stop: float) -> list[BurstCell]:
    """Every burst (all swaths) whose valid lines fall inside [tau_start, tau_stop] s after ANX."""
    offset = (path - 1) * T_ORB
    low = math.floor((tau_start + offset - T_PRE) / T_BEAM) - 1
    high = math.ceil((tau_stop + offset - T_PRE) / T_BEAM) + 1
    cells = []
    for relative_id in range(low, high + 1):
        for swath in SWATHS:
            anx = _anx_time(path, relative_id, swath)
            if tau_start <= anx + LEAD and anx + LEAD + DURATION <= tau_stop:
                cells.append(burst_cell(path, relative_id, swath))
    return cells


@dataclass
class BurstTable:
    """All bursts of some stacks, column-wise (tens of thousands are cheap); CMR sort order.

    `burst(i)` builds the full `GeneratedBurst` of row `i` on demand.
    """

    scenes: tuple[GeneratedScene, ...]
    cells: list[BurstCell]
    cell_of: np.ndarray  # row -> index into cells
    scene_of: np.ndarray  # row -> index into scenes
    pol_of: np.ndarray  # row -> index into POLARIZATIONS
    index_of: np.ndarray  # row -> burst index in its SLC swath
    start_ts: np.ndarray
    stop_ts: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.names)

    def burst(self, row: int) -> GeneratedBurst:
        return GeneratedBurst(self.cells[self.cell_of[row]], self.scenes[self.scene_of[row]],
                              POLARIZATIONS[self.pol_of[row]], int(self.index_of[row]))

    def columns(self) -> dict[str, np.ndarray]:
        """The attributes searches filter on, one object array each."""
        def per_cell(values: list[object]) -> np.ndarray:
            return np.array(values, dtype=object)[self.cell_of]

        def per_scene(values: list[object]) -> np.ndarray:
            return np.array(values, dtype=object)[self.scene_of]

        n = len(self)
        absolute = [absolute_burst_id(self.scenes[s].absolute_orbit, self.cells[c].anx_time)
                    for s, c in zip(self.scene_of, self.cell_of, strict=True)]
        return {
            "ASCENDING_DESCENDING": per_scene([s.direction for s in self.scenes]),
            "BEAM_MODE": np.full(n, "IW", dtype=object), "BEAM_MODE_TYPE": np.full(n, "IW", dtype=object),
            "BURST_ID_ABSOLUTE": np.array([str(a) for a in absolute], dtype=object),
            "BURST_ID_FULL": per_cell([c.full_id for c in self.cells]),
            "BURST_ID_RELATIVE": per_cell([str(c.relative_id) for c in self.cells]),
            "BURST_INDEX": np.array([str(i) for i in self.index_of], dtype=object),
            "GROUP_ID": per_scene([s.group_id for s in self.scenes]),
            "PATH_NUMBER": per_scene([str(s.path) for s in self.scenes]),
            "POLARIZATION": np.array(POLARIZATIONS, dtype=object)[self.pol_of],
            "PROCESSING_LEVEL": np.full(n, "L1", dtype=object),
            "PROCESSING_TYPE": np.full(n, "BURST", dtype=object),
            "SUBSWATH_NAME": per_cell([f"IW{c.swath}" for c in self.cells]),
            "LOOK_DIRECTION": np.full(n, "R", dtype=object),
        }


def _pass_rows(scenes: Sequence[GeneratedScene]) -> list[tuple[GeneratedScene, BurstCell, int]]:
    """The bursts of one pass (one path and date), each once, in its earliest SLC."""
    seen: set[tuple[int, int]] = set()
    rows = []
    for scene in sorted(scenes, key=lambda s: (s.start, s.name)):
        tau_start = (scene.start - scene.node_time).total_seconds()
        tau_stop = (scene.stop - scene.node_time).total_seconds()
        counts: dict[int, int] = {}
        for cell in cells_within(scene.path, tau_start, tau_stop):
            index = counts.get(cell.swath, 0)
            counts[cell.swath] = index + 1
            if (cell.relative_id, cell.swath) not in seen:
                seen.add((cell.relative_id, cell.swath))
                rows.append((scene, cell, index))
    return rows


@lru_cache(maxsize=4)
def generate_bursts(stacks: tuple[StackSpec, ...] = UTAH_STACKS) -> BurstTable:
    """Every burst of the generated SLCs of `stacks` (built once per process)."""
    scenes = generate_cached(stacks)
    scene_index = {scene.name: i for i, scene in enumerate(scenes)}
    passes: dict[tuple[int, date], list[GeneratedScene]] = {}
    for scene in scenes:
        passes.setdefault((scene.path, scene.start.date()), []).append(scene)
    cells: list[BurstCell] = []
    cell_index: dict[BurstCell, int] = {}
    cell_of, scene_of, pol_of, index_of, start_ts, names = [], [], [], [], [], []
    for key in sorted(passes):
        for scene, cell, index in _pass_rows(passes[key]):
            if cell not in cell_index:
                cell_index[cell] = len(cells)
                cells.append(cell)
            azimuth = scene.node_time + timedelta(seconds=cell.anx_time)
            for pol_index, pol in enumerate(POLARIZATIONS):
                cell_of.append(cell_index[cell])
                scene_of.append(scene_index[scene.name])
                pol_of.append(pol_index)
                index_of.append(index)
                start_ts.append(azimuth.timestamp() + LEAD)
                names.append(burst_name(cell, azimuth, pol, scene.name))
    start = np.array(start_ts)
    stop = start + DURATION
    order = np.lexsort((np.array(names, dtype=object), -np.round(stop, 6)))
    return BurstTable(tuple(scenes), cells, np.array(cell_of)[order], np.array(scene_of)[order],
                      np.array(pol_of, dtype=np.int8)[order], np.array(index_of)[order],
                      start[order], stop[order], [names[i] for i in order])
