"""`CatalogService`: the CMR granule search asf_search calls, over the sandbox's scenes.

Routes (registered on the sandbox router):
- `POST|GET /search/granules.umm_json` (fault group "catalog"): CMR's form fields
  (`shortName`, `platform[]`, `attribute[]=type,NAME,value[,max]`, `bounding_box`, `polygon`,
  `point`, `line`, `circle`, `temporal=start,end[,season]`, `readable_granule_name[]`,
  `granule_ur[]`, `orbit_number`, `echo_collection_id[]`, `page_size`) with `CMR-Search-After`
  paging, sorted by `-end_date, granule_ur` as asf_search asks. Answers `{"hits", "took",
  "items": [{"meta", "umm"}]}`; bad input answers 400 `{"errors": [...]}` like CMR.
- `GET|HEAD /files/SLC/<name>.zip` and `/files/BURST/<name>.(tiff|xml)` (group "files"): the
  stand-in files, Range supported, Earthdata bearer token required (like ASF's datapool).
- `GET /_sandbox/files/log`: the file requests served so far (path, Range, status), for tests.

Content: the recorded ASF stacks shipped in `insarhub/sandbox/data/` (Fairbanks SLCs, burst
174_372326_IW3) and the generated Utah stacks. Scenes acquired after the sandbox clock's "now"
are hidden until the clock passes them.
"""

from __future__ import annotations

import copy
import fnmatch
import gzip
import hashlib
import json
import logging
import math
import re
import threading
import time
from bisect import bisect_right
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from insarhub.sandbox.catalog_data import UTAH_STACKS, GeneratedScene, StackSpec, generate_cached
from insarhub.sandbox.catalog_umm import COLLECTION_IDS, collection_of, render_scene
from insarhub.sandbox.clock import SandboxClock, parse_time
from insarhub.sandbox.http import (
    Faults,
    Request,
    Response,
    Router,
    SandboxHTTPServer,
    error_response,
    file_response,
    json_response,
)
from insarhub.sandbox.records import SceneRecord
from insarhub.sandbox.standin import ensure_standin, standin_info

log = logging.getLogger(__name__)

FIXTURE_FILES = ("fairbanks_slc_stack.json.gz", "slc_burst_stack.json.gz")
MAX_PAGE_SIZE = 2000
SANDBOX_BEARER = "Bearer sandbox-earthdata-token"


@dataclass
class _Entry:
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


class CatalogService:
    """The sandbox catalog: CMR granule search plus SLC/burst stand-in downloads."""

    def __init__(self, clock: SandboxClock, data_dir: Path, base_url: str,
                 stacks: Sequence[StackSpec] | None = UTAH_STACKS,
                 include_fixtures: bool = True) -> None:
        self.clock = clock
        self.data_dir = Path(data_dir)
        self.base_url = base_url.rstrip("/")
        self.files_dir = self.data_dir / "files"
        self._log: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._log_lock = threading.Lock()
        entries: list[_Entry] = []
        if include_fixtures:
            entries += self._fixture_entries()
        if stacks:
            entries += [self._generated_entry(s) for s in generate_cached(tuple(stacks))]
        entries.sort(key=lambda e: e.sort_key)
        self._entries = entries
        self._by_name: dict[str, _Entry] = {}
        for entry in entries:
            self._by_name[entry.granule_ur] = entry
            self._by_name[entry.scene_name] = entry
        self._stop_ts = np.array([e.stop.timestamp() for e in entries])
        self._start_ts = np.array([e.start.timestamp() for e in entries])
        self._footprints = np.array([e.footprint for e in entries], dtype=object)
        self._records: list[SceneRecord] | None = None
        self._cache: OrderedDict[Any, list[_Entry]] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- public API used by HyP3 (B) and Earth (E) ----------------------------------------------
    def lookup(self, name: str) -> SceneRecord | None:
        """The scene called `name` (scene name or granule UR, SLC or burst), clock ignored."""
        entry = self._by_name.get(name.strip())
        if entry is None and not name.endswith(("-SLC", "-BURST")):
            entry = self._by_name.get(f"{name}-SLC")
        return entry.record() if entry else None

    @property
    def records(self) -> list[SceneRecord]:
        """Every scene in the catalog, whatever the clock says."""
        if self._records is None:
            self._records = [e.record() for e in self._entries]
        return self._records

    def visible(self, now: datetime | str | None = None) -> list[SceneRecord]:
        """Scenes acquired by `now` (default: the sandbox clock)."""
        cutoff = parse_time(now).timestamp() if now is not None else self.clock.now().timestamp()
        return [e.record() for e, stop in zip(self._entries, self._stop_ts, strict=True)
                if stop <= cutoff]

    def __len__(self) -> int:
        return len(self._entries)

    def register(self, router: Router) -> None:
        router.add("POST", r"/search/granules\.umm_json", self._search, "catalog")
        router.add("GET", r"/search/granules\.umm_json", self._search, "catalog")
        router.add("GET", r"/search/health", lambda r: json_response({"ok?": True}), "catalog")
        for method in ("GET", "HEAD"):
            router.add(method, r"/files/(?P<kind>SLC|BURST)/(?P<filename>[A-Za-z0-9_.\-]+)",
                       self._file, "files")
        router.add("GET", r"/_sandbox/files/log", self._file_log, "admin")

    # -- entries ---------------------------------------------------------------------------------
    def _file_url(self, kind: str, filename: str) -> str:
        return f"{self.base_url}/files/{kind}/{filename}"

    def _generated_entry(self, scene: GeneratedScene) -> _Entry:
        granule_ur = f"{scene.name}-SLC"
        concept_id = f"G{abs(hash_name(granule_ur)) % 10**10:010d}-ASF"
        url = self._file_url("SLC", f"{scene.name}.zip")
        collection = collection_of(scene.platform)

        def render() -> dict[str, Any]:
            size, md5 = standin_info(scene.name)
            return render_scene(scene, size, md5, url, concept_id)

        def record() -> SceneRecord:
            size, md5 = standin_info(scene.name)
            return SceneRecord(
                name=scene.name, start=scene.start, stop=scene.stop, platform=scene.platform,
                path=scene.path, frame=scene.frame, flight_direction=scene.direction,
                polarization=scene.polarization, beam_mode="IW", processing_level="SLC",
                footprint_wkt=Polygon(scene.footprint).wkt,
                stack_key=f"p{scene.path}_f{scene.frame}", absolute_orbit=scene.absolute_orbit,
                file_url=url, file_size=size, md5=md5)

        attrs = {
            "ASCENDING_DESCENDING": scene.direction, "BEAM_MODE": "IW", "BEAM_MODE_TYPE": "IW",
            "POLARIZATION": scene.polarization, "PATH_NUMBER": str(scene.path),
            "FRAME_NUMBER": str(scene.frame), "CENTER_ESA_FRAME": str(scene.esa_frame),
            "PROCESSING_TYPE": "SLC", "PROCESSING_LEVEL": "L1", "LOOK_DIRECTION": "R",
            "GROUP_ID": scene.group_id, "ASF_PLATFORM": f"Sentinel-1{scene.platform[-1]}",
        }
        return _Entry(granule_ur, scene.name, "SLC", collection, f"SENTINEL-1{scene.platform[-1]}",
                      attrs, scene.start, scene.stop, scene.absolute_orbit,
                      Polygon(scene.footprint), concept_id, COLLECTION_IDS[collection],
                      render, _once(record))

    def _fixture_entries(self) -> list[_Entry]:
        entries = []
        for filename in FIXTURE_FILES:
            with resources.files("insarhub.sandbox").joinpath("data", filename).open("rb") as raw:
                items = json.loads(gzip.decompress(raw.read()))
            entries += [self._fixture_entry(item) for item in items]
        return entries

    def _fixture_entry(self, original: dict[str, Any]) -> _Entry:
        item = copy.deepcopy(original)
        umm, meta = item["umm"], item["meta"]
        granule_ur = umm["GranuleUR"]
        attrs = {a["Name"]: str(a["Values"][0]) for a in umm.get("AdditionalAttributes", [])
                 if a.get("Values")}
        kind = "BURST" if attrs.get("PROCESSING_TYPE") == "BURST" else "SLC"
        if kind == "SLC":
            scene_name = umm["DataGranule"]["Identifiers"][0]["Identifier"]
            filename = f"{scene_name}.zip"
        else:
            scene_name = granule_ur
            filename = f"{granule_ur}.tiff"
        size, md5 = standin_info(scene_name, kind)
        self._rewrite_urls(umm, kind, scene_name)
        for attribute in umm.get("AdditionalAttributes", []):
            if attribute["Name"] in ("BYTES", "BYTE_LENGTH"):
                attribute["Values"] = [str(size)]
            elif attribute["Name"] == "MD5SUM":
                attribute["Values"] = [md5]
        points = umm["SpatialExtent"]["HorizontalSpatialDomain"]["Geometry"]["GPolygons"][0][
            "Boundary"]["Points"]
        footprint = shapely.make_valid(Polygon([(p["Longitude"], p["Latitude"]) for p in points]))
        platform = umm["Platforms"][0]["ShortName"]
        start = parse_time(umm["TemporalExtent"]["RangeDateTime"]["BeginningDateTime"])
        stop = parse_time(umm["TemporalExtent"]["RangeDateTime"]["EndingDateTime"])
        orbit = int(umm.get("OrbitCalculatedSpatialDomains", [{}])[0].get("OrbitNumber", 0))
        collection = umm["CollectionReference"]["ShortName"]
        url = self._file_url(kind, filename)
        burst_id = attrs.get("BURST_ID_FULL")
        path = int(attrs.get("PATH_NUMBER", 0))
        frame = int(attrs.get("FRAME_NUMBER", 0) or 0)

        def record() -> SceneRecord:
            return SceneRecord(
                name=scene_name, start=start, stop=stop, platform=f"S1{platform[-1]}", path=path,
                frame=frame, flight_direction=attrs.get("ASCENDING_DESCENDING", ""),
                polarization=attrs.get("POLARIZATION", ""), beam_mode=attrs.get("BEAM_MODE", "IW"),
                processing_level=kind, footprint_wkt=footprint.wkt,
                stack_key=burst_id or f"p{path}_f{frame}", burst_id=burst_id,
                absolute_orbit=orbit, file_url=url, file_size=size,
                md5=md5 if kind == "SLC" else None)

        return _Entry(granule_ur, scene_name, kind, collection, platform, attrs, start, stop,
                      orbit, footprint, meta.get("concept-id", ""),
                      meta.get("collection-concept-id", COLLECTION_IDS.get(collection, "")),
                      lambda: item, _once(record))

    def _rewrite_urls(self, umm: dict[str, Any], kind: str, scene_name: str) -> None:
        """Point the download links of a recorded granule at this sandbox."""
        for link in umm.get("RelatedUrls", []):
            url = link.get("URL", "")
            if not url.startswith("https://"):
                continue
            if kind == "SLC" and link.get("Type") == "GET DATA":
                link["URL"] = self._file_url("SLC", f"{scene_name}.zip")
            elif kind == "BURST" and link.get("Type") == "USE SERVICE API":
                link["URL"] = self._file_url("BURST", f"{scene_name}.{url.rsplit('.', 1)[-1]}")

    # -- search ------------------------------------------------------------------------------------
    def _search(self, request: Request) -> Response:
        began = time.perf_counter()
        params: dict[str, list[str]] = {}
        for source in (request.query, request.form() if request.body else {}):
            for key, values in source.items():
                params.setdefault(key, []).extend(values)
        try:
            page_size = _page_size(params)
            matches = self._cached_search(params)
            after = request.headers.get("CMR-Search-After")
            offset = self._offset_after(matches, after) if after else 0
        except CatalogError as exc:
            return json_response({"errors": [str(exc)]}, 400)
        page = matches[offset:offset + page_size]
        headers = {"CMR-Hits": str(len(matches))}
        if page:
            last = page[-1]
            headers["CMR-Search-After"] = json.dumps([last.stop.isoformat(), last.granule_ur])
        took = int((time.perf_counter() - began) * 1000)
        headers["CMR-Took"] = str(took)
        body = {"hits": len(matches), "took": took, "items": [e.render() for e in page]}
        return json_response(body, headers=headers)

    def _cached_search(self, params: dict[str, list[str]]) -> list[_Entry]:
        """`search`, remembered per query and visible set, so paging a big result stays cheap."""
        visible = self._stop_ts <= self.clock.now().timestamp()
        key = (tuple(sorted((k, tuple(v)) for k, v in params.items() if k != "page_size")),
               int(np.count_nonzero(visible)))
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        found = self.search(params, visible)
        with self._cache_lock:
            self._cache[key] = found
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return found

    def search(self, params: dict[str, list[str]], visible: np.ndarray | None = None) -> list[_Entry]:
        """Entries matching CMR-style `params`, visible at the clock's now, in CMR's sort order."""
        if visible is None:
            visible = self._stop_ts <= self.clock.now().timestamp()
        mask = visible.copy()
        mask &= self._temporal_mask(params.get("temporal", []))
        geometry = _spatial(params)
        if geometry is not None:
            mask &= shapely.intersects(self._footprints, geometry)
        conditions = [_attribute(text) for text in params.get("attribute[]", [])]
        short_names = set(params.get("shortName", []))
        platforms = {p.upper() for p in params.get("platform[]", [])}
        collections = set(params.get("echo_collection_id[]", []))
        urs = set(params.get("granule_ur[]", []))
        names = params.get("readable_granule_name[]", [])
        pattern = params.get("options[readable_granule_name][pattern]", ["false"])[0] == "true"
        orbits = [_number_range(v, "orbit_number") for v in params.get("orbit_number", [])]
        found = []
        for index in np.flatnonzero(mask):
            entry = self._entries[index]
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
            if all(condition(entry.attrs) for condition in conditions):
                found.append(entry)
        return found

    def _temporal_mask(self, values: list[str]) -> np.ndarray:
        mask = np.ones(len(self._entries), dtype=bool)
        for value in values:
            parts = [p.strip() for p in value.split(",")]
            try:
                begin = parse_time(parts[0]).timestamp() if parts[0] else -math.inf
                end = parse_time(parts[1]).timestamp() if len(parts) > 1 and parts[1] else math.inf
            except ValueError as exc:
                raise CatalogError(f"temporal {value!r}: {exc}") from exc
            mask &= (self._stop_ts >= begin) & (self._start_ts <= end)
            if len(parts) > 3 and parts[2] and parts[3]:
                first, last = int(parts[2]), int(parts[3])
                doy = np.array([e.start.timetuple().tm_yday for e in self._entries])
                mask &= ((doy >= first) & (doy <= last)) if first <= last else (
                    (doy >= first) | (doy <= last))
        return mask

    @staticmethod
    def _offset_after(matches: list[_Entry], after: str) -> int:
        try:
            stop_text, granule_ur = json.loads(after)
            key = (-parse_time(stop_text).timestamp(), str(granule_ur))
        except (ValueError, TypeError) as exc:
            raise CatalogError(f"CMR-Search-After {after!r} is not a value this catalog issued") from exc
        return bisect_right(matches, key, key=lambda e: e.sort_key)

    # -- files -------------------------------------------------------------------------------------
    def _file(self, request: Request) -> Response:
        kind, filename = request.params["kind"], request.params["filename"]
        entry = self._file_entry(kind, filename)
        status = 200
        response: Response
        if entry is None:
            status, response = 404, error_response(404, f"{kind}/{filename}: no such granule")
        elif request.headers.get("Authorization", "") != SANDBOX_BEARER:
            status, response = 401, error_response(
                401, "Earthdata login required: send 'Authorization: Bearer <EARTHDATA_TOKEN>'")
        else:
            content = "XML" if filename.endswith(".xml") else kind
            path = ensure_standin(self.files_dir / kind, filename, entry.scene_name, content)
            response = file_response(path)
        with self._log_lock:
            self._log.append({"path": request.path, "method": request.method,
                              "range": request.headers.get("Range"), "status": status})
        return response

    def _file_entry(self, kind: str, filename: str) -> _Entry | None:
        stem = re.sub(r"\.(zip|tiff|xml)$", "", filename)
        entry = self._by_name.get(stem)
        if entry is None or entry.kind != kind:
            return None
        expected = f"{stem}.zip" if kind == "SLC" else None
        if expected and filename != expected:
            return None
        return entry

    def _file_log(self, request: Request) -> Response:
        with self._log_lock:
            return json_response(list(self._log))


# -- helpers -----------------------------------------------------------------------------------
def hash_name(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:6], "big")


def _once(factory: Callable[[], SceneRecord]) -> Callable[[], SceneRecord]:
    cache: list[SceneRecord] = []

    def get() -> SceneRecord:
        if not cache:
            cache.append(factory())
        return cache[0]

    return get


def _page_size(params: dict[str, list[str]]) -> int:
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


def _attribute(text: str) -> Callable[[dict[str, str]], bool]:
    """A CMR additional-attribute condition: `type,NAME,value` or `type,NAME,min,max`."""
    parts = [p.replace("\\,", ",") for p in re.split(r"(?<!\\),", text)]
    if len(parts) < 3:
        raise CatalogError(f"attribute[] {text!r} must be type,NAME,value or type,NAME,min,max")
    kind, name, values = parts[0].lower(), parts[1], parts[2:]
    if kind == "string":
        wanted = ",".join(values)

        def string_match(attrs: dict[str, str]) -> bool:
            return attrs.get(name) == wanted

        return string_match
    if kind not in ("int", "float", "date", "time", "datetime"):
        raise CatalogError(f"attribute[] type {kind!r} must be string, int, float or date")
    if kind in ("date", "time", "datetime"):
        raise CatalogError(f"attribute[] type {kind!r} is not supported by the sandbox catalog")
    low, high = _number_range(",".join(values), f"attribute {name}")

    def number_match(attrs: dict[str, str]) -> bool:
        value = attrs.get(name)
        if value is None:
            return False
        try:
            return low <= float(value) <= high
        except ValueError:
            return False

    return number_match


def _name_matches(entry: _Entry, names: Iterable[str], pattern: bool) -> bool:
    for name in names:
        if pattern and any(c in name for c in "*?"):
            if fnmatch.fnmatchcase(entry.granule_ur, name) or fnmatch.fnmatchcase(entry.scene_name, name):
                return True
        elif name in (entry.granule_ur, entry.scene_name):
            return True
    return False


__all__ = ["CatalogService", "SceneRecord"]


class CatalogServer:
    """The catalog alone on a loopback port, in this process (tests, benchmarks)."""

    def __init__(self, data_dir: Path, stacks: Sequence[StackSpec] | None = UTAH_STACKS,
                 now: str | None = None, include_fixtures: bool = True,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.clock = SandboxClock(now)
        self.router = Router()
        self.server = SandboxHTTPServer((host, port), self.router, seed=0)
        self.catalog = CatalogService(self.clock, data_dir, self.server.url, stacks=stacks,
                                      include_fixtures=include_fixtures)
        self.catalog.register(self.router)

    @property
    def url(self) -> str:
        return self.server.url

    def set_faults(self, **groups: Faults) -> None:
        """e.g. `set_faults(files=Faults(drop_rate=1.0))`; no arguments clears them."""
        self.server.faults = dict(groups)

    def start(self) -> CatalogServer:
        self.server.start_background("insarhub-catalog")
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> CatalogServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
