"""Synthetic MintPy-style displacement time series (vectorised), for the bench and the tests.

A subsidence bowl (linear) with a seasonal term, a fresh turbulent atmosphere on every date
(power-law spectrum, k^-8/3, a given std over the AOI), a stratified delay proportional to
height, per-pixel white noise whose level follows coherence, everything relative to the first
date and to a reference pixel as MintPy writes it; optionally a local Gaussian event (a step
from a given date on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np


@dataclass
class Event:
    row: float
    col: float
    amplitude_mm: float  # signed (negative: subsidence, away from the satellite)
    sigma_m: float
    first_index: int  # the first date index that shows it


@dataclass
class Stack:
    dates: list[date]
    displacement_m: np.ndarray  # (dates, rows, cols)
    height: np.ndarray
    pixel_m: float
    event: Event | None


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


def make_stack(rng: np.random.Generator, *, atmosphere_mm: float, n_dates: int = 40,
               size: int = 200, pixel_m: float = 80.0, event_mm: float | None = None,
               event_sigma_m: float = 400.0, event_first: int | None = None,
               stratified_mm_per_km: float = 3.0, margin_m: float = 2000.0) -> Stack:
    """One random stack; with `event_mm` a local bowl from date `event_first` (default: the
    newest date) on, at a random place at least `margin_m` inside the AOI."""
    dates = [date(2020, 1, 2) + timedelta(days=12 * i) for i in range(n_dates)]
    t = np.array([(d - dates[0]).days / 365.25 for d in dates], dtype=np.float32)
    coords = np.arange(size, dtype=np.float32) * pixel_m
    x, y = np.meshgrid(coords, coords)
    extent = size * pixel_m
    cx, cy = rng.uniform(0.3, 0.7, 2) * extent
    bowl = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (0.15 * extent) ** 2))
    velocity = rng.uniform(-60, -20) / 1000.0 * bowl
    seasonal = rng.uniform(3, 8) / 1000.0 * (0.4 + 0.6 * bowl)
    height = 1900.0 + 350.0 * powerlaw_fields(rng, 1, size, 3.6)[0]
    coherence = np.clip(0.75 + 0.12 * powerlaw_fields(rng, 1, size, 2.5)[0], 0.3, 0.98)
    white = (1.0 + 4.0 * (1.0 - coherence)) / 1000.0  # m, per pixel
    turbulent = atmosphere_mm / 1000.0 * powerlaw_fields(rng, n_dates, size, 8.0 / 3.0)
    strat = rng.normal(0.0, stratified_mm_per_km / 1e6, n_dates).astype(np.float32)
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
        series[first:] += event_mm / 1000.0 * blob[None]
        event = Event(float(er), float(ec), event_mm, event_sigma_m, first)
    series -= series[0][None]
    ref = np.unravel_index(int(np.argmax(np.where(bowl < 0.2, coherence, 0))), coherence.shape)
    series -= series[:, ref[0], ref[1]][:, None, None]
    return Stack(dates, series.astype(np.float32), height.astype(np.float32), pixel_m, event)
