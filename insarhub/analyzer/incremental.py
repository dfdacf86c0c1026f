"""The numbers of an append: new dates from new interferograms against the existing series.

MintPy's network inversion solves every date at once by weighted least squares (weights from
coherence, `mintpy.networkInversion.weightFunc`). With the old dates held at their estimates,
a new pair (i, j) says `x_j - x_i = y_ij`: the new dates are a small weighted least-squares
problem per pixel, whose unknowns are only the new dates. Temporal coherence, the DEM-error
correction and the fit residual of the new dates follow the formulas MintPy uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def pair_index(pairs: Sequence[str], dates: Sequence[str]) -> np.ndarray:
    """(num_pair, 2) indices into `dates` of each "YYYYMMDD_YYYYMMDD" pair."""
    position = {d: i for i, d in enumerate(dates)}
    return np.array([[position[d] for d in pair.split("_")] for pair in pairs], dtype=int)


def solve_new_dates(index: np.ndarray, num_old: int, num_new: int, obs: np.ndarray,
                    weight: np.ndarray, old: Mapping[int, np.ndarray] | np.ndarray) -> np.ndarray:
    """Weighted least squares of the new dates, the old ones fixed.

    index: (P, 2) date indices of the new pairs (dates < num_old are old); obs: (P, N) pair
    values (NaN: not valid at that pixel); weight: (P, N); old: (num_old, N) old values.
    Returns (num_new, N): NaN where a pixel's new pairs cannot determine every new date.
    """
    num_pair, num_pixel = obs.shape
    valid = np.isfinite(obs)
    w = np.where(valid, weight, 0.0).astype(np.float64)
    rhs = np.where(valid, obs, 0.0).astype(np.float64)
    design = np.zeros((num_pair, num_new))
    for p, (i, j) in enumerate(index):
        for date, sign in ((i, -1.0), (j, 1.0)):
            if date >= num_old:
                design[p, date - num_old] = sign
            else:  # move the known old date to the right-hand side
                rhs[p] -= sign * np.where(valid[p], old[date], 0.0)
    normal = np.einsum("pk,pl,pn->nkl", design, design, w)
    right = np.einsum("pk,pn,pn->nk", design, w, rhs)
    solvable = np.abs(np.linalg.det(normal)) > 1e-12
    normal[~solvable] = np.eye(num_new)
    solution = np.linalg.solve(normal, right[..., None])[..., 0].T
    solution[:, ~solvable] = np.nan
    return solution


def pair_residual(index: np.ndarray, series: Mapping[int, np.ndarray], obs: np.ndarray) -> np.ndarray:
    """obs - (x_j - x_i) for each pair: (P, N), `series` giving each date's values (N,)."""
    return obs - np.stack([series[j] - series[i] for i, j in index])


def update_temporal_coherence(old_coh: np.ndarray, old_count: np.ndarray,
                              residual_rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MintPy's temporal coherence |mean(exp(j e))| with the new pairs' residuals added.

    The old pairs' residuals do not change in an append (their dates are held), but only the
    magnitude of their sum is stored: its phase is taken as zero, which is exact for a
    noise-free network and close for residuals centred on zero.
    """
    valid = np.isfinite(residual_rad)
    phasor = np.where(valid, np.exp(1j * np.nan_to_num(residual_rad)), 0.0).sum(axis=0)
    count = old_count + valid.sum(axis=0)
    total = old_coh.astype(np.float64) * old_count + phasor
    coherence = np.divide(np.abs(total), count, out=np.zeros(count.shape), where=count > 0)
    return coherence.astype(np.float32), count


def fit_residual(series: np.ndarray, design: np.ndarray, used: np.ndarray) -> np.ndarray:
    """series - design @ m, with m the least-squares fit over the `used` dates (D, N)."""
    params = np.linalg.lstsq(design[used], series[used], rcond=1e-8)[0]
    return (series - design @ params).astype(np.float32)
