"""`python -m flows.server` (`make server`): the Prefect UI with InSARHub's deployments.

Starts, on 127.0.0.1 only:
  1. `prefect server start` (state in `.prefect/` unless PREFECT_HOME is set),
  2. the offline sandbox (ASF catalog + HyP3), unless `--no-sandbox`,
  3. the product server (read-only HTTP for the products folders the flows register, so that
     the artifacts' links and images open in the browser),
  4. the process work pool, the ASF/HyP3 rate limits and every deployment of prefect.yaml
     (`prefect deploy --all`),
  5. a process worker on the pool (pointed at the sandbox and the product server),
then prints what runs where and waits. Ctrl-C or SIGTERM stops everything it started: each
child runs in its own process group, which is signalled, waited for, and killed after a
timeout.

The helpers (`PrefectServer`, `register_deployments`, `start_worker`, `stop_process`) are
what the tests use to run deployments on a real server.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tasks.common import DEFAULT_TAG_LIMITS

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_POOL = "insarhub-process"
QUIET_ENV = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
# SQLite waits this long for a lock before a 503 (busy small machines need more than 10 s);
# flow runs (with their logs and artifacts) older than the vacuum's retention (90 days,
# PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD) are deleted, not only old events: a fleet
# adds ~100 MB of runs a cycle at 100 AOIs (bench/results/fleet_100x3.json)
SERVER_ENV = {"PREFECT_SERVER_DATABASE_TIMEOUT": "60",
              "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs"}


def prefect_command(*args: str) -> list[str]:
    """The `prefect` CLI of this interpreter's environment."""
    return [sys.executable, "-m", "prefect", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrefectServer:
    """A `prefect server start` subprocess on loopback with its own PREFECT_HOME."""

    home: Path
    port: int = 0
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    own_group: bool = False  # run in a process group of its own (stopped as a whole)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment for CLI calls, workers and flows that talk to this server."""
        env = {**SERVER_ENV, **os.environ, **QUIET_ENV, **self.extra_env}
        env.update({"PREFECT_HOME": str(self.home), "PREFECT_API_URL": self.api_url})
        env.pop("PREFECT_PROFILES_PATH", None)
        return env

    def start(self, timeout: float = 90.0) -> PrefectServer:
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        log_path = self.log_path or self.home / "server.log"
        env = self.env()
        env.pop("PREFECT_API_URL")
        env["PREFECT_SERVER_UI_API_URL"] = self.api_url  # the UI's API (default: port 4200)
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                prefect_command("server", "start", "--host", "127.0.0.1", "--port", str(self.port)),
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_DIR,
                start_new_session=self.own_group,
            )
        self.wait_healthy(timeout, log_path)
        return self

    def wait_healthy(self, timeout: float, log_path: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited ({self.process.returncode}); "
                                   f"see {log_path}")
            try:
                if requests.get(f"{self.api_url}/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"prefect server not healthy after {timeout:.0f} s; see {log_path}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGINT, timeout=20)
            self.process = None


def run_cli(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run a `prefect` CLI command against the server in `env`; its output, or an error."""
    result = subprocess.run(prefect_command(*args), env=env, cwd=PROJECT_DIR, timeout=timeout,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"`prefect {' '.join(args)}` failed ({result.returncode}):\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def create_limits(api_url: str, limits: dict[str, int] | None = None) -> dict[str, int]:
    """On the server at `api_url`: the tag limits (`asf`, `hyp3`) and the global concurrency
    limits of `tasks.limits` (`ensure_limits`: existing ones keep their value); their values."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tasks.limits import ensure_limits

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            for tag, value in DEFAULT_TAG_LIMITS.items():  # every catalog and HyP3 call
                client.create_concurrency_limit(tag=tag, concurrency_limit=value)
        return ensure_limits(limits)


def register_deployments(env: dict[str, str], pool: str = WORK_POOL,
                         names: list[str] | None = None,
                         prefect_file: Path | None = None) -> str:
    """Create the process work pool and the rate limits, then `prefect deploy` the deployments
    of prefect.yaml (all of them unless `names`)."""
    run_cli(env, "work-pool", "create", pool, "--type", "process", "--overwrite")
    create_limits(env["PREFECT_API_URL"])
    args = ["deploy", "--no-prompt"]
    args += [item for name in names for item in ("--name", name)] if names else ["--all"]
    if prefect_file is not None:
        args += ["--prefect-file", str(prefect_file)]
    return run_cli(env, *args, timeout=300)


def start_worker(env: dict[str, str], pool: str = WORK_POOL, name: str | None = None,
                 limit: int | None = None, log_path: Path | None = None,
                 own_group: bool = False) -> subprocess.Popen[bytes]:
    """`prefect worker start` on `pool` (a subprocess; stop it with SIGINT)."""
    args = ["worker", "start", "--pool", pool]
    if name:
        args += ["--name", name]
    if limit:
        args += ["--limit", str(limit)]
    out = log_path.open("ab") if log_path else subprocess.DEVNULL
    try:
        return subprocess.Popen(prefect_command(*args), env=env, cwd=PROJECT_DIR,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=own_group)
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]


def _leads_group(process: subprocess.Popen[bytes]) -> bool:
    """The process was started in a process group of its own (start_new_session)."""
    try:
        return os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return False


def _signal(process: subprocess.Popen[bytes], sig: int, group: bool) -> None:
    """`sig` to the process's own group (its children get it too), or to it alone."""
    try:
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGINT,
                 timeout: float = 15) -> None:
    """Stop a process we started (and its group when it leads one): `sig` first (workers
    need SIGINT), then SIGKILL after `timeout` seconds."""
    if process.poll() is not None:
        return
    group = _leads_group(process)
    _signal(process, sig, group)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal(process, signal.SIGKILL, group)
        process.wait()
    if group:  # what is left of its group once the leader is gone
        _signal(process, signal.SIGKILL, group)


def start_sandbox(data_dir: Path, port: int = 0, now: str | None = None, grid_size: int = 40,
                  job_seconds: float = 2.0, own_group: bool = False
                  ) -> tuple[subprocess.Popen[bytes], str]:
    """`insarhub sandbox serve` in a subprocess (port 0: a free one); its URL once healthy."""
    from insarhub_sandbox.admin import SandboxAdmin

    port = port or free_port()
    args = [sys.executable, "-m", "insarhub_sandbox", "serve", "--port", str(port),
            "--data-dir", str(data_dir), "--grid-size", str(grid_size),
            "--job-seconds", str(job_seconds)]
    if now:
        args += ["--now", now]
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with (data_dir.parent / f"sandbox-{port}.log").open("ab") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_DIR,
                                   start_new_session=own_group)
    url = f"http://127.0.0.1:{port}"
    try:
        SandboxAdmin(url).wait_healthy(timeout=60)
    except Exception:
        stop_process(process)
        raise
    return process, url


class Stop(Exception):
    """SIGTERM or SIGINT arrived: stop everything."""


def _raise_stop(signum: int, frame: Any) -> None:
    raise Stop(signal.Signals(signum).name)


def deployment_names(api_url: str) -> list[str]:
    """`flow/deployment` names registered on the server."""
    flows = {f["id"]: f["name"] for f in requests.post(f"{api_url}/flows/filter", json={},
                                                       timeout=30).json()}
    deployments = requests.post(f"{api_url}/deployments/filter", json={}, timeout=30).json()
    return sorted(f"{flows.get(d['flow_id'], '?')}/{d['name']}" for d in deployments)


def banner(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    lines = ["", "InSARHub is running (Ctrl-C or SIGTERM stops all of it):"]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.server",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=4200, help="Prefect UI/API port")
    parser.add_argument("--home", type=Path,
                        default=Path(os.environ.get("PREFECT_HOME", PROJECT_DIR / ".prefect")))
    parser.add_argument("--pool", default=WORK_POOL)
    parser.add_argument("--no-sandbox", action="store_true",
                        help="use the real ASF/HyP3 (EARTHDATA_TOKEN or ~/.netrc needed)")
    parser.add_argument("--sandbox-port", type=int, default=8765)
    parser.add_argument("--sandbox-now", default="2021-01-01", help="the sandbox catalog clock")
    parser.add_argument("--products-port", type=int, default=8766,
                        help="port of the read-only product server")
    args = parser.parse_args(argv)

    from insarhub.products.serve import ProductServer

    started: list[subprocess.Popen[bytes]] = []
    server = PrefectServer(home=args.home.resolve(), port=args.port, own_group=True)
    products: ProductServer | None = None
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    rows: list[tuple[str, str]] = []
    try:
        products = ProductServer(server.home / "products.jsonl", args.products_port).start()
        server.extra_env = dict(products.env())
        if not args.no_sandbox:
            from insarhub_sandbox.server import SANDBOX_TOKEN

            sandbox, url = start_sandbox(server.home / "sandbox" / "data", args.sandbox_port,
                                         args.sandbox_now, own_group=True)
            started.append(sandbox)
            server.extra_env.update({"INSARHUB_ASF_URL": url, "INSARHUB_HYP3_URL": url,
                                     "EARTHDATA_TOKEN": SANDBOX_TOKEN})
            rows.append(("sandbox", f"{url}  (ASF catalog + HyP3, clock {args.sandbox_now})"))
        print(f"starting the Prefect server on {server.ui_url} ...", flush=True)
        server.start()
        env = server.env()
        deploy_log = server.home / "deploy.log"
        deploy_log.write_text(register_deployments(env, args.pool))
        worker_log = server.home / "worker.log"
        started.append(start_worker(env, args.pool, name="insarhub-worker-1",
                                    log_path=worker_log, own_group=True))
        rows = [("Prefect UI", server.ui_url),
                ("Prefect API", f"{server.api_url}  (for the CLI: export "
                                f"PREFECT_API_URL={server.api_url})"),
                *rows,
                ("products", f"{products.url}  (read-only: the products folders of the runs)"),
                ("worker", f"insarhub-worker-1 on pool {args.pool}  (log {worker_log})"),
                ("deployments", ", ".join(deployment_names(server.api_url))),
                ("state", f"PREFECT_HOME={server.home}")]
        print(banner(rows), flush=True)
        while all(p.poll() is None for p in started) and server.process \
                and server.process.poll() is None:
            time.sleep(1)
        print("a process stopped; shutting down", file=sys.stderr)
        return 1
    except Stop as stop:
        print(f"\n{stop}: stopping the worker, the sandbox, the Prefect server and the "
              "product server ...", flush=True)
        return 0
    finally:
        for sig in previous:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        for process in reversed(started):
            stop_process(process)
        server.stop()
        if products is not None:
            products.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
