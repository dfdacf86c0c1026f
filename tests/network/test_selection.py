"""Pair selection: connected every time, degree limits held, thresholds held but for bridges."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date
from typing import Any

import numpy as np
import pytest

from insarhub.errors import ConfigError, PairNetworkError
from insarhub.network import PairNetworkWarning, PairSelection, select_pairs
from insarhub.network.baselines import scene_name


def _day(name: str) -> date:
    stamp = name.split("T")[0][-8:]
    return date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]))


def _pieces(names: list[str], pairs: list[tuple[str, str]]) -> int:
    """Connected components, counted here independently of the library (union-find)."""
    parent = {n: n for n in names}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    return len({find(n) for n in names})


def check(result: PairSelection, key: Hashable, *, dt_max: float = 120, pb_max: float = 150,
          max_degree: int = 999, targets: tuple[int, ...] | None = (6, 12, 24, 36, 48, 72, 96),
          dt_tol: int = 3) -> dict[str, int]:
    """What a user checks on a network; returns the degree of every date."""
    pair_stacks, baselines, scene_bperp = result
    pairs, b, dates = pair_stacks[key], baselines[key], scene_bperp[key]
    net = result.networks[key]
    report = result.reports()[key]
    assert _pieces(list(dates), pairs) == 1, "the network must be one piece"
    assert report.components == 1
    assert set(b) == set(pairs) and len(set(pairs)) == len(pairs)
    degree = dict.fromkeys(dates, 0)
    for ref, sec in pairs:
        assert _day(ref) < _day(sec), "reference first, in time order"
        assert b[(ref, sec)][0] == (_day(sec) - _day(ref)).days
        degree[ref] += 1
        degree[sec] += 1
    assert pairs == sorted(pairs, key=lambda p: (_day(p[0]), _day(p[1])))
    # degree limits: held, or reported as needed for connectivity
    over = {n: d for n, d in degree.items() if d > max_degree}
    assert over == report.degree_exceptions
    # thresholds: every pair beyond them is a reported bridge / yearly / user pair
    beyond = {p for p in pairs if b[p][0] > dt_max or b[p][1] > pb_max}
    assert beyond == {(r, s) for r, s, *_ in report.bridges}
    assert all(net.kinds[p] in ("bridge", "yearly", "user") for p in beyond)
    for pair in pairs:
        if net.kinds[pair] == "threshold" and targets is not None:
            assert min(abs(b[pair][0] - t) for t in targets) <= dt_tol
    return degree


# -- the real recorded stacks -----------------------------------------------------------
@pytest.mark.parametrize("max_degree", [3, 5, 999])
def test_real_burst_stack_is_one_network(burst_stack: list[Any], max_degree: int) -> None:
    key = "174_372326_IW3"
    result = select_pairs({key: burst_stack}, max_degree=max_degree)
    degree = check(result, key, max_degree=max_degree)
    assert len(degree) == 166
    assert result.networks[key].degree_exceptions == {}
    assert max(degree.values()) <= max_degree
    # the real 2016-2017 gap (> dt_max) is crossed by a reported bridge
    assert any(b[0] > 120 for b in result[1][key].values())


def test_real_slc_stack_uses_slc_scene_names(fairbanks_stack: list[Any]) -> None:
    result = select_pairs(fairbanks_stack)            # a flat list: grouped by (path, frame)
    (key,) = result[0].keys()
    assert key == (fairbanks_stack[0].properties["pathNumber"],
                   fairbanks_stack[0].properties["frameNumber"])
    check(result, key)
    names = {n for p in result[0][key] for n in p}
    assert names == {p.properties["sceneName"] for p in fairbanks_stack}
    assert all(n.startswith("S1B_IW_SLC__1SDV_") and not n.endswith("-SLC") for n in names)
    assert len(result[0][key]) == 3                   # 12, 12 and 24 days: all on target
    assert result.reports()[key].credits == 30


# -- generated stacks with gaps ----------------------------------------------------------
@pytest.mark.parametrize("gap", [30, 60, 90, 130, 200, 300, 400])
@pytest.mark.parametrize("max_degree", [4, 999])
def test_gapped_stacks_are_always_connected(make_stack: Any, gapped_days: Any, gap: int,
                                            max_degree: int) -> None:
    days = gapped_days(gap)
    products = make_stack(days, seed=gap)
    result = select_pairs({(1, 2): products}, max_degree=max_degree)
    degree = check(result, (1, 2), max_degree=max_degree)
    assert len(degree) == len(days)
    assert result.networks[(1, 2)].degree_exceptions == {}
    net = result.networks[(1, 2)]
    day0 = _day(scene_name(products[0]))

    def offset(name: str) -> int:
        return (_day(name) - day0).days

    crossing = [p for p in net.pairs if offset(p[0]) <= days[19] < days[20] <= offset(p[1])]
    assert crossing, "some pair crosses the gap"
    if gap > 120:
        assert all(net.kinds[p] == "bridge" for p in crossing)
        assert len(crossing) == 1                      # just the cheapest bridge
        dt, bp = result[1][(1, 2)][crossing[0]]
        assert dt >= gap
        if max_degree == 999:   # the cheapest of all pairs across the gap
            sb = net.baselines
            grid = np.meshgrid(np.arange(20), np.arange(20, 40), indexing="ij")
            i, j = grid[0].ravel(), grid[1].ravel()
            costs = (sb.days[j] - sb.days[i]) / 120 + np.abs(sb.pair_bperp(i, j)) / 150
            assert dt / 120 + bp / 150 == pytest.approx(costs.min())


def test_several_gaps_and_a_strict_perpendicular_limit(make_stack: Any) -> None:
    days = [0, 12, 24, 36, 250, 262, 274, 286, 298, 700, 712, 724, 1200, 1212]
    rng = np.random.default_rng(5)
    products = make_stack(days, bperp=rng.normal(0, 80, len(days)))
    result = select_pairs({(1, 2): products}, pb_max=40, max_degree=3, min_degree=2)
    check(result, (1, 2), pb_max=40, max_degree=3)
    assert result.networks[(1, 2)].degree_exceptions == {}


def test_degree_limits_give_way_only_for_connectivity(make_stack: Any) -> None:
    """max_degree=1 cannot connect 4 dates: the limit yields and that is reported."""
    products = make_stack([0, 12, 24, 36])
    result = select_pairs({(1, 2): products}, max_degree=1, min_degree=1)
    degree = check(result, (1, 2), max_degree=1)
    net = result.networks[(1, 2)]
    assert len(net.pairs) == 3                         # a spanning tree, nothing more
    assert set(net.degree_exceptions) == {n for n, d in degree.items() if d > 1}
    assert net.degree_exceptions
    assert "above max_degree" in result.reports()[(1, 2)].text()


# -- strategies ------------------------------------------------------------------------
def test_sequential_strategy_pairs_n_nearest(make_stack: Any) -> None:
    days = [k * 12 for k in range(30)]
    result = select_pairs({(1, 2): make_stack(days)}, strategy="sequential", n_nearest=2,
                          min_degree=0)
    check(result, (1, 2), targets=None)
    index = {scene_name(p): k for k, p in enumerate(make_stack(days))}
    pairs = result[0][(1, 2)]
    assert all(index[b] - index[a] in (1, 2) for a, b in pairs)
    assert len(pairs) == 29 + 28


def test_yearly_pairs_bridge_the_snow_season(make_stack: Any) -> None:
    """Summers only (May-Oct) for three years: one-year pairs join summer to summer."""
    days = [d for year in range(3) for d in range(365 * year + 120, 365 * year + 300, 12)]
    products = make_stack(days, bperp=np.random.default_rng(3).normal(0, 20, len(days)))
    result = select_pairs({(1, 2): products}, yearly=True)
    check(result, (1, 2))
    net = result.networks[(1, 2)]
    yearly = [p for p in net.pairs if net.kinds[p] == "yearly"]
    assert len(yearly) >= 20
    assert all(abs(net.pair_baselines[p][0] - 365) <= 30 for p in yearly)
    without = select_pairs({(1, 2): products})
    assert not [p for p in without.networks[(1, 2)].pairs
                if without.networks[(1, 2)].kinds[p] == "yearly"]
    # without yearly pairs each winter is crossed by a single bridge
    assert sum(k == "bridge" for k in without.networks[(1, 2)].kinds.values()) == 2


# -- user pairs -------------------------------------------------------------------------
def test_users_add_and_remove_pairs(make_stack: Any) -> None:
    products = make_stack([k * 12 for k in range(12)])
    names = [scene_name(p) for p in products]
    base = select_pairs({(1, 2): products})[0][(1, 2)]
    dropped = base[0]
    long_pair = (names[11], names[0])                  # given backwards, 132 days
    result = select_pairs({(1, 2): products}, add_pairs=[long_pair], remove_pairs=[dropped])
    pairs = result[0][(1, 2)]
    assert dropped not in pairs
    assert (names[0], names[11]) in pairs
    assert result.networks[(1, 2)].kinds[(names[0], names[11])] == "user"
    check(result, (1, 2))
    with pytest.raises(PairNetworkError, match="S1X_NOT_A_SCENE"):
        select_pairs({(1, 2): products}, add_pairs=[(names[0], "S1X_NOT_A_SCENE")])
    with pytest.raises(PairNetworkError, match="not a \\(reference, secondary\\) pair"):
        select_pairs({(1, 2): products}, remove_pairs=["just-one-name"])  # type: ignore[list-item]


def test_removed_pairs_are_never_used_even_to_connect(make_stack: Any) -> None:
    products = make_stack([0, 12, 24, 400, 412])
    names = [scene_name(p) for p in products]
    first = select_pairs({(1, 2): products})
    bridge = next(p for p, k in first.networks[(1, 2)].kinds.items() if k == "bridge")
    second = select_pairs({(1, 2): products}, remove_pairs={(1, 2): [bridge]})
    check(second, (1, 2))
    assert bridge not in second[0][(1, 2)]
    assert set(names) == set(second[2][(1, 2)])


# -- what cannot be connected -----------------------------------------------------------
def test_unconnectable_date_is_named_and_left_out(make_stack: Any) -> None:
    bperp = [0, 10, -5, 2000, 8, 3]                    # an orbit far outside the tube
    products = make_stack([0, 12, 24, 36, 48, 60], bperp=bperp)
    outcast = scene_name(products[3])
    with pytest.warns(PairNetworkWarning, match=outcast):
        result = select_pairs({(1, 2): products})
    assert outcast not in result[2][(1, 2)]
    assert all(outcast not in p for p in result[0][(1, 2)])
    assert result.networks[(1, 2)].left_out == [outcast]
    check(result, (1, 2))
    assert outcast in result.reports()[(1, 2)].text()


def test_force_connect_off_reports_the_pieces(make_stack: Any, gapped_days: Any) -> None:
    products = make_stack(gapped_days(200))
    with pytest.warns(PairNetworkWarning, match="2 disconnected pieces"):
        result = select_pairs({(1, 2): products}, force_connect=False)
    assert result.reports()[(1, 2)].components == 2


# -- odd inputs --------------------------------------------------------------------------
def test_empty_input_is_an_error() -> None:
    with pytest.raises(PairNetworkError, match="no stacks"):
        select_pairs({})
    with pytest.raises(PairNetworkError, match="empty"):
        select_pairs([])
    with pytest.raises(PairNetworkError, match="list of asf_search products"):
        select_pairs({(1, 2): "S1A_IW_SLC"})


def test_empty_and_single_scene_stacks_give_no_pairs(make_stack: Any) -> None:
    products = make_stack([0, 12, 24])
    result = select_pairs({(1, 2): [], (3, 4): products[:1], (5, 6): products})
    pair_stacks, baselines, scene_bperp = result
    assert pair_stacks[(1, 2)] == [] and pair_stacks[(3, 4)] == []
    assert scene_bperp[(3, 4)] == {scene_name(products[0]): 0.0}
    assert len(pair_stacks[(5, 6)]) == 3
    assert "no pairs are possible" in result.reports()[(3, 4)].text()
    assert result.reports()[(1, 2)].credits == 0


def test_duplicate_dates_collapse(make_stack: Any) -> None:
    products = make_stack([0, 12, 24, 36]) + make_stack([12, 24], seed=9, name_tag=3)
    result = select_pairs({(1, 2): products})
    check(result, (1, 2))
    assert len(result[2][(1, 2)]) == 4
    assert len(result.networks[(1, 2)].baselines.duplicates) == 2
    same_date = make_stack([0]) + make_stack([0], name_tag=5)
    assert select_pairs({(1, 2): same_date})[0][(1, 2)] == []


def test_mixed_stack_is_refused(burst_stack: list[Any], fairbanks_stack: list[Any]) -> None:
    with pytest.raises(PairNetworkError, match="mixes"):
        select_pairs({"everything": burst_stack[:5] + fairbanks_stack})


def test_mixed_list_is_split_into_stacks(burst_stack: list[Any], fairbanks_stack: list[Any]
                                         ) -> None:
    result = select_pairs(burst_stack[:10] + fairbanks_stack)
    assert len(result[0]) == 2 and "174_372326_IW3" in result[0]
    for key in result[0]:
        check(result, key)


@pytest.mark.parametrize("options, field", [
    ({"max_degre": 5}, "max_degre"),
    ({"strategy": "delaunay"}, "strategy"),
    ({"min_degree": 6, "max_degree": 5}, "min_degree"),
    ({"dt_targets": (12, -6)}, "dt_targets"),
    ({"pb_max": 0}, "pb_max"),
    ({"max_degree": 2.5}, "max_degree"),
    ({"n_nearest": 0}, "n_nearest"),
])
def test_bad_options_are_named(make_stack: Any, options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        select_pairs({(1, 2): make_stack([0, 12])}, **options)


def test_selection_survives_pickling(make_stack: Any) -> None:
    """Prefect persists task results with pickle: the 3-tuple and its networks come back."""
    import pickle

    result = select_pairs({(1, 2): make_stack([0, 12, 24, 36])})
    again = pickle.loads(pickle.dumps(result))
    pair_stacks, baselines, scene_bperp = again
    assert pair_stacks == result[0] and baselines == result[1] and scene_bperp == result[2]
    assert again.reports()[(1, 2)].pairs == len(result[0][(1, 2)])
