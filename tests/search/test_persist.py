"""Search results saved in a stack folder reload as the very same asf_search products."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from asf_search import ASFSession
from asf_search.baseline.stack import get_baseline_from_stack
from asf_search.search.search_generator import as_ASFProduct

from insarhub import Downloader
from insarhub.downloaders import S1SLCDownloader
from insarhub.errors import SearchError, StackError
from insarhub.search.persist import load_products, load_stacks, save_products

SEED_AOI = [-113.05, 37.74, -112.68, 38.00]


def test_recorded_asf_products_round_trip_exactly(fixtures_dir: Path, tmp_path: Path) -> None:
    items = yaml.load((fixtures_dir / "asf_search" / "Fairbanks_S1_stack.yml").read_text(), Loader=yaml.CSafeLoader)
    products = [as_ASFProduct({"umm": i["umm"], "meta": i["meta"]}, ASFSession()) for i in items]
    path = save_products(products, tmp_path / "p94_f210" / "scenes.json")
    loaded = load_products(path)
    assert [type(p) for p in loaded] == [type(p) for p in products]
    assert [p.umm for p in loaded] == [p.umm for p in products]
    assert [p.meta for p in loaded] == [p.meta for p in products]
    assert [p.properties for p in loaded] == [p.properties for p in products]
    # baselines from the reloaded state vectors equal ASF's recorded ones
    stack, _ = get_baseline_from_stack(loaded[0], loaded)
    recorded = {i["properties"]["sceneName"]: i["properties"]["perpendicularBaseline"] for i in items}
    for product in stack:
        assert product.properties["perpendicularBaseline"] == pytest.approx(
            recorded[product.properties["sceneName"]], abs=1)


def test_search_results_persist_per_stack_and_reload(catalog_env, tmp_path: Path) -> None:
    s1 = Downloader.create("S1_SLC", intersectsWith=SEED_AOI, start="2019-01-01", end="2019-12-31")
    s1.search()
    s1.filter(path_frame=[(100, 466), (20, 118)])
    written = s1.save(tmp_path)
    assert sorted(p.parent.name for p in written.values()) == ["p100_f466", "p20_f118"]
    saved = json.loads((tmp_path / "p100_f466" / "scenes.json").read_text())
    assert set(saved[0]) == {"umm", "meta"}

    again = S1SLCDownloader.load(tmp_path)
    assert list(again.stacks) == list(s1.stacks)
    for key, products in s1.stacks.items():
        assert [p.umm for p in again.stacks[key]] == [p.umm for p in products]
    assert again.aoi is not None and again.aoi.equals(s1.aoi)
    only = load_stacks(tmp_path, stacks=["p100_f466"])
    assert list(only) == [(100, 466)]
    # perpendicular baselines computed from reloaded products equal those of the originals
    original = s1.stacks[(100, 466)]
    reloaded = only[(100, 466)]
    first, _ = get_baseline_from_stack(original[0], original)
    second, _ = get_baseline_from_stack(reloaded[0], reloaded)
    assert [p.properties["perpendicularBaseline"] for p in first] == [
        p.properties["perpendicularBaseline"] for p in second]


def test_missing_or_broken_saved_results_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SearchError, match="no saved search results"):
        load_stacks(tmp_path)
    (tmp_path / "p1_f2").mkdir()
    (tmp_path / "p1_f2" / "scenes.json").write_text("{not json")
    with pytest.raises(SearchError, match="unreadable"):
        load_stacks(tmp_path)
    with pytest.raises(StackError, match="no saved stack p100_f466"):
        load_stacks(tmp_path, stacks=[(100, 466)])
