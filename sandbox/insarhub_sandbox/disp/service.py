"""`DispService`: DISP-S1 and DISP-S1-STATIC granules in the sandbox catalog, and their files.

- catalog: `CatalogService.extra_tables` gets one table per collection (OPERA_L3_DISP-S1_V1,
  OPERA_L3_DISP-S1-STATIC_V1), searched with CMR's fields like the SLCs; a product is visible
  once the sandbox clock passes its secondary acquisition;
- `GET|HEAD /files/DISP/<name>.nc|.tif` (fault group "files", Earthdata bearer token): the
  NetCDF products and static GeoTIFFs, rendered on first request from the simulated Earth;
- `GET /_sandbox/disp/truth/<frame>/velocity.tif`: the truth LOS velocity on the frame grid;
  `.../signal_<YYYYMMDD>.tif`: what a rebased, tide-corrected series holds that date (m);
- the opera-utils frame database of these frames, written to `<data-dir>/opera_utils/`
  (point `OPERA_UTILS_DATA_DIR` there).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shapely import wkt as shapely_wkt
from shapely.geometry import Polygon, mapping

from insarhub_sandbox.catalog.query import Entry, EntryTable, hash_name, once
from insarhub_sandbox.disp import frames as fr
from insarhub_sandbox.disp import umm
from insarhub_sandbox.disp.netcdf import write_product
from insarhub_sandbox.disp.render import WAVELENGTH_CUTOFF, DispRenderer
from insarhub_sandbox.http import Request, Response, Router, error_response, file_response
from insarhub_sandbox.products import geotiff
from insarhub_sandbox.records import SceneRecord

log = logging.getLogger(__name__)
LATENCY = timedelta(days=3)  # generation time after the secondary acquisition
STATIC_SUFFIXES = ("los_enu.tif", "dem.tif", "layover_shadow_mask.tif")


@dataclass(frozen=True)
class Product:
    """One DISP-S1 granule: a frame, its reference and secondary scenes."""

    frame: fr.DispFrame
    reference: SceneRecord
    secondary: SceneRecord

    @property
    def name(self) -> str:
        generated = self.secondary.start + LATENCY
        return umm.disp_name(self.frame.frame_id, self.reference.start, self.secondary.start,
                             generated)


class DispService:
    """DISP-S1 products of the sandbox frames."""

    def __init__(self, records: list[SceneRecord], earth: Callable[[], Any], data_dir: Path,
                 base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.data_dir = Path(data_dir)
        self.files_dir = self.data_dir / "disp" / "files"
        self._earth = earth
        self._renderer: DispRenderer | None = None
        self._lock = threading.RLock()
        self._file_locks: dict[str, threading.Lock] = {}
        self.frames: dict[int, list[SceneRecord]] = {}
        for frame in fr.FRAMES:
            scenes = sorted((r for r in records if r.stack_key == frame.stack_key
                             and r.processing_level == "SLC"), key=lambda r: r.start)
            if len(scenes) >= 2:
                self.frames[frame.frame_id] = scenes
        self.products: dict[str, Product] = {}
        disp_entries, static_entries = [], []
        for frame_id, scenes in self.frames.items():
            chosen = fr.frame_of(frame_id)
            assert chosen is not None
            for i in range(1, len(scenes)):
                ref = scenes[fr.MINISTACK * ((i - 1) // fr.MINISTACK)]
                product = Product(chosen, ref, scenes[i])
                self.products[product.name] = product
                disp_entries.append(self._disp_entry(product))
            static_entries.append(self._static_entry(chosen, scenes[0]))
        self.tables = {umm.DISP_COLLECTION: EntryTable(disp_entries),
                       umm.STATIC_COLLECTION: EntryTable(static_entries)}
        self.frame_db = self.write_frame_db()

    # -- the Earth -------------------------------------------------------------------------
    @property
    def renderer(self) -> DispRenderer:
        with self._lock:
            if self._renderer is None:
                self._renderer = DispRenderer(self._earth())
            return self._renderer

    def write_frame_db(self) -> list[Path]:
        """The opera-utils database of the frames (frame grid = the Earth's canvas at 30 m)."""
        described = {}
        for frame_id, scenes in self.frames.items():
            footprint = shapely_wkt.loads(scenes[0].footprint_wkt)
            grid = self.renderer.fields(scenes[0]).grid
            described[frame_id] = (scenes[0].flight_direction, _json(mapping(footprint)), grid)
        return fr.write_frame_db(self.data_dir / "opera_utils", described)

    # -- entries ---------------------------------------------------------------------------
    def _url(self, filename: str) -> str:
        return f"{self.base_url}/files/DISP/{filename}"

    def _disp_entry(self, product: Product) -> Entry:
        ref, sec, frame = product.reference, product.secondary, product.frame
        name = product.name
        attrs = umm.disp_attributes(frame.frame_id, frame.path, sec.flight_direction,
                                    (ref.start, ref.stop), (sec.start, sec.stop))
        footprint = shapely_wkt.loads(sec.footprint_wkt)
        concept_id = f"G{abs(hash_name(name)) % 10**10:010d}-ASF"

        def render() -> dict[str, Any]:
            path = self.ensure_file(f"{name}.nc")
            return umm.render_disp(name, attrs, _ring(footprint), sec.platform,
                                   self._url(f"{name}.nc"), path.stat().st_size, _md5(path),
                                   concept_id, sec.start + LATENCY)

        return Entry(name, name, "DISP", umm.DISP_COLLECTION, f"SENTINEL-1{sec.platform[-1]}",
                     attrs, ref.start, sec.stop, sec.absolute_orbit, footprint, concept_id,
                     umm.COLLECTION_IDS[umm.DISP_COLLECTION], render, once(lambda: sec))

    def _static_entry(self, frame: fr.DispFrame, first: SceneRecord) -> Entry:
        name = umm.static_name(frame.frame_id, first.start, first.platform)
        footprint = shapely_wkt.loads(first.footprint_wkt)
        concept_id = f"G{abs(hash_name(name)) % 10**10:010d}-ASF"
        attrs = {"PROCESSING_TYPE": "DISP-S1-STATIC", "FRAME_NUMBER": str(frame.frame_id),
                 "PATH_NUMBER": str(frame.path), "ASCENDING_DESCENDING": first.flight_direction}

        def render() -> dict[str, Any]:
            files = {}
            for suffix in STATIC_SUFFIXES:
                path = self.ensure_file(f"{name}_{suffix}")
                files[suffix] = (self._url(path.name), path.stat().st_size, _md5(path))
            return umm.render_static(name, frame.frame_id, frame.path, first.flight_direction,
                                     _ring(footprint), first.start, first.platform, files,
                                     concept_id)

        return Entry(name, name, "DISP-STATIC", umm.STATIC_COLLECTION,
                     f"SENTINEL-1{first.platform[-1]}", attrs, first.start, first.start, 0,
                     footprint, concept_id, umm.COLLECTION_IDS[umm.STATIC_COLLECTION], render,
                     once(lambda: first))

    # -- files -----------------------------------------------------------------------------
    def ensure_file(self, filename: str) -> Path:
        """The rendered file (NetCDF product or static GeoTIFF), written once, atomically."""
        path = self.files_dir / filename
        with self._lock:
            lock = self._file_locks.setdefault(filename, threading.Lock())
        with lock:
            if not path.is_file():
                self._render(filename, path)
        return path

    def _render(self, filename: str, path: Path) -> None:
        if filename.endswith(".nc"):
            product = self.products.get(filename.removesuffix(".nc"))
            if product is None:
                raise KeyError(filename)
            self._render_product(product, path)
            return
        for frame_id, scenes in self.frames.items():
            frame = fr.frame_of(frame_id)
            assert frame is not None
            stem = umm.static_name(frame_id, scenes[0].start, scenes[0].platform)
            for suffix in STATIC_SUFFIXES:
                if filename == f"{stem}_{suffix}":
                    self._render_static(scenes[0], suffix, path)
                    return
        raise KeyError(filename)

    def _render_product(self, product: Product, path: Path) -> None:
        renderer = self.renderer
        layers = renderer.pair(product.reference, product.secondary)
        fields = renderer.fields(product.reference)
        row, col = fields.ref_pixel
        lon, lat = fr.grid_lonlat(fields.grid, row, col)
        ref, sec = product.reference, product.secondary
        static = umm.static_name(product.frame.frame_id, self.frames[product.frame.frame_id][0].start,
                                 self.frames[product.frame.frame_id][0].platform)
        info = {
            "frame_id": product.frame.frame_id, "track_number": product.frame.path,
            "orbit_pass_direction": sec.flight_direction.capitalize(),
            "reference_start": _naive(ref.start), "reference_end": _naive(ref.stop),
            "secondary_start": _naive(sec.start), "secondary_end": _naive(sec.stop),
            "platform": sec.platform, "bounding_polygon": sec.footprint_wkt,
            "reference_point": (row, col, lat, lon), "wavelength_cutoff": WAVELENGTH_CUTOFF,
            "static_layers_data_access": self._url(f"{static}_los_enu.tif"),
        }
        write_product(path, fields.grid, layers, info)

    def _render_static(self, first: SceneRecord, suffix: str, path: Path) -> None:
        renderer = self.renderer
        fields = renderer.fields(first)
        if suffix == "los_enu.tif":
            array, units = renderer.los_enu(first), "unitless"
        elif suffix == "dem.tif":
            array, units = fields.dem, "m"
        else:
            array, units = fields.water.astype("uint8") * 0, "unitless"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(geotiff.geotiff_bytes(array, fields.grid, units=units))
        tmp.replace(path)

    def truth_velocity(self, frame_id: int) -> Path:
        """The truth LOS velocity (m/yr) on the frame grid, written once."""
        scenes = self.frames[frame_id]
        path = self.data_dir / "disp" / "truth" / f"F{frame_id:05d}" / "velocity.tif"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            geotiff.write_geotiff(path, self.renderer.truth_velocity(scenes[0]),
                                  self.renderer.fields(scenes[0]).grid, units="m/yr",
                                  description="truth secular LOS velocity, positive towards the satellite")
        return path

    # -- routes ----------------------------------------------------------------------------
    def register(self, router: Router) -> None:
        for method in ("GET", "HEAD"):
            router.add(method, r"/files/DISP/(?P<filename>[A-Za-z0-9_.\-]+)", self._file, "files")
        router.add("GET", r"/_sandbox/disp/truth/(?P<frame>\d+)/(?P<name>velocity|signal_\d{8})\.tif",
                   self._truth, "admin")

    def _file(self, request: Request) -> Response:
        filename = request.params["filename"]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token or token == request.headers.get("Authorization", ""):  # any Earthdata token
            return error_response(401, "Earthdata login required: send 'Authorization: Bearer "
                                       "<EARTHDATA_TOKEN>'")
        try:
            return file_response(self.ensure_file(filename))
        except KeyError:
            return error_response(404, f"DISP/{filename}: no such granule file")

    def _truth(self, request: Request) -> Response:
        frame_id = int(request.params["frame"])
        if frame_id not in self.frames:
            return error_response(404, f"no sandbox DISP-S1 frame {frame_id}")
        name = request.params["name"]
        if name == "velocity":
            return file_response(self.truth_velocity(frame_id))
        day = datetime.strptime(name[-8:], "%Y%m%d").date()
        scene = next((s for s in self.frames[frame_id] if s.start.date() == day), None)
        if scene is None:
            return error_response(404, f"frame {frame_id} has no acquisition on {day}")
        path = self.data_dir / "disp" / "truth" / f"F{frame_id:05d}" / f"{name}.tif"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            geotiff.write_geotiff(path, self.renderer.truth_signal(scene, day),
                                  self.renderer.fields(scene).grid, units="m",
                                  description="deformation + atmosphere + DEM error term, LOS")
        return file_response(path)


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def _ring(footprint: Polygon) -> list[tuple[float, float]]:
    return [(round(x, 6), round(y, 6)) for x, y in footprint.exterior.coords]


_MD5: dict[Path, tuple[float, str]] = {}


def _md5(path: Path) -> str:
    """MD5 of a rendered file, remembered per modification time."""
    stamp = path.stat().st_mtime
    known = _MD5.get(path)
    if known is None or known[0] != stamp:
        known = (stamp, hashlib.md5(path.read_bytes()).hexdigest())
        _MD5[path] = known
    return known[1]


def _json(geometry: Any) -> str:
    import json

    return json.dumps(geometry)
