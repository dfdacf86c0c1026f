"""ISCE_S1_Config: YAML round trip and clear errors; pair normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest
from isce_helpers import PAIRS, scene

from insarhub.errors import ConfigError, InsarHubError
from insarhub.processor.isce import ISCE_S1_Config, normalize_pairs


def test_yaml_round_trip(tmp_path: Path) -> None:
    cfg = ISCE_S1_Config(workdir=tmp_path / "w", bbox=[37.74, 38.0, -113.05, -112.68],
                         slc_dir=tmp_path / "slc", swaths=[3, 2], looks_range=4,
                         looks_azimuth=1, coregistration="nesd", filter_strength=0.3,
                         unwrap_method="ICU", max_workers=8, dry_run=True)
    path = tmp_path / "isce.yaml"
    cfg.to_yaml(path)
    again = ISCE_S1_Config.from_yaml(path)
    assert again == cfg
    assert again.swaths == [2, 3] and again.coregistration == "NESD"
    assert again.unwrap_method == "icu"
    assert "looks_range: 4" in path.read_text()


@pytest.mark.parametrize(("options", "words"), [
    ({"bbox": [38.0, 37.0, -113.0, -112.0]}, ["bbox", "S < N", "[S, N, W, E]"]),
    ({"bbox": [37.0, 38.0, -112.0, -113.0]}, ["bbox", "W < E"]),
    ({"bbox": [37.0, 38.0]}, ["bbox", "4 numbers"]),
    ({"swaths": [4]}, ["swaths=[4]", "1, 2, 3"]),
    ({"looks_range": 0}, ["looks_range=0", ">= 1"]),
    ({"filter_strength": 1.5}, ["filter_strength=1.5", "between 0 and 1"]),
    ({"coregistration": "esd"}, ["coregistration='esd'", "NESD", "geometry"]),
    ({"unwrap_method": "phass"}, ["unwrap_method='phass'", "snaphu", "icu"]),
    ({"reference_date": "2020-01-02"}, ["reference_date", "YYYYMMDD"]),
    ({"max_workers": -1}, ["max_workers=-1"]),
    ({"looks": 3}, ["looks", "unknown option", "looks_range"]),
])
def test_bad_values_name_field_value_and_allowed(tmp_path: Path, options: dict[str, object],
                                                 words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        ISCE_S1_Config(workdir=tmp_path, slc_dir=tmp_path, **options)
    for word in words:
        assert word in str(info.value)


def test_missing_required_and_bad_assignment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workdir: required.*slc_dir: required"):
        ISCE_S1_Config()
    cfg = ISCE_S1_Config(workdir=tmp_path, slc_dir=tmp_path)
    with pytest.raises(ConfigError, match="max_workers=0"):
        cfg.max_workers = 0
    with pytest.raises(ConfigError, match="does not exist"):
        ISCE_S1_Config.from_yaml(tmp_path / "nope.yaml")


def test_processing_hash_ignores_runtime_options(tmp_path: Path) -> None:
    cfg = ISCE_S1_Config(workdir=tmp_path, slc_dir=tmp_path)
    same = cfg.model_copy(update={"max_workers": 9, "dry_run": True})
    assert cfg.processing_hash(PAIRS) == same.processing_hash(PAIRS)
    other = ISCE_S1_Config(workdir=tmp_path, slc_dir=tmp_path, looks_range=4)
    assert cfg.processing_hash(PAIRS) != other.processing_hash(PAIRS)
    assert cfg.processing_hash(PAIRS) != cfg.processing_hash(PAIRS[:-1])


def test_pairs_from_list_or_one_stack_dict() -> None:
    assert normalize_pairs(PAIRS) == PAIRS
    assert normalize_pairs({(100, 466): PAIRS}) == PAIRS
    zipped = [(f"{a}.zip", b) for a, b in PAIRS[:2]] + PAIRS[:1]  # suffix dropped, duplicate too
    assert normalize_pairs(zipped) == PAIRS[:2]


@pytest.mark.parametrize(("pairs", "words"), [
    ({(100, 466): PAIRS, (100, 471): PAIRS}, ["2 stacks", "(100, 466)", "pair_stacks[key]"]),
    ([], ["non-empty"]),
    ([("S1A_IW_GRDH_x", scene("20200114"))], ["S1A_IW_GRDH_x", "not a Sentinel-1 IW SLC"]),
    ([(scene("20200114"), scene("20200102"))], ["before"]),
    ([(scene("20200102"),)], ["not a (reference, secondary) pair"]),
])
def test_bad_pairs(pairs: object, words: list[str]) -> None:
    with pytest.raises(InsarHubError) as info:
        normalize_pairs(pairs)
    for word in words:
        assert word in str(info.value)
