"""ISCE2 topsStack tests: the stand-in topsStack scripts on PATH, a small SLC stack on disk."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from isce_helpers import DATES, scene

from insarhub.processor.isce import ISCE_S1_Config
from insarhub.processor.isce_runner import RunnerPaths, cancel_runner, read_plan, runner_alive

STANDIN_BIN = Path(__file__).parent / "bin"


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in stackSentinel.py (and the scripts its run files call) first on PATH."""
    venv_bin = Path(sys.executable).parent  # `python3` of the stand-ins' shebang: this venv
    monkeypatch.setenv("PATH", os.pathsep.join([str(STANDIN_BIN), str(venv_bin),
                                                os.environ.get("PATH", "")]))
    monkeypatch.setenv("ISCE_STANDIN_SLEEP", "0.05")
    for key in ("ISCE_STANDIN_FAIL", "ISCE_STANDIN_SLOW"):
        monkeypatch.delenv(key, raising=False)
    return STANDIN_BIN


@pytest.fixture
def slc_dir(tmp_path: Path) -> Path:
    """Stand-in SLC zips of DATES (stackSentinel stand-in reads their names only)."""
    folder = tmp_path / "slc"
    folder.mkdir()
    for date in DATES:
        (folder / f"{scene(date)}.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)  # empty zip
    return folder


@pytest.fixture
def dem(tmp_path: Path) -> Path:
    path = tmp_path / "dem" / "demLat_N37_N39_Lon_W114_W112.dem.wgs84"
    path.parent.mkdir()
    path.write_bytes(b"\0" * 16)
    return path


@pytest.fixture
def make_config(tmp_path: Path, slc_dir: Path, dem: Path) -> Callable[..., ISCE_S1_Config]:
    def make(**options: Any) -> ISCE_S1_Config:
        values: dict[str, Any] = dict(workdir=tmp_path / "p100_f466",
                                      bbox=[37.74, 38.00, -113.05, -112.68], slc_dir=slc_dir,
                                      dem=dem, coregistration="geometry", max_workers=3)
        values.update(options)
        return ISCE_S1_Config(**values)
    return make


@pytest.fixture(autouse=True)
def _stop_runners(tmp_path: Path) -> Iterator[None]:
    """No runner or command outlives its test."""
    yield
    for plan_file in tmp_path.rglob(".insarhub/plan.json"):
        paths = RunnerPaths(plan_file.parent.parent)
        if runner_alive(paths):
            cancel_runner(paths, read_plan(paths), timeout=5)
