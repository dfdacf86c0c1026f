"""HyP3 products for MintPy: find them, unzip, check they belong together, clip to a common grid.

MintPy's `load_data` needs every interferogram on one grid, but HyP3 products differ a little
in extent. We clip each needed layer to the overlap of all products (and the AOI) into
`<mintpy_dir>/clipped/<product>/<product>_<layer>_clip.tif`, beside a copy of the product's
parameter `.txt` (MintPy's `prep_hyp3` reads it from the same folder). The originals under
`<workdir>/hyp3/` are left untouched. A manifest (`clipped/prep.json`) makes reruns cheap: only
new products are clipped while the common grid stays the same.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import zipfile
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from osgeo import gdal
from shapely.geometry.base import BaseGeometry

from insarhub.analyzer.grid import Grid, ProductSetError, clip_layer, common_grid, raster_grid

gdal.UseExceptions()
log = logging.getLogger(__name__)

# product names, as MintPy's prep_hyp3 recognises them
NAME_PATTERNS = {
    "INSAR_ISCE_BURST": re.compile(r"^S1_\d{6}_IW[123](_\d{8}){2}_(VV|HH)_INT\d{2}_[0-9A-F]{4}$"),
    "INSAR_ISCE_MULTI_BURST": re.compile(
        r"^S1_\d{3}_\d{6}s1n\d{2}-\d{6}s2n\d{2}-\d{6}s3n\d{2}_IW(_\d{8}){2}_(VV|HH)_INT\d{2}_[0-9A-F]{4}$"),
    "INSAR_GAMMA": re.compile(
        r"^S1[ABCD]{2}(_\d{8}T\d{6}){2}_(VV|HH)[PRO]\d{3,4}_INT\d{2}_G_[uw][ec][123F]_[0-9A-F]{4}$"),
}
INTERFEROGRAM_LAYERS = ("unw_phase", "corr")
GEOMETRY_LAYERS = ("dem", "lv_theta")  # MintPy needs the DEM; lv_theta gives the incidence angle
OPTIONAL_GEOMETRY_LAYERS = ("lv_phi", "water_mask")
TXT_KEYS = ("UTC time", "Azimuth looks", "Range looks", "Earth radius at nadir", "Spacecraft height",
            "Slant range near", "Heading", "Unwrapping type", "Baseline")
GAMMA_TXT_KEYS = ("Reference Granule", "Reference Orbit Number")
MANIFEST = "prep.json"


@dataclass
class Hyp3Product:
    """One unzipped HyP3 interferogram product folder."""

    name: str
    job_type: str
    directory: Path
    date1: date
    date2: date
    resolution: int  # the INTxx of the name (m)
    polarization: str
    params: dict[str, str] = field(default_factory=dict)

    def layer(self, layer: str) -> Path:
        return self.directory / f"{self.name}_{layer}.tif"

    @property
    def txt(self) -> Path:
        return self.directory / f"{self.name}.txt"

    @property
    def looks(self) -> str:
        return f"{self.params.get('Range looks', '?')}x{self.params.get('Azimuth looks', '?')}"

    @property
    def stack_id(self) -> str:
        """What identifies the product's stack: orbit direction + relative orbit, or burst ID."""
        if self.job_type == "INSAR_GAMMA":
            return f"{self.params.get('Reference Pass Direction', '?')} relative orbit {relative_orbit(self.params)}"
        return self.name.split("_")[1] + "_" + self.name.split("_")[2]

    @property
    def date12(self) -> str:
        return f"{self.date1:%Y%m%d}_{self.date2:%Y%m%d}"


def relative_orbit(params: dict[str, str]) -> int:
    """Relative orbit from the reference granule and its absolute orbit (MintPy's formula)."""
    sat = params.get("Reference Granule", "S1A")[:3]
    try:
        abs_orbit = int(float(params.get("Reference Orbit Number", "0")))
    except ValueError as exc:
        raise ProductSetError(f"Reference Orbit Number {params.get('Reference Orbit Number')!r} is not a "
                              "number in a product's parameter file") from exc
    offset = {"S1A": 73, "S1B": 202, "S1D": 42}.get(sat)
    if sat == "S1C":
        offset = 172 if abs_orbit <= 8018 else 99
    return (abs_orbit - (offset or 73)) % 175 + 1


def parse_name(name: str) -> tuple[str, date, date, int, str] | None:
    """(job_type, date1, date2, resolution, polarization) of a product name, or None."""
    for job_type, pattern in NAME_PATTERNS.items():
        if pattern.match(name):
            parts = name.split("_")
            if job_type == "INSAR_GAMMA":
                d1, d2 = (datetime.strptime(p, "%Y%m%dT%H%M%S").date() for p in parts[1:3])
                pol = parts[3][:2]
            elif job_type == "INSAR_ISCE_BURST":
                d1, d2 = (datetime.strptime(p, "%Y%m%d").date() for p in parts[3:5])
                pol = parts[5]
            else:
                d1, d2 = (datetime.strptime(p, "%Y%m%d").date() for p in parts[4:6])
                pol = parts[6]
            resolution = int(re.search(r"_INT(\d{2})_", name).group(1))  # type: ignore[union-attr]
            return job_type, d1, d2, resolution, pol
    return None


def read_parameters(txt: Path) -> dict[str, str]:
    """The `key: value` lines of a product's `.txt`, checked the way MintPy will read them."""
    try:
        text = txt.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProductSetError(f"parameter file {txt} is unreadable ({exc})") from exc
    params: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if ":" not in line:
            raise ProductSetError(f"parameter file {txt} line {number} is not 'key: value' ({line!r}); "
                                  "MintPy cannot read it: download the product again")
        key, value = line.split(":", 1)
        params[key.strip()] = value.strip()
    return params


# -- finding products --------------------------------------------------------------------------
def unzip_product(archive: Path) -> Path:
    """Extract `<name>.zip` to `<name>/` beside it (atomically); returns the folder."""
    name = archive.name[: -len(".zip")]
    target = archive.with_name(name)
    staging = archive.with_name(f".{name}.unzipping")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.namelist()
            if not members or any(not m.startswith(f"{name}/") for m in members):
                raise ProductSetError(f"{archive} does not hold a {name}/ folder as HyP3 products do")
            zf.extractall(staging)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ProductSetError(f"{archive} is not a readable zip ({exc}); delete it and download it again") from exc
    (staging / name).replace(target)
    shutil.rmtree(staging, ignore_errors=True)
    log.info("unzipped %s", archive.name)
    return target


def find_products(hyp3_dir: Path) -> list[Hyp3Product]:
    """Every product folder (or zip, unzipped on the way) under `hyp3_dir`, by date pair."""
    if not hyp3_dir.is_dir():
        raise ProductSetError(f"no HyP3 products: {hyp3_dir} does not exist; download the interferograms "
                              "first (Processor.download())")
    for archive in sorted(hyp3_dir.glob("*.zip")):
        name = archive.name[: -len(".zip")]
        if parse_name(name) and not (hyp3_dir / name).is_dir():
            unzip_product(archive)
    products = []
    for folder in sorted(p for p in hyp3_dir.iterdir() if p.is_dir()):
        parsed = parse_name(folder.name)
        if parsed is None:
            if not folder.name.startswith("."):
                log.debug("skipping %s: not a HyP3 product name", folder)
            continue
        job_type, d1, d2, resolution, pol = parsed
        products.append(Hyp3Product(folder.name, job_type, folder, d1, d2, resolution, pol))
    if not products:
        raise ProductSetError(f"no HyP3 products in {hyp3_dir} (expected folders or zips named like "
                              "S1AA_20200102T133501_20200114T133501_VVP012_INT80_G_ueF_ABCD); download "
                              "the interferograms first (Processor.download())")
    return products


def check_products(products: Sequence[Hyp3Product]) -> list[Hyp3Product]:
    """Read each `.txt`, check layers exist and that all products form one stack.

    Returns the products to use: one per date pair (the newest folder wins a duplicate pair).
    """
    for product in products:
        if not product.txt.is_file():
            raise ProductSetError(f"product {product.name} has no parameter file {product.txt.name}; "
                                  "download it again")
        product.params = read_parameters(product.txt)
        required = TXT_KEYS + (GAMMA_TXT_KEYS if product.job_type == "INSAR_GAMMA" else ())
        missing_keys = [k for k in required if k not in product.params]
        if missing_keys:
            raise ProductSetError(f"parameter file {product.txt} lacks {missing_keys}; download it again")
        missing = [layer for layer in INTERFEROGRAM_LAYERS + GEOMETRY_LAYERS if not product.layer(layer).is_file()]
        if missing:
            hint = ""
            if set(missing) & set(GEOMETRY_LAYERS):
                hint = " (HyP3 jobs must be submitted with include_dem=True and include_look_vectors=True)"
            raise ProductSetError(f"product {product.name} lacks the layer(s) {missing}{hint}; "
                                  f"expected {product.name}_<layer>.tif in {product.directory}")
    _check_same("job type", products, lambda p: p.job_type)
    _check_same("stack", products, lambda p: p.stack_id)
    _check_same("resolution (looks)", products, lambda p: f"INT{p.resolution} ({p.looks} looks)")
    _check_same("polarization", products, lambda p: p.polarization)
    by_pair: dict[str, Hyp3Product] = {}
    for product in sorted(products, key=lambda p: p.directory.stat().st_mtime):
        if product.date12 in by_pair:
            log.warning("two products for %s: using %s, ignoring %s", product.date12, product.name,
                        by_pair[product.date12].name)
        by_pair[product.date12] = product
    return sorted(by_pair.values(), key=lambda p: (p.date1, p.date2, p.name))


def _check_same(what: str, products: Sequence[Hyp3Product], key: object) -> None:
    values = [key(p) for p in products]  # type: ignore[operator]
    counts = Counter(values)
    if len(counts) > 1:
        common = counts.most_common(1)[0][0]
        odd = [p.name for p, v in zip(products, values, strict=True) if v != common]
        shown = ", ".join(odd[:5]) + (f" and {len(odd) - 5} more" if len(odd) > 5 else "")
        raise ProductSetError(
            f"products differ in {what}: most are {common!r} but {shown} "
            f"{'is' if len(odd) == 1 else 'are'} {sorted(set(values) - {common})}; a time series needs one "
            f"stack with one {what}: move the others out of {products[0].directory.parent}")


# -- the common grid ----------------------------------------------------------------------------
def product_grids(products: Sequence[Hyp3Product]) -> list[Grid]:
    grids = []
    for product in products:
        grid = raster_grid(product.layer("unw_phase"))
        corr = raster_grid(product.layer("corr"))
        if (corr.width, corr.length, corr.x0, corr.y0) != (grid.width, grid.length, grid.x0, grid.y0):
            raise ProductSetError(f"product {product.name}: corr and unw_phase layers are on different grids")
        grids.append(grid)
    epsgs = Counter(g.epsg for g in grids)
    spacings = Counter((round(g.dx, 6), round(g.dy, 6)) for g in grids)
    for what, counts, attr in (("CRS (EPSG)", epsgs, lambda g: g.epsg),
                               ("pixel spacing", spacings, lambda g: (round(g.dx, 6), round(g.dy, 6)))):
        if len(counts) > 1:
            common = counts.most_common(1)[0][0]
            odd = [p.name for p, g in zip(products, grids, strict=True) if attr(g) != common]
            raise ProductSetError(f"products differ in {what}: most are {common} but {odd[:5]} are not; "
                                  "use products of one stack and one looks setting")
    return grids


@dataclass
class ClippedStack:
    """What `clip_products` made: the common grid and the clipped files MintPy will load."""

    grid: Grid
    products: list[Hyp3Product]
    directory: Path
    unw_files: list[Path]
    cor_files: list[Path]
    geometry_files: dict[str, Path]  # layer -> clipped file (from one product)
    reused: int = 0  # products whose clipped layers were kept from an earlier prep


def clipped_path(directory: Path, product: Hyp3Product, layer: str) -> Path:
    return directory / product.name / f"{product.name}_{layer}_clip.tif"


def clip_products(products: Sequence[Hyp3Product], directory: Path, aoi: BaseGeometry | None = None,
                  workers: int = 4) -> ClippedStack:
    """Clip every product's interferogram layers, and one product's geometry, to the common grid."""
    grids = product_grids(products)
    grid = common_grid(grids, aoi)
    manifest_path = directory / MANIFEST
    manifest = _read_manifest(manifest_path)
    grid = kept_grid(manifest, products, grids, aoi) or grid
    if manifest.get("grid") != _grid_record(grid):
        if directory.exists():
            log.info("common grid changed: clipping every product again")
        shutil.rmtree(directory, ignore_errors=True)
        manifest = {}
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {p.name for p in products}
    for stale in (d for d in directory.iterdir() if d.is_dir() and d.name not in wanted):
        log.info("removing clipped layers of %s (product gone or replaced)", stale.name)
        shutil.rmtree(stale)

    geometry_product = products[0]
    optional = [layer for layer in OPTIONAL_GEOMETRY_LAYERS if geometry_product.layer(layer).is_file()]
    jobs: list[tuple[Path, Path, Grid]] = []
    reused = 0
    for product, source_grid in zip(products, grids, strict=True):
        layers = list(INTERFEROGRAM_LAYERS)
        if product is geometry_product:
            layers += list(GEOMETRY_LAYERS) + optional
        todo = [layer for layer in layers if not _up_to_date(product, layer, directory)]
        reused += not todo
        if todo:
            (directory / product.name).mkdir(exist_ok=True)
            shutil.copy2(product.txt, directory / product.name / product.txt.name)
        jobs += [(product.layer(layer), clipped_path(directory, product, layer), source_grid) for layer in todo]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(lambda job: clip_layer(job[0], job[1], grid, job[2]), jobs))
    manifest = {"grid": _grid_record(grid), "products": sorted(wanted),
                "geometry_product": geometry_product.name}
    manifest_path.write_text(json.dumps(manifest, indent=1))
    log.info("clipped %d layers of %d products to %d x %d pixels (%d products unchanged)", len(jobs),
             len(products), grid.width, grid.length, reused)
    return ClippedStack(
        grid=grid, products=list(products), directory=directory,
        unw_files=[clipped_path(directory, p, "unw_phase") for p in products],
        cor_files=[clipped_path(directory, p, "corr") for p in products],
        geometry_files={layer: clipped_path(directory, geometry_product, layer)
                        for layer in list(GEOMETRY_LAYERS) + optional},
        reused=reused)


def kept_grid(manifest: dict[str, object], products: Sequence[Hyp3Product], grids: Sequence[Grid],
              aoi: BaseGeometry | None, min_cover: float = 0.5) -> Grid | None:
    """The earlier common grid, kept when only new products would shrink it.

    A new product that does not cover all of the earlier grid would shrink the common grid and
    force every interferogram to be clipped and loaded again. Instead its missing pixels are no
    data (zero, as MintPy reads them), as long as it covers `min_cover` of the grid. Not kept
    when the AOI or the earlier products changed the grid themselves.
    """
    record, earlier = manifest.get("grid"), set(manifest.get("products") or [])  # type: ignore[call-overload]
    if not isinstance(record, list) or len(record) != 7 or not earlier:
        return None
    old = Grid(epsg=int(record[0]), x0=float(record[1]), y0=float(record[2]), dx=float(record[3]),
               dy=float(record[4]), width=int(record[5]), length=int(record[6]))
    old_grids = [g for p, g in zip(products, grids, strict=True) if p.name in earlier]
    new_grids = [g for p, g in zip(products, grids, strict=True) if p.name not in earlier]
    if not old_grids or not new_grids or any((g.epsg, g.dx, g.dy) != (old.epsg, old.dx, old.dy) for g in grids):
        return None
    try:
        if _grid_record(common_grid(old_grids, aoi)) != record:
            return None
    except ProductSetError:
        return None
    left, bottom, right, top = old.bounds
    area = (right - left) * (top - bottom)
    for g in new_grids:
        g_left, g_bottom, g_right, g_top = g.bounds
        overlap = max(0.0, min(right, g_right) - max(left, g_left)) * max(0.0, min(top, g_top) - max(bottom, g_bottom))
        if overlap < min_cover * area:
            return None
    if all(g.bounds[0] <= left and g.bounds[1] <= bottom and g.bounds[2] >= right and g.bounds[3] >= top
           for g in new_grids):
        return old
    log.info("keeping the earlier common grid: some new products do not cover all of it (their "
             "missing pixels are no data)")
    return old


def _up_to_date(product: Hyp3Product, layer: str, directory: Path) -> bool:
    target = clipped_path(directory, product, layer)
    return target.is_file() and target.stat().st_mtime >= product.layer(layer).stat().st_mtime


def _grid_record(grid: Grid) -> list[float]:
    return [grid.epsg, grid.x0, grid.y0, grid.dx, grid.dy, grid.width, grid.length]


def _read_manifest(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
