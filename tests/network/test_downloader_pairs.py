"""The seed's walkthrough through the Downloader, against the sandbox catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from insarhub import Downloader
from insarhub.utils import plot_pair_network

AOI = [-113.05, 37.74, -112.68, 38.00]


def test_seed_select_pairs_on_the_sandbox(sandbox: Any, tmp_path: Path) -> None:
    s1 = Downloader.create("S1_SLC", intersectsWith=AOI)
    s1.search()
    s1.filter(path_frame=(100, 466), start="2020-01-01", end="2020-12-31")
    pair_stacks, B, scene_bperp = s1.select_pairs(max_degree=5)
    assert list(pair_stacks) == [(100, 466)]
    pairs = pair_stacks[(100, 466)]
    assert len(scene_bperp[(100, 466)]) == 30
    names = {p.properties["sceneName"] for p in s1.stacks[(100, 466)]}
    assert {n for pair in pairs for n in pair} == set(scene_bperp[(100, 466)]) == names
    degree = dict.fromkeys(names, 0)
    for ref, sec in pairs:
        assert ref[17:32] < sec[17:32]  # reference first: the start stamp in the name
        degree[ref] += 1
        degree[sec] += 1
        days, bperp = B[(100, 466)][(ref, sec)]
        assert 0 < days <= 120 and 0 <= bperp <= 150
    assert max(degree.values()) <= 5 and min(degree.values()) >= 1
    # one connected network
    seen, todo = set(), [next(iter(names))]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [b if a == name else a for a, b in pairs if name in (a, b)]
    assert seen == names
    figure = plot_pair_network(pair_stacks, B, scene_bperp, save_path=tmp_path / "net.png")
    assert (tmp_path / "net.png").stat().st_size > 10_000
    assert figure.axes
