"""The simulated Earth written as ISCE2 topsStack outputs: what MintPy's `prep_isce` reads.

```python
earth = SimulatedEarth(seed=0, grid_size=60)
scenes = make_scenes(8)                                  # one SLC stack
stack = write_topsstack(earth, sequential_pairs(scenes, 3), "p100_f466/isce")
Analyzer.create("ISCE_SBAS", workdir="p100_f466").run()  # MintPy with processor isce
```

Layout (as stackSentinel's interferogram workflow leaves it, multilooked, radar coordinates):

    merged/interferograms/<d1>_<d2>/filt_fine.unw      2-band BIL float32 (amplitude, phase)
                                    filt_fine.cor      float32 coherence
                                    filt_fine.unw.conncomp   uint8 (0 = not unwrapped: water)
    merged/geom_reference/hgt.rdr lat.rdr lon.rdr      float64
                          los.rdr                      2-band float32 (incidence, azimuth angle)
                          shadowMask.rdr               uint8
                          <name>.full.xml              full-resolution size (gives the looks)
    baselines/<ref>_<date>/<ref>_<date>.txt            "Bperp (average): ..." per swath
    reference/IW<n>.xml, reference/data.rsc            burst metadata (see below)

Every raster has ISCE's `.xml` and a GDAL `.vrt`. The phase and coherence are those of the
HyP3 products the same `SimulatedEarth` renders for the pairs (its public `render_product`),
so the truth (`write_truth`) is the same; they are cut to the part common to all pairs and
turned into radar orientation (descending: range grows westward; ascending: azimuth grows
northward), with lat/lon lookup tables for MintPy's geocoding.

ISCE2 is not installed, so `reference/IW*.xml` cannot be parsed by MintPy (it needs ISCE's
product manager). MintPy skips that parse when `reference/data.rsc` is newer than the XML:
we write that file with the metadata MintPy itself would extract (the same keys, standardized
by MintPy's own functions, geometry keys from MintPy's `extract_geometry_metadata`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from osgeo import gdal
from pyproj import Transformer

from insarhub_sandbox.earth.model import WAVELENGTH, SimulatedEarth
from insarhub_sandbox.errors import SandboxError
from insarhub_sandbox.products import format as fmt
from insarhub_sandbox.products import geotiff
from insarhub_sandbox.records import SceneRecord, polarization_of

gdal.UseExceptions()

__all__ = ["TopsStack", "read_isce_raster", "write_isce_raster", "write_topsstack"]

RANGE_PIXEL_M = 2.329562  # Sentinel-1 IW slant-range pixel spacing
AZIMUTH_PIXEL_M = 13.96  # IW azimuth pixel spacing (azimuth time interval x ground speed)
PRF_HZ = 486.486
SATELLITE_SPEED = 7590.0
ALTITUDE_M = 693000.0
LOOKS = {"20x4": (20, 4), "10x2": (10, 2)}  # HyP3 looks name -> (range, azimuth) looks
_ISCE_TYPES = {np.dtype("float32"): ("FLOAT", "Float32"), np.dtype("float64"): ("DOUBLE", "Float64"),
               np.dtype("uint8"): ("BYTE", "Byte")}


# ---- ISCE rasters ----------------------------------------------------------------------------


def _isce_xml(path: Path, width: int, length: int, bands: int, isce_type: str,
              image_type: str) -> str:
    def prop(name: str, value: object) -> str:
        return f'    <property name="{name}">\n        <value>{escape(str(value))}</value>\n    </property>\n'

    def coordinate(name: str, size: int) -> str:
        return (f'    <component name="{name}">\n'
                "        <factorymodule>isceobj.Image</factorymodule>\n"
                "        <factoryname>createCoordinate</factoryname>\n"
                + "".join("    " + prop(k, v) for k, v in (
                    ("delta", 1.0), ("endingvalue", float(size)), ("family", "imagecoordinate"),
                    ("name", "imagecoordinate_name"), ("size", size), ("startingvalue", 0.0)))
                + "    </component>\n")

    return ("<imageFile>\n" + prop("access_mode", "read") + prop("byte_order", "l")
            + prop("data_type", isce_type) + prop("family", "image")
            + prop("file_name", path.name) + prop("image_type", image_type)
            + prop("length", length) + prop("number_bands", bands) + prop("scheme", "BIL")
            + prop("width", width) + prop("xmax", float(width)) + prop("xmin", 0.0)
            + coordinate("coordinate1", width) + coordinate("coordinate2", length)
            + "</imageFile>\n")


def _vrt(path: Path, width: int, length: int, bands: int, gdal_type: str, itemsize: int) -> str:
    body = "".join(
        f'  <VRTRasterBand dataType="{gdal_type}" band="{b + 1}" subClass="VRTRawRasterBand">\n'
        f'    <SourceFilename relativeToVRT="1">{escape(path.name)}</SourceFilename>\n'
        f"    <ByteOrder>LSB</ByteOrder>\n"
        f"    <ImageOffset>{b * width * itemsize}</ImageOffset>\n"
        f"    <PixelOffset>{itemsize}</PixelOffset>\n"
        f"    <LineOffset>{bands * width * itemsize}</LineOffset>\n"
        f"  </VRTRasterBand>\n" for b in range(bands))
    return f'<VRTDataset rasterXSize="{width}" rasterYSize="{length}">\n{body}</VRTDataset>\n'


def write_isce_raster(path: Path, bands: Sequence[np.ndarray], image_type: str = "") -> Path:
    """Write bands as an ISCE band-interleaved-by-line raster with its .xml and .vrt."""
    arrays = [np.ascontiguousarray(b) for b in bands]
    dtype = arrays[0].dtype
    if dtype not in _ISCE_TYPES or any(a.dtype != dtype or a.shape != arrays[0].shape for a in arrays):
        raise SandboxError(f"{path.name}: bands must share one shape and a type among "
                           f"{', '.join(str(t) for t in _ISCE_TYPES)}")
    length, width = arrays[0].shape
    isce_type, gdal_type = _ISCE_TYPES[dtype]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.stack(arrays, axis=1).tofile(path)  # (length, bands, width): BIL
    path.with_name(path.name + ".xml").write_text(
        _isce_xml(path, width, length, len(arrays), isce_type, image_type))
    path.with_name(path.name + ".vrt").write_text(
        _vrt(path, width, length, len(arrays), gdal_type, dtype.itemsize))
    return path


def read_isce_raster(path: Path, band: int = 1) -> np.ndarray:
    """One band of an ISCE raster, through its GDAL .vrt."""
    ds = gdal.Open(str(path) + ".vrt")
    return np.asarray(ds.GetRasterBand(band).ReadAsArray())


# ---- the stack -------------------------------------------------------------------------------


@dataclass
class TopsStack:
    """What `write_topsstack` wrote, and how the canvas of the Earth maps to its radar grid."""

    isce_dir: Path
    truth_dir: Path
    dates: list[str]
    pairs: list[str]  # "YYYYMMDD_YYYYMMDD"
    length: int
    width: int
    rows: slice  # the part of the Earth's canvas grid common to all pairs
    cols: slice
    flip_rows: bool  # ascending: azimuth (rows) grows northward
    flip_cols: bool  # descending: range (columns) grows westward
    files: list[Path] = field(default_factory=list)

    def to_radar(self, canvas_array: np.ndarray) -> np.ndarray:
        """A field on the Earth's canvas grid, cut and turned like the radar grid."""
        out = canvas_array[self.rows, self.cols]
        if self.flip_rows:
            out = out[::-1, :]
        if self.flip_cols:
            out = out[:, ::-1]
        return np.ascontiguousarray(out)


@dataclass
class _Product:
    date12: str
    row0: int
    col0: int
    layers: dict[str, np.ndarray]


def _render(earth: SimulatedEarth, reference: SceneRecord, secondary: SceneRecord,
            looks: str, canvas: geotiff.GeoGrid, tmp: Path) -> _Product:
    params = {"looks": looks, "include_dem": True, "include_look_vectors": True}
    name = fmt.product_name(fmt.GAMMA, reference, secondary, params,
                            job_id=f"{reference.name}|{secondary.name}")
    archive = earth.render_product(fmt.GAMMA, reference, secondary, params, tmp, name)
    layers = {}
    origin = (0.0, 0.0)
    for layer in ("unw_phase", "corr", "amp", "dem", "lv_theta", "lv_phi", "water_mask"):
        ds = gdal.Open(f"/vsizip/{archive}/{name}/{name}_{layer}.tif")
        layers[layer] = np.asarray(ds.GetRasterBand(1).ReadAsArray())
        gt = ds.GetGeoTransform()
        origin = (gt[0], gt[3])
    archive.unlink()
    col0 = round((origin[0] - canvas.x0) / canvas.spacing)
    row0 = round((canvas.y0 - origin[1]) / canvas.spacing)
    date12 = f"{reference.start:%Y%m%d}_{secondary.start:%Y%m%d}"
    return _Product(date12, row0, col0, layers)


def write_topsstack(earth: SimulatedEarth, pairs: Sequence[tuple[SceneRecord, SceneRecord]],
                    isce_dir: str | Path, looks: str = "20x4",
                    truth_dir: str | Path | None = None) -> TopsStack:
    """Write the pairs of one stack as topsStack outputs in `isce_dir` (and the truth beside)."""
    if looks not in LOOKS:
        raise SandboxError(f"looks {looks!r} unknown; allowed: {', '.join(LOOKS)}")
    if not pairs:
        raise SandboxError("write_topsstack needs at least one (reference, secondary) pair")
    ordered = [(a, b) if a.start <= b.start else (b, a) for a, b in pairs]
    scenes = sorted({s.name: s for pair in ordered for s in pair}.values(), key=lambda s: s.start)
    keys = {s.stack_key for s in scenes}
    if len(keys) != 1:
        raise SandboxError(f"the pairs come from {len(keys)} stacks ({', '.join(sorted(keys))}); "
                           "a topsStack work directory holds one")
    isce = Path(isce_dir)
    truth = Path(truth_dir) if truth_dir is not None else isce.parent / "truth"
    canvas = earth.grid_of(scenes[0], looks)
    with tempfile.TemporaryDirectory(prefix="insarhub-isce-") as tmp:
        products = [_render(earth, a, b, looks, canvas, Path(tmp)) for a, b in ordered]
        truth_tifs = earth.write_truth(scenes[0].stack_key, scenes, Path(tmp) / "truth", looks)
        row0 = max(p.row0 for p in products)
        col0 = max(p.col0 for p in products)
        row1 = min(p.row0 + p.layers["unw_phase"].shape[0] for p in products)
        col1 = min(p.col0 + p.layers["unw_phase"].shape[1] for p in products)
        ascending = scenes[0].flight_direction.upper().startswith("A")
        stack = TopsStack(isce_dir=isce, truth_dir=truth, dates=[f"{s.start:%Y%m%d}" for s in scenes],
                          pairs=[p.date12 for p in products], length=row1 - row0, width=col1 - col0,
                          rows=slice(row0, row1), cols=slice(col0, col1), flip_rows=ascending,
                          flip_cols=not ascending)

        def radar(product: _Product, layer: str) -> np.ndarray:
            data = product.layers[layer]
            rows = slice(row0 - product.row0, row1 - product.row0)
            cols = slice(col0 - product.col0, col1 - product.col0)
            full = np.zeros((canvas.length, canvas.width), dtype=data.dtype)
            full[stack.rows, stack.cols] = data[rows, cols]
            return stack.to_radar(full)

        for product in products:
            folder = isce / "merged" / "interferograms" / product.date12
            land = radar(product, "water_mask")
            stack.files += [
                write_isce_raster(folder / "filt_fine.unw", [radar(product, "amp"),
                                                             radar(product, "unw_phase")], "unw"),
                write_isce_raster(folder / "filt_fine.cor", [radar(product, "corr")], "cor"),
                write_isce_raster(folder / "filt_fine.unw.conncomp", [land.astype(np.uint8)]),
            ]
        stack.files += _write_geometry(isce / "merged" / "geom_reference", stack, canvas,
                                       products[0], radar, looks)
        stack.files += _write_baselines(isce / "baselines", earth, scenes)
        stack.files += _write_reference(isce / "reference", stack, scenes[0], looks)
        stack.files += _write_truth(truth, stack, truth_tifs)
    return stack


def _write_geometry(geom: Path, stack: TopsStack, canvas: geotiff.GeoGrid, product: _Product,
                    cut: Callable[[_Product, str], np.ndarray], looks: str) -> list[Path]:
    x = canvas.x0 + (np.arange(canvas.width) + 0.5) * canvas.spacing
    y = canvas.y0 - (np.arange(canvas.length) + 0.5) * canvas.spacing
    xx, yy = np.meshgrid(x, y)
    lon, lat = Transformer.from_crs(canvas.epsg, 4326, always_xy=True).transform(xx, yy)
    incidence = 90.0 - np.degrees(cut(product, "lv_theta").astype(np.float64))
    azimuth = np.degrees(cut(product, "lv_phi").astype(np.float64)) - 90.0
    files = [
        write_isce_raster(geom / "hgt.rdr", [cut(product, "dem").astype(np.float64)]),
        write_isce_raster(geom / "lat.rdr", [stack.to_radar(np.asarray(lat, dtype=np.float64))]),
        write_isce_raster(geom / "lon.rdr", [stack.to_radar(np.asarray(lon, dtype=np.float64))]),
        write_isce_raster(geom / "los.rdr", [incidence.astype(np.float32),
                                             azimuth.astype(np.float32)]),
        write_isce_raster(geom / "shadowMask.rdr", [np.zeros((stack.length, stack.width), np.uint8)]),
    ]
    range_looks, azimuth_looks = LOOKS[looks]
    full_width, full_length = stack.width * range_looks, stack.length * azimuth_looks
    for name, bands, isce_type in (("hgt.rdr", 1, "DOUBLE"), ("lat.rdr", 1, "DOUBLE"),
                                   ("lon.rdr", 1, "DOUBLE"), ("los.rdr", 2, "FLOAT"),
                                   ("shadowMask.rdr", 1, "BYTE")):
        full = geom / f"{name}.full"  # the full-resolution (virtual) file's size: the looks
        full.with_name(full.name + ".xml").write_text(
            _isce_xml(full, full_width, full_length, bands, isce_type, ""))
        files.append(full.with_name(full.name + ".xml"))
    return files


def _write_baselines(folder: Path, earth: SimulatedEarth, scenes: list[SceneRecord]) -> list[Path]:
    reference = scenes[0]
    ref_date = f"{reference.start:%Y%m%d}"
    files = []
    for scene in scenes[1:]:
        day = f"{scene.start:%Y%m%d}"
        bperp = earth.baseline(scene) - earth.baseline(reference)
        path = folder / f"{ref_date}_{day}" / f"{ref_date}_{day}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"swath: IW{n}\nBperp (average): {bperp + 0.4 * (n - 2):.6f}\n"
                                f"Bpar (average): {0.3 * bperp:.6f}\n" for n in (1, 2, 3)))
        files.append(path)
    return files


def _reference_xml(scene: SceneRecord, swath: int) -> str:
    """A compact stand-in of topsStack's reference/IW<n>.xml (a TOPS swath product)."""
    def prop(name: str, value: object) -> str:
        return f'        <property name="{name}"><value>{escape(str(value))}</value></property>\n'

    return ("<productmanager_name>\n"
            "    <!-- simulated by insarhub_sandbox.products.isce: not ISCE2 output -->\n"
            '    <component name="instance">\n'
            "        <factorymodule>isceobj.Sensor.TOPS</factorymodule>\n"
            "        <factoryname>createTOPSSwathSLCProduct</factoryname>\n"
            + prop("spacecraftname", scene.platform) + prop("swathnumber", swath)
            + prop("numberofbursts", 9) + prop("sensingstart", scene.start.isoformat())
            + prop("sensingstop", scene.stop.isoformat()) + prop("passdirection", scene.flight_direction)
            + prop("tracknumber", scene.path) + prop("orbitnumber", scene.absolute_orbit)
            + prop("radarwavelength", WAVELENGTH) + prop("rangepixelsize", RANGE_PIXEL_M)
            + "    </component>\n</productmanager_name>\n")


def _write_reference(folder: Path, stack: TopsStack, scene: SceneRecord, looks: str) -> list[Path]:
    """reference/IW*.xml, then reference/data.rsc: the metadata MintPy would extract from them."""
    from mintpy.objects import sensor
    from mintpy.utils import isce_utils, readfile, writefile

    folder.mkdir(parents=True, exist_ok=True)
    xmls = []
    for swath in (1, 2, 3):
        path = folder / f"IW{swath}.xml"
        path.write_text(_reference_xml(scene, swath))
        xmls.append(path)
    start = scene.start.replace(tzinfo=None)
    stop = start + timedelta(seconds=2.758 * 9)
    mid = start + (stop - start) / 2
    heading = -12.4 if scene.flight_direction.upper().startswith("A") else -167.6
    meta: dict[str, object] = {
        "prf": PRF_HZ, "startUTC": start, "stopUTC": stop, "radarWavelength": WAVELENGTH,
        "startingRange": 799_873.0, "passDirection": scene.flight_direction.upper(),
        "polarization": polarization_of(scene), "trackNumber": scene.path,
        "orbitNumber": scene.absolute_orbit, "PLATFORM": "sen",
        "CENTER_LINE_UTC": mid.hour * 3600.0 + mid.minute * 60.0 + mid.second,
        "satelliteSpeed": SATELLITE_SPEED, "azimuthPixelSize": AZIMUTH_PIXEL_M,
        "rangePixelSize": RANGE_PIXEL_M,
        "azimuthResolution": sensor.SENSOR_DICT["sen"]["IW1"]["azimuth_resolution"],
        "rangeResolution": sensor.SENSOR_DICT["sen"]["IW1"]["range_resolution"],
        "HEADING": heading, "earthRadius": 6_370_000.0, "altitude": ALTITUDE_M,
        "beam_mode": "IW", "swathNumber": "123",
        "firstFrameNumber": scene.frame, "lastFrameNumber": scene.frame,
    }
    geom = stack.isce_dir / "merged" / "geom_reference"
    meta = isce_utils.extract_geometry_metadata(str(geom), meta)
    meta["PROCESSOR"] = "isce"
    meta["ANTENNA_SIDE"] = "-1"
    meta = readfile.standardize_metadata({k: str(v) for k, v in meta.items()})
    rsc = folder / "data.rsc"
    writefile.write_roipac_rsc(meta, str(rsc))
    older = rsc.stat().st_mtime - 10  # data.rsc must be newer than the XML it stands for
    for path in xmls:
        os.utime(path, (older, older))
    return [*xmls, rsc]


def _write_truth(folder: Path, stack: TopsStack, tifs: list[Path]) -> list[Path]:
    """The truth of `SimulatedEarth.write_truth`, on the radar grid (ISCE rasters)."""
    files = []
    for tif in tifs:
        ds = gdal.Open(str(tif))  # keep the dataset alive while its band is read
        data = np.asarray(ds.GetRasterBand(1).ReadAsArray(), dtype=np.float32)
        files.append(write_isce_raster(folder / f"{tif.stem}.rdr", [stack.to_radar(data)]))
    return files

