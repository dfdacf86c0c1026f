"""The spatial side of the anomaly detector: what is atmosphere and what is a local signal.

Atmosphere (turbulent and stratified) is new on every date and smooth over kilometres; its
power spectrum falls steeply with wavenumber. The detector therefore
1. removes from every residual map a plane (and a term linear in height, the stratified delay,
   when a height map is given), fitted over reliable pixels;
2. estimates the noise power spectrum from the past residual maps themselves (radially averaged
   periodogram): atmosphere, DEM error, phase noise, whatever this AOI has;
3. applies a matched filter per event scale: a Gaussian bowl of width `s` whitened by that
   spectrum, `H = T / P` (the optimal linear detector of a known shape in stationary noise),
   whose output divided by its response to a unit bowl is the bowl's amplitude estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

_RADIAL_BINS = 48
_SPECTRUM_FLOOR = 1e-6  # fraction of the peak power: keeps the whitening bounded


def remove_plane(maps: np.ndarray, valid: np.ndarray, height: np.ndarray | None = None
                 ) -> np.ndarray:
    """`maps` (n, rows, cols) minus a per-map least-squares plane (and height term) over `valid`
    pixels; invalid pixels become 0."""
    n, rows, cols = maps.shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    columns = [np.ones(int(valid.sum()), np.float32), xx[valid] / cols, yy[valid] / rows]
    if height is not None:
        h = np.asarray(height, dtype=np.float32)[valid]
        if np.isfinite(h).all() and h.std() > 0:
            columns.append((h - h.mean()) / h.std())
    design = np.stack(columns, axis=1)
    values = maps[:, valid].T  # (pixels, n)
    coeffs = np.linalg.solve(design.T @ design, design.T @ values)
    out = np.zeros_like(maps, dtype=np.float32)
    out[:, valid] = (values - design @ coeffs).T
    return out


@dataclass
class MatchedFilters:
    """Whitened Gaussian matched filters at several scales on one padded grid."""

    shape: tuple[int, int]  # the maps' shape
    padded: tuple[int, int]
    filters: list[np.ndarray]  # rfft-domain transfer functions, one per scale
    responses: list[float]  # each filter's output for a unit-amplitude bowl at its centre

    def spectra(self, maps: np.ndarray) -> np.ndarray:
        """The 2-D real FFT of each map, zero-padded to the filters' grid (complex64)."""
        rows, cols = self.shape
        pad = ((0, 0), (0, self.padded[0] - rows), (0, self.padded[1] - cols))
        mirrored = np.pad(maps.astype(np.float32), pad, mode="symmetric")
        return sfft.rfft2(mirrored, axes=(-2, -1), workers=-1).astype(np.complex64)

    def apply(self, spectra: np.ndarray, scale: int) -> np.ndarray:
        """Amplitude estimates (same unit as the maps) of a bowl at scale `scale` centred on
        every pixel: the filtered maps divided by the filter's unit response."""
        out = sfft.irfft2(spectra * self.filters[scale], s=self.padded, axes=(-2, -1), workers=-1)
        rows, cols = self.shape
        return (out[..., :rows, :cols] / self.responses[scale]).astype(np.float32)


def _padded_shape(shape: tuple[int, int], margin: int) -> tuple[int, int]:
    return (sfft.next_fast_len(shape[0] + margin, real=True),
            sfft.next_fast_len(shape[1] + margin, real=True))


def _radial_k(padded: tuple[int, int]) -> np.ndarray:
    ky = np.fft.fftfreq(padded[0])[:, None]
    kx = np.fft.rfftfreq(padded[1])[None, :]
    return np.hypot(ky, kx)


def _radial_power(power: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The power averaged over rings of |k| (log-spaced), interpolated back onto `k`."""
    positive = k > 0
    edges = np.geomspace(k[positive].min() * 0.999, k.max() * 1.001, _RADIAL_BINS + 1)
    index = np.clip(np.digitize(k, edges) - 1, 0, _RADIAL_BINS - 1)
    sums = np.bincount(index[positive], weights=power[positive], minlength=_RADIAL_BINS)
    counts = np.bincount(index[positive], minlength=_RADIAL_BINS)
    centres = np.sqrt(edges[:-1] * edges[1:])
    filled = counts > 0
    profile = np.interp(np.log(k[positive]), np.log(centres[filled]), sums[filled] / counts[filled])
    smooth = np.empty_like(power)
    smooth[positive] = profile
    smooth[~positive] = profile.max()
    return smooth


def build_filters(past_spectra: np.ndarray, shape: tuple[int, int], padded: tuple[int, int],
                  scales_px: list[float]) -> MatchedFilters:
    """Matched filters whitened by the mean radial power of `past_spectra` (rfft2 of past maps)."""
    power = np.mean(np.abs(past_spectra) ** 2, axis=0).astype(np.float64)
    k = _radial_k(padded)
    noise = _radial_power(power, k)
    noise = np.maximum(noise, noise.max() * _SPECTRUM_FLOOR)
    filters, responses = [], []
    rows = np.minimum(np.arange(padded[0]), padded[0] - np.arange(padded[0]))[:, None]
    cols = np.minimum(np.arange(padded[1]), padded[1] - np.arange(padded[1]))[None, :]
    for scale in scales_px:
        bowl = np.exp(-(rows.astype(float) ** 2 + cols.astype(float) ** 2) / (2 * scale ** 2))
        template = sfft.rfft2(bowl).real  # symmetric: a real spectrum
        transfer = template / noise
        transfer[0, 0] = 0.0  # a uniform offset (reference point, mean delay) is never a signal
        response = float(sfft.irfft2(template * transfer, s=padded)[0, 0])
        filters.append(transfer.astype(np.float32))
        responses.append(response)
    return MatchedFilters(shape=shape, padded=padded, filters=filters, responses=responses)


def make_filters(past_maps: np.ndarray, scales_px: list[float]
                 ) -> tuple[MatchedFilters, np.ndarray]:
    """Filters fitted to `past_maps` (n, rows, cols, planes removed) and their spectra."""
    shape = (int(past_maps.shape[1]), int(past_maps.shape[2]))
    padded = _padded_shape(shape, int(math.ceil(4 * max(scales_px))))
    probe = MatchedFilters(shape, padded, [], [])
    spectra = probe.spectra(past_maps)
    return build_filters(spectra, shape, padded, scales_px), spectra


def remove_plane_per_date(maps: np.ndarray, good: np.ndarray, height: np.ndarray | None = None
                          ) -> np.ndarray:
    """`remove_plane` for maps whose reliable pixels differ by date (`good`, same shape):
    each map's plane (and height term) fitted over its own good pixels, the others set to 0."""
    out = np.zeros_like(maps, dtype=np.float32)
    for index in range(maps.shape[0]):
        mask = good[index]
        if mask.sum() < 8:
            continue
        out[index] = remove_plane(np.nan_to_num(maps[index:index + 1]), mask, height)[0]
    return out
