"""`insarhub pairs --workdir ...` on saved search results."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main  # the `insarhub` command
from insarhub.search.persist import save_products
from insarhub.search.stacks import stack_dirname


@pytest.fixture
def search_dir(tmp_path: Path, burst_stack: list[Any], fairbanks_stack: list[Any]) -> Path:
    """A search folder as `insarhub search --workdir` leaves it: one scenes.json per stack."""
    p = fairbanks_stack[0].properties
    save_products(burst_stack, tmp_path / "174_372326_IW3" / "scenes.json")
    save_products(fairbanks_stack,
                  tmp_path / stack_dirname((p["pathNumber"], p["frameNumber"])) / "scenes.json")
    return tmp_path


def test_pairs_for_every_saved_stack(search_dir: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    assert main(["pairs", "--workdir", str(search_dir), "--max-degree", "5"]) == 0
    out = capsys.readouterr().out
    assert "stack 174_372326_IW3: 166 dates" in out
    assert "1 component(s)" in out and "HyP3 credits" in out
    burst = search_dir / "174_372326_IW3"
    document = json.loads((burst / "pairs.json").read_text())
    pairs = document["pairs"]
    assert document["key"] == "174_372326_IW3"
    assert document["report"]["components"] == 1
    assert document["report"]["degree_max"] <= 5
    assert len(document["scene_bperp"]) == 166
    assert all(a.endswith("-BURST") and b.endswith("-BURST") and a < b for a, b in pairs)
    rows = list(csv.DictReader((burst / "pairs.csv").open()))
    assert [[r["reference"], r["secondary"]] for r in rows] == pairs
    assert all(int(r["temporal_days"]) > 0 for r in rows)
    assert (burst / "pair_network.png").read_bytes()[:4] == b"\x89PNG"
    slc_folder = next(p for p in search_dir.iterdir() if p.name.startswith("p"))
    assert len(json.loads((slc_folder / "pairs.json").read_text())["pairs"]) == 3


def test_one_stack_folder_with_user_pairs(search_dir: Path) -> None:
    folder = next(p for p in search_dir.iterdir() if p.name.startswith("p"))
    names = sorted(json.loads((folder / "scenes.json").read_text()),
                   key=lambda i: i["umm"]["TemporalExtent"]["RangeDateTime"]["BeginningDateTime"])
    first = names[0]["umm"]["DataGranule"]["Identifiers"][0]["Identifier"]
    second = names[1]["umm"]["DataGranule"]["Identifiers"][0]["Identifier"]
    assert main(["pairs", "--workdir", str(folder), "--remove", first, second, "--no-plot"]) == 0
    pairs = json.loads((folder / "pairs.json").read_text())["pairs"]
    assert [first, second] not in pairs and len(pairs) == 2
    assert not (folder / "pair_network.png").exists()


def test_bad_workdir_and_options_are_clear_errors(tmp_path: Path, search_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pairs", "--workdir", str(tmp_path / "nothing")]) == 1
    assert "no scenes.json" in capsys.readouterr().err
    assert main(["pairs", "--workdir", str(search_dir), "--min-degree", "6",
                 "--max-degree", "5"]) == 1
    assert "min_degree=6" in capsys.readouterr().err


def test_pairs_default_to_the_degree_cap(search_dir: Path) -> None:
    """No --max-degree: the shared default (5) holds, so 166 dates cost <= 2.5 pairs a date."""
    assert main(["pairs", "--workdir", str(search_dir / "174_372326_IW3")]) == 0
    document = json.loads((search_dir / "174_372326_IW3" / "pairs.json").read_text())
    assert document["report"]["degree_max"] <= 5
    assert len(document["pairs"]) <= 2.5 * 166
