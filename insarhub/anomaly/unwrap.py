"""Unwrapping errors in the newest dates' interferograms, found by the network's closure.

Each new date joins the network with a few predecessors (three in monitoring). Every pair
(i, j) gives its own estimate of the new date's displacement, `ifg(i, j) + series[i]`. The
atmosphere and the deformation of date j are common to all of them, so they agree up to phase
noise, except where one interferogram was unwrapped wrongly: there it is off by an integer
number of cycles (lambda / 2 in LOS each) over a connected patch (an unwrapping component).
This is the closure phase of the triplets (i, k, j) that the new pairs make, read per pixel
against the pairs' consensus (their median: one wrong pair out of three cannot move it).

A patch is an unwrapping error when it is connected, at least `MIN_PIXELS` large, and its
departure is a whole cycle within `TOLERANCE`. Real deformation of date j is in all its pairs
alike and never shows here. The series is corrected as the append solved it (each new date the
mean of its pairs' estimates), so a corrected pair changes its date by its error / n pairs, and
that change carries on into a later date whose pair starts on it.

MintPy's `unwrap_error_phase_closure` solves the integer ambiguities of the whole network
(all triplets, an L1 problem per pixel) and `unwrap_error_bridging` needs the connected
components of every interferogram; both rerun over the full stack, where a monitoring cycle has
three new pairs a date. This check is the same closure, restricted to the new pairs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy import ndimage

log = logging.getLogger(__name__)

WAVELENGTH_M = 0.05546576  # Sentinel-1 C band (MintPy's sensor.SEN)
CYCLE_M = WAVELENGTH_M / 2  # one 2 pi ambiguity of the unwrapped phase, in LOS metres
TOLERANCE = 0.3  # of a cycle: how far from a whole cycle a pixel's departure may be
MIN_PIXELS = 12
MIN_PAIRS = 3  # a consensus needs three pairs (two disagree without saying which is wrong)


@dataclass
class PatchError:
    """One interferogram's patch off by `cycles`."""

    reference: date
    secondary: date
    cycles: int
    patch: np.ndarray  # bool (rows, cols)
    departure_m: float  # median departure over the patch (about cycles * CYCLE_M)


def _patches(departure: np.ndarray, valid: np.ndarray) -> list[tuple[int, np.ndarray, float]]:
    cycles = np.rint(departure / CYCLE_M)
    whole = valid & (cycles != 0) & (np.abs(departure - cycles * CYCLE_M) < TOLERANCE * CYCLE_M)
    labels, count = ndimage.label(whole)
    out = []
    for number in range(1, count + 1):
        inside = labels == number
        if inside.sum() < MIN_PIXELS:
            continue
        median = float(np.median(departure[inside]))
        n = int(np.rint(median / CYCLE_M))
        if n == 0 or abs(median - n * CYCLE_M) > TOLERANCE * CYCLE_M / 2:
            continue
        grown = ndimage.binary_fill_holes(inside) & valid
        out.append((n, grown, median))
    return out


def find_and_correct(series: np.ndarray, dates: Sequence[date],
                     pairs: Mapping[tuple[date, date], np.ndarray], targets: Sequence[int],
                     valid: np.ndarray) -> tuple[np.ndarray, list[PatchError]]:
    """Unwrapping errors in the pairs that end on the `targets` (indices into the ordered
    `series`, oldest first), and the series' changes that undo them ((len(targets), rows,
    cols), metres): corrected = series[targets] + changes."""
    index = {d: i for i, d in enumerate(dates)}
    shape = series.shape[1:]
    changes = np.zeros((len(targets), *shape), dtype=np.float32)
    change_of: dict[int, np.ndarray] = {}
    found: list[PatchError] = []
    for slot, j in enumerate(targets):
        mine = sorted((index[a], a, b) for (a, b) in pairs if b == dates[j] and a in index)
        if len(mine) < MIN_PAIRS:
            continue
        estimates = []
        for i, a, b in mine:
            estimate = np.asarray(pairs[(a, b)], dtype=np.float32) + series[i]
            if i in change_of:
                estimate = estimate + change_of[i]
            estimates.append(estimate)
        stack = np.stack(estimates)
        consensus = np.median(stack, axis=0)
        total = np.zeros(shape, dtype=np.float32)
        for (i, a, b), estimate in zip(mine, stack, strict=True):
            departure = estimate - consensus
            usable = valid & np.isfinite(departure)
            if usable.sum() < MIN_PIXELS:
                continue
            departure = np.where(usable, departure - np.median(departure[usable]), 0.0)
            for cycles, patch, median in _patches(departure, usable):
                found.append(PatchError(a, b, cycles, patch, median))
                total -= np.float32(cycles * CYCLE_M) * patch
                log.info("unwrapping error in %s_%s: %+d cycle over %d px", a, b, cycles,
                         int(patch.sum()))
            if i in change_of:
                total += change_of[i]
        changes[slot] = total / len(mine)
        change_of[j] = changes[slot]
    return changes, found
