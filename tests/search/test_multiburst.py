"""Multi-burst stacks: bursts over an AOI grouped per orbit as HyP3 takes them, and their pair
networks (dates as nodes)."""

from __future__ import annotations

import pytest
from burst_grid import burst_grid

from insarhub import Downloader
from insarhub.errors import ConfigError
from insarhub.network import extend_pairs, select_pairs
from insarhub.processor.hyp3_jobs import INSAR_ISCE_MULTI_BURST
from insarhub.processor.hyp3_pairs import normalize_pairs
from insarhub.search.multiburst import (
    MAX_BURST_SWATHS,
    burst_cell,
    check_group,
    group_bursts,
    split_name,
)
from insarhub.search.persist import load_stacks, save_stacks

SEED_AOI = [-113.05, 37.74, -112.68, 38.00]


def grid(bursts: range, swaths: tuple[int, ...] = (1, 2, 3)) -> list[tuple[int, int]]:
    return [(n, s) for s in swaths for n in bursts]


def test_a_date_missing_a_burst_is_left_out_and_reported() -> None:
    products = burst_grid(grid(range(213524, 213527)), dates=range(5), skip=[(2, 213525, 2)])
    groups = group_bursts(products)
    assert list(groups.stacks) == ["p174_IW1-3_213524-213526"]
    stack = groups.stacks["p174_IW1-3_213524-213526"]
    assert len(stack) == 4 * 9  # 4 whole dates of 9 bursts
    missing_day = products[2 * 9].properties["startTime"][:10]
    assert groups.left_out["p174_IW1-3_213524-213526"] == {missing_day: ["174_213525_IW2"]}
    assert missing_day not in {p.properties["startTime"][:10] for p in stack}
    assert "1 date(s) left out" in groups.text() and "174_213525_IW2" in groups.text()


def test_an_aoi_over_15_burst_swaths_is_split_into_the_fewest_valid_groups() -> None:
    cells = grid(range(213524, 213531))  # 7 bursts x 3 swaths = 21
    groups = group_bursts(burst_grid(cells, dates=range(2)))
    assert list(groups.stacks) == ["p174_IW1-3_213524-213528", "p174_IW1-3_213529-213530"]
    assert "split into 2 stacks" in groups.text()
    seen = []
    for products in groups.stacks.values():
        day = [burst_cell(p)[1] for p in products[: len(products) // 2]]
        check_group(day, 174)  # asf_search's S1MultiBurstGroup rules, <= 15, adjacent swaths
        assert len(day) <= MAX_BURST_SWATHS
        seen += day
    assert sorted(seen) == sorted(cells)


def test_bursts_that_do_not_touch_make_separate_stacks() -> None:
    cells = [(213524, 1), (213525, 1), (213530, 1), (213531, 1)]
    groups = group_bursts(burst_grid(cells, dates=range(2)))
    assert list(groups.stacks) == ["p174_IW1_213524-213525", "p174_IW1_213530-213531"]


def test_search_summary_shows_orbit_bursts_swaths_dates_and_what_was_left_out(catalog_env) -> None:
    bursts = Downloader.create("S1_Burst", intersectsWith=SEED_AOI, start="2020-01-01",
                               end="2020-03-01")
    stacks = bursts.search()
    table = bursts.summary(show=False).set_index("stack")
    seed = table.loc["p100_IW2-3_213494-213496"]  # the seed's orbit: 6 bursts over the AOI
    assert (seed["path"], seed["bursts"], seed["swaths"], seed["dates"]) == (100, 6, "IW2,IW3", 5)
    assert seed["left_out"] == 0 and len(seed["footprint"]) == 4
    assert len(stacks["p100_IW2-3_213494-213496"]) == 6 * 5
    # path 20: two dates hold only part of the burst set; reported, never mixed in
    partial = next(k for k in stacks if k.startswith("p20_"))
    assert table.loc[partial, "left_out"] == len(bursts.left_out[partial]) > 0
    dates_in = {p.properties["startTime"][:10] for p in stacks[partial]}
    assert not dates_in & set(bursts.left_out[partial])
    # latest_n keeps whole dates
    bursts.filter(path_frame="p100_IW2-3_213494-213496", latest_n=2)
    assert len(bursts.stacks["p100_IW2-3_213494-213496"]) == 2 * 6


def test_pair_networks_pair_dates_of_the_whole_burst_set(tmp_path) -> None:
    cells = grid(range(213524, 213526))
    products = burst_grid(cells, dates=range(8))
    stacks = group_bursts(products).stacks
    key = "p174_IW1-3_213524-213525"
    pair_stacks, baselines, scene_bperp = select_pairs(stacks, max_degree=3)
    pairs = pair_stacks[key]
    assert len(scene_bperp[key]) == 8  # one node per date
    for reference, secondary in pairs:
        ref, sec = split_name(reference), split_name(secondary)
        assert len(ref) == len(sec) == 6
        assert [n.split("_")[1:3] for n in ref] == [n.split("_")[1:3] for n in sec]
    # the processor takes the network's pairs as they are and checks HyP3's pair rules
    normalized, stack = normalize_pairs({key: pairs}, INSAR_ISCE_MULTI_BURST)
    assert normalized == pairs and stack == key
    # saved and loaded under the multi-burst key
    save_stacks(stacks, tmp_path)
    assert list(load_stacks(tmp_path)) == [key]
    # a new date joins the network as one node
    old, new = burst_grid(cells, dates=range(8)), burst_grid(cells, dates=[8])
    update = extend_pairs(pairs, old, new, n_nearest=2)
    assert update.pairs and all(len(split_name(s)) == 6 for _, s in update.pairs)
    assert {split_name(s)[0] for _, s in update.pairs} == {new[0].properties["sceneName"]}


def test_multi_burst_pairs_that_hyp3_would_refuse_are_refused_first() -> None:
    products = burst_grid(grid(range(213524, 213526)), dates=range(2))
    day1 = [p.properties["sceneName"] for p in products[:6]]
    day2 = [p.properties["sceneName"] for p in products[6:]]
    normalize_pairs([(day1, day2)], INSAR_ISCE_MULTI_BURST)  # lists are fine
    with pytest.raises(ConfigError, match="must hold the same bursts"):
        normalize_pairs([(day1, day2[:5])], INSAR_ISCE_MULTI_BURST)
    with pytest.raises(ConfigError, match="must be older"):
        normalize_pairs([(day2, day1)], INSAR_ISCE_MULTI_BURST)
    with pytest.raises(ConfigError, match="one pass"):
        normalize_pairs([(day1[:3] + day2[3:], day2)], INSAR_ISCE_MULTI_BURST)
    many = burst_grid(grid(range(213520, 213526)), dates=[0])  # 18 burst-swaths
    with pytest.raises(ConfigError, match="at most 15"):
        normalize_pairs([([p.properties["sceneName"] for p in many], day2)],
                        INSAR_ISCE_MULTI_BURST)
