"""Interferogram pair networks that are always connected.

    pair_stacks, B, scene_bperp = select_pairs(stacks, max_degree=5)

Shapes (per stack key: ``(path, frame)`` for SLC stacks, the full burst ID for burst stacks):

- ``pair_stacks[key]``: list of ``(reference, secondary)`` granule names as HyP3 takes them
  (SLC ``sceneName``; burst ``S1_..._VV_XXXX-BURST``), reference earlier, in time order;
- ``B[key][(reference, secondary)]``: ``(temporal_days: int, perpendicular_m: float)``, both
  absolute values; the perpendicular baseline is computed for that pair from both orbits;
- ``scene_bperp[key][name]``: signed perpendicular baseline of each date's scene (m) relative
  to the stack's first date (MintPy's convention), for plotting and MintPy.

The returned `PairSelection` unpacks as that 3-tuple and also carries ``.networks`` (what
the selection did per stack) and ``.reports()``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

from insarhub.errors import PairNetworkError
from insarhub.network.baselines import StackBaselines, scene_name, stack_baselines
from insarhub.network.options import DEFAULT_MAX_DEGREE, DEFAULT_NEW_DATE_NEIGHBOURS, PairOptions
from insarhub.network.report import NetworkReport, format_reports, network_report
from insarhub.network.selection import (
    Pair,
    PairNetworkWarning,
    StackNetwork,
    build_network,
    resolve_user_pairs,
)
from insarhub.network.update import NetworkUpdate, extend_pairs, repair_pairs, stack_key
from insarhub.search.multiburst import date_scenes

PairStacks = dict[Hashable, list[Pair]]
Baselines = dict[Hashable, dict[Pair, tuple[int, float]]]
SceneBperp = dict[Hashable, dict[str, float]]

__all__ = [
    "DEFAULT_MAX_DEGREE", "DEFAULT_NEW_DATE_NEIGHBOURS", "Baselines", "NetworkReport", "NetworkUpdate", "Pair", "PairNetworkWarning", "PairOptions",
    "PairSelection", "PairStacks", "SceneBperp", "StackBaselines", "StackNetwork",
    "extend_pairs", "format_reports", "network_report", "repair_pairs", "scene_name",
    "select_pairs", "stack_baselines", "stack_key",
]


class PairSelection(tuple[PairStacks, Baselines, SceneBperp]):
    """``(pair_stacks, B, scene_bperp)`` plus ``.networks`` and ``.reports()``."""

    networks: dict[Hashable, StackNetwork]

    def __new__(cls, pair_stacks: PairStacks, baselines: Baselines, scene_bperp: SceneBperp,
                networks: dict[Hashable, StackNetwork] | None = None) -> PairSelection:
        self = super().__new__(cls, (pair_stacks, baselines, scene_bperp))
        self.networks = networks or {}
        return self

    def __reduce__(self) -> tuple[Any, ...]:   # pickle (Prefect results) keeps the networks
        return (PairSelection, (self[0], self[1], self[2], self.networks))

    @classmethod
    def from_networks(cls, networks: dict[Hashable, StackNetwork]) -> PairSelection:
        return cls({k: list(n.pairs) for k, n in networks.items()},
                   {k: dict(n.pair_baselines) for k, n in networks.items()},
                   {k: n.scene_bperp for k, n in networks.items()}, networks)

    @property
    def pair_stacks(self) -> PairStacks:
        return self[0]

    @property
    def baselines(self) -> Baselines:
        return self[1]

    @property
    def scene_bperp(self) -> SceneBperp:
        return self[2]

    def reports(self, looks: str = "20x4") -> dict[Hashable, NetworkReport]:
        return {key: network_report(net, looks=looks) for key, net in self.networks.items()}

    def report(self, looks: str = "20x4") -> str:
        """All stacks' network reports as text (what the CLI prints)."""
        return format_reports(self.reports(looks=looks))


def _as_stacks(stacks: Mapping[Any, Sequence[Any]] | Sequence[Any]
               ) -> dict[Hashable, list[Any]]:
    if isinstance(stacks, Mapping):
        out: dict[Hashable, list[Any]] = {}
        for key, products in stacks.items():
            if isinstance(products, str | bytes) or not isinstance(products, Iterable):
                raise PairNetworkError(f"stack {key!r} must be a list of asf_search products, "
                                       f"got {type(products).__name__}")
            out[key] = date_scenes(list(products), key if isinstance(key, str) else None)
        if not out:
            raise PairNetworkError("no stacks to pair: the search found nothing or every stack "
                                   "was filtered out (run search() / reset())")
        return out
    if isinstance(stacks, str | bytes) or not isinstance(stacks, Iterable):
        raise PairNetworkError(f"stacks must be a dict of stack key -> list of asf_search "
                               f"products, got {type(stacks).__name__}")
    grouped: dict[Hashable, list[Any]] = {}
    for product in stacks:
        scene_name(product)  # a clear error for anything that is not a product
        grouped.setdefault(stack_key(product), []).append(product)
    if not grouped:
        raise PairNetworkError("no scenes to pair: the list of products is empty")
    return {k: date_scenes(v) for k, v in grouped.items()}


def select_pairs(stacks: Mapping[Any, Sequence[Any]] | Sequence[Any], *,
                 add_pairs: Iterable[Pair] | Mapping[Any, Iterable[Pair]] | None = None,
                 remove_pairs: Iterable[Pair] | Mapping[Any, Iterable[Pair]] | None = None,
                 **options: Any) -> PairSelection:
    """Select a connected interferogram network for every stack.

    ``stacks``: ``{key: [ASFProduct, ...]}`` as ``Downloader.search()`` returns (a flat list is
    grouped by (path, frame) / burst ID). The bursts of a multi-burst stack are paired per
    date: a node is the date's bursts, named by their granule names joined by "+". ``options`` (`PairOptions`): ``strategy`` ("sbas" or
    "sequential"), ``dt_targets`` (6, 12, 24, 36, 48, 72, 96), ``dt_tol`` 3, ``dt_max`` 120,
    ``pb_max`` 150, ``min_degree`` 3, ``max_degree`` 5, ``n_nearest`` 3, ``yearly`` False
    (+ ``yearly_tol`` 30, ``gap_days`` 60), ``force_connect`` True, ``bridge_pb_max`` 400,
    ``bridge_dt_max`` None. ``add_pairs`` / ``remove_pairs``: scene-name pairs, flat or per key.
    """
    opts = PairOptions.from_kwargs(**options)
    grouped = _as_stacks(stacks)
    baselines = {key: stack_baselines(products, key) for key, products in grouped.items()}
    adds = resolve_user_pairs(add_pairs, baselines, "add_pairs")
    removes = resolve_user_pairs(remove_pairs, baselines, "remove_pairs")
    networks = {key: build_network(sb, opts, adds[key], removes[key])
                for key, sb in baselines.items()}
    return PairSelection.from_networks(networks)
