"""Synthetic MintPy-style displacement time series (vectorised), for the bench and the tests.

A subsidence bowl (linear) with a seasonal term, a fresh turbulent atmosphere on every date
(power-law spectrum, k^-8/3, a given std over the AOI), a stratified delay proportional to
height, per-pixel white noise whose level follows coherence, everything relative to the first
date and to a reference pixel as MintPy writes it; optionally a local Gaussian event (a step
from a given date on, or a ramp growing over several dates).

The mountain settings (`Earth`), each off by default (the flat case):
- relief and a seasonal stratified delay (mm per km of height, annual, plus a random part);
- a turbulence strength of its own on every date (log-uniform over a range of factors, scaled
  so that the median date has `atmosphere_mm`);
- unwrapping errors: each interferogram of the network (every date paired with its three
  predecessors, as monitoring appends them) has, at `unwrap_error_rate`, one connected patch
  off by +-1 cycle (lambda/2 in LOS); the time series is then solved date by date from its
  three pairs (each new date the mean of what its pairs say, as the append does), so an error
  enters the series as a third of a cycle, and the pairs of the newest dates are kept;
- winter decorrelation: on winter dates the high ground loses coherence: its pixels are very
  noisy there, some missing (NaN), and `reliable` says which pixel is usable on which date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from scipy import ndimage

WAVELENGTH_M = 0.05546576  # Sentinel-1 C band
CYCLE_M = WAVELENGTH_M / 2  # one 2 pi unwrapping error in LOS (~27.7 mm)
NEIGHBOURS = 3  # each new date joins its three predecessors


@dataclass
class Event:
    row: float
    col: float
    amplitude_mm: float  # signed (negative: subsidence, away from the satellite)
    sigma_m: float
    first_index: int  # the first date index that shows it
    ramp_dates: int = 1  # dates over which it grows to its amplitude (1: a step)

    @property
    def last_ramp_index(self) -> int:
        return self.first_index + self.ramp_dates - 1


@dataclass
class UnwrapError:
    """One interferogram with a patch off by `cycles` (LOS = cycles * CYCLE_M)."""

    reference: int  # date indices of the pair
    secondary: int
    cycles: int
    patch: np.ndarray  # bool (rows, cols)


@dataclass
class Earth:
    """The settings of the synthetic Earth; the defaults are the flat case."""

    relief_m: float | None = None  # height range (~4 std); None: today's 350 m std
    seasonal_mm_per_km: float = 0.0  # annual amplitude of the stratified delay
    turbulence_factors: tuple[float, float] | None = None  # per-date strength range
    unwrap_error_rate: float = 0.0  # per interferogram
    winter: bool = False  # decorrelation over high ground on winter dates
    winter_high_quantile: float = 0.6  # ground above this height quantile loses coherence
    winter_missing: float = 0.3  # of the decorrelated pixels, the share that is missing (NaN)
    winter_noise_mm: float = 25.0  # std of a decorrelated pixel's value


@dataclass
class Stack:
    dates: list[date]
    displacement_m: np.ndarray  # (dates, rows, cols)
    height: np.ndarray
    pixel_m: float
    event: Event | None
    # interferograms (LOS m, d(secondary) - d(reference), referenced) of the kept newest dates
    pairs: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    unwrap_errors: list[UnwrapError] = field(default_factory=list)
    reliable: np.ndarray | None = None  # (dates, rows, cols) bool, with winter decorrelation
    turbulence_mm: np.ndarray | None = None  # each date's turbulence std


def powerlaw_fields(rng: np.random.Generator, count: int, n: int, beta: float) -> np.ndarray:
    """`count` zero-mean, unit-std fields (n x n) with power ~ k^-beta, cut from 1.25x larger
    periodic ones so that they are not periodic."""
    big = int(n * 1.25)
    kx = np.fft.fftfreq(big)
    k = np.hypot(kx[:, None], kx[None, :])
    k[0, 0] = 1.0
    amplitude = k ** (-beta / 2)
    amplitude[0, 0] = 0.0
    out = np.empty((count, n, n), dtype=np.float32)
    for start in range(0, count, 8):  # in chunks: bounded memory for large stacks
        chunk = min(8, count - start)
        noise = (rng.standard_normal((chunk, big, big), dtype=np.float32)
                 + 1j * rng.standard_normal((chunk, big, big), dtype=np.float32))
        fields = np.fft.ifft2(amplitude * noise).real[:, :n, :n]
        fields -= fields.mean(axis=(1, 2), keepdims=True)
        fields /= fields.std(axis=(1, 2), keepdims=True)
        out[start:start + chunk] = fields
    return out


def _turbulence(rng: np.random.Generator, earth: Earth, n_dates: int, atmosphere_mm: float
                ) -> np.ndarray:
    if earth.turbulence_factors is None:
        return np.full(n_dates, atmosphere_mm, dtype=np.float32)
    low, high = earth.turbulence_factors
    factors = np.exp(rng.uniform(np.log(low), np.log(high), n_dates))
    return (atmosphere_mm * factors / np.sqrt(low * high)).astype(np.float32)


def _patch(rng: np.random.Generator, size: int, pixel_m: float, keep_out: tuple[int, int]
           ) -> np.ndarray:
    """A connected, irregular patch 0.5-2.5 km across (an unwrapping component)."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = rng.uniform(0.15, 0.85, 2) * size
    axes = rng.uniform(250.0, 1250.0, 2) / pixel_m
    angle = rng.uniform(0, np.pi)
    dr, dc = rows - centre[0], cols - centre[1]
    u = (dr * np.cos(angle) + dc * np.sin(angle)) / axes[0]
    v = (-dr * np.sin(angle) + dc * np.cos(angle)) / axes[1]
    wiggle = 0.35 * powerlaw_fields(rng, 1, size, 3.0)[0]
    inside = u * u + v * v < 1.0 + wiggle
    labels, count = ndimage.label(inside)
    if count == 0:
        return inside
    sizes = ndimage.sum(inside, labels, index=np.arange(1, count + 1))
    patch = labels == int(np.argmax(sizes)) + 1
    patch[keep_out] = False
    return patch


def _winter(dates: list[date]) -> np.ndarray:
    """Dates in December to March."""
    return np.array([d.month in (12, 1, 2, 3) for d in dates])


def _solve_from_pairs(rng: np.random.Generator, earth: Earth, clean: np.ndarray,
                      white: np.ndarray, ref: tuple[int, int], keep_from: int
                      ) -> tuple[np.ndarray, dict[tuple[int, int], np.ndarray], list[UnwrapError]]:
    """The series solved date by date from each date's pairs (with their noise and errors)."""
    n_dates, size = clean.shape[0], clean.shape[1]
    solved = np.empty_like(clean)
    solved[0] = clean[0]
    pairs: dict[tuple[int, int], np.ndarray] = {}
    errors: list[UnwrapError] = []
    for j in range(1, n_dates):
        estimates = []
        for i in range(max(0, j - NEIGHBOURS), j):
            ifg = clean[j] - clean[i] + 0.7 * white * rng.standard_normal((size, size),
                                                                         dtype=np.float32)
            if rng.random() < earth.unwrap_error_rate:
                cycles = int(rng.choice([-1, 1]))
                patch = _patch(rng, size, 80.0, ref)
                ifg = ifg + np.float32(cycles * CYCLE_M) * patch
                errors.append(UnwrapError(i, j, cycles, patch))
            ifg = ifg - ifg[ref]
            if j >= keep_from:
                pairs[(i, j)] = ifg.astype(np.float32)
            estimates.append(ifg + solved[i])
        solved[j] = np.mean(estimates, axis=0)
    return solved, pairs, errors


def make_stack(rng: np.random.Generator, *, atmosphere_mm: float, n_dates: int = 40,
               size: int = 200, pixel_m: float = 80.0, event_mm: float | None = None,
               event_sigma_m: float = 400.0, event_first: int | None = None,
               stratified_mm_per_km: float = 3.0, margin_m: float = 2000.0,
               earth: Earth | None = None, ramp_dates: int = 1, keep_pairs: int = 3,
               start: date = date(2020, 1, 2)) -> Stack:
    """One random stack; with `event_mm` a local bowl from date `event_first` (default: the
    newest date) on, at a random place at least `margin_m` inside the AOI, growing linearly
    over `ramp_dates` dates. With unwrapping errors the pairs of the newest `keep_pairs` dates
    are kept in `Stack.pairs`."""
    earth = earth or Earth()
    dates = [start + timedelta(days=12 * i) for i in range(n_dates)]
    t = np.array([(d - dates[0]).days / 365.25 for d in dates], dtype=np.float32)
    coords = np.arange(size, dtype=np.float32) * pixel_m
    x, y = np.meshgrid(coords, coords)
    extent = size * pixel_m
    cx, cy = rng.uniform(0.3, 0.7, 2) * extent
    bowl = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (0.15 * extent) ** 2))
    velocity = rng.uniform(-60, -20) / 1000.0 * bowl
    seasonal = rng.uniform(3, 8) / 1000.0 * (0.4 + 0.6 * bowl)
    height_std = 350.0 if earth.relief_m is None else earth.relief_m / 4.0
    height = 1900.0 + height_std * powerlaw_fields(rng, 1, size, 3.6)[0]
    coherence = np.clip(0.75 + 0.12 * powerlaw_fields(rng, 1, size, 2.5)[0], 0.3, 0.98)
    white = (1.0 + 4.0 * (1.0 - coherence)) / 1000.0  # m, per pixel
    strength = _turbulence(rng, earth, n_dates, atmosphere_mm) if earth.turbulence_factors \
        else None
    turbulent = powerlaw_fields(rng, n_dates, size, 8.0 / 3.0)
    turbulent *= (strength[:, None, None] if strength is not None else atmosphere_mm) / 1000.0
    strat = rng.normal(0.0, stratified_mm_per_km / 1e6, n_dates).astype(np.float32)
    if earth.seasonal_mm_per_km:
        phase0 = rng.uniform(0, 2 * np.pi)
        strat += (earth.seasonal_mm_per_km / 1e6 * np.cos(2 * np.pi * t + phase0)).astype(np.float32)
    delay = turbulent + strat[:, None, None] * (height - height.mean())[None]
    phase = 2 * np.pi * t
    series = (velocity[None] * t[:, None, None] + seasonal[None] * np.sin(phase)[:, None, None]
              + delay - delay[:1]
              + white[None] * rng.standard_normal((n_dates, size, size), dtype=np.float32))
    event = None
    if event_mm is not None:
        first = n_dates - 1 if event_first is None else event_first
        er, ec = rng.uniform(margin_m / pixel_m, size - margin_m / pixel_m, 2)
        blob = np.exp(-((y - er * pixel_m) ** 2 + (x - ec * pixel_m) ** 2) / (2 * event_sigma_m ** 2))
        growth = np.clip((np.arange(n_dates) - first + 1) / max(1, ramp_dates), 0.0, 1.0)
        series += (event_mm / 1000.0 * growth[:, None, None] * blob[None]).astype(np.float32)
        event = Event(float(er), float(ec), event_mm, event_sigma_m, first, max(1, ramp_dates))
    ref_flat = np.unravel_index(int(np.argmax(np.where(bowl < 0.2, coherence, 0))), coherence.shape)
    ref = (int(ref_flat[0]), int(ref_flat[1]))
    reliable = None
    if earth.winter:
        series, reliable = _decorrelate(rng, earth, dates, series, height, ref)
    series -= series[0][None]
    series -= series[:, ref[0], ref[1]][:, None, None]
    pairs: dict[tuple[int, int], np.ndarray] = {}
    errors: list[UnwrapError] = []
    if earth.unwrap_error_rate > 0:
        series, pairs, errors = _solve_from_pairs(rng, earth, series, white, ref,
                                                  n_dates - keep_pairs)
    return Stack(dates, series.astype(np.float32), height.astype(np.float32), pixel_m, event,
                 pairs=pairs, unwrap_errors=errors, reliable=reliable, turbulence_mm=strength)


def _decorrelate(rng: np.random.Generator, earth: Earth, dates: list[date], series: np.ndarray,
                 height: np.ndarray, ref: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Winter dates: the high ground (with a ragged snow line) is noise, partly missing."""
    size = height.shape[0]
    reliable = np.ones(series.shape, dtype=bool)
    line = np.quantile(height, earth.winter_high_quantile)
    for index in np.flatnonzero(_winter(dates)):
        if index == 0:
            continue  # the first date is the series' reference
        ragged = height + 60.0 * powerlaw_fields(rng, 1, size, 2.0)[0]
        snow = ragged > line + rng.normal(0.0, 80.0)
        snow[ref] = False  # the reference pixel is chosen coherent
        noise = earth.winter_noise_mm / 1000.0 * rng.standard_normal((size, size), dtype=np.float32)
        series[index][snow] += noise[snow]
        missing = snow & (rng.random((size, size)) < earth.winter_missing)
        series[index][missing] = np.nan
        reliable[index][snow] = False
    return series, reliable


def add_unwrap_error(stack: Stack, reference: int, secondary: int, patch: np.ndarray,
                     cycles: int) -> Stack:
    """A copy of a stack solved from its pairs (`Stack.pairs` holds every pair from
    `secondary` on) with one pair's patch off by `cycles`, the series solved again from there
    as the append does (each date the mean of its pairs' estimates)."""
    pairs = dict(stack.pairs)
    pairs[(reference, secondary)] = pairs[(reference, secondary)] + np.float32(cycles * CYCLE_M) * patch
    series = stack.displacement_m.copy()
    for j in range(secondary, len(stack.dates)):
        series[j] = np.mean([pairs[(i, j)] + series[i] for i in range(max(0, j - NEIGHBOURS), j)],
                            axis=0)
    errors = [*stack.unwrap_errors, UnwrapError(reference, secondary, cycles, patch)]
    return Stack(stack.dates, series, stack.height, stack.pixel_m, stack.event, pairs=pairs,
                 unwrap_errors=errors)
