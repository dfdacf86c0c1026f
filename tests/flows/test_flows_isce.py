"""The ISCE2 subflow: SLCs fetched from the sandbox, topsStack run files for exactly the pairs,
the background runner watched step by step (with the topsStack stand-ins of tests/isce/bin)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from flowkit import AOI, artifact_keys

from flows.interferograms import isce_interferograms
from insarhub import Downloader
from insarhub.network import scene_name
from insarhub.processor.isce_runner import RunnerPaths, cancel_runner, read_plan, runner_alive

STANDIN_BIN = Path(__file__).resolve().parents[1] / "isce" / "bin"

pytestmark = pytest.mark.usefixtures("harness")


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Path:
    if not (STANDIN_BIN / "stackSentinel.py").is_file():
        pytest.skip("the topsStack stand-ins (tests/isce/bin) are missing")
    monkeypatch.setenv("PATH", os.pathsep.join([str(STANDIN_BIN), str(Path(sys.executable).parent),
                                                os.environ.get("PATH", "")]))
    monkeypatch.setenv("ISCE_STANDIN_SLEEP", "0.05")
    monkeypatch.delenv("ISCE_STANDIN_FAIL", raising=False)
    return STANDIN_BIN


def test_isce_subflow_runs_every_step(standin: Path, flow_sandbox: Any, tmp_path: Path) -> None:
    s1 = Downloader.create("S1_SLC", intersectsWith=AOI, start="2020-01-01")
    s1.search()
    s1.filter(path_frame=(100, 466))
    s1.save(tmp_path)
    names = [scene_name(p) for p in s1.stacks[(100, 466)]]
    pairs = [[a, b] for a, b in zip(names, names[1:], strict=False)]
    dem = tmp_path / "dem" / "demLat_N37_N39_Lon_W114_W112.dem.wgs84"
    dem.parent.mkdir()
    dem.write_bytes(b"\0" * 16)
    folder = tmp_path / "p100_f466"
    try:
        result = isce_interferograms(
            [{"stack": "p100_f466", "workdir": str(folder), "pairs": pairs}],
            options={"dem": str(dem), "coregistration": "geometry", "max_workers": 2},
            aoi=AOI, poll_interval_s=0.2, timeout_s=120)
    finally:
        paths = RunnerPaths(folder / "isce")
        if runner_alive(paths):
            cancel_runner(paths, read_plan(paths), timeout=5)
    status = result["p100_f466"]
    assert status["succeeded"], status["line"]
    assert status["waiting"] is False and status["total"] > 0
    assert set(status["steps"].values()) == {"SUCCEEDED"}
    # the SLCs of the pairs came from the sandbox, verified, into the stack folder
    assert sorted(p.name for p in (folder / "slc").glob("*.zip")) == sorted(f"{n}.zip"
                                                                            for n in names)
    assert (folder / "isce_job.yaml").is_file()
    assert {"isce-progress", "isce-steps"} <= artifact_keys()
