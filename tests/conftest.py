"""Shared test set-up: offline by default, the sandbox served by a real subprocess.

Area-specific fixtures live in the conftest.py of each tests/ sub-folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from insarhub_sandbox.admin import Hyp3Admin
from servers import (  # tests/ is on sys.path (this conftest lives there)
    S3Server,
    SandboxProcess,
    start_sandbox,
    stop_sandbox,
)

from flows.server import free_port

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # real recorded data, see SOURCES.md

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--network", action="store_true", help="run tests that reach the real ASF")


# Fixtures that cost a MintPy run or a set of real servers to build (module or session scope).
# The tests that use one run on one xdist worker (`--dist loadgroup`), which builds it once;
# spread over the workers, each worker would build its own.
EXPENSIVE_FIXTURES = ("fleet_stack", "service", "pipeline_run", "appended", "stack", "clean_run",
                      "noisy_run", "synthetic_run", "products", "mintpy_run", "built_frame",
                      "simulated")


def _shared_fixture_group(item: pytest.Item) -> str | None:
    """The xdist group of a test using an expensive fixture: where the fixture is defined."""
    info = getattr(item, "_fixtureinfo", None)  # doctest items have none
    if info is None:
        return None
    for name in EXPENSIVE_FIXTURES:
        definitions = info.name2fixturedefs.get(name)
        if definitions and definitions[-1].scope in ("module", "session"):
            return definitions[-1].baseid or "tests"
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        group = _shared_fixture_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    if config.getoption("--network"):
        return
    skip = pytest.mark.skip(reason="reaches the real ASF/HyP3: run with --network")
    for item in items:
        if item.get_closest_marker("network") is not None:  # not the tests/network folder
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _offline_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the developer's real credentials or talks to a real service by accident."""
    for key in ("EARTHDATA_TOKEN", "INSARHUB_ASF_URL", "INSARHUB_HYP3_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path_factory.getbasetemp() / "no-netrc"))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """`tests/fixtures`: real recorded ASF, HyP3 and MintPy data (sources in SOURCES.md)."""
    return FIXTURES


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """One sandbox for the whole session (real time clock, fast HyP3 jobs)."""
    data_dir = tmp_path_factory.mktemp("sandbox") / "data"
    proc = start_sandbox(data_dir, "--job-seconds", "1")
    yield proc
    stop_sandbox(proc)


@pytest.fixture
def sandbox(sandbox_server: SandboxProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxProcess]:
    """The session sandbox, pointed at by the environment; clock, faults and HyP3 settings reset after."""
    for key, value in sandbox_server.env.items():
        monkeypatch.setenv(key, value)
    yield sandbox_server
    sandbox_server.admin.clear_faults()
    sandbox_server.admin.reset_clock()
    Hyp3Admin(sandbox_server.url).reset()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3-compatible server (moto's server mode) on a free loopback port, stopped by PID."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    moto_server = Path(sys.executable).with_name("moto_server")
    command = [str(moto_server)] if moto_server.exists() else [sys.executable, "-m", "moto.server"]
    process = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"moto server did not start on port {port}") from None
            time.sleep(0.2)
    yield S3Server(f"http://127.0.0.1:{port}", process)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """moto's server with fake credentials in the standard AWS environment variables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key-value")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return s3_server
