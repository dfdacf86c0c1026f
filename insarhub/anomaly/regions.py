"""Connected regions of a set of significance maps, and what a user reads of each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

Z_EXTENT = 2.5  # a region spreads over connected pixels this significant, of the same sign
CENTRE_FRACTION = 0.7  # the centre weighs the pixels within this fraction of the peak


@dataclass
class RawRegion:
    """A region in pixel terms, before dates and coordinates are attached."""

    label: int
    map_index: int  # which of the maps (date combination x scale) detects it best
    peak: tuple[int, int]
    centre: tuple[float, float]  # (row, col), sub-pixel
    z: float  # signed z at the peak, in the detecting map
    amplitude: float  # signed amplitude estimate at the peak (the maps' unit)
    half_peak_pixels: int  # pixels where the amplitude is at least half the peak's
    pixels: int


def find_regions(z: np.ndarray, thresholds: np.ndarray, amplitude: np.ndarray,
                 valid: np.ndarray) -> tuple[list[RawRegion], np.ndarray]:
    """Regions where some map of `z` (k, rows, cols) reaches its threshold ((k,), or
    (k, rows, cols) where the watched sites have their own), grown over connected same-sign
    pixels with |z| >= Z_EXTENT; strongest first, and their label image."""
    per_pixel = thresholds if thresholds.ndim == 3 else thresholds[:, None, None]
    ratio = np.abs(z) / per_pixel
    best = np.argmax(ratio, axis=0)
    best_ratio = np.take_along_axis(ratio, best[None], axis=0)[0]
    best_z = np.take_along_axis(z, best[None], axis=0)[0]
    detected = valid & (best_ratio >= 1.0)
    labels = np.zeros(z.shape[1:], dtype=np.int32)
    regions: list[RawRegion] = []
    if not detected.any():
        return regions, labels
    for sign in (1.0, -1.0):
        grow = valid & (sign * best_z >= Z_EXTENT)
        components, _ = ndimage.label(grow)
        for component in np.unique(components[detected & grow]):
            if component == 0:
                continue
            inside = components == component
            peak_flat = int(np.argmax(np.where(inside, best_ratio, -1.0)))
            peak = (peak_flat // z.shape[2], peak_flat % z.shape[2])
            k = int(best[peak])
            regions.append(_describe(z[k], amplitude[k], inside, peak, k, sign))
    regions.sort(key=lambda r: -float(best_ratio[r.peak]))
    for number, region in enumerate(regions, start=1):
        region.label = number
    for region in regions:
        labels[_component_at(labels, z, region, valid)] = region.label
    return regions, labels


def _describe(z: np.ndarray, amplitude: np.ndarray, inside: np.ndarray, peak: tuple[int, int],
              k: int, sign: float) -> RawRegion:
    peak_z = float(z[peak])
    core = inside & (sign * z >= CENTRE_FRACTION * abs(peak_z))
    rows, cols = np.nonzero(core)
    weights = z[rows, cols].astype(np.float64) ** 2
    centre = (float(np.average(rows, weights=weights)), float(np.average(cols, weights=weights)))
    peak_amplitude = float(amplitude[peak])
    half = inside & (sign * amplitude >= 0.5 * abs(peak_amplitude))
    return RawRegion(label=0, map_index=k, peak=peak, centre=centre, z=peak_z,
                     amplitude=peak_amplitude, half_peak_pixels=int(half.sum()),
                     pixels=int(inside.sum()))


def _component_at(labels: np.ndarray, z: np.ndarray, region: RawRegion,
                  valid: np.ndarray) -> np.ndarray:
    """The region's pixels in its own detecting map (for the label image)."""
    sign = 1.0 if region.z > 0 else -1.0
    grow = valid & (sign * z[region.map_index] >= Z_EXTENT) & (labels == 0)
    components, _ = ndimage.label(grow)
    number = components[region.peak]
    return components == number if number else np.zeros_like(grow)
