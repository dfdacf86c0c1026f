"""DISP-S1 fixtures: one frame searched, downloaded and stacked once per session, on the
session sandbox (real asf_search, real NetCDF files, opera-utils, MintPy)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from disp_helpers import AOI, END, FRAME, START, BuiltFrame, disp_environment
from servers import SandboxProcess  # tests/ is on sys.path (its conftest)


@pytest.fixture
def disp_sandbox(sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch) -> SandboxProcess:
    """The session sandbox with OPERA_UTILS_DATA_DIR at its frame database."""
    monkeypatch.setenv("OPERA_UTILS_DATA_DIR", str(sandbox.data_dir / "opera_utils"))
    return sandbox


@pytest.fixture(scope="session")
def built_frame(sandbox_server: SandboxProcess,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltFrame]:
    """Frame F31466, 2020-01..03, downloaded and stacked into a MintPy folder."""
    from insarhub import Downloader
    from insarhub.disp.stack import build_timeseries

    workdir = tmp_path_factory.mktemp("disp")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in disp_environment(sandbox_server).items():
            mp.setenv(key, value)
        d = Downloader.create("S1_DISP", intersectsWith=AOI, start=START, end=END)
        d.search()
        d.filter(frame=FRAME)
        d.download(workdir=workdir, progress=False)
        files = sorted((workdir / f"F{FRAME}" / "disp").glob("*.nc"))
        result = build_timeseries(files, workdir / f"F{FRAME}" / "mintpy",
                                  static_dir=workdir / f"F{FRAME}" / "static")
    yield BuiltFrame(workdir, files, workdir / f"F{FRAME}" / "mintpy", result, d)
