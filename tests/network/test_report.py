"""The network report and the network figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from insarhub.errors import ConfigError
from insarhub.network import select_pairs
from insarhub.network.report import credit_cost, expected_coherence, report_from_pairs
from insarhub.utils import plot_pair_network


def test_report_figures(burst_stack: list[Any]) -> None:
    key = "174_372326_IW3"
    result = select_pairs({key: burst_stack}, max_degree=5)
    pairs, baselines, scene_bperp = result[0][key], result[1][key], result[2][key]
    report = result.reports()[key]
    degree = dict.fromkeys(scene_bperp, 0)
    for a, b in pairs:
        degree[a] += 1
        degree[b] += 1
    assert report.dates == 166 and report.pairs == len(pairs)
    assert (report.first_date, report.last_date) == ("2014-10-17", "2021-12-21")
    assert report.components == 1
    assert (report.degree_min, report.degree_max) == (min(degree.values()), max(degree.values()))
    assert report.redundancy == pytest.approx(len(pairs) / 165, abs=1e-3)
    assert report.job_type == "INSAR_ISCE_MULTI_BURST" and report.credits == len(pairs)  # 1 burst: 1 credit
    assert report.baseline_source == "state vectors"
    days = [baselines[p][0] for p in pairs]
    assert report.temporal_days == (min(days), max(days))
    assert 0.2 < report.coherence_min <= report.coherence_mean < 1.0
    assert sum(report.kinds.values()) == len(pairs)
    text = result.report()
    assert "166 dates" in text and f"{len(pairs)} HyP3 credits" in text
    assert json.loads(json.dumps(report.to_dict()))["pairs"] == len(pairs)


def test_credit_estimate_follows_hyp3_costs() -> None:
    assert credit_cost(30, "INSAR_GAMMA", "20x4") == 300
    assert credit_cost(30, "INSAR_GAMMA", "10x2") == 450
    assert credit_cost(30, "INSAR_ISCE_BURST") == 30
    with pytest.raises(ConfigError, match="looks='5x1'"):
        credit_cost(1, "INSAR_GAMMA", "5x1")


def test_slc_report_from_the_seed_outputs(fairbanks_stack: list[Any]) -> None:
    pair_stacks, baselines, scene_bperp = select_pairs(fairbanks_stack)
    (key,) = pair_stacks
    report = report_from_pairs(key, pair_stacks[key], baselines[key], scene_bperp[key],
                               looks="10x2")
    assert report.job_type == "INSAR_GAMMA" and report.credits == 15 * len(pair_stacks[key])
    path, frame = fairbanks_stack[0].properties["pathNumber"], fairbanks_stack[0].properties[
        "frameNumber"]
    assert key == (path, frame) and report.stack == f"p{path}_f{frame}"


def test_expected_coherence_falls_with_time_and_baseline() -> None:
    short, long_ = expected_coherence(np.array([12.0, 365.0]), np.array([10.0, 10.0]))
    small, big = expected_coherence(np.array([12.0, 12.0]), np.array([0.0, 3000.0]))
    assert 0.9 < short < 1.0 and long_ < short
    assert big < small


def test_plot_one_panel_per_stack_and_png(burst_stack: list[Any], fairbanks_stack: list[Any],
                                          tmp_path: Path) -> None:
    result = select_pairs({"174_372326_IW3": burst_stack, "fairbanks": fairbanks_stack},
                          max_degree=5)
    pair_stacks, baselines, scene_bperp = result
    png = tmp_path / "figs" / "network.png"
    figure = plot_pair_network(pair_stacks, baselines, scene_bperp, save_path=png)
    assert isinstance(figure, Figure)
    panels = [ax for ax in figure.axes if ax.get_ylabel() == "perpendicular baseline (m)"]
    assert len(panels) == 2
    colorbar = [ax for ax in figure.axes if ax not in panels]
    assert len(colorbar) == 1 and "temporal baseline" in colorbar[0].get_ylabel()
    for ax, key in zip(panels, pair_stacks, strict=True):
        lines = [c for c in ax.collections if isinstance(c, LineCollection)]
        assert len(lines[0].get_segments()) == len(pair_stacks[key])
        # coloured by temporal baseline (days)
        days = sorted(baselines[key][p][0] for p in pair_stacks[key])
        assert sorted(np.asarray(lines[0].get_array()).tolist()) == pytest.approx(days)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000


def test_plot_accepts_one_stack_and_refuses_nothing(fairbanks_stack: list[Any]) -> None:
    pair_stacks, baselines, scene_bperp = select_pairs(fairbanks_stack)
    (key,) = pair_stacks
    figure = plot_pair_network(pair_stacks[key], baselines[key], scene_bperp[key])
    assert len(figure.axes) == 2
    with pytest.raises(ConfigError, match="empty"):
        plot_pair_network({}, {}, {})
