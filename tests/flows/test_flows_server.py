"""`python -m flows.server` as a user runs it (`make server`): what start-up says, a pipeline
run's artifacts in headless Chromium (images render, product links answer 200), and SIGTERM
stopping every process it started.

One service for the module: the Prefect server, the sandbox, the product server and a
process worker, all started by `flows.server` itself, on free ports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from browser import browser, chromium_path
from flowkit import AOI, SANDBOX_NOW

from flows.server import PROJECT_DIR, free_port, stop_process

READY = "InSARHub is running"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    output: Path
    ui_url: str
    products_url: str

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def api(self, method: str, path: str, **body: Any) -> Any:
        for attempt in range(6):  # 503: SQLite busy on a loaded machine
            response = requests.request(method, f"{self.api_url}{path}", json=body or None,
                                        timeout=60)
            if response.status_code != 503:
                break
            time.sleep(2 ** attempt)
        assert response.status_code < 400, response.text
        return response.json()


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        children = {p for p, pp in parents.items() if pp == parent and p not in found}
        found |= children
        todo += children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("server")
    port, products_port = free_port(), free_port()
    env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "2",
           "PREFECT_WORKER_PREFETCH_SECONDS": "2",
           "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # no monitoring run at 06:00
           "PREFECT_LOCAL_STORAGE_PATH": str(root / "storage"), "MPLBACKEND": "Agg"}
    output = root / "server.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.server", "--home", str(root / "home"),
             "--port", str(port), "--sandbox-port", str(free_port()),
             "--sandbox-now", SANDBOX_NOW, "--products-port", str(products_port)],
            cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    service = Service(process, output, f"http://127.0.0.1:{port}",
                      f"http://127.0.0.1:{products_port}")
    try:
        deadline = time.monotonic() + 600
        while READY not in service.text():
            assert process.poll() is None, f"flows.server exited:\n{service.text()[-3000:]}"
            assert time.monotonic() < deadline, f"not ready:\n{service.text()[-3000:]}"
            time.sleep(1)
        yield service
    finally:
        stop_process(process, signal.SIGTERM, timeout=90)


@pytest.fixture(scope="module")
def pipeline_run(service: Service, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small insar-pipeline deployment run (4 dates) that went to the end."""
    workdir = tmp_path_factory.mktemp("browser-run") / "aoi"
    deployment = service.api("GET", "/deployments/name/insar-pipeline/insar-pipeline")
    run = service.api("POST", f"/deployments/{deployment['id']}/create_flow_run", parameters={
        "aoi": AOI, "start": "2020-01-01", "path_frame": [100, 466], "workdir": str(workdir),
        "name": "browser", "points": [{"lat": 37.87, "lon": -112.86}], "poll_interval_s": 1,
        "wait_timeout_s": 400})
    deadline = time.monotonic() + 900
    while True:
        state = service.api("GET", f"/flow_runs/{run['id']}")
        if state["state"]["type"] in TERMINAL:
            break
        assert time.monotonic() < deadline, f"run still {state['state']['name']}"
        time.sleep(2)
    assert state["state"]["type"] == "COMPLETED", state["state"]
    artifacts = service.api("POST", "/artifacts/filter",
                            artifacts={"flow_run_id": {"any_": [run["id"]]}})
    return {"run": state, "artifacts": {a["key"]: a for a in artifacts if a.get("key")}}


def test_start_up_says_what_runs_where(service: Service) -> None:
    text = service.text()
    banner = text[text.index(READY):]
    for name, value in (("Prefect UI", service.ui_url), ("Prefect API", service.api_url),
                        ("products", service.products_url), ("sandbox", "http://127.0.0.1:"),
                        ("worker", "insarhub-worker-1 on pool insarhub-process"),
                        ("deployments", "insar-pipeline/insar-pipeline")):
        line = next((ln for ln in banner.splitlines() if ln.strip().startswith(name)), "")
        assert value in line, (name, banner)
    assert "monitor-aoi/monitor-utah-p100-f466" in banner
    # no advice meant for a set-up without a worker, no output cut mid-sentence
    assert "prefect init" not in text and "prefect worker start" not in text
    assert requests.get(f"{service.ui_url}/ui-settings", timeout=30).json()["api_url"] \
        == service.api_url  # the UI talks to this server, whatever its port


def test_product_server_serves_products_only(service: Service,
                                             pipeline_run: dict[str, Any]) -> None:
    page = pipeline_run["artifacts"]["browser-p100-f466-products"]["data"]
    urls = [u for u in page.split("(") if u.startswith(service.products_url)]
    folder_url = urls[0].split(")")[0].rsplit("/", 1)[0]
    for bad in ("/", "/nothing/velocity.tif", f"{folder_url[len(service.products_url):]}/",
                f"{folder_url[len(service.products_url):]}/../scenes.json",
                f"{folder_url[len(service.products_url):]}/%2e%2e/scenes.json"):
        response = requests.get(f"{service.products_url}{bad}", timeout=30)
        assert response.status_code == 404, bad
    assert requests.put(f"{folder_url}/velocity.tif", data=b"x", timeout=30).status_code == 405


@pytest.mark.skipif(chromium_path() is None,
                    reason="Chromium is not installed (`make test` installs Debian's chromium "
                           "as root; else: sudo apt-get install -y chromium)")
def test_artifacts_render_in_a_browser(service: Service, pipeline_run: dict[str, Any]) -> None:
    artifacts = pipeline_run["artifacts"]
    for key in ("browser-p100-f466-products", "browser-pair-network", "browser-hyp3-jobs",
                "browser-hyp3-progress", "browser-stack-summary", "browser-summary"):
        assert key in artifacts, (key, sorted(artifacts))
    binary = chromium_path()
    assert binary is not None
    with browser(binary) as chrome:
        # the products page: velocity map and point time series inline, every file a link
        state = chrome.wait_for(
            f"{service.ui_url}/artifacts/artifact/{artifacts['browser-p100-f466-products']['id']}",
            lambda s: len(s.get("images", [])) >= 2 and all(i["complete"] for i in s["images"]))
        images = state.get("images", [])
        assert len(images) >= 2, state.get("text", "")[:2000]
        for img in images:
            assert img["src"].startswith(service.products_url), img["src"]
            assert img["complete"] and img["width"] > 100, img  # decoded: it renders
        links = sorted({u for u in state["links"] if u.startswith(service.products_url)})
        names = {u.rsplit("/", 1)[-1] for u in links}
        assert {"velocity.tif", "displacement.tif", "velocity.png", "item.json",
                "timeseries_points.csv", "timeseries_points.png"} <= names
        for url in links:
            response = requests.get(url, timeout=60)
            assert response.status_code == 200, url
            assert len(response.content) > 0
            if url.endswith(".png"):
                assert response.headers["Content-Type"] == "image/png"
                assert response.content[:4] == b"\x89PNG"
            if url.endswith(".tif"):
                assert response.headers["Content-Type"].startswith("image/tiff")
        # the pair network figure renders too (embedded)
        state = chrome.wait_for(
            f"{service.ui_url}/artifacts/artifact/{artifacts['browser-pair-network']['id']}",
            lambda s: s.get("images") and all(i["complete"] for i in s["images"]))
        assert state["images"] and all(i["width"] > 100 for i in state["images"]), state
        # the job table: short rows, every product downloaded
        state = chrome.wait_for(
            f"{service.ui_url}/artifacts/artifact/{artifacts['browser-hyp3-jobs']['id']}",
            lambda s: "SUCCEEDED" in s.get("text", ""))
        assert "SUCCEEDED" in state["text"] and "2020-01-02" in state["text"]
        assert "S1A_IW_SLC" not in state["text"]  # dates, not granule names


def test_sigterm_stops_every_process_it_started(service: Service,
                                                pipeline_run: dict[str, Any]) -> None:
    children = descendants(service.process.pid)
    assert len(children) >= 3  # Prefect server, sandbox, worker (and their own children)
    service.process.send_signal(signal.SIGTERM)  # `kill PID`, as a service manager does
    assert service.process.wait(timeout=120) == 0
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [pid for pid in children if alive(pid)]
    assert "stopped." in service.text()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{service.ui_url}/api/health", timeout=5)
    with pytest.raises(requests.ConnectionError):
        requests.get(service.products_url, timeout=5)
