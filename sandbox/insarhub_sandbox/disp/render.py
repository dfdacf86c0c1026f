"""DISP-S1 layers of one (reference, secondary) pair from the simulated Earth.

The Earth's fields (deformation, atmosphere per date, DEM error, coherence, water) live on the
stack's 80 m canvas; a DISP-S1 frame samples them bilinearly on its 30 m grid, so a DISP-S1
product and a HyP3 interferogram of the same dates see the same deformation and the same
atmosphere. What differs is what DISP-S1's phase linking gives: little phase noise (many
looks), a moving ministack reference date, a solid-Earth-tide signal carried in the
displacement and given in `/corrections/solid_earth_tide`, and quality layers.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from scipy import ndimage

from insarhub_sandbox.disp.frames import SPACING
from insarhub_sandbox.earth.model import WAVELENGTH, _seed
from insarhub_sandbox.products.geotiff import GeoGrid
from insarhub_sandbox.records import SceneRecord

CANVAS_SPACING = 80.0  # the 20x4 canvas the HyP3 products and the truth use
EQUIVALENT_LOOKS = 60.0  # phase linking over statistically homogeneous pixels
WAVELENGTH_CUTOFF = 25_000.0  # m, short_wavelength_displacement's high-pass


@dataclass
class FrameFields:
    """Static fields of one frame on its 30 m grid."""

    grid: GeoGrid
    rows: np.ndarray  # canvas row coordinate of each 30 m pixel (2-D)
    cols: np.ndarray
    water: np.ndarray  # bool
    coherence: np.ndarray
    topo: np.ndarray  # LOS m per m of perpendicular baseline (DEM error)
    dem: np.ndarray
    incidence: np.ndarray  # deg
    heading: float
    ref_pixel: tuple[int, int]


class DispRenderer:
    """Samples one `SimulatedEarth` on DISP-S1 frame grids."""

    def __init__(self, earth: Any) -> None:
        self.earth = earth
        self._fields: dict[str, FrameFields] = {}
        self._lock = threading.RLock()

    def fields(self, scene: SceneRecord) -> FrameFields:
        with self._lock:
            if scene.stack_key not in self._fields:
                self._fields[scene.stack_key] = self._build(scene)
            return self._fields[scene.stack_key]

    def _canvas(self, scene: SceneRecord) -> Any:
        return self.earth._canvas(scene, CANVAS_SPACING)

    def _build(self, scene: SceneRecord) -> FrameFields:
        canvas = self._canvas(scene)
        g = canvas.grid
        n = int(g.width * g.spacing // SPACING)
        grid = GeoGrid(epsg=g.epsg, x0=g.x0, y0=g.y0, spacing=SPACING, width=n, length=n)
        centres = (np.arange(n) + 0.5) * SPACING / g.spacing - 0.5
        rows, cols = np.meshgrid(centres, centres, indexing="ij")
        sample = self._sampler(rows, cols)
        water = sample(canvas.water.astype(np.float32), order=0) > 0.5
        coherence = sample(canvas.coherence0)
        land = (~water) & (coherence >= np.quantile(coherence[~water], 0.95))
        candidates = np.argwhere(land)
        middle = np.array([n / 2, n / 2])
        ref = candidates[np.argmin(((candidates - middle) ** 2).sum(axis=1))]
        return FrameFields(grid=grid, rows=rows, cols=cols, water=water, coherence=coherence,
                           topo=sample(canvas.topo_factor), dem=sample(canvas.dem),
                           incidence=sample(canvas.incidence), heading=float(canvas.heading),
                           ref_pixel=(int(ref[0]), int(ref[1])))

    @staticmethod
    def _sampler(rows: np.ndarray, cols: np.ndarray) -> Any:
        def sample(field: np.ndarray, order: int = 1) -> np.ndarray:
            out = ndimage.map_coordinates(field.astype(np.float32), [rows, cols], order=order,
                                          mode="nearest")
            return np.asarray(out, dtype=np.float32)
        return sample

    def _date_signal(self, scene: SceneRecord, f: FrameFields, day: date) -> np.ndarray:
        """Deformation plus atmosphere of one date (m, LOS towards the satellite)."""
        canvas = self._canvas(scene)
        field = (self.earth._displacement(canvas, day)
                 + self.earth._delay(canvas, scene.stack_key, day))
        return self._sampler(f.rows, f.cols)(field)

    @staticmethod
    def solid_earth_tide(f: FrameFields, day: date) -> np.ndarray:
        """A smooth, date-dependent tide (m): a few mm with a gentle ramp across the frame."""
        phase = 2 * math.pi * (day.toordinal() % 29.53) / 29.53
        ramp = np.linspace(-1.0, 1.0, f.grid.width, dtype=np.float32)[None, :]
        return (0.004 * math.sin(phase) * (1.0 + 0.3 * ramp)
                * np.ones((f.grid.length, 1), np.float32)).astype(np.float32)

    def pair(self, reference: SceneRecord, secondary: SceneRecord) -> dict[str, Any]:
        """Every layer of the product (reference, secondary), referenced to the frame's
        reference pixel; keys are DISP-S1 variable names plus `corrections/...`."""
        f = self.fields(reference)
        d1, d2 = reference.start.date(), secondary.start.date()
        bperp = self.earth.baseline(secondary) - self.earth.baseline(reference)
        signal = self._date_signal(secondary, f, d2) - self._date_signal(reference, f, d1)
        tide = self.solid_earth_tide(f, d2) - self.solid_earth_tide(f, d1)
        rng = np.random.default_rng(_seed(self.earth.seed, "disp", reference.stack_key, d1, d2))
        gamma = np.clip(f.coherence, 0.05, 0.999)
        sigma = WAVELENGTH / (4 * math.pi) * np.sqrt((1 - gamma**2) / (2 * EQUIVALENT_LOOKS * gamma**2))
        noise = sigma * rng.standard_normal(gamma.shape).astype(np.float32) if self.earth.noise else 0.0
        total = (signal + bperp * f.topo + tide + noise).astype(np.float32)
        r, c = f.ref_pixel
        total -= total[r, c]
        tide = (tide - tide[r, c]).astype(np.float32)
        temporal_coherence = np.where(f.water, 0.1, np.clip(0.25 + 0.75 * f.coherence, 0, 1))
        similarity = np.where(f.water, 0.2, np.clip(0.3 + 0.7 * f.coherence, 0, 1))
        good = (~f.water) & (temporal_coherence >= 0.6)
        smooth = ndimage.gaussian_filter(np.where(good, total, np.nanmean(total[good])),
                                         WAVELENGTH_CUTOFF / SPACING / (2 * math.pi), truncate=2.0)
        short = np.where(good, total - smooth, np.nan).astype(np.float32)
        land = (~f.water).astype(np.uint8)
        return {
            "displacement": total,
            "short_wavelength_displacement": short,
            "recommended_mask": good.astype(np.uint8),
            "connected_component_labels": land.astype(np.uint16),
            "temporal_coherence": temporal_coherence.astype(np.float32),
            "estimated_phase_quality": f.coherence.astype(np.float32),
            "persistent_scatterer_mask": np.zeros(land.shape, np.uint8),
            "shp_counts": np.full(land.shape, 50, np.int16),
            "water_mask": land,
            "phase_similarity": similarity.astype(np.float32),
            "timeseries_inversion_residuals": np.where(f.water, np.nan, 0.01 * (1 - gamma)).astype(np.float32),
            "corrections/ionospheric_delay": np.zeros(land.shape, np.float32),
            "corrections/solid_earth_tide": tide,
            "corrections/perpendicular_baseline": np.full(land.shape, bperp, np.float32),
        }

    def truth_signal(self, scene: SceneRecord, day: date) -> np.ndarray:
        """What a perfectly rebased and corrected DISP-S1 series holds at `day` (m), up to a
        constant: deformation + atmosphere + baseline x DEM error (no tide, no noise)."""
        f = self.fields(scene)
        return (self._date_signal(scene, f, day) + self.earth.baseline(scene) * f.topo).astype(np.float32)

    def truth_velocity(self, scene: SceneRecord) -> np.ndarray:
        """Secular LOS velocity (m/yr) on the frame grid, as the HyP3 truth on the canvas."""
        canvas = self._canvas(scene)
        f = self.fields(scene)
        return self._sampler(f.rows, f.cols)(canvas.velocity_vertical * canvas.cos_inc)

    def los_enu(self, scene: SceneRecord) -> np.ndarray:
        """(3, rows, cols) east/north/up unit vector from the ground to the satellite."""
        f = self.fields(scene)
        inc = np.radians(f.incidence)
        look_az = math.radians(f.heading + 90.0)  # right-looking: ground -> satellite points back
        east = -np.sin(inc) * math.sin(look_az)
        north = -np.sin(inc) * math.cos(look_az)
        return np.stack([east, north, np.cos(inc)]).astype(np.float32)
