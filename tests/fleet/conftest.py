"""A fleet on real servers: a sandbox serving a generated world, a `prefect server`, the fleet's
deployments and two process workers (each its own process group, so one can be SIGKILLed)."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
import yaml
from insarhub_sandbox.admin import Hyp3Admin
from insarhub_sandbox.catalog.world import make_world
from servers import SandboxProcess, start_sandbox, stop_sandbox

from flows.fleet_deployments import deploy_fleet
from flows.server import PrefectServer, start_worker, stop_process

POOL = "insarhub-fleet-test"
WORLD_NOW = "2023-01-01"
WORLD_AOIS = 2
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class FleetStack:
    server: PrefectServer
    sandbox: SandboxProcess
    root: Path
    fleet_file: Path
    token: str
    user_id: str
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    # -- Prefect API -------------------------------------------------------------------
    def api(self, method: str, path: str, **body: Any) -> Any:
        for attempt in range(6):  # 503: SQLite busy on a loaded machine; reads are retried
            try:
                response = requests.request(method, f"{self.server.api_url}{path}",
                                            json=body or None, timeout=60)
            except requests.exceptions.Timeout:
                if attempt == 5:
                    raise
                continue
            if response.status_code != 503:
                break
            time.sleep(2 ** attempt)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None

    def start_worker(self, name: str) -> None:
        log = self.root / f"{name}.log"
        self.logs[name] = log
        self.workers[name] = start_worker(self.server.env(), POOL, name=name, limit=1,
                                          log_path=log, own_group=True)

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILL the worker and every process under it (its flow runs run in sessions of
        their own): the machine dies. The pids killed."""
        process = self.workers.pop(name)
        tree = psutil.Process(process.pid)
        victims = [*tree.children(recursive=True), tree]
        for victim in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                victim.send_signal(signal.SIGKILL)
        process.wait()
        psutil.wait_procs(victims, timeout=30)
        return [v.pid for v in victims]

    def takers(self, run_id: str) -> list[str]:
        return [name for name, log in self.logs.items()
                if f"submitting flow run '{run_id}'" in log.read_text()
                and f"Aborted submission of flow run '{run_id}'" not in log.read_text()]

    def cycle(self, month: str) -> str:
        """Start one fleet cycle through its deployment; the planner's run id once done."""
        deployment = self.api("GET", "/deployments/name/fleet-cycle/fleet")
        run = self.api("POST", f"/deployments/{deployment['id']}/create_flow_run",
                       parameters={"fleet_file": str(self.fleet_file), "month": month})
        done = self.wait(run["id"])
        state = done["state"]
        assert state["type"] == "COMPLETED", (state["name"], state.get("message"))
        return str(run["id"])

    def aoi_runs(self, planner: str) -> list[dict[str, Any]]:
        """The fleet-aoi runs one planner run started (their parameters name the grant)."""
        deployment = self.api("GET", "/deployments/name/fleet-aoi/fleet-aoi")
        runs = self.api("POST", "/flow_runs/filter",
                        flow_runs={"tags": {"all_": ["fleet"]}},
                        deployments={"id": {"any_": [deployment["id"]]}})
        planned = self.api("GET", f"/flow_runs/{planner}")
        return [r for r in runs if r["created"] >= planned["created"]
                and r["parameters"].get("grant_id") is not None]

    def wait(self, run_id: str, timeout: float = 400) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.api("GET", f"/flow_runs/{run_id}")
            if run["state"]["type"] in TERMINAL:
                return dict(run)
            assert time.monotonic() < deadline, f"run {run_id} still {run['state']['name']}"
            time.sleep(1.0)

    # -- HyP3 and the AOIs' ledgers ------------------------------------------------------
    def hyp3_jobs(self) -> list[dict[str, Any]]:
        """Every job of the test's HyP3 user (all pages)."""
        jobs: list[dict[str, Any]] = []
        url: str | None = f"{self.sandbox.url}/jobs"
        while url:
            response = requests.get(url, timeout=30,
                                    headers={"Authorization": f"Bearer {self.token}"})
            response.raise_for_status()
            jobs += response.json()["jobs"]
            url = response.json().get("next")
        return jobs

    def hyp3(self) -> Hyp3Admin:
        return Hyp3Admin(self.sandbox.url)

    def submitted(self, aoi: str) -> int:
        count = 0
        for db in (self.root / "work" / aoi).glob("*/insarhub.db"):
            with sqlite3.connect(db) as con:
                count += con.execute("SELECT COUNT(*) FROM jobs WHERE state = 'submitted'"
                                     ).fetchone()[0]
        return count


def fleet_entries() -> list[dict[str, Any]]:
    """The world's AOIs with 4 dates each at the sandbox clock, a bad entry, one with no
    coverage and one with a duplicate name."""
    start = (date.fromisoformat(WORLD_NOW) - timedelta(days=38)).isoformat()
    world = make_world(WORLD_AOIS, WORLD_NOW)
    entries = [{**a.entry(), "product": "gamma", "start": start} for a in world.aois]
    return [*entries,
            {"name": "bad-product", "geometry": [10, 10, 10.1, 10.1], "product": "sentinel-2"},
            {"name": "no-coverage", "geometry": [-150.1, -60.1, -150.0, -60.0],
             "product": "gamma", "start": start},
            {**entries[0], "priority": 9}]


@pytest.fixture(scope="module")
def fleet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetStack]:
    root = tmp_path_factory.mktemp("fleet")
    sandbox = start_sandbox(root / "sandbox", "--world", str(WORLD_AOIS), "--now", WORLD_NOW,
                            "--grid-size", "32", "--job-seconds", "1")
    token = f"fleet-{uuid.uuid4().hex[:12]}"
    fleet_file = root / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump({
        "budget": {"monthly_credits": 8000}, "workdir": str(root / "work"),
        "schedule": {"cron": "0 6 * * *", "active": False},
        "defaults": {"wait": {"poll_interval_s": 1, "timeout_s": 240},
                     "network": {"max_degree": 3}},
        "aois": fleet_entries()}, sort_keys=False))
    home = root / "prefect-home"
    server = PrefectServer(home=home, extra_env={
        "INSARHUB_ASF_URL": sandbox.url, "INSARHUB_HYP3_URL": sandbox.url,
        "EARTHDATA_TOKEN": token, "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
        "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        "PREFECT_LOGGING_LEVEL": "INFO", "MPLBACKEND": "Agg"})
    server.start()
    stack = None
    try:
        deploy_fleet(fleet_file, POOL, env=server.env())
        user = requests.get(f"{sandbox.url}/user", timeout=30,
                            headers={"Authorization": f"Bearer {token}"}).json()
        stack = FleetStack(server, sandbox, root, fleet_file, token, str(user["user_id"]))
        for name in ("worker-a", "worker-b"):
            stack.start_worker(name)
        yield stack
    finally:
        for process in (stack.workers.values() if stack else []):
            stop_process(process)
        server.stop()
        stop_sandbox(sandbox)
