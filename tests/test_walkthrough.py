"""The user's InSARHub API page, run as a notebook user runs it: block by block, as written.

The code comes from the page itself (`tests/fixtures/seed/insarhub_api_walkthrough.txt`, a
copy of the seed), read by line ranges; only `your/directory` changes, to a temporary folder
that is also the current directory. It runs against the offline sandbox (catalog, HyP3, the
simulated Earth), with the ISCE2 topsStack stand-ins (and their `dem.py`) on PATH.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from insarhub_sandbox.earth.model import SimulatedEarth, make_scenes, sequential_pairs
from insarhub_sandbox.products.isce import write_topsstack
from matplotlib.figure import Figure

PAGE = Path(__file__).parent / "fixtures" / "seed" / "insarhub_api_walkthrough.txt"
STANDIN_BIN = Path(__file__).parent / "isce" / "bin"
LINES = PAGE.read_text().splitlines()

# (first line, last line) of each code block on the page, 1-based, and its first line's text
BLOCKS = {
    "aoi_bbox": (40, 40, "AOI = [-113.05, 37.74, -112.68, 38.00]"),
    "aoi_wkt": (51, 51, "AOI = 'POLYGON((-113.05 37.74"),
    "search": (57, 60, "from insarhub import Downloader"),
    "footprint": (72, 72, "s1.footprint()"),
    "summary": (79, 79, "s1.summary()"),
    "filter": (107, 107, "filter_results = s1.filter(path_frame=(100,466)"),
    "look_again": (111, 112, "s1.footprint()"),
    "download": (122, 122, "s1.download()"),
    "reset": (126, 126, "s1.reset()"),
    "pairs": (136, 141, "from insarhub import Processor"),
    "submit": (147, 150, "for (path, frame), pairs in pair_stacks.items():"),
    "reload": (156, 158, "processor_reload = Processor.create('Hyp3_S1'"),
    "isce_submit": (169, 179, "from insarhub import Processor"),
    "isce_watch": (187, 188, "processor.refresh()"),
    "hyp3_sbas": (206, 211, "from insarhub import Analyzer"),
    "isce_sbas": (212, 217, "from insarhub import Analyzer"),
}


def block(name: str, directory: Path) -> str:
    """The page's code of block `name`, with `your/directory` pointing at `directory`."""
    first, last, opening = BLOCKS[name]
    code = "\n".join(LINES[first - 1:last])
    assert code.startswith(opening), f"the page changed: block {name} is now {code[:60]!r}"
    return code.replace("your/directory", str(directory))


def run(name: str, namespace: dict[str, Any], directory: Path) -> None:
    exec(compile(block(name, directory), f"<walkthrough {name}>", "exec"), namespace)


@pytest.fixture
def notebook(sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A fresh notebook namespace whose current directory is `your/directory`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", os.pathsep.join([str(STANDIN_BIN), str(Path(sys.executable).parent),
                                                os.environ["PATH"]]))
    monkeypatch.setenv("ISCE_STANDIN_SLEEP", "0.01")
    return {}


def test_the_walkthrough_runs_as_written(notebook: dict[str, Any], tmp_path: Path, sandbox,
                                          capsys: pytest.CaptureFixture[str],
                                          caplog: pytest.LogCaptureFixture) -> None:
    here, ns = tmp_path, notebook
    stack_dir = here / "p100_f466"

    # Set AOI: each form the page shows is an AOI the Downloader takes
    from insarhub.aoi import load_aoi
    for name in ("aoi_bbox", "aoi_wkt"):
        run(name, ns, here)
        assert load_aoi(ns["AOI"]).bounds == pytest.approx((-113.05, 37.74, -112.68, 38.00))

    # Searching: stacks keyed by (path, frame)
    run("search", ns, here)
    results = ns["results"]
    assert len(results) == 18 and (100, 466) in results and (20, 118) in results
    assert sum(len(v) for v in results.values()) == 997
    out = capsys.readouterr().out
    assert "in 18 stacks" in out and f"subfolder per stack under {here}" in out

    run("footprint", ns, here)
    run("summary", ns, here)
    assert "DESCENDING:" in capsys.readouterr().out

    # Result filtering: the narrowed stacks come back, as search() gives them
    run("filter", ns, here)
    filtered = ns["filter_results"]
    assert type(filtered) is type(results) and list(filtered) == [(100, 466)]
    scenes = filtered[(100, 466)]
    assert len(filtered.items()) == 1 and len(scenes) == 30
    assert (scenes[0].properties["startTime"][:10], scenes[-1].properties["startTime"][:10]) == (
        "2020-01-02", "2020-12-27")
    run("look_again", ns, here)
    assert "100    466     30   2020-01-02 -> 2020-12-27" in capsys.readouterr().out

    # download() with no workdir: one subfolder per stack under the current directory
    run("download", ns, here)
    zips = sorted((stack_dir / "slc").glob("*.zip"))
    assert [z.stem for z in zips] == sorted(p.properties["sceneName"] for p in scenes)

    # reset() restores the whole search; filtering again works the same
    run("reset", ns, here)
    assert sum(len(v) for v in ns["s1"].stacks.values()) == 997
    run("filter", ns, here)
    assert list(ns["filter_results"]) == [(100, 466)]

    # Interferogram (HyP3): the network, its figure shown headless, then submission
    with caplog.at_level(logging.INFO, logger="insarhub.utils"):
        run("pairs", ns, here)
    pairs = ns["pair_stacks"][(100, 466)]
    assert isinstance(ns["fig"], Figure) and "headless" in caplog.text
    degree: dict[str, int] = {}
    for ref, sec in pairs:
        degree[ref] = degree.get(ref, 0) + 1
        degree[sec] = degree.get(sec, 0) + 1
    assert len(degree) == 30 and max(degree.values()) <= 5 and len(pairs) <= 2.5 * 30

    run("submit", ns, here)
    saved = json.loads((stack_dir / "hyp3_jobs.json").read_text())
    assert len(saved["pairs"]) == len(pairs) and all(p["jobs"] for p in saved["pairs"])
    ns["processor"].watch(refresh_interval=1, timeout=300)  # the user waits for HyP3

    run("reload", ns, here)
    out = capsys.readouterr().out
    assert "SUCCEEDED" in out and "ifg_" in out
    products = sorted(p for p in (stack_dir / "hyp3").iterdir() if p.is_dir())
    assert len(products) == len(pairs)

    # Interferogram (ISCE2): the dry run previews the run scripts, then the real run
    dry = block("isce_submit", here).replace(
        "slc_dir=f'", "dry_run=True,\n        slc_dir=f'")
    exec(compile(dry, "<walkthrough isce dry run>", "exec"), ns)
    run_files = sorted(p.name for p in (stack_dir / "isce" / "run_files").iterdir())
    assert run_files[0].startswith("run_01_") and not (stack_dir / "dem").exists()
    assert not list(stack_dir.rglob(".standin_runs.log"))  # nothing executed
    run("isce_submit", ns, here)
    run("isce_watch", ns, here)
    status = ns["processor"].snapshot()
    assert status.finished and not status.failed
    assert (stack_dir / "dem" / "demLat_N37_N38_Lon_W114_W112.dem.wgs84").is_file()

    # Time-series analysis (HyP3 products): MintPy writes to <workdir>/mintpy/
    run("hyp3_sbas", ns, here)
    velocity = stack_dir / "mintpy" / "velocity.h5"
    with h5py.File(velocity) as h5:
        assert np.isfinite(h5["velocity"][:]).mean() > 0.5
    with sqlite3.connect(stack_dir / "insarhub.db") as db:
        assert db.execute("select count(*) from jobs").fetchone()[0] == len(pairs)


def test_the_isce_time_series_block_runs_on_topsstack_outputs(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """The ISCE_SBAS block on real-format topsStack outputs (the stand-in's are placeholders,
    so the simulated Earth writes them, as ISCE2 lays them out, under your/directory)."""
    monkeypatch.chdir(tmp_path)
    earth = SimulatedEarth(seed=5, grid_size=40, atmosphere_mm=2.0)  # type: ignore[arg-type]
    write_topsstack(earth, sequential_pairs(make_scenes(8, repeat_days=36), 3),
                    tmp_path / "p100_f466" / "isce")
    ns: dict[str, Any] = {}
    run("isce_sbas", ns, tmp_path)
    mintpy = tmp_path / "p100_f466" / "mintpy"
    assert (mintpy / "insarhub.cfg").is_file()  # the MintPy template prep_data() wrote
    with h5py.File(mintpy / "velocity.h5") as h5:
        assert np.isfinite(h5["velocity"][:]).mean() > 0.5
