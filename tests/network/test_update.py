"""Growing a network with new acquisitions, and repairing it around failing pairs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from insarhub.errors import PairNetworkError
from insarhub.network import (
    DEFAULT_MAX_DEGREE,
    DEFAULT_NEW_DATE_NEIGHBOURS,
    extend_pairs,
    repair_pairs,
    select_pairs,
)
from insarhub.network.baselines import scene_name


def _pieces(pairs: list[tuple[str, str]], names: set[str]) -> int:
    parent = {n: n for n in names}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    return len({find(n) for n in names})


def test_new_dates_pair_with_their_nearest_predecessors(make_stack: Any) -> None:
    days = [k * 12 for k in range(24)]
    products = make_stack(days, bperp=np.random.default_rng(1).normal(0, 30, len(days)))
    old, new = products[:20], products[20:]
    existing = select_pairs({(1, 2): old}, max_degree=5)[0][(1, 2)]
    update = extend_pairs(existing, old, new, n_nearest=3, max_degree=5)
    names = [scene_name(p) for p in products]
    new_names = set(names[20:])
    assert update.pairs, "new dates get pairs"
    assert all(a in new_names or b in new_names for a, b in update.pairs)
    assert set(update.network) == set(existing) | set(update.pairs)
    assert _pieces(update.network, set(names)) == 1
    # every new date is paired with at least its closest predecessor
    for k in range(20, 24):
        assert (names[k - 1], names[k]) in update.pairs
    # nearest: never more than n_nearest dates back
    index = {n: i for i, n in enumerate(names)}
    assert all(index[b] - index[a] <= 3 for a, b in update.pairs)
    assert set(update.kinds.values()) == {"nearest"}
    assert all(update.pair_baselines[p][0] == 12 * (index[p[1]] - index[p[0]])
               for p in update.pairs)


def test_new_date_after_a_long_gap_is_bridged(make_stack: Any) -> None:
    products = make_stack([0, 12, 24, 36, 48, 400])
    old, new = products[:5], products[5:]
    existing = select_pairs({(1, 2): old})[0][(1, 2)]
    update = extend_pairs(existing, old, new)
    assert len(update.pairs) == 1
    assert update.kinds[update.pairs[0]] == "bridge"
    assert update.pairs[0][1] == scene_name(products[5])
    assert _pieces(update.network, {scene_name(p) for p in products}) == 1


def test_nothing_new_means_no_pairs(make_stack: Any) -> None:
    products = make_stack([0, 12, 24])
    existing = select_pairs({(1, 2): products})[0][(1, 2)]
    update = extend_pairs(existing, products, products[1:])
    assert update.pairs == [] and set(update.network) == set(existing)


def test_existing_pair_with_unknown_scene_is_an_error(make_stack: Any) -> None:
    products = make_stack([0, 12, 24])
    with pytest.raises(PairNetworkError, match="S1_UNKNOWN"):
        extend_pairs([(scene_name(products[0]), "S1_UNKNOWN")], products[:2], products[2:])


def test_repair_replaces_failing_pairs_and_keeps_one_piece(make_stack: Any) -> None:
    days = [k * 12 for k in range(15)]
    products = make_stack(days, bperp=np.random.default_rng(2).normal(0, 30, len(days)))
    names = {scene_name(p) for p in products}
    pairs = select_pairs({(1, 2): products}, strategy="sequential", n_nearest=1,
                         min_degree=0)[0][(1, 2)]
    assert len(pairs) == 14                          # a chain: every pair is needed
    failed = [pairs[3], pairs[9]]
    update = repair_pairs(pairs, products, failed, max_degree=5)
    assert set(update.removed) == set(failed)
    assert not set(failed) & set(update.pairs)
    assert not set(failed) & set(update.network)
    assert _pieces(update.network, names) == 1
    assert set(update.network) == (set(pairs) - set(failed)) | set(update.pairs)
    assert set(update.kinds.values()) <= {"replacement", "bridge"}
    # within the thresholds: replacements are short pairs, not long bridges
    assert all(update.pair_baselines[p][0] <= 120 for p in update.pairs)


def test_repair_steers_away_from_a_date_that_keeps_failing(make_stack: Any) -> None:
    products = make_stack([k * 12 for k in range(8)], bperp=[0, 5, -5, 10, 0, 5, -5, 10])
    names = [scene_name(p) for p in products]
    bad = names[4]
    pairs = [(names[k], names[k + 1]) for k in range(7)]
    failed = [(names[3], bad), (bad, names[5])]
    update = repair_pairs(pairs, products, failed, restore_degree=False)
    # the two halves are joined around the failing date; it is reached by one new pair only
    assert _pieces(update.network, set(names)) == 1
    assert sum(bad in p for p in update.pairs) == 1
    assert any(names[3] in p and names[5] in p for p in update.pairs)


def test_every_new_date_gets_its_nearest_predecessors_even_when_they_are_at_the_cap(
        make_stack: Any) -> None:
    """The demo's case: two new dates on a network whose last dates are at the degree cap."""
    days = [k * 12 for k in range(32)]
    products = make_stack(days, bperp=np.random.default_rng(7).normal(0, 25, len(days)))
    old, new = products[:30], products[30:]
    existing = select_pairs({(1, 2): old})[0][(1, 2)]   # the default cap
    names = [scene_name(p) for p in products]
    degree = {n: sum(n in p for p in existing) for n in names[:30]}
    assert max(degree.values()) == DEFAULT_MAX_DEGREE and degree[names[29]] >= 3
    update = extend_pairs(existing, old, new)           # the default: 3 nearest predecessors
    for k in (30, 31):
        partners = {a for a, b in update.pairs if b == names[k]}
        assert partners >= set(names[k - DEFAULT_NEW_DATE_NEIGHBOURS:k]), names[k]
    assert sum(names[31] in p for p in update.network) >= DEFAULT_NEW_DATE_NEIGHBOURS


def test_the_default_network_costs_at_most_two_and_a_half_pairs_per_date(make_stack: Any) -> None:
    days = [k * 12 for k in range(30)]
    products = make_stack(days, bperp=np.random.default_rng(3).normal(0, 40, len(days)))
    pairs = select_pairs({(100, 466): products})[0][(100, 466)]
    names = {n for p in pairs for n in p}
    assert len(names) == 30 and len(pairs) <= 2.5 * 30
    assert max(sum(n in p for p in pairs) for n in names) <= DEFAULT_MAX_DEGREE == 5
