"""Baselines from the UMM state vectors, checked against ASF's own recorded values."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from insarhub.errors import PairNetworkError
from insarhub.network.baselines import (
    OrbitState,
    pair_perpendicular_baselines,
    perpendicular_baselines,
    scene_name,
    stack_baselines,
)
from insarhub.network.synthetic import copy_without_state_vectors


def _asf_reference(items: list[dict[str, Any]]) -> int:
    return next(i for i, item in enumerate(items) if item["properties"]["temporalBaseline"] == 0)


@pytest.mark.parametrize("stack_name", ["burst", "fairbanks"])
def test_perpendicular_baselines_match_asf_recorded_values(stack_name: str, request: Any) -> None:
    items = request.getfixturevalue(f"{stack_name}_items")
    products = request.getfixturevalue(f"{stack_name}_stack")
    recorded = np.array([i["properties"]["perpendicularBaseline"] for i in items], dtype=float)
    ours = perpendicular_baselines(OrbitState.from_products(products), _asf_reference(items))
    error = np.abs(ours - recorded)
    # ASF rounds to whole metres, so agreement within rounding is 0.5 m
    assert np.isfinite(ours).all()
    assert np.median(error) < 1.0
    assert error.max() <= 0.5 + 1e-6


def test_preprocessed_fairbanks_stack_gets_asf_expected_values(recorded: Any) -> None:
    """The 'preprocessed' input (no baselines) gives the values of ASF's expected output."""
    _, products = recorded("Fairbanks_S1_stack_preprocessed")
    expected, _ = recorded("Fairbanks_S1_stack")
    sb = stack_baselines(products)
    by_name = {i["properties"]["sceneName"]: i["properties"] for i in expected}
    for name, days, bperp in zip(sb.names, sb.days, sb.bperp, strict=True):
        assert by_name[name]["temporalBaseline"] == days
        assert abs(by_name[name]["perpendicularBaseline"] - bperp) <= 0.5


def test_temporal_baselines_match_asf(burst_items: list[dict[str, Any]], burst_stack: list[Any]
                                      ) -> None:
    sb = stack_baselines(burst_stack)
    ref = burst_items[_asf_reference(burst_items)]["properties"]["sceneName"]
    offset = sb.days[sb.index()[ref]]
    recorded = {i["properties"]["sceneName"]: i["properties"]["temporalBaseline"]
                for i in burst_items}
    assert len(sb) == 166
    assert all(recorded[n] == d - offset for n, d in zip(sb.names, sb.days, strict=True))
    assert list(sb.days) == sorted(sb.days)
    assert sb.source == "state vectors"


def test_pair_baselines_are_computed_from_the_pair_reference(burst_items: list[dict[str, Any]],
                                                             burst_stack: list[Any]) -> None:
    ref = _asf_reference(burst_items)
    orbits = OrbitState.from_products(burst_stack)
    secondaries = np.arange(len(burst_stack))
    direct = pair_perpendicular_baselines(orbits, np.full(len(secondaries), ref), secondaries)
    recorded = np.array([i["properties"]["perpendicularBaseline"] for i in burst_items], float)
    assert np.abs(direct - recorded).max() <= 0.5 + 1e-6
    # a pair's own baseline and the difference of per-scene values (relative to the first
    # date, years away) agree to a few metres: geometry changes slowly along the stack
    sb = stack_baselines(burst_stack)
    i = np.arange(0, len(sb) - 5)
    diff = np.abs(sb.pair_bperp(i, i + 5) - (sb.bperp[i + 5] - sb.bperp[i]))
    assert np.median(diff) < 2.0
    assert diff.max() < 10.0


def test_burst_names_are_hyp3_granule_names(burst_stack: list[Any]) -> None:
    names = [scene_name(p) for p in burst_stack]
    assert "S1_372326_IW3_20180815T151558_VV_6BD3-BURST" in names
    assert all(n.startswith("S1_372326_IW3_") and n.endswith("-BURST") and len(n) == 43
               for n in names)


def test_same_date_scenes_collapse_to_one_acquisition(make_stack: Any) -> None:
    first = make_stack([0, 12, 24, 36], seed=1)
    again = make_stack([12, 36], seed=2, name_tag=1)       # other granules of two dates
    sb = stack_baselines(first + again)
    assert len(sb) == 4
    assert len(sb.duplicates) == 2
    assert set(sb.duplicates.values()) <= set(sb.names)
    # the kept scene of a date is the first name (both have state vectors)
    for dropped, kept in sb.duplicates.items():
        assert kept < dropped


def test_the_same_granule_twice_counts_once(make_stack: Any) -> None:
    products = make_stack([0, 12, 24])
    sb = stack_baselines(products + products[:1])
    assert len(sb) == 3 and sb.duplicates == {}


def _as_stacked(product: Any, bperp: float) -> Any:
    """A copy carrying ASF's recorded baseline, as `product.stack()` results do."""
    out = copy.copy(product)
    out.properties = {**product.properties, "perpendicularBaseline": bperp}
    return out


def test_missing_state_vectors_fall_back_to_recorded_baselines(
        burst_items: list[dict[str, Any]], burst_stack: list[Any]) -> None:
    recorded = [i["properties"]["perpendicularBaseline"] for i in burst_items]
    products = [_as_stacked(p, b) for p, b in zip(burst_stack, recorded, strict=True)]
    stripped = [5, 50, 120]
    for k in stripped:
        products[k] = copy_without_state_vectors(products[k], recorded_bperp=recorded[k])
    sb = stack_baselines(products)
    full = stack_baselines(burst_stack)
    assert sb.source == "state vectors + recorded"
    index = sb.index()
    for k in stripped:
        name = scene_name(products[k])
        assert abs(sb.bperp[index[name]] - full.bperp[index[name]]) < 5.0


def test_all_recorded_baselines_when_no_scene_has_state_vectors(
        fairbanks_items: list[dict[str, Any]], fairbanks_stack: list[Any]) -> None:
    products = [copy_without_state_vectors(p, i["properties"]["perpendicularBaseline"])
                for p, i in zip(fairbanks_stack, fairbanks_items, strict=True)]
    sb = stack_baselines(products)
    assert sb.source == "recorded"
    assert list(sb.bperp) == [0.0, 37.0, 40.0]


def test_no_state_vectors_and_no_recorded_baseline_names_the_scene(
        recorded: Any, fairbanks_stack: list[Any]) -> None:
    negative = recorded("Fairbanks_SLC_no_stateVectors")[1][0]
    bare = copy_without_state_vectors(negative)
    products = [bare, *fairbanks_stack[1:]]
    with pytest.raises(PairNetworkError, match=scene_name(bare)) as info:
        stack_baselines(products)
    assert "state vectors" in str(info.value)


def test_mixed_stack_is_refused(burst_stack: list[Any], fairbanks_stack: list[Any]) -> None:
    with pytest.raises(PairNetworkError, match="mixes processingLevel"):
        stack_baselines(burst_stack[:3] + fairbanks_stack, key="mixed")


def test_not_a_product_is_refused() -> None:
    with pytest.raises(PairNetworkError, match="ASFProduct"):
        stack_baselines(["S1A_IW_SLC__1SDV_20200101T000000"])
