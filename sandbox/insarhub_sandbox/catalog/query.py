"""CMR granule-search semantics over a table of catalog entries (what `CatalogService` serves).

`EntryTable` holds entries in CMR's sort order (`-end_date, granule_ur`) with their times and
footprints as arrays; `EntryTable.search` applies CMR's form fields (spatial, temporal,
`attribute[]`, names, collections, platforms, orbits). Attribute conditions run on cached
per-attribute columns, so tables of tens of thousands of bursts stay fast.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from insarhub_sandbox.clock import parse_time
from insarhub_sandbox.records import SceneRecord

MAX_PAGE_SIZE = 2000

@dataclass
class Entry:
    """One granule as the search sees it: filterable fields plus how to render it."""

    granule_ur: str
    scene_name: str
    kind: str  # SLC | BURST
    collection: str
    platform: str  # SENTINEL-1A ...
    attrs: dict[str, str]
    start: datetime
    stop: datetime
    orbit: int
    footprint: Polygon
    concept_id: str
    collection_id: str
    render: Callable[[], dict[str, Any]]
    record: Callable[[], SceneRecord]

    def __post_init__(self) -> None:
        self.sort_key = (-self.stop.timestamp(), self.granule_ur)  # CMR's -end_date, granule_ur


class CatalogError(ValueError):
    """A search parameter CMR would refuse (answered as 400)."""



class EntryTable:
    """Entries sorted as CMR sorts them, with the arrays the search filters on."""

    def __init__(self, entries: list[Entry]) -> None:
        entries.sort(key=lambda e: e.sort_key)
        self.entries: Sequence[Entry] = entries
        self.stop_ts = np.array([e.stop.timestamp() for e in entries])
        self.start_ts = np.array([e.start.timestamp() for e in entries])
        self.footprints = np.array([e.footprint for e in entries], dtype=object)
        self._columns: dict[str, np.ndarray] = {}

    @classmethod
    def presorted(cls, entries: Sequence[Entry], stop_ts: np.ndarray, start_ts: np.ndarray,
                  footprints: np.ndarray, columns: dict[str, np.ndarray]) -> EntryTable:
        """A table from ready columns; `entries` (in CMR order) may build each entry lazily."""
        table = cls.__new__(cls)
        table.entries = entries
        table.stop_ts, table.start_ts, table.footprints = stop_ts, start_ts, footprints
        table._columns = dict(columns)
        return table

    def __len__(self) -> int:
        return len(self.entries)

    def visible(self, cutoff: float) -> np.ndarray:
        return self.stop_ts <= cutoff

    def column(self, name: str) -> np.ndarray:
        """The values of additional attribute `name` (None where absent), built once."""
        if name not in self._columns:
            self._columns[name] = np.array([e.attrs.get(name) for e in self.entries], dtype=object)
        return self._columns[name]

    def number_column(self, name: str) -> np.ndarray:
        """Attribute `name` as floats (NaN where absent or not a number), built once."""
        key = f"#{name}"
        if key not in self._columns:
            self._columns[key] = np.array([_to_float(v) for v in self.column(name)], dtype=float)
        return self._columns[key]

    def search(self, params: dict[str, list[str]], visible: np.ndarray | None = None) -> list[Entry]:
        """Entries matching CMR-style `params` (and `visible`, a mask), in CMR's sort order."""
        mask = visible.copy() if visible is not None else np.ones(len(self.entries), dtype=bool)
        mask &= self._temporal_mask(params.get("temporal", []))
        geometry = _spatial(params)
        if geometry is not None:
            mask &= shapely.intersects(self.footprints, geometry)
        for text in params.get("attribute[]", []):
            mask &= attribute_condition(text)(self)
        short_names = set(params.get("shortName", []))
        platforms = {p.upper() for p in params.get("platform[]", [])}
        collections = set(params.get("echo_collection_id[]", []))
        urs = set(params.get("granule_ur[]", []))
        names = params.get("readable_granule_name[]", [])
        pattern = params.get("options[readable_granule_name][pattern]", ["false"])[0] == "true"
        orbits = [_number_range(v, "orbit_number") for v in params.get("orbit_number", [])]
        found = []
        for index in np.flatnonzero(mask):
            entry = self.entries[int(index)]
            if short_names and entry.collection not in short_names:
                continue
            if platforms and entry.platform.upper() not in platforms:
                continue
            if collections and entry.collection_id not in collections:
                continue
            if urs and entry.granule_ur not in urs:
                continue
            if names and not _name_matches(entry, names, pattern):
                continue
            if orbits and not any(lo <= entry.orbit <= hi for lo, hi in orbits):
                continue
            found.append(entry)
        return found

    def _temporal_mask(self, values: list[str]) -> np.ndarray:
        mask = np.ones(len(self.entries), dtype=bool)
        for value in values:
            parts = [p.strip() for p in value.split(",")]
            try:
                begin = parse_time(parts[0]).timestamp() if parts[0] else -math.inf
                end = parse_time(parts[1]).timestamp() if len(parts) > 1 and parts[1] else math.inf
            except ValueError as exc:
                raise CatalogError(f"temporal {value!r}: {exc}") from exc
            mask &= (self.stop_ts >= begin) & (self.start_ts <= end)
            if len(parts) > 3 and parts[2] and parts[3]:
                first, last = int(parts[2]), int(parts[3])
                doy = np.array([e.start.timetuple().tm_yday for e in self.entries])
                mask &= ((doy >= first) & (doy <= last)) if first <= last else (
                    (doy >= first) | (doy <= last))
        return mask

    @staticmethod
    def offset_after(matches: Sequence[Entry], after: str) -> int:
        try:
            stop_text, granule_ur = json.loads(after)
            key = (-parse_time(stop_text).timestamp(), str(granule_ur))
        except (ValueError, TypeError) as exc:
            raise CatalogError(f"CMR-Search-After {after!r} is not a value this catalog issued") from exc
        return bisect_right(matches, key, key=lambda e: e.sort_key)


# -- helpers -----------------------------------------------------------------------------------
def hash_name(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:6], "big")


def once(factory: Callable[[], SceneRecord]) -> Callable[[], SceneRecord]:
    cache: list[SceneRecord] = []

    def get() -> SceneRecord:
        if not cache:
            cache.append(factory())
        return cache[0]

    return get


def requested_page_size(params: dict[str, list[str]]) -> int:
    text = params.get("page_size", ["10"])[0]
    try:
        size = int(text)
    except ValueError as exc:
        raise CatalogError(f"page_size {text!r} must be an integer") from exc
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise CatalogError(f"page_size must be between 0 and {MAX_PAGE_SIZE}, not {size}")
    return size


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise CatalogError(f"{name} {text!r}: coordinates must be numbers") from exc


def _spatial(params: dict[str, list[str]]) -> BaseGeometry | None:
    """The search geometry from CMR's spatial parameters (all given ones must intersect: AND)."""
    shapes: list[BaseGeometry] = []
    for text in params.get("bounding_box", []):
        w, s, e, n = _pad(_floats(text, "bounding_box"), 4, "bounding_box")
        shapes.append(box(w, s, e, n) if w <= e else shapely.MultiPolygon(
            [box(w, s, 180, n), box(-180, s, e, n)]))
    for text in params.get("polygon", []):
        values = _floats(text, "polygon")
        if len(values) < 8 or len(values) % 2:
            raise CatalogError(f"polygon {text!r} needs at least 4 lon,lat points")
        shapes.append(shapely.make_valid(Polygon(list(zip(values[::2], values[1::2], strict=True)))))
    for text in params.get("point", []):
        lon, lat = _pad(_floats(text, "point"), 2, "point")
        shapes.append(Point(lon, lat))
    for text in params.get("line", []):
        values = _floats(text, "line")
        shapes.append(LineString(list(zip(values[::2], values[1::2], strict=True))))
    for text in params.get("circle", []):
        lon, lat, radius = _pad(_floats(text, "circle"), 3, "circle")
        shapes.append(Point(lon, lat).buffer(radius / 111_320.0))
    if not shapes:
        return None
    geometry = shapes[0]
    for extra in shapes[1:]:  # several spatial parameters: the granule must touch all; approximate
        geometry = geometry.intersection(extra) if geometry.intersects(extra) else Point()
    return geometry


def _pad(values: list[float], n: int, name: str) -> list[float]:
    if len(values) != n:
        raise CatalogError(f"{name} needs {n} comma-separated numbers, got {len(values)}")
    return values


def _number_range(text: str, name: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        if len(parts) == 1:
            value = float(parts[0])
            return value, value
        low = float(parts[0]) if parts[0] else -math.inf
        high = float(parts[1]) if parts[1] else math.inf
    except ValueError as exc:
        raise CatalogError(f"{name} {text!r} must be a number or a min,max range") from exc
    return low, high


def attribute_condition(text: str) -> Callable[[EntryTable], np.ndarray]:
    """A CMR additional-attribute condition (`type,NAME,value` or `type,NAME,min,max`) as a mask."""
    parts = [p.replace("\\,", ",") for p in re.split(r"(?<!\\),", text)]
    if len(parts) < 3:
        raise CatalogError(f"attribute[] {text!r} must be type,NAME,value or type,NAME,min,max")
    kind, name, values = parts[0].lower(), parts[1], parts[2:]
    if kind == "string":
        wanted = ",".join(values)

        def string_match(table: EntryTable) -> np.ndarray:
            return np.asarray(table.column(name) == wanted, dtype=bool)

        return string_match
    if kind not in ("int", "float", "date", "time", "datetime"):
        raise CatalogError(f"attribute[] type {kind!r} must be string, int, float or date")
    if kind in ("date", "time", "datetime"):
        raise CatalogError(f"attribute[] type {kind!r} is not supported by the sandbox catalog")
    low, high = _number_range(",".join(values), f"attribute {name}")

    def number_match(table: EntryTable) -> np.ndarray:
        numbers = table.number_column(name)
        with np.errstate(invalid="ignore"):
            return (numbers >= low) & (numbers <= high)

    return number_match


def _name_matches(entry: Entry, names: Iterable[str], pattern: bool) -> bool:
    for name in names:
        if pattern and any(c in name for c in "*?"):
            if fnmatch.fnmatchcase(entry.granule_ur, name) or fnmatch.fnmatchcase(entry.scene_name, name):
                return True
        elif name in (entry.granule_ur, entry.scene_name):
            return True
    return False


def _to_float(value: object) -> float:
    try:
        return float(value) if value is not None else math.nan  # type: ignore[arg-type]
    except ValueError:
        return math.nan
