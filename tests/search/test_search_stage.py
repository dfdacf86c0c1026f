"""The seed's search walkthrough, end to end, against the sandbox served by `insarhub sandbox serve`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from flows.cli import main  # the `insarhub` command
from insarhub import Downloader
from insarhub.errors import SearchError
from insarhub.search.persist import load_stacks

SEED_AOI = [-113.05, 37.74, -112.68, 38.00]


def test_seed_walkthrough(sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s1 = Downloader.create("S1_SLC", intersectsWith=SEED_AOI)
    results = s1.search()
    out = capsys.readouterr().out
    assert "Found 997 scenes in 18 stacks" in out
    assert "filter(path_frame=(100, 466))" in out
    assert len(results) == 18 and sum(len(v) for v in results.values()) == 997

    table = s1.summary()
    printed = capsys.readouterr().out
    assert "ASCENDING:" in printed and "DESCENDING:" in printed
    row = table.set_index("stack").loc["p100_f466"]
    assert (row["path"], row["frame"], row["count"], row["first"], row["last"]) == (
        100, 466, 161, "2017-02-22", "2022-07-02")
    assert set(table["flight_direction"]) == {"ASCENDING", "DESCENDING"}

    png = tmp_path / "footprint.png"
    figure = s1.footprint(save_path=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "997 scenes in 18 stacks" in figure.axes[0].get_title()

    s1.filter(path_frame=(100, 466), start="2020-01-01", end="2020-12-31")
    scenes = s1.stacks[(100, 466)]
    assert list(s1.stacks) == [(100, 466)] and len(scenes) == 30
    days = [p.properties["startTime"][:10] for p in scenes]
    assert (days[0], days[-1]) == ("2020-01-02", "2020-12-27")

    files = s1.download(workdir=tmp_path / "work", progress=False)[(100, 466)]
    assert len(files) == 30
    for product, path in zip(scenes, files, strict=True):
        assert path.parent == tmp_path / "work" / "p100_f466" / "slc"
        assert path.name == f"{product.properties['sceneName']}.zip"
        data = path.read_bytes()
        assert len(data) == product.properties["bytes"]
        assert hashlib.md5(data).hexdigest() == product.properties["md5sum"]
    assert not list((tmp_path / "work").rglob("*.part"))

    # the results persisted beside the downloads reload exactly, with no new search
    saved = load_stacks(tmp_path / "work")
    assert [p.umm for p in saved[(100, 466)]] == [p.umm for p in scenes]

    s1.reset()
    assert sum(len(v) for v in s1.stacks.values()) == 997


def test_cli_search_saves_and_downloads(sandbox, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "cli"
    code = main(["search", "--aoi", "-113.05", "37.74", "-112.68", "38.00", "--path-frame", "100",
                 "466", "--start", "2020-01-01", "--end", "2020-02-28", "--workdir", str(work),
                 "--download", "--footprint", str(work / "fp.png")])
    out = capsys.readouterr().out
    assert code == 0
    assert "100    466      5   2020-01-02 -> 2020-02-19" in out
    assert len(list((work / "p100_f466" / "slc").glob("*.zip"))) == 5
    query = json.loads((work / "search.json").read_text())
    assert query["stacks"] == {"p100_f466": 5} and query["catalog"] == sandbox.url
    assert (work / "fp.png").is_file()


def test_cli_reports_unknown_stack_and_empty_search(sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--aoi", "-113.05", "37.74", "-112.68", "38.00",
                 "--path-frame", "100", "467"]) == 1
    err = capsys.readouterr().err
    assert "path_frame (100, 467) is not among the stacks found" in err and "(100, 466)" in err
    assert main(["search", "--aoi", "10", "10", "10.1", "10.1"]) == 1
    assert "no scenes found for AOI" in capsys.readouterr().err


def test_environment_points_the_downloader_at_the_sandbox(sandbox, monkeypatch) -> None:
    s1 = Downloader.create("S1_SLC", intersectsWith=SEED_AOI, relativeOrbit=100, frame=466,
                           start="2020-01-01", end="2020-01-31")
    s1.search()
    assert all(p.properties["url"].startswith(sandbox.url) for p in s1.stacks[(100, 466)])
    monkeypatch.setenv("INSARHUB_ASF_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(SearchError, match="127.0.0.1:9"):
        Downloader.create("S1_SLC", intersectsWith=SEED_AOI).search()
