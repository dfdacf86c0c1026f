"""`SimulatedEarth`: one consistent synthetic Earth per stack, rendered as real HyP3 products.

Every stack (`SceneRecord.stack_key`) gets its own scene on a UTM "canvas" a little larger than
`grid_size` pixels, centred on a site of interest inside the scene footprint (the seed's Utah AOI
by default, else `center=`, else the footprint centre):

- deformation (vertical, projected on the line of sight): a subsidence bowl with a weaker
  uplift lobe (linear in time), a seasonal term, and optionally a step at `step_date`;
- a DEM and a DEM error (seen through the perpendicular baseline, MintPy's own model);
- a turbulent (power-law) plus stratified atmosphere drawn per acquisition date;
- coherence that decays with temporal baseline, phase noise from it, a lake (water);
- optionally unwrapping errors (a patch shifted by 2 pi in some interferograms);
- optionally the mountains: a relief, a seasonal stratified delay, a turbulence strength of
  its own per date, and winter decorrelation of the high ground (low coherence, more noise).

Conventions are MintPy's: LOS displacement is positive towards the satellite and
`unw_phase = -4 pi / wavelength * (d(secondary) - d(reference))` in radians, so MintPy's
velocity has the sign of the truth. The truth (`write_truth`) is the secular LOS velocity (m/yr)
and the full LOS displacement of each date relative to the first one (m), on the canvas grid,
which holds every product's grid (products are windows of it whose extents differ a little).

Everything is deterministic: seeds derive from (seed, stack, date) and (seed, stack, pair), so
the same pair renders identical bytes. `noise=False` switches off the atmosphere, the DEM error,
the phase noise and the unwrapping errors (MintPy's `quick_overview` step crashes on such
perfectly clean data, see `insarhub.analyzer`).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import Transformer
from shapely import wkt as shapely_wkt
from shapely.geometry import Point

from insarhub_sandbox.earth import events as earth_events
from insarhub_sandbox.errors import SandboxError
from insarhub_sandbox.products import format as fmt
from insarhub_sandbox.products import geotiff
from insarhub_sandbox.products.format import PairGeometry, product_name
from insarhub_sandbox.products.geotiff import GeoGrid, Layer
from insarhub_sandbox.products.multiburst import burst_anchor, clip_to_footprint
from insarhub_sandbox.records import SceneRecord

__all__ = ["DEFAULT_SITES", "WAVELENGTH", "SimulatedEarth", "make_scenes", "product_name",
           "sequential_pairs"]

WAVELENGTH = 299792458.0 / 5.405e9  # Sentinel-1 C band (m), as MintPy's sensor.SEN
DEFAULT_SITES: tuple[tuple[float, float], ...] = ((-112.865, 37.87),)  # seed AOI centre (lon, lat)
_EPOCH = date(2014, 10, 1)  # t = 0 of the linear and seasonal terms
_DAYS_PER_YEAR = 365.25
_EARTH_A, _EARTH_B = 6378137.0, 6356752.3142
_INC_SLOPE_DEG_PER_M = 15.5 / 250e3  # incidence change across a 250 km IW swath


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")


def _powerlaw_field(rng: np.random.Generator, n: int, beta: float) -> np.ndarray:
    """A zero-mean, unit-std random field with power spectrum ~ k^-beta (float32)."""
    kx = np.fft.fftfreq(n)
    k = np.hypot(kx[:, None], kx[None, :])
    k[0, 0] = 1.0
    amplitude = k ** (-beta / 2)
    amplitude[0, 0] = 0.0
    spectrum = amplitude * (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)))
    field = np.fft.ifft2(spectrum).real
    field -= field.mean()
    field /= field.std() or 1.0
    return field.astype(np.float32)


def _utm_epsg(lon: float, lat: float) -> int:
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def _earth_radius(lat_deg: float) -> float:
    lat = math.radians(lat_deg)
    a, b = _EARTH_A, _EARTH_B
    num = (a * a * math.cos(lat)) ** 2 + (b * b * math.sin(lat)) ** 2
    den = (a * math.cos(lat)) ** 2 + (b * math.sin(lat)) ** 2
    return math.sqrt(num / den)


def _slant_range(inc_deg: float | np.ndarray, radius: float, height: float) -> np.ndarray:
    inc = np.radians(inc_deg)
    look = np.arcsin(radius * np.sin(inc) / (radius + height))
    central = inc - look
    return np.sqrt(radius**2 + (radius + height) ** 2 - 2 * radius * (radius + height) * np.cos(central))


def _years(day: date) -> float:
    return (day - _EPOCH).days / _DAYS_PER_YEAR


def _winter(day: date) -> bool:
    """December to March: snow on high ground."""
    return day.month in (12, 1, 2, 3)


@dataclass
class _Canvas:
    """The static fields of one stack at one pixel spacing."""

    grid: GeoGrid
    lon: float
    lat: float
    ascending: bool
    inc_center: float  # degrees
    heading: float  # degrees
    velocity_vertical: np.ndarray  # m/yr
    seasonal_vertical: np.ndarray  # m (amplitude)
    step_vertical: np.ndarray  # m
    cos_inc: np.ndarray
    incidence: np.ndarray  # degrees
    dem: np.ndarray  # m
    dem_error: np.ndarray  # m
    topo_factor: np.ndarray  # LOS m per m of perpendicular baseline (DEM error term)
    coherence0: np.ndarray  # coherence at zero temporal baseline
    water: np.ndarray  # bool
    amplitude: np.ndarray
    unwrap_patch: np.ndarray  # bool, where unwrapping errors land
    hyp3_ref_candidates: np.ndarray  # flat indices of coherent land pixels


class SimulatedEarth:
    """A synthetic Earth that renders HyP3 products with a known truth.

    Parameters are amplitudes in natural units; `noise=False` zeroes every noise term.
    """

    def __init__(self, seed: int = 0, grid_size: int = 60, *, noise: bool = True,
                 velocity_mm_yr: float = -40.0, seasonal_mm: float = 6.0,
                 step_date: date | str | None = None, step_mm: float = 20.0,
                 atmosphere_mm: float = 6.0, stratified_mm_per_km: float = 3.0,
                 dem_error_m: float = 8.0, decorrelation_days: float = 90.0,
                 coherence_floor: float = 0.25, equivalent_looks: float = 12.0,
                 unwrap_error_rate: float = 0.0,
                 seasonal_mm_per_km: float = 0.0, turbulence_factors: tuple[float, float] | None = None,
                 relief_m: float | None = None, winter_decorrelation: bool = False,
                 center: tuple[float, float] | None = None,
                 sites: Sequence[tuple[float, float]] = DEFAULT_SITES,
                 cache_dates: int = 128, events: list[Any] | None = None) -> None:
        if grid_size < 16:
            raise SandboxError(f"grid_size {grid_size} is too small; use at least 16 pixels")
        self.seed = seed
        self.grid_size = grid_size
        self.noise = noise
        self.velocity = velocity_mm_yr / 1000.0
        self.seasonal = seasonal_mm / 1000.0
        self.step_date = date.fromisoformat(step_date) if isinstance(step_date, str) else step_date
        self.step = step_mm / 1000.0 if self.step_date else 0.0
        self.atmosphere = atmosphere_mm / 1000.0 if noise else 0.0
        self.stratified = stratified_mm_per_km / 1e6 if noise else 0.0  # m per m of height
        self.dem_error_m = dem_error_m if noise else 0.0
        self.decorrelation_days = decorrelation_days
        self.coherence_floor = coherence_floor
        self.equivalent_looks = equivalent_looks
        self.unwrap_error_rate = unwrap_error_rate if noise else 0.0
        # mountain settings, off by default (the flat case): a seasonal stratified delay (annual,
        # m per m of height), a turbulence strength of its own per date (log-uniform factors,
        # median 1), the DEM's relief (~4 std), coherence lost over high ground in winter
        self.seasonal_stratified = seasonal_mm_per_km / 1e6 if noise else 0.0
        self.turbulence_factors = turbulence_factors
        self.relief_m = relief_m
        self.winter_decorrelation = winter_decorrelation
        self.center = center
        self.sites = tuple(sites)
        self.events = events if events is not None else []  # earth_events.DeformationEvent
        self.margin = max(2, grid_size // 25)
        self._canvases: dict[tuple[str, float], _Canvas] = {}
        self._atmosphere_cache: OrderedDict[tuple[str, float, date], np.ndarray] = OrderedDict()
        self._cache_dates = cache_dates
        self._lock = threading.RLock()

    # -- public API ------------------------------------------------------------------------
    def render_product(self, job_type: str, reference: SceneRecord, secondary: SceneRecord,
                       job_parameters: Mapping[str, object], out_dir: Path,
                       product_name: str) -> Path:
        """Render the pair as a real-format HyP3 product zip in `out_dir`; returns its path."""
        looks = fmt.looks_of(job_type, job_parameters)
        if reference.stack_key != secondary.stack_key:
            raise SandboxError(f"scenes {reference.name} and {secondary.name} are from different "
                               f"stacks ({reference.stack_key} vs {secondary.stack_key})")
        if job_type == fmt.ISCE_BURST:
            fmt.burst_number_and_swath(reference)
        if secondary.start < reference.start:
            reference, secondary = secondary, reference
        layers, grid, geometry = self._render_layers(job_type, reference, secondary, job_parameters, looks)
        if job_type == fmt.ISCE_MULTI_BURST:  # data only where the bursts are
            layers, grid = clip_to_footprint(layers, grid, reference, secondary)
        files: dict[str, bytes] = {}
        for suffix, layer in layers.items():
            files[f"{product_name}{suffix}"] = geotiff.geotiff_bytes(layer.array, grid, nodata=layer.nodata,
                                                                 units=layer.units)
        files[f"{product_name}.txt"] = fmt.parameter_text(
            job_type, reference, secondary, looks, geometry,
            water_mask=bool(job_parameters.get("apply_water_mask"))).encode()
        files[f"{product_name}.README.md.txt"] = fmt.readme_text(
            product_name, job_type, [*layers, ".txt"]).encode()
        return fmt.write_product_zip(Path(out_dir), product_name, files)

    def write_truth(self, stack_key: str, scenes: Sequence[SceneRecord], out_dir: Path,
                    looks: str = "20x4") -> list[Path]:
        """Write the truth on the stack's canvas grid (which holds every product's grid).

        `velocity.tif`: secular LOS velocity (m/yr, positive towards the satellite);
        `displacement_<YYYYMMDD>.tif`: LOS displacement of each date relative to the first (m),
        the full signal (linear, seasonal, step); `dem_error.tif` (m).
        """
        stack_scenes = [s for s in scenes if s.stack_key == stack_key]
        if not stack_scenes:
            raise SandboxError(f"no scene of stack {stack_key!r} given to write_truth")
        if looks not in geotiff.PIXEL_SPACING:
            raise SandboxError(f"looks {looks!r} unknown; allowed: {', '.join(geotiff.PIXEL_SPACING)}")
        canvas = self._canvas(stack_scenes[0], float(geotiff.PIXEL_SPACING[looks]))
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        dates = sorted({s.start.date() for s in stack_scenes})
        first = self._displacement(canvas, dates[0])
        grid = canvas.grid
        velocity = (canvas.velocity_vertical * canvas.cos_inc).astype(np.float32)
        paths = [geotiff.write_geotiff(out_dir / "velocity.tif", velocity, grid, units="m/yr",
                                   description="truth secular LOS velocity, positive towards the satellite")]
        for day in dates:
            disp = (self._displacement(canvas, day) - first).astype(np.float32)
            paths.append(geotiff.write_geotiff(
                out_dir / f"displacement_{day:%Y%m%d}.tif", disp, grid, units="m",
                description=f"truth LOS displacement {day:%Y%m%d} relative to {dates[0]:%Y%m%d}"))
        paths.append(geotiff.write_geotiff(out_dir / "dem_error.tif", canvas.dem_error, grid, units="m",
                                       description="truth DEM error"))
        return paths

    def baseline(self, scene: SceneRecord) -> float:
        """The simulated perpendicular baseline of a scene (m), relative to the stack's orbit tube."""
        rng = np.random.default_rng(_seed(self.seed, "bperp", scene.stack_key, scene.start.date()))
        return float(np.clip(rng.normal(0.0, 60.0), -150.0, 150.0))

    def grid_of(self, scene: SceneRecord, looks: str = "20x4") -> GeoGrid:
        """The canvas grid of the scene's stack (where the truth is written)."""
        return self._canvas(scene, float(geotiff.PIXEL_SPACING[looks])).grid

    # -- canvas ---------------------------------------------------------------------------
    def _anchor(self, scene: SceneRecord) -> tuple[float, float]:
        if self.center is not None:
            return self.center
        try:
            footprint = shapely_wkt.loads(scene.footprint_wkt)
        except Exception as exc:  # shapely raises several types for bad WKT
            raise SandboxError(f"scene {scene.name} has an unreadable footprint: {exc}") from exc
        for lon, lat in self.sites:
            if footprint.buffer(-0.02).contains(Point(lon, lat)):
                return lon, lat
        near = burst_anchor(scene, footprint, self.sites)  # bursts beside a site: their nearest part
        if near is not None:
            return near
        centroid = footprint.centroid
        return round(centroid.x, 1), round(centroid.y, 1)

    def _canvas(self, scene: SceneRecord, spacing: float) -> _Canvas:
        key = (scene.stack_key, spacing)
        with self._lock:
            canvas = self._canvases.get(key)
            if canvas is None:
                canvas = self._build_canvas(scene, spacing)
                self._canvases[key] = canvas
            return canvas

    def _build_canvas(self, scene: SceneRecord, spacing: float) -> _Canvas:
        lon, lat = self._anchor(scene)
        epsg = _utm_epsg(lon, lat)
        to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
        xc, yc = to_utm.transform(lon, lat)
        n = self.grid_size + 2 * self.margin
        x0 = math.floor(xc / spacing - n / 2) * spacing
        y0 = math.ceil(yc / spacing + n / 2) * spacing
        grid = GeoGrid(epsg=epsg, x0=x0, y0=y0, spacing=spacing, width=n, length=n)

        rng = np.random.default_rng(_seed(self.seed, "canvas", scene.stack_key, spacing))
        extent = self.grid_size * 80.0  # physical scale of the features (m), looks-independent
        coords = (np.arange(n, dtype=np.float32) - (n - 1) / 2) * spacing
        x, y = np.meshgrid(coords, -coords)

        def blob(cx: float, cy: float, sigma: float) -> np.ndarray:
            return np.exp(-((x - cx * extent) ** 2 + (y - cy * extent) ** 2) / (2 * (sigma * extent) ** 2))

        bowl = blob(0.08, -0.05, 0.14)
        velocity_vertical = self.velocity * (bowl - 0.3 * blob(-0.3, 0.28, 0.09))
        seasonal_vertical = abs(self.seasonal) * (0.4 + 0.6 * bowl)
        fault = np.tanh((0.8 * x + 0.6 * y - 0.1 * extent) / (0.03 * extent))
        step_vertical = self.step * 0.5 * (1 + fault) * (0.5 + 0.5 * bowl)

        ascending = scene.flight_direction.upper().startswith("A")
        inc_center = self._incidence_at(scene, lon)
        side = 1.0 if ascending else -1.0
        incidence = inc_center + side * _INC_SLOPE_DEG_PER_M * x
        cos_inc = np.cos(np.radians(incidence)).astype(np.float32)
        heading = -12.4 if ascending else -167.6

        dem_std = 350.0 if self.relief_m is None else self.relief_m / 4.0
        dem = (1900.0 + dem_std * _powerlaw_field(rng, n, 3.6) + 0.004 * x).astype(np.float32)
        dem_error = (self.dem_error_m * rng.standard_normal((n, n))).astype(np.float32)
        radius = _earth_radius(lat)
        slant = _slant_range(incidence, radius, 693000.0)
        topo_factor = (dem_error / (slant * np.sin(np.radians(incidence)))).astype(np.float32)

        water = ((x + 0.3 * extent) / (0.11 * extent)) ** 2 + ((y + 0.3 * extent) / (0.07 * extent)) ** 2 < 1
        texture = _powerlaw_field(rng, n, 2.5)
        coherence0 = np.clip(0.82 + 0.1 * texture, 0.45, 0.97).astype(np.float32)
        coherence0[water] = 0.06
        amplitude = (np.exp(0.5 * texture - 2.0) * (0.6 + 0.4 * rng.random((n, n)))).astype(np.float32)
        amplitude[water] *= 0.1
        unwrap_patch = (x > 0.3 * extent) & (y > 0.25 * extent)
        land_coherent = (~water) & (coherence0 >= np.quantile(coherence0[~water], 0.9))
        return _Canvas(grid=grid, lon=lon, lat=lat, ascending=ascending, inc_center=inc_center,
                       heading=heading, velocity_vertical=velocity_vertical.astype(np.float32),
                       seasonal_vertical=seasonal_vertical.astype(np.float32),
                       step_vertical=step_vertical.astype(np.float32), cos_inc=cos_inc,
                       incidence=incidence.astype(np.float32), dem=dem, dem_error=dem_error,
                       topo_factor=topo_factor, coherence0=coherence0, water=water,
                       amplitude=amplitude, unwrap_patch=unwrap_patch,
                       hyp3_ref_candidates=np.flatnonzero(land_coherent))

    @staticmethod
    def _incidence_at(scene: SceneRecord, lon: float) -> float:
        """Incidence (deg) at `lon` inside the footprint: near range west when ascending."""
        try:
            minx, _, maxx, _ = shapely_wkt.loads(scene.footprint_wkt).bounds
        except Exception:
            return 38.0
        near, far = 30.5, 46.0
        if scene.burst_id:  # one sub-swath
            swath = scene.burst_id[-1]
            near, far = {"1": (30.5, 36.5), "2": (36.0, 41.5), "3": (41.0, 46.0)}.get(swath, (30.5, 46.0))
        frac = 0.5 if maxx <= minx else min(max((lon - minx) / (maxx - minx), 0.0), 1.0)
        if not scene.flight_direction.upper().startswith("A"):
            frac = 1.0 - frac
        return round(near + (far - near) * frac, 1)

    # -- per-date fields ----------------------------------------------------------------------
    def _displacement(self, canvas: _Canvas, day: date) -> np.ndarray:
        """LOS displacement (m, towards the satellite) at `day`, relative to the epoch."""
        t = _years(day)
        vertical = canvas.velocity_vertical * t + canvas.seasonal_vertical * math.sin(2 * math.pi * t)
        if self.step_date and day >= self.step_date:
            vertical = vertical + canvas.step_vertical
        injected = earth_events.vertical_displacement(self.events, canvas.grid, day)
        if injected is not None:
            vertical = vertical + injected
        return vertical * canvas.cos_inc

    def _delay(self, canvas: _Canvas, stack_key: str, day: date) -> np.ndarray:
        """Atmospheric LOS delay of one date (m), cached."""
        if not self.atmosphere and not self.stratified and not self.seasonal_stratified:
            return np.zeros_like(canvas.dem)
        key = (stack_key, canvas.grid.spacing, day)
        with self._lock:
            cached = self._atmosphere_cache.get(key)
            if cached is not None:
                self._atmosphere_cache.move_to_end(key)
                return cached
        rng = np.random.default_rng(_seed(self.seed, "atmosphere", stack_key, day))
        n = canvas.grid.width
        turbulent = self.atmosphere * _powerlaw_field(rng, n, 8.0 / 3.0)
        coefficient = self.stratified * rng.normal(0.0, 1.0)
        if self.turbulence_factors is not None:
            low, high = self.turbulence_factors
            turbulent *= np.float32(math.exp(rng.uniform(math.log(low), math.log(high)))
                                    / math.sqrt(low * high))
        if self.seasonal_stratified:
            coefficient += self.seasonal_stratified * math.cos(2 * math.pi * _years(day))
        stratified = coefficient * (canvas.dem - canvas.dem.mean())
        delay = (turbulent + stratified).astype(np.float32)
        with self._lock:
            self._atmosphere_cache[key] = delay
            while len(self._atmosphere_cache) > self._cache_dates:
                self._atmosphere_cache.popitem(last=False)
        return delay

    # -- one product --------------------------------------------------------------------------
    def _window(self, canvas: _Canvas, reference: SceneRecord, secondary: SceneRecord,
                looks: str) -> tuple[slice, slice, GeoGrid]:
        rng = np.random.default_rng(_seed(self.seed, "window", reference.name, secondary.name, looks))
        m = self.margin
        col0, row0 = (int(v) for v in rng.integers(0, m + 1, size=2))
        width = self.grid_size + int(rng.integers(0, 2 * m - col0 + 1))
        length = self.grid_size + int(rng.integers(0, 2 * m - row0 + 1))
        g = canvas.grid
        grid = GeoGrid(epsg=g.epsg, x0=g.x0 + col0 * g.spacing, y0=g.y0 - row0 * g.spacing,
                       spacing=g.spacing, width=width, length=length)
        return slice(row0, row0 + length), slice(col0, col0 + width), grid

    def _render_layers(self, job_type: str, reference: SceneRecord, secondary: SceneRecord,
                       params: Mapping[str, object], looks: str
                       ) -> tuple[dict[str, Layer], GeoGrid, PairGeometry]:
        canvas = self._canvas(reference, float(geotiff.PIXEL_SPACING[looks]))
        rows, cols, grid = self._window(canvas, reference, secondary, looks)
        key = reference.stack_key
        d1, d2 = reference.start.date(), secondary.start.date()
        bperp = self.baseline(secondary) - self.baseline(reference)
        los = (self._displacement(canvas, d2) - self._displacement(canvas, d1))[rows, cols]
        delay = (self._delay(canvas, key, d2) - self._delay(canvas, key, d1))[rows, cols]
        to_phase = np.float32(-4.0 * math.pi / WAVELENGTH)
        phase = to_phase * (los + delay + bperp * canvas.topo_factor[rows, cols])

        days = abs((d2 - d1).days)
        decay = math.exp(-days / self.decorrelation_days)
        water = canvas.water[rows, cols]
        coh0 = canvas.coherence0[rows, cols]
        floor = np.float32(self.coherence_floor)
        coherence = np.where(water, coh0, floor + (coh0 - floor) * np.float32(decay)).astype(np.float32)
        if self.winter_decorrelation and (_winter(d1) or _winter(d2)):
            high = canvas.dem[rows, cols] > np.quantile(canvas.dem, 0.6)  # snow on high ground
            coherence = np.where(high & ~water, np.float32(0.12), coherence).astype(np.float32)
        rng = np.random.default_rng(_seed(self.seed, "pair", key, d1, d2, looks))
        if self.noise:
            gamma = np.clip(coherence, 0.05, 0.999)
            sigma = np.sqrt((1 - gamma**2) / (2 * self.equivalent_looks * gamma**2))
            phase = phase + sigma * rng.standard_normal(phase.shape, dtype=np.float32)
            corr = np.clip(coherence + 0.03 * rng.standard_normal(phase.shape, dtype=np.float32), 0.01, 1.0)
        else:
            corr = coherence
        if self.unwrap_error_rate and rng.random() < self.unwrap_error_rate:
            phase = phase + np.float32(2 * math.pi * rng.choice([-1, 1])) * canvas.unwrap_patch[rows, cols]

        # HyP3 references every interferogram to one coherent land pixel of its own
        sub_candidates = self._window_candidates(canvas, rows, cols)
        ref_flat = int(sub_candidates[rng.integers(len(sub_candidates))])
        ref_row, ref_col = divmod(ref_flat, grid.width)
        ref_phase = float(phase[ref_row, ref_col])
        phase = (phase - np.float32(ref_phase)).astype(np.float32)
        phase[ref_row, ref_col] = 0.0
        if params.get("apply_water_mask"):
            phase[water] = 0.0

        land = (~water).astype(np.uint8)
        incidence = canvas.incidence[rows, cols]
        lv_theta = np.radians(90.0 - incidence).astype(np.float32)
        azimuth = (-(canvas.heading - 90.0) + 180.0) % 360.0 - 180.0  # MintPy az. angle (deg)
        lv_phi_deg = (azimuth + 90.0 + 180.0) % 360.0 - 180.0
        lv_phi = np.full(phase.shape, math.radians(lv_phi_deg), dtype=np.float32)
        los_disp = (phase / -to_phase).astype(np.float32)
        cos_inc = canvas.cos_inc[rows, cols]

        def include(name: str, default: bool) -> bool:
            return bool(params.get(name, default))

        rad = "radians"
        wrapped = np.angle(np.exp(1j * phase)).astype(np.float32)
        layers: dict[str, Layer] = {
            "_unw_phase.tif": Layer(phase, nodata=0.0, units=rad),
            "_corr.tif": Layer(corr.astype(np.float32), nodata=0.0),
        }
        if job_type == fmt.GAMMA:
            layers["_amp.tif"] = Layer(canvas.amplitude[rows, cols], nodata=0.0)
            if include("include_dem", True):
                layers["_dem.tif"] = Layer(canvas.dem[rows, cols], units="m")
            if include("include_look_vectors", True):
                layers["_lv_theta.tif"] = Layer(lv_theta, units=rad)
                layers["_lv_phi.tif"] = Layer(lv_phi, units=rad)
            if include("include_inc_map", False):
                inc = np.radians(incidence).astype(np.float32)
                layers["_inc_map.tif"] = Layer(inc, units=rad)
                layers["_inc_map_ell.tif"] = Layer(inc, units=rad)
            if include("include_displacement_maps", False) or include("include_los_displacement", False):
                layers["_los_disp.tif"] = Layer(los_disp, units="m")
            if include("include_displacement_maps", False):
                layers["_vert_disp.tif"] = Layer((los_disp / cos_inc).astype(np.float32), units="m")
            if include("include_wrapped_phase", False):
                layers["_wrapped_phase.tif"] = Layer(wrapped, units=rad)
        else:
            layers["_conncomp.tif"] = Layer(land, nodata=0)
            layers["_wrapped_phase.tif"] = Layer(wrapped, units=rad)
            layers["_dem.tif"] = Layer(canvas.dem[rows, cols], units="m")
            layers["_lv_theta.tif"] = Layer(lv_theta, units=rad)
            layers["_lv_phi.tif"] = Layer(lv_phi, units=rad)
            layers["_los_disp.tif"] = Layer(los_disp, units="m")
        layers["_water_mask.tif"] = Layer(land)

        geometry = self._pair_geometry(canvas, grid, reference, bperp, rng, ref_phase, ref_row, ref_col,
                                       incidence)
        return layers, grid, geometry

    def _window_candidates(self, canvas: _Canvas, rows: slice, cols: slice) -> np.ndarray:
        n = canvas.grid.width
        r, c = np.divmod(canvas.hyp3_ref_candidates, n)
        inside = (r >= rows.start) & (r < rows.stop) & (c >= cols.start) & (c < cols.stop)
        width = cols.stop - cols.start
        flat = (r[inside] - rows.start) * width + (c[inside] - cols.start)
        return flat if flat.size else np.array([0])

    def _pair_geometry(self, canvas: _Canvas, grid: GeoGrid, reference: SceneRecord, bperp: float,
                       rng: np.random.Generator, ref_phase: float, ref_row: int, ref_col: int,
                       incidence: np.ndarray) -> PairGeometry:
        radius = _earth_radius(canvas.lat)
        height = 693000.0 + float(rng.normal(0, 800))
        near, center, far = (float(v) for v in _slant_range(
            np.array([incidence.min(), canvas.inc_center, incidence.max()]), radius, height))
        ref_x = grid.x0 + (ref_col + 0.5) * grid.spacing
        ref_y = grid.y0 - (ref_row + 0.5) * grid.spacing
        lon, lat = Transformer.from_crs(grid.epsg, 4326, always_xy=True).transform(ref_x, ref_y)
        start: datetime = reference.start
        utc = start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6
        return PairGeometry(
            baseline=bperp, heading=canvas.heading + float(rng.normal(0, 0.02)), height=height,
            earth_radius=radius, range_near=near, range_center=center, range_far=far,
            utc_seconds=utc, ref_phase=ref_phase, ref_line=int(ref_row * 4 + 11),
            ref_pixel=int(ref_col * 20 + 37), ref_x=ref_x, ref_y=ref_y, ref_lat=lat, ref_lon=lon,
            width=grid.width, length=grid.length)


# -- small helpers for tests, benchmarks and notebooks ----------------------------------------
UTAH_FOOTPRINT = "POLYGON((-114.2 37.2, -111.3 37.6, -111.0 39.1, -113.9 38.7, -114.2 37.2))"


def make_scenes(count: int, start: datetime = datetime(2020, 1, 2, 13, 35, 1, tzinfo=UTC),
                repeat_days: int = 12, *, path: int = 100, frame: int = 466,
                flight_direction: str = "DESCENDING", footprint_wkt: str = UTAH_FOOTPRINT,
                burst_id: str | None = None) -> list[SceneRecord]:
    """A regular stack of `count` SceneRecords with real-format granule names.

    SLC scenes (S1A/S1B alternating) by default; bursts of `burst_id` ("100_372326_IW3") if given.
    The stack key is `p<path>_f<frame>` for SLCs, the burst ID for bursts.
    """
    scenes = []
    for index in range(count):
        begin = start + timedelta(days=repeat_days * index)
        platform = "S1A" if index % 2 == 0 else "S1B"
        tag = hashlib.sha1(f"{path}{frame}{burst_id}{begin}".encode()).hexdigest()[:4].upper()
        if burst_id:
            number, swath = burst_id.split("_")[1:]
            name = f"S1_{int(number):06d}_{swath}_{begin:%Y%m%dT%H%M%S}_VV_{tag}-BURST"
            stop, level, key, pol = begin + timedelta(seconds=3), "BURST", burst_id, "VV"
        else:
            stop = begin + timedelta(seconds=27)
            orbit = fmt.absolute_orbit(SceneRecord(
                name="", start=begin, stop=stop, platform=platform, path=path, frame=frame,
                flight_direction=flight_direction, polarization="VV+VH", beam_mode="IW",
                processing_level="SLC", footprint_wkt=footprint_wkt, stack_key="")) + 175 * (index // 2)
            name = (f"{platform}_IW_SLC__1SDV_{begin:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}"
                    f"_{orbit:06d}_{(orbit * 7) % 0xFFFFFF:06X}_{tag}")
            level, key, pol = "SLC", f"p{path}_f{frame}", "VV+VH"
        absolute = 0 if burst_id else orbit
        scenes.append(SceneRecord(
            name=name, start=begin, stop=stop, platform=platform, path=path, frame=frame,
            flight_direction=flight_direction, polarization=pol, beam_mode="IW",
            processing_level=level, footprint_wkt=footprint_wkt, stack_key=key, burst_id=burst_id,
            absolute_orbit=absolute))
    return scenes


def sequential_pairs(scenes: Sequence[SceneRecord], neighbours: int = 3
                     ) -> list[tuple[SceneRecord, SceneRecord]]:
    """Each scene paired with its next `neighbours` scenes in time (a simple SBAS network)."""
    ordered = sorted(scenes, key=lambda s: s.start)
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:i + 1 + neighbours]]
