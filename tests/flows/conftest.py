"""Flow tests: ONE prefect_test_harness for the session, a small fast sandbox of our own.

PREFECT_HOME (and with it the persisted task results that caching reads) lives in a temporary
folder, so tests never touch the developer's Prefect profile or cache.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="insarhub-flows-prefect-"))
atexit.register(shutil.rmtree, _HOME, True)
os.environ["PREFECT_HOME"] = str(_HOME)
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(_HOME / "storage")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("MPLBACKEND", "Agg")

from flowkit import SANDBOX_NOW, SandboxUser  # noqa: E402
from insarhub_sandbox.admin import SandboxAdmin  # noqa: E402
from insarhub_sandbox.server import SANDBOX_TOKEN  # noqa: E402

from flows.server import start_sandbox, stop_process  # noqa: E402


@dataclass
class FlowSandbox:
    """A sandbox subprocess for the flow tests."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def admin(self) -> SandboxAdmin:
        return SandboxAdmin(self.url)

    @property
    def env(self) -> dict[str, str]:
        return {"INSARHUB_ASF_URL": self.url, "INSARHUB_HYP3_URL": self.url,
                "EARTHDATA_TOKEN": SANDBOX_TOKEN}


@pytest.fixture(scope="session")
def prefect_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def harness(prefect_home: Path) -> Iterator[str]:
    """The one Prefect test server of the session; its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


@pytest.fixture(scope="session")
def flow_sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowSandbox]:
    """A sandbox with tiny products (40 px) and 1-second HyP3 jobs, clock at SANDBOX_NOW."""
    data_dir = tmp_path_factory.mktemp("flow-sandbox") / "data"
    process, url = start_sandbox(data_dir, now=SANDBOX_NOW, grid_size=40, job_seconds=1.0)
    yield FlowSandbox(url, data_dir, process)
    stop_process(process)


@pytest.fixture
def flow_sandbox(flow_sandbox_server: FlowSandbox,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[FlowSandbox]:
    """The session's flow sandbox in the environment; clock and faults restored afterwards."""
    for key, value in flow_sandbox_server.env.items():
        monkeypatch.setenv(key, value)
    flow_sandbox_server.admin.set_now(SANDBOX_NOW)
    yield flow_sandbox_server
    flow_sandbox_server.admin.clear_faults()
    flow_sandbox_server.admin.set_now(SANDBOX_NOW)


@pytest.fixture
def sandbox_user(flow_sandbox: FlowSandbox, monkeypatch: pytest.MonkeyPatch) -> SandboxUser:
    token = f"flows-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("EARTHDATA_TOKEN", token)
    user = SandboxUser(flow_sandbox.url, token, "")
    user.user_id = str(user._get("/user")["user_id"])
    return user


@pytest.fixture(autouse=True)
def _own_result_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test its own persisted task results: a search cached by one test (at one sandbox
    clock) never answers another. Subprocesses of the test inherit it through the env."""
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    path = tmp_path / "prefect-results"
    monkeypatch.setenv("PREFECT_LOCAL_STORAGE_PATH", str(path))
    with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: path}):
        yield
