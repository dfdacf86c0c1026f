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

Content: the recorded ASF stacks shipped in `sandbox/insarhub_sandbox/data/` (Fairbanks SLCs, burst
174_372326_IW3), the generated Utah stacks and their bursts (`catalog_bursts`: VV and VH, three
swaths, ESA burst IDs; ~48,000 granules, built on the first query that may want bursts and
served as collection SENTINEL-1_BURSTS). Scenes acquired after the sandbox clock's "now" are
hidden until the clock passes them.
"""

from __future__ import annotations

import copy
import gzip
import heapq
import json
import logging
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from insarhub_sandbox.catalog.burst_umm import BurstEntries, burst_table
from insarhub_sandbox.catalog.bursts import generate_bursts
from insarhub_sandbox.catalog.query import (
    CatalogError,
    Entry,
    EntryTable,
    hash_name,
    once,
    requested_page_size,
)
from insarhub_sandbox.catalog.stacks import UTAH_STACKS, GeneratedScene, StackSpec, generate_cached
from insarhub_sandbox.catalog.umm import COLLECTION_IDS, collection_of, render_scene
from insarhub_sandbox.clock import SandboxClock, parse_time
from insarhub_sandbox.http import (
    Faults,
    Request,
    Response,
    Router,
    SandboxHTTPServer,
    error_response,
    file_response,
    json_response,
)
from insarhub_sandbox.records import SceneRecord
from insarhub_sandbox.standin import ensure_standin, standin_info

log = logging.getLogger(__name__)

FIXTURE_FILES = ("fairbanks_slc_stack.json.gz", "slc_burst_stack.json.gz")
SANDBOX_BEARER = "Bearer sandbox-earthdata-token"


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
        entries: list[Entry] = []
        if include_fixtures:
            entries += self._fixture_entries()
        if stacks:
            entries += [self._generated_entry(s) for s in generate_cached(tuple(stacks))]
        self._stacks = tuple(stacks) if stacks else ()
        self._main = EntryTable(entries)
        self._by_name: dict[str, Entry] = {}
        self._index_names(self._main.entries)
        self._burst_table: EntryTable | None = None
        self._burst_rows: BurstEntries | None = None
        self._burst_lock = threading.Lock()
        self._records: list[SceneRecord] | None = None
        self._cache: OrderedDict[Any, list[Entry]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.extra_tables: dict[str, EntryTable] = {}  # by collection short name (DISP-S1)

    def _index_names(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            self._by_name[entry.granule_ur] = entry
            self._by_name[entry.scene_name] = entry

    def _bursts(self) -> EntryTable:
        """The generated stacks' bursts (tens of thousands), built on first use."""
        with self._burst_lock:
            if self._burst_table is None:
                if self._stacks:
                    table, entries = burst_table(generate_bursts(self._stacks), self._file_url)
                    self._burst_rows = entries
                else:
                    table = EntryTable([])
                self._burst_table = table
            return self._burst_table

    def _tables(self, params: dict[str, list[str]] | None = None) -> list[EntryTable]:
        """The tables a query can hit: bursts only when it may ask for them."""
        extra = [self.extra_tables[n] for n in (params or {}).get("shortName", [])
                 if n in self.extra_tables]
        if extra:
            return extra
        if params is not None and not _may_want_bursts(params):
            return [self._main]
        return [self._main, self._bursts()]

    # -- public API used by HyP3 (B) and Earth (E) ----------------------------------------------
    def lookup(self, name: str) -> SceneRecord | None:
        """The scene called `name` (scene name or granule UR, SLC or burst), clock ignored."""
        name = name.strip()
        entry = self._by_name.get(name) or self._burst_entry(name)
        if entry is None and not name.endswith(("-SLC", "-BURST")):
            entry = self._by_name.get(f"{name}-SLC")
        return entry.record() if entry else None

    def _burst_entry(self, name: str) -> Entry | None:
        if not name.endswith("-BURST"):
            return None
        self._bursts()
        rows = self._burst_rows
        row = rows.rows.get(name) if rows is not None else None
        return rows[row] if rows is not None and row is not None else None

    @property
    def records(self) -> list[SceneRecord]:
        """Every SLC and recorded scene in the catalog, whatever the clock says (bursts: `bursts`)."""
        if self._records is None:
            self._records = [e.record() for e in self._main.entries]
        return self._records

    def bursts(self, full_burst_id: str | None = None) -> list[SceneRecord]:
        """The generated bursts (all, or those of one full burst ID), whatever the clock says."""
        table = self._bursts()
        rows = (range(len(table)) if full_burst_id is None
                else np.flatnonzero(table.column("BURST_ID_FULL") == full_burst_id))
        return [table.entries[int(row)].record() for row in rows]

    def visible(self, now: datetime | str | None = None) -> list[SceneRecord]:
        """SLCs and recorded scenes acquired by `now` (default: the sandbox clock)."""
        cutoff = parse_time(now).timestamp() if now is not None else self.clock.now().timestamp()
        return [e.record() for e, stop in zip(self._main.entries, self._main.stop_ts, strict=True)
                if stop <= cutoff]

    def __len__(self) -> int:
        return len(self._main)

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

    def _generated_entry(self, scene: GeneratedScene) -> Entry:
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
        return Entry(granule_ur, scene.name, "SLC", collection, f"SENTINEL-1{scene.platform[-1]}",
                      attrs, scene.start, scene.stop, scene.absolute_orbit,
                      Polygon(scene.footprint), concept_id, COLLECTION_IDS[collection],
                      render, once(record))

    def _fixture_entries(self) -> list[Entry]:
        entries = []
        for filename in FIXTURE_FILES:
            with resources.files("insarhub_sandbox").joinpath("data", filename).open("rb") as raw:
                items = json.loads(gzip.decompress(raw.read()))
            entries += [self._fixture_entry(item) for item in items]
        return entries

    def _fixture_entry(self, original: dict[str, Any]) -> Entry:
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

        return Entry(granule_ur, scene_name, kind, collection, platform, attrs, start, stop,
                      orbit, footprint, meta.get("concept-id", ""),
                      meta.get("collection-concept-id", COLLECTION_IDS.get(collection, "")),
                      lambda: item, once(record))

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
            page_size = requested_page_size(params)
            matches = self._cached_search(params)
            after = request.headers.get("CMR-Search-After")
            offset = EntryTable.offset_after(matches, after) if after else 0
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

    def _cached_search(self, params: dict[str, list[str]]) -> list[Entry]:
        """`search`, remembered per query and visible set, so paging a big result stays cheap."""
        cutoff = self.clock.now().timestamp()
        tables = self._tables(params)
        visible = [table.visible(cutoff) for table in tables]
        key = (tuple(sorted((k, tuple(v)) for k, v in params.items() if k != "page_size")),
               tuple(int(mask.sum()) for mask in visible))
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        found = list(heapq.merge(*(table.search(params, mask) for table, mask in zip(
            tables, visible, strict=True)), key=lambda e: e.sort_key))
        with self._cache_lock:
            self._cache[key] = found
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return found

    def search(self, params: dict[str, list[str]]) -> list[Entry]:
        """Entries matching CMR-style `params`, visible at the clock's now, in CMR's sort order."""
        return self._cached_search(params)

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

    def _file_entry(self, kind: str, filename: str) -> Entry | None:
        stem = re.sub(r"\.(zip|tiff|xml)$", "", filename)
        entry = self._by_name.get(stem) or self._burst_entry(stem)
        if entry is None or entry.kind != kind:
            return None
        expected = f"{stem}.zip" if kind == "SLC" else None
        if expected and filename != expected:
            return None
        return entry

    def _file_log(self, request: Request) -> Response:
        with self._log_lock:
            return json_response(list(self._log))




def _may_want_bursts(params: dict[str, list[str]]) -> bool:
    """False when the query's collections, names or processing type exclude bursts."""
    short_names = params.get("shortName", [])
    if short_names and "SENTINEL-1_BURSTS" not in short_names:
        return False
    collections = params.get("echo_collection_id[]", [])
    if collections and COLLECTION_IDS["SENTINEL-1_BURSTS"] not in collections:
        return False
    names = params.get("readable_granule_name[]", []) + params.get("granule_ur[]", [])
    if names and not any("BURST" in n or "*" in n or "?" in n for n in names):
        return False
    types = [a for a in params.get("attribute[]", []) if a.startswith("string,PROCESSING_TYPE,")]
    return not types or any(a.endswith(",BURST") for a in types)


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
