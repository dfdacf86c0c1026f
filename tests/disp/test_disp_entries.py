"""DISP-S1 where users name products: the CLI, monitoring configs and fleet entries."""

from __future__ import annotations

from pathlib import Path

import yaml

from insarhub.fleet import load_fleet
from insarhub.fleet.needs import pair_cost


def test_a_fleet_entry_with_product_disp_monitors_disp_s1_at_no_cost(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump({"workdir": "work", "aois": [
        {"name": "cedar", "geometry": [-113.05, 37.74, -112.68, 38.0], "product": "disp"}]}))
    config = load_fleet(path).monitor_config("cedar")
    assert config.product == "S1_DISP"
    assert pair_cost(config, {"name": "F31466", "scenes": []}) == 0.0


def test_insarhub_run_takes_product_disp() -> None:
    import argparse

    from flows import commands

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["run", "--aoi=-113.05,37.74,-112.68,38.0", "--start",
                              "2020-01-01", "--product", "disp"])
    assert args.product == "disp"
