"""Interferogram pair selection for one stack: thresholds, degree limits, always connected.

Steps (each one vectorised or limited to the few edges it concerns):

1. candidates: every pair within ``dt_max``, plus each date's few next dates whatever the gap
   (bridging candidates), plus one-year partners across long gaps (``yearly``) and user pairs;
   a sparse list, never an n x n matrix;
2. rules: ``strategy="sbas"`` keeps pairs near a temporal target (``dt_targets`` +- ``dt_tol``)
   within ``dt_max`` and ``pb_max``; ``strategy="sequential"`` keeps each date's ``n_nearest``
   next dates within the same limits;
3. ``max_degree``: the costliest pairs of over-connected dates go first;
4. ``min_degree``: under-connected dates get their cheapest pairs within the limits;
5. connectivity: the cheapest bridging pairs (a minimum spanning forest over the components,
   Kruskal) join the pieces; a bridge may break a threshold (it is reported), and may exceed
   ``max_degree`` only where no other bridge exists (reported too). A date that no allowed
   pair reaches is left out with a warning.

Pair cost = dt / dt_max + |bperp| / pb_max: cheap pairs are short and small-baseline.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from insarhub.errors import PairNetworkError
from insarhub.network.baselines import StackBaselines
from insarhub.network.options import PairOptions

logger = logging.getLogger(__name__)

Pair = tuple[str, str]

# pair kinds, in the order a max_degree trim removes them (user pairs are never removed)
KINDS = ("threshold", "min_degree", "yearly", "bridge", "user")
_BRIDGE_NEIGHBOURS = 6      # each date's next dates always considered for bridging
_DEGREE_PENALTY = 1000.0    # a bridge through a date at max_degree only if nothing else joins
_YEAR_DAYS = 365


class PairNetworkWarning(UserWarning):
    """A date was left out of a network, or a network could not be made connected."""


@dataclass
class StackNetwork:
    """The selected network of one stack, with what the selection had to do to build it."""

    key: Hashable | None
    baselines: StackBaselines
    options: PairOptions
    pairs: list[Pair] = field(default_factory=list)           # time order, reference first
    pair_baselines: dict[Pair, tuple[int, float]] = field(default_factory=dict)  # (days, |m|)
    kinds: dict[Pair, str] = field(default_factory=dict)      # one of KINDS
    left_out: list[str] = field(default_factory=list)         # dates no allowed pair reaches
    degree_exceptions: dict[str, int] = field(default_factory=dict)  # > max_degree, needed
    below_min_degree: list[str] = field(default_factory=list)
    components: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def scenes(self) -> list[str]:
        """The dates (one scene each) in the network, time order."""
        out = set(self.left_out)
        return [n for n in self.baselines.names if n not in out]

    @property
    def scene_bperp(self) -> dict[str, float]:
        out = set(self.left_out)
        return {n: float(b) for n, b in zip(self.baselines.names, self.baselines.bperp,
                                            strict=True) if n not in out}

    @property
    def bridges(self) -> list[Pair]:
        """Pairs that break dt_max or pb_max: bridges, yearly and user pairs."""
        o = self.options
        return [p for p in self.pairs
                if self.pair_baselines[p][0] > o.dt_max or self.pair_baselines[p][1] > o.pb_max]

    def degrees(self) -> dict[str, int]:
        deg = dict.fromkeys(self.scenes, 0)
        for ref, sec in self.pairs:
            deg[ref] += 1
            deg[sec] += 1
        return deg


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[rb] = ra
        return True


@dataclass
class _Candidates:
    """Sparse candidate pairs (i < j) of one stack with their baselines and costs."""

    i: np.ndarray
    j: np.ndarray
    dt: np.ndarray
    bp: np.ndarray      # |perpendicular baseline| m, each pair from its own reference
    cost: np.ndarray
    n: int
    _codes: np.ndarray | None = None

    @classmethod
    def build(cls, sb: StackBaselines, options: PairOptions,
              extra: Iterable[tuple[int, int]] = ()) -> _Candidates:
        days, n = sb.days, len(sb)
        parts = [_window_pairs(days, options.dt_max)]
        for k in range(1, max(_BRIDGE_NEIGHBOURS, options.n_nearest) + 1):
            parts.append((np.arange(n - k), np.arange(k, n)))
        if options.yearly:
            parts.append(_yearly_pairs(days, options))
        extra = list(extra)
        if extra:
            parts.append((np.array([e[0] for e in extra]), np.array([e[1] for e in extra])))
        i = np.concatenate([p[0] for p in parts]).astype(np.int64)
        j = np.concatenate([p[1] for p in parts]).astype(np.int64)
        codes = np.unique(i * n + j) if n else np.zeros(0, dtype=np.int64)
        i, j = codes // max(n, 1), codes % max(n, 1)
        dt = (days[j] - days[i]).astype(np.float64)
        bp = np.abs(sb.pair_bperp(i, j))
        return cls(i, j, dt, bp, options.cost(dt, bp), n)

    def lookup(self, i: int, j: int) -> int | None:
        """Position of candidate (i, j), or None."""
        if self._codes is None:
            self._codes = self.i * self.n + self.j   # sorted: built from np.unique
        pos = int(np.searchsorted(self._codes, i * self.n + j))
        if pos < len(self.i) and self.i[pos] == i and self.j[pos] == j:
            return pos
        return None


def _window_pairs(days: np.ndarray, max_dt: float) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j), i < j, with days[j] - days[i] <= max_dt (days sorted, unique)."""
    n = len(days)
    hi = np.searchsorted(days, days + max_dt, side="right")
    counts = hi - np.arange(n) - 1
    i = np.repeat(np.arange(n), counts)
    starts = np.cumsum(counts) - counts
    j = i + 1 + (np.arange(int(counts.sum())) - np.repeat(starts, counts))
    return i, j


def _yearly_pairs(days: np.ndarray, options: PairOptions) -> tuple[np.ndarray, np.ndarray]:
    """Each date's partner closest to one year later, where a long gap lies between them."""
    n = len(days)
    if n < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    target = days + _YEAR_DAYS
    right = np.clip(np.searchsorted(days, target), 0, n - 1)
    left = np.clip(right - 1, 0, n - 1)
    partner = np.where(np.abs(days[left] - target) <= np.abs(days[right] - target), left, right)
    i = np.arange(n)
    ok = (partner > i) & (np.abs(days[partner] - target) <= options.yearly_tol)
    longest_gap_between = _max_gap_between(days, i, partner)
    ok &= longest_gap_between > options.gap_days
    return i[ok], partner[ok]


def _max_gap_between(days: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Longest step between consecutive dates from i to j (j > i), via a sparse table."""
    gaps = np.diff(days)
    out = np.zeros(len(i), dtype=days.dtype)
    if not len(gaps):
        return out
    table = [gaps]
    span = 1
    while span * 2 <= len(gaps):
        prev = table[-1]
        table.append(np.maximum(prev[:-span], prev[span:]))
        span *= 2
    valid = j > i
    lo, hi = i[valid], j[valid]          # gaps lo .. hi-1
    length = hi - lo
    level = np.floor(np.log2(np.maximum(length, 1))).astype(int)
    result = np.empty(len(lo), dtype=days.dtype)
    for lev in np.unique(level):
        sel = level == lev
        width = 1 << int(lev)
        result[sel] = np.maximum(table[lev][lo[sel]], table[lev][hi[sel] - width])
    out[valid] = result
    return out


def resolve_pairs(sb: StackBaselines, pairs: Iterable[Pair], what: str) -> list[tuple[int, int]]:
    """Scene-name pairs -> (i, j) date indices in time order; PairNetworkError on unknown names."""
    index = sb.index()
    out = []
    for pair in pairs:
        try:
            a, b = pair
        except (TypeError, ValueError):
            raise PairNetworkError(f"{what}: {pair!r} is not a (reference, secondary) pair") from None
        ia, ib = (index.get(sb.duplicates.get(name, name)) for name in (a, b))
        if ia is None or ib is None:
            missing = a if ia is None else b
            raise PairNetworkError(f"{what}: scene {missing!r} of pair ({a}, {b}) is not in "
                                   f"stack {sb.key!r}")
        if ia == ib:
            raise PairNetworkError(f"{what}: ({a}, {b}) pairs two scenes of the same date")
        out.append((min(ia, ib), max(ia, ib)))
    return out


def build_network(sb: StackBaselines, options: PairOptions,
                  add_pairs: Iterable[Pair] = (), remove_pairs: Iterable[Pair] = ()
                  ) -> StackNetwork:
    """Select the pairs of one stack (see the module docstring for the steps)."""
    net = StackNetwork(sb.key, sb, options)
    n = len(sb)
    if n < 2:
        what = "no scenes" if n == 0 else f"one acquisition date ({sb.names[0]})"
        net.notes.append(f"stack {sb.key!r} has {what}: no pairs are possible")
        net.components = n
        logger.warning("stack %r has %s: no pairs are possible", sb.key, what)
        return net
    added = resolve_pairs(sb, add_pairs, "add_pairs")
    removed = set(resolve_pairs(sb, remove_pairs, "remove_pairs"))
    cand = _Candidates.build(sb, options, added)
    forbidden = np.zeros(len(cand.i), dtype=bool)
    for i, j in removed:
        pos = cand.lookup(i, j)
        if pos is not None:
            forbidden[pos] = True
    kind = np.full(len(cand.i), -1, dtype=np.int8)   # -1: not selected, else index in KINDS

    within = options.within_thresholds(cand.dt, cand.bp)
    if options.strategy == "sbas":
        targets = np.asarray(options.dt_targets, dtype=np.float64)
        near = (np.abs(cand.dt[:, None] - targets[None, :]) <= options.dt_tol).any(axis=1)
        rule = within & near
    else:
        rule = within & (cand.j - cand.i <= options.n_nearest)
    kind[rule & ~forbidden] = KINDS.index("threshold")
    if options.yearly:
        yi, yj = _yearly_pairs(sb.days, options)
        for i, j in zip(yi.tolist(), yj.tolist(), strict=True):
            pos = cand.lookup(i, j)
            if pos is not None and not forbidden[pos] and cand.bp[pos] <= options.pb_max:
                kind[pos] = KINDS.index("yearly")
    for i, j in added:
        pos = cand.lookup(i, j)
        if pos is not None:
            kind[pos] = KINDS.index("user")
            forbidden[pos] = False

    # the backbone: a spanning forest preferring the rule pairs, then pairs within the
    # thresholds, then bridges, each cheapest first, within max_degree where possible
    backbone: dict[tuple[int, int], str] = {
        (int(cand.i[k]), int(cand.j[k])): "user" for k in np.flatnonzero(kind == KINDS.index("user"))}
    if options.force_connect:
        left_out = _connect(sb, cand, backbone, forbidden, options, priority=kind >= 0,
                            degree=_degree_array(n, backbone))
    else:
        left_out = []
    protected = np.zeros(len(cand.i), dtype=bool)
    for a, b in backbone:
        pos = cand.lookup(a, b)
        if pos is not None:
            protected[pos] = True
            if kind[pos] < 0:
                kind[pos] = KINDS.index("bridge")
    _trim_max_degree(cand, kind, protected, options.max_degree)
    _fill_min_degree(cand, kind, forbidden, within, options)
    edges = {(int(cand.i[k]), int(cand.j[k])): KINDS[kind[k]] for k in np.flatnonzero(kind >= 0)}
    for edge, edge_kind in backbone.items():     # backbone pairs found by the full scan
        edges.setdefault(edge, edge_kind)
    _finish(net, edges, left_out)
    return net


def _degree_array(n: int, edges: Iterable[tuple[int, int]]) -> np.ndarray:
    flat = np.array(list(edges), dtype=np.int64).ravel()
    return np.bincount(flat, minlength=n).astype(np.int64)


def _degrees(cand: _Candidates, selected: np.ndarray) -> np.ndarray:
    return np.bincount(np.concatenate([cand.i[selected], cand.j[selected]]),
                       minlength=cand.n).astype(np.int64)


def _trim_max_degree(cand: _Candidates, kind: np.ndarray, protected: np.ndarray,
                     max_degree: int) -> None:
    """Drop the costliest pairs of dates above max_degree, never backbone or user pairs."""
    deg = _degrees(cand, kind >= 0)
    over = deg > max_degree
    if not over.any():
        return
    touch = np.flatnonzero((kind >= 0) & ~protected & (over[cand.i] | over[cand.j]))
    # lower kind first (threshold before yearly), then the costliest first
    order = touch[np.lexsort((-cand.cost[touch], kind[touch]))]
    for k in order.tolist():
        a, b = int(cand.i[k]), int(cand.j[k])
        if deg[a] > max_degree or deg[b] > max_degree:
            kind[k] = -1
            deg[a] -= 1
            deg[b] -= 1


def _fill_min_degree(cand: _Candidates, kind: np.ndarray, forbidden: np.ndarray,
                     within: np.ndarray, options: PairOptions) -> None:
    """Give dates below min_degree their cheapest pairs within dt_max and pb_max."""
    deg = _degrees(cand, kind >= 0)
    low = deg < options.min_degree
    if not low.any():
        return
    pick = np.flatnonzero((kind < 0) & ~forbidden & within & (low[cand.i] | low[cand.j]))
    fill = KINDS.index("min_degree")
    for k in pick[np.argsort(cand.cost[pick], kind="stable")].tolist():
        a, b = int(cand.i[k]), int(cand.j[k])
        if ((deg[a] < options.min_degree or deg[b] < options.min_degree)
                and deg[a] < options.max_degree and deg[b] < options.max_degree):
            kind[k] = fill
            deg[a] += 1
            deg[b] += 1


def component_labels(n: int, edges: Iterable[tuple[int, int]]) -> np.ndarray:
    pairs = np.array(list(edges), dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return np.asarray(connected_components(graph, directed=False)[1])


def _connect(sb: StackBaselines, cand: _Candidates, edges: dict[tuple[int, int], str],
             forbidden: np.ndarray, options: PairOptions, *, priority: np.ndarray | None = None,
             degree: np.ndarray | None = None, penalty: np.ndarray | None = None) -> list[int]:
    """Add the cheapest joining pairs (Kruskal) to ``edges`` until one piece remains.

    Order: ``priority`` candidates, then pairs within the thresholds, then bridges up to
    ``bridge_pb_max``/``bridge_dt_max``; each by cost (+ ``penalty`` per date). A first pass
    keeps every date within max_degree (``degree`` = degrees so far); a second pass lets the
    limit give way where nothing else joins. Added pairs are marked "bridge". Returns the
    dates that nothing joins (left out).
    """
    n = cand.n
    labels = component_labels(n, edges.keys())
    if labels.max(initial=0) == 0:
        return []
    deg = _degree_array(n, edges) if degree is None else degree.copy()
    extra = np.zeros(n) if penalty is None else penalty
    allowed = ~forbidden & (cand.bp <= options.bridge_pb_max)
    if options.bridge_dt_max is not None:
        allowed &= cand.dt <= options.bridge_dt_max
    useful = np.flatnonzero(allowed & (labels[cand.i] != labels[cand.j]))
    tier = np.where(options.within_thresholds(cand.dt[useful], cand.bp[useful]), 1, 2)
    if priority is not None:
        tier = np.where(priority[useful], 0, tier)
    cost = cand.cost[useful] + extra[cand.i[useful]] + extra[cand.j[useful]]
    order = useful[np.lexsort((cost, tier))].tolist()
    groups = _UnionFind(int(labels.max()) + 1)
    pieces = int(labels.max()) + 1
    for respect_degree in (True, False):        # degree limits give way only when needed
        for k in order:
            if pieces == 1:
                break
            a, b = int(cand.i[k]), int(cand.j[k])
            if respect_degree and (deg[a] >= options.max_degree or deg[b] >= options.max_degree):
                continue
            if groups.union(int(labels[a]), int(labels[b])):
                edges[(a, b)] = "bridge"
                deg[a] += 1
                deg[b] += 1
                pieces -= 1
    roots = np.array([groups.find(int(c)) for c in labels])
    if pieces > 1:
        roots = _connect_by_scan(sb, roots, edges, deg, extra, options, cand, forbidden)
    return _left_out(sb, roots)


def _connect_by_scan(sb: StackBaselines, roots: np.ndarray, edges: dict[tuple[int, int], str],
                     deg: np.ndarray, extra: np.ndarray, options: PairOptions,
                     cand: _Candidates, forbidden: np.ndarray) -> np.ndarray:
    """Borůvka rounds over all date pairs, one date's row at a time (rare: for dates the
    sparse candidates could not join, e.g. far off in perpendicular baseline)."""
    days, bperp = sb.days.astype(np.float64), sb.bperp
    forbidden_pairs = {(int(cand.i[k]), int(cand.j[k])) for k in np.flatnonzero(forbidden)}
    dead: set[int] = set()
    while True:
        labels, sizes = np.unique(roots, return_counts=True)
        alive = [int(g) for g in labels if int(g) not in dead]
        if len(alive) <= 1:
            break
        largest = int(labels[np.argmax(sizes)])
        merged = False
        for group in alive:
            if group == largest:
                continue
            best = _cheapest_outgoing(np.flatnonzero(roots == group), roots, days, bperp, deg,
                                      extra, options, forbidden_pairs)
            if best is None:
                dead.add(group)
                continue
            a, b = best
            other = roots[b]
            edges[(min(a, b), max(a, b))] = "bridge"
            deg[a] += 1
            deg[b] += 1
            roots[roots == other] = group
            merged = True
        if not merged:
            break
    return roots


def _cheapest_outgoing(members: np.ndarray, roots: np.ndarray, days: np.ndarray,
                       bperp: np.ndarray, deg: np.ndarray, extra: np.ndarray,
                       options: PairOptions, forbidden_pairs: set[tuple[int, int]]
                       ) -> tuple[int, int] | None:
    outside = roots != roots[members[0]]
    best: tuple[float, int, int] | None = None
    for a in members.tolist():
        dt = np.abs(days - days[a])
        bp = np.abs(bperp - bperp[a])
        ok = outside & (bp <= options.bridge_pb_max)
        if options.bridge_dt_max is not None:
            ok &= dt <= options.bridge_dt_max
        cost = options.cost(dt, bp) + extra + extra[a]
        cost = cost + _DEGREE_PENALTY * ((deg >= options.max_degree) + (deg[a] >= options.max_degree))
        cost[~ok] = np.inf
        for b in np.argsort(cost)[:8].tolist():
            if not np.isfinite(cost[b]):
                break
            if (min(a, b), max(a, b)) in forbidden_pairs:
                continue
            if best is None or cost[b] < best[0]:
                best = (float(cost[b]), a, int(b))
            break
    return None if best is None else (best[1], best[2])


def _left_out(sb: StackBaselines, roots: np.ndarray) -> list[int]:
    labels, first, sizes = np.unique(roots, return_index=True, return_counts=True)
    if len(labels) <= 1:
        return []
    # the biggest piece stays; among equals the one with the earliest date
    keep = labels[np.lexsort((first, -sizes))[0]]
    return np.flatnonzero(roots != keep).tolist()


def _finish(net: StackNetwork, edges: dict[tuple[int, int], str], left_out: list[int]) -> None:
    sb, options = net.baselines, net.options
    out = set(left_out)
    if out:
        names = [sb.names[i] for i in left_out]
        message = (f"stack {sb.key!r}: {len(names)} date(s) cannot be joined to the network "
                   f"within bridge_pb_max={options.bridge_pb_max} m"
                   + (f" / bridge_dt_max={options.bridge_dt_max} d" if options.bridge_dt_max
                      else "")
                   + f" and are left out: {', '.join(names)}")
        warnings.warn(message, PairNetworkWarning, stacklevel=4)
        logger.warning(message)
        net.notes.append(message)
    keep = sorted((a, b) for a, b in edges if a not in out and b not in out)
    ref = np.array([a for a, _ in keep], dtype=np.int64)
    sec = np.array([b for _, b in keep], dtype=np.int64)
    bp = np.abs(sb.pair_bperp(ref, sec)) if keep else np.zeros(0)
    for k, (a, b) in enumerate(keep):
        pair = (sb.names[a], sb.names[b])
        net.pairs.append(pair)
        net.pair_baselines[pair] = (int(sb.days[b] - sb.days[a]), float(bp[k]))
        net.kinds[pair] = edges[(a, b)]
    net.left_out = [sb.names[i] for i in left_out]
    members = [i for i in range(len(sb)) if i not in out]
    deg = np.bincount(np.concatenate([ref, sec]), minlength=len(sb)) if keep else np.zeros(
        len(sb), dtype=np.int64)
    net.degree_exceptions = {sb.names[i]: int(deg[i]) for i in members
                             if deg[i] > options.max_degree}
    net.below_min_degree = [sb.names[i] for i in members if deg[i] < options.min_degree]
    index = {i: k for k, i in enumerate(members)}
    sub = [(index[a], index[b]) for a, b in keep]
    net.components = int(component_labels(len(members), sub).max(initial=-1) + 1) if members else 0
    if net.degree_exceptions:
        logger.info("stack %r: max_degree=%d exceeded where connectivity needs it: %s", sb.key,
                    options.max_degree, net.degree_exceptions)
    if net.components > 1:
        message = (f"stack {sb.key!r}: the network has {net.components} disconnected pieces "
                   "(force_connect=False); the time series will have arbitrary jumps")
        warnings.warn(message, PairNetworkWarning, stacklevel=4)
        net.notes.append(message)


def resolve_user_pairs(pairs: Iterable[Pair] | Mapping[Any, Iterable[Pair]] | None,
                       stacks: Mapping[Hashable, StackBaselines], what: str
                       ) -> dict[Hashable, list[Pair]]:
    """User pairs per stack: a mapping by stack key, or a flat list matched by scene names."""
    out: dict[Hashable, list[Pair]] = {key: [] for key in stacks}
    if not pairs:
        return out
    if isinstance(pairs, Mapping):
        for key, items in pairs.items():
            if key not in stacks:
                raise PairNetworkError(f"{what}: stack {key!r} is not one of {list(stacks)}")
            out[key].extend((str(p[0]), str(p[1])) for p in items)
        return out
    known = {key: set(sb.names) | set(sb.duplicates) for key, sb in stacks.items()}
    for pair in pairs:
        if isinstance(pair, str) or len(tuple(pair)) != 2:
            raise PairNetworkError(f"{what}: {pair!r} is not a (reference, secondary) pair")
        a, b = pair
        home = [key for key, names in known.items() if a in names and b in names]
        if not home:
            raise PairNetworkError(f"{what}: no stack holds both scenes of ({a}, {b})")
        out[home[0]].append((a, b))
    return out
