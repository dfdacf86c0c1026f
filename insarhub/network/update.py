"""Changing a network that already exists: new acquisitions, and pairs that keep failing.

- `extend_pairs`: monitoring found new dates; pair each with its nearest predecessors (within
  the thresholds, whatever their degree, so a new date never rests on one pair), add yearly pairs across long gaps if asked, and bridge whatever is still
  apart, so the grown network stays one piece. Only the new pairs are returned to submit.
- `repair_pairs`: some pairs keep failing at HyP3; drop them for good, give each date back the
  pairs it lost (cheapest within the thresholds) and bridge the network together again,
  steering away from dates that keep failing.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from insarhub.network.baselines import StackBaselines, scene_name, stack_baselines
from insarhub.network.options import DEFAULT_NEW_DATE_NEIGHBOURS, PairOptions
from insarhub.network.selection import (
    Pair,
    PairNetworkWarning,
    _Candidates,
    _connect,
    _degree_array,
    _yearly_pairs,
    component_labels,
    resolve_pairs,
)
from insarhub.search.multiburst import date_scenes

logger = logging.getLogger(__name__)


@dataclass
class NetworkUpdate:
    """The pairs to add (and drop) to keep one stack's network whole."""

    key: Hashable | None
    pairs: list[Pair] = field(default_factory=list)       # new pairs to make, time order
    removed: list[Pair] = field(default_factory=list)     # pairs dropped from the network
    kinds: dict[Pair, str] = field(default_factory=dict)  # nearest/yearly/replacement/bridge
    pair_baselines: dict[Pair, tuple[int, float]] = field(default_factory=dict)
    network: list[Pair] = field(default_factory=list)     # the whole network afterwards
    scene_bperp: dict[str, float] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    components: int = 0


def stack_key(product: Any) -> Hashable:
    """The stack a product belongs to: the multi-burst key of a multi-burst date, the full
    burst ID for bursts, else (path, frame)."""
    if getattr(product, "key", None):
        return str(product.key)
    burst = product.properties.get("burst") or {}
    if burst.get("fullBurstID"):
        return str(burst["fullBurstID"])
    return (product.properties.get("pathNumber"), product.properties.get("frameNumber"))


def extend_pairs(existing_pairs: Iterable[Pair], scenes: Sequence[Any],
                 new_scenes: Sequence[Any], *, n_nearest: int = DEFAULT_NEW_DATE_NEIGHBOURS,
                 **options: Any) -> NetworkUpdate:
    """New pairs that join ``new_scenes`` to a network built on ``scenes``.

    Each new date pairs with its ``n_nearest`` predecessors (later dates when it is the first)
    within ``dt_max``/``pb_max``, whatever the predecessors' degree: ``max_degree`` bounds the
    network's selection, never a new date's link to the past. ``yearly=True`` adds one-year pairs across
    long gaps; the cheapest bridges then join anything still apart. Options as in
    `select_pairs`.
    """
    opts = PairOptions.from_kwargs(n_nearest=n_nearest, **options)
    scenes, new_scenes = date_scenes(list(scenes)), date_scenes(list(new_scenes))
    old_names = {scene_name(p) for p in scenes}
    products = list(scenes) + [p for p in new_scenes if scene_name(p) not in old_names]
    key = stack_key(products[0]) if products else None
    sb = stack_baselines(products, key)
    update = NetworkUpdate(key)
    if len(sb) == 0:
        return update
    existing = resolve_pairs(sb, existing_pairs, "existing_pairs")
    index = sb.index()
    old_dates = {sb.dates[index[sb.duplicates.get(n, n)]] for n in old_names}
    new = [i for i in range(len(sb)) if sb.dates[i] not in old_dates]
    edges: dict[tuple[int, int], str] = dict.fromkeys(existing, "existing")
    if not new:
        return _result(update, sb, edges, [])
    cand = _Candidates.build(sb, opts)
    for d in new:
        partners = list(range(d - 1, max(d - opts.n_nearest, 0) - 1, -1))
        if not partners:
            partners = list(range(d + 1, min(d + opts.n_nearest, len(sb) - 1) + 1))
        for other in partners:
            a, b = min(d, other), max(d, other)
            pos = cand.lookup(a, b)
            if (pos is None or (a, b) in edges or cand.dt[pos] > opts.dt_max
                    or cand.bp[pos] > opts.pb_max):
                continue
            edges[(a, b)] = "nearest"
    if opts.yearly:
        new_set = set(new)
        yi, yj = _yearly_pairs(sb.days, opts)
        for a, b in zip(yi.tolist(), yj.tolist(), strict=True):
            pos = cand.lookup(a, b)
            if ((a in new_set or b in new_set) and (a, b) not in edges and pos is not None
                    and cand.bp[pos] <= opts.pb_max):
                edges[(a, b)] = "yearly"
    forbidden = np.zeros(len(cand.i), dtype=bool)
    left_out = _connect(sb, cand, edges, forbidden, opts) if opts.force_connect else []
    return _result(update, sb, edges, left_out)


def repair_pairs(pairs: Iterable[Pair], scenes: Sequence[Any], failed: Iterable[Pair], *,
                 restore_degree: bool = True, **options: Any) -> NetworkUpdate:
    """Replacement pairs for ``failed`` ones (never tried again) that keep the network whole.

    Each date gets back as many pairs as it lost (cheapest within ``dt_max``/``pb_max``,
    ``max_degree`` respected) when ``restore_degree``; bridges then reconnect the pieces.
    Dates that appear in several failed pairs cost more, so replacements avoid them.
    """
    opts = PairOptions.from_kwargs(**options)
    products = date_scenes(list(scenes))
    key = stack_key(products[0]) if products else None
    sb = stack_baselines(products, key)
    update = NetworkUpdate(key)
    current = resolve_pairs(sb, pairs, "pairs")
    failing = set(resolve_pairs(sb, failed, "failed"))
    edges: dict[tuple[int, int], str] = {e: "existing" for e in current if e not in failing}
    update.removed = [(sb.names[a], sb.names[b]) for a, b in current if (a, b) in failing]
    cand = _Candidates.build(sb, opts, failing)
    forbidden = np.zeros(len(cand.i), dtype=bool)
    for a, b in failing:
        pos = cand.lookup(a, b)
        if pos is not None:
            forbidden[pos] = True
    failures = np.zeros(len(sb))
    lost = np.zeros(len(sb), dtype=np.int64)
    for a, b in failing:
        failures[[a, b]] += 1
        if (a, b) in current:
            lost[[a, b]] += 1
    penalty = np.where(failures > 1, failures, 0.0)
    if restore_degree and lost.any():
        _restore(cand, edges, forbidden, lost, penalty, opts)
    left_out = _connect(sb, cand, edges, forbidden, opts, penalty=penalty)
    return _result(update, sb, edges, left_out)


def _restore(cand: _Candidates, edges: dict[tuple[int, int], str], forbidden: np.ndarray,
             lost: np.ndarray, penalty: np.ndarray, opts: PairOptions) -> None:
    deg = _degree_array(cand.n, edges)
    within = opts.within_thresholds(cand.dt, cand.bp)
    pick = np.flatnonzero(within & ~forbidden & ((lost[cand.i] > 0) | (lost[cand.j] > 0)))
    cost = cand.cost[pick] + penalty[cand.i[pick]] + penalty[cand.j[pick]]
    for k in pick[np.argsort(cost, kind="stable")].tolist():
        a, b = int(cand.i[k]), int(cand.j[k])
        if (a, b) in edges or not (lost[a] > 0 or lost[b] > 0):
            continue
        if deg[a] >= opts.max_degree or deg[b] >= opts.max_degree:
            continue
        edges[(a, b)] = "replacement"
        for x in (a, b):
            deg[x] += 1
            lost[x] = max(lost[x] - 1, 0)


def _result(update: NetworkUpdate, sb: StackBaselines, edges: dict[tuple[int, int], str],
            left_out: list[int]) -> NetworkUpdate:
    out = set(left_out)
    if out:
        names = [sb.names[i] for i in left_out]
        logger.warning("stack %r: date(s) that cannot be connected are left out: %s",
                       sb.key, ", ".join(names))
        update.left_out = names
    keep = sorted(e for e in edges if e[0] not in out and e[1] not in out)
    new = [e for e in keep if edges[e] != "existing"]
    ref = np.array([a for a, _ in new], dtype=np.int64)
    sec = np.array([b for _, b in new], dtype=np.int64)
    bp = np.abs(sb.pair_bperp(ref, sec)) if new else np.zeros(0)
    for k, (a, b) in enumerate(new):
        pair = (sb.names[a], sb.names[b])
        update.pairs.append(pair)
        update.kinds[pair] = edges[(a, b)]
        update.pair_baselines[pair] = (int(sb.days[b] - sb.days[a]), float(bp[k]))
    update.network = [(sb.names[a], sb.names[b]) for a, b in keep]
    update.scene_bperp = {n: float(v) for i, (n, v) in enumerate(zip(sb.names, sb.bperp,
                                                                     strict=True))
                          if i not in out}
    members = [i for i in range(len(sb)) if i not in out]
    index = {i: k for k, i in enumerate(members)}
    labels = component_labels(len(members), [(index[a], index[b]) for a, b in keep])
    update.components = int(labels.max(initial=-1) + 1)
    if update.components > 1:
        warnings.warn(f"stack {sb.key!r}: the updated network has {update.components} "
                      "disconnected pieces (force_connect=False)", PairNetworkWarning,
                      stacklevel=3)
    return update
