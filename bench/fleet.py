"""Fleet benchmark: N AOIs for C cycles on a real `prefect server` with process workers.

The sandbox serves a generated world of N AOIs (`insarhub sandbox serve --world N`: distinct
places, orbits and stack sizes, some multi-burst, some large, some with injected events at
known dates). The fleet's two deployments are registered (`deploy_fleet`), W process workers
serve the pool, and each cycle the sandbox clock advances 12 days and one fleet cycle runs
through its deployment (the planner, then one `fleet-aoi` run per AOI, spread over the
workers). Measured: cycle wall time, server and worker memory, the Prefect database, credits
per (sandbox) month against the budget, duplicate HyP3 jobs, AOIs current after each cycle,
failed runs, injected events alerted within two cycles, false alerts, and the time per stage
(task runs' durations from the Prefect API).

    .venv/bin/python bench/fleet.py --aois 5 --cycles 20 [--workers 2] [--budget 8000]

Writes bench/results/fleet.json after every cycle (partial results carry "finished": false).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
import requests  # noqa: E402
import yaml  # noqa: E402
from insarhub_sandbox.admin import SandboxAdmin  # noqa: E402
from insarhub_sandbox.catalog.stacks import stack_dates  # noqa: E402
from insarhub_sandbox.catalog.world import make_world  # noqa: E402

from flows.fleet_deployments import deploy_fleet  # noqa: E402
from flows.server import PrefectServer, free_port, start_worker, stop_process  # noqa: E402
from insarhub.fleet.budget import FleetBudget  # noqa: E402
from insarhub.fleet.status import timeseries_dates  # noqa: E402

POOL = "insarhub-fleet-bench"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
SAME_PLACE_M = 1500.0


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (MB)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total / 2**20


class Bench:
    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        self.world = make_world(args.aois, args.now, cycles=args.cycles + 2,
                                event_every=args.event_every)
        self.token = f"fleet-bench-{uuid.uuid4().hex[:10]}"
        self.fleet_file = root / "fleet.yaml"
        self.start = date.fromisoformat(args.now) - timedelta(days=12 * args.history)
        self.results: dict[str, Any] = {"aois": args.aois, "cycles": args.cycles,
                                        "workers": args.workers, "budget": args.budget,
                                        "finished": False}
        self.cycle_seconds: list[float] = []
        self.planner_seconds: list[float] = []
        self.current: list[int] = []
        self.runs: list[dict[str, Any]] = []
        self.server_rss = self.worker_rss = 0.0

    # -- set-up ----------------------------------------------------------------------------
    def start_sandbox(self) -> None:
        port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{port}"
        log = (self.root / "sandbox.log").open("wb")
        self.sandbox = subprocess.Popen(
            [sys.executable, "-m", "insarhub_sandbox", "serve", "--port", str(port),
             "--data-dir", str(self.root / "sandbox"), "--now", self.args.now,
             "--world", str(self.args.aois), "--world-cycles", str(self.args.cycles + 2),
             "--grid-size", str(self.args.grid_size), "--job-seconds",
             str(self.args.job_seconds)], stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        SandboxAdmin(self.sandbox_url).wait_healthy(timeout=120)

    def write_fleet(self) -> None:
        entries = [{**a.entry(), "start": self.start.isoformat()} for a in self.world.aois]
        self.fleet_file.write_text(yaml.safe_dump({
            "budget": {"monthly_credits": self.args.budget}, "workdir": str(self.root / "work"),
            "schedule": {"cron": "0 6 * * *", "active": False},
            "defaults": {"wait": {"poll_interval_s": 2, "timeout_s": 600},
                         "network": {"max_degree": 3}},
            "aois": entries}, sort_keys=False))

    def start_prefect(self) -> None:
        home = self.root / "prefect-home"
        self.server = PrefectServer(home=home, extra_env={
            "INSARHUB_ASF_URL": self.sandbox_url, "INSARHUB_HYP3_URL": self.sandbox_url,
            "EARTHDATA_TOKEN": self.token, "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
            "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_WORKER_PREFETCH_SECONDS": "5",
            "PREFECT_LOGGING_LEVEL": "WARNING", "MPLBACKEND": "Agg"})
        self.server.start(timeout=180)
        deploy_fleet(self.fleet_file, POOL, env=self.server.env())
        self.workers = [start_worker(self.server.env(), POOL, name=f"bench-worker-{i}",
                                     limit=1, log_path=self.root / f"worker-{i}.log")
                        for i in range(self.args.workers)]

    def stop(self) -> None:
        for worker in getattr(self, "workers", []):
            stop_process(worker)
        if hasattr(self, "server"):
            self.server.stop()
        if hasattr(self, "sandbox"):
            stop_process(self.sandbox)

    # -- Prefect API -------------------------------------------------------------------------
    def api(self, method: str, path: str, **body: Any) -> Any:
        for attempt in range(8):
            try:
                response = requests.request(method, f"{self.server.api_url}{path}",
                                            json=body or None, timeout=120)
            except requests.exceptions.Timeout:
                continue
            if response.status_code != 503:
                response.raise_for_status()
                return response.json() if response.content else None
            time.sleep(min(2 ** attempt, 30))
        raise RuntimeError(f"{method} {path}: the Prefect API kept failing")

    def wait(self, run_id: str, timeout: float = 3600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.api("GET", f"/flow_runs/{run_id}")
            if run["state"]["type"] in TERMINAL:
                return dict(run)
            self.sample_memory()
            time.sleep(2)
        raise RuntimeError(f"run {run_id} did not finish in {timeout:.0f} s")

    def sample_memory(self) -> None:
        if self.server.process is not None:
            self.server_rss = max(self.server_rss, rss_mb(self.server.process.pid))
        for worker in self.workers:
            self.worker_rss = max(self.worker_rss, rss_mb(worker.pid))

    # -- one cycle ---------------------------------------------------------------------------
    def cycle(self, number: int) -> None:
        admin = SandboxAdmin(self.sandbox_url)
        if number:
            admin.advance(12)
        now = admin.now()
        if number == self.args.late_events:  # one more event in every AOI without one
            self.inject_late_events(admin, date.fromisoformat(now[:10]))
        began = time.monotonic()
        deployment = self.api("GET", "/deployments/name/fleet-cycle/fleet")
        planner = self.api("POST", f"/deployments/{deployment['id']}/create_flow_run",
                           parameters={"fleet_file": str(self.fleet_file), "month": now[:7]})
        planned = self.wait(planner["id"])
        aoi_dep = self.api("GET", "/deployments/name/fleet-aoi/fleet-aoi")
        runs = [r for r in self.api("POST", "/flow_runs/filter",
                                    deployments={"id": {"any_": [aoi_dep["id"]]}})
                if r["created"] >= planned["created"]]
        finished = [self.wait(r["id"]) for r in runs]
        seconds = time.monotonic() - began
        self.cycle_seconds.append(seconds)
        self.planner_seconds.append(float(planned.get("total_run_time") or 0.0))
        self.runs += [{"cycle": number, "id": r["id"], "aoi": r["parameters"].get("name"),
                       "state": r["state"]["type"], "seconds": r.get("total_run_time")}
                      for r in [planned, *finished]]
        self.current.append(self.count_current(date.fromisoformat(now[:10])))
        failed = [r for r in [planned, *finished] if r["state"]["type"] != "COMPLETED"]
        print(f"cycle {number + 1}/{self.args.cycles} ({now[:10]}): {seconds:.0f} s, "
              f"{len(finished)} AOI runs, {len(failed)} failed, "
              f"{self.current[-1]}/{self.args.aois} current", flush=True)

    def inject_late_events(self, admin: SandboxAdmin, today: date) -> None:
        """Events 14, 20, 26 ... days ahead in the AOIs the world gave none (their dates known
        in the sandbox's events.json, which the figures read)."""
        for k, aoi in enumerate(self.world.aois):
            if not aoi.event:
                admin.add_event(round(aoi.center[0] + 0.003, 5), round(aoi.center[1] - 0.002, 5),
                                (today + timedelta(days=14 + 6 * k)).isoformat(), -40.0, 400.0)

    def count_current(self, today: date) -> int:
        """AOIs whose time series holds every acquisition older than one cycle."""
        done = 0
        for aoi in self.world.aois:
            wanted = {d.strftime("%Y%m%d") for d in stack_dates(aoi.stack)
                      if self.start <= d <= today - timedelta(days=12)}
            have = set(timeseries_dates(self.root / "work" / aoi.name))
            done += wanted <= have
        return done

    # -- figures -----------------------------------------------------------------------------
    def hyp3_jobs(self) -> list[dict[str, Any]]:
        """Every HyP3 job of the bench's user (all pages)."""
        jobs: list[dict[str, Any]] = []
        url: str | None = f"{self.sandbox_url}/jobs"
        while url:
            response = requests.get(url, timeout=60,
                                    headers={"Authorization": f"Bearer {self.token}"})
            response.raise_for_status()
            page = response.json()
            jobs += page["jobs"]
            url = page.get("next")
        return jobs

    def stages(self) -> dict[str, float]:
        """Seconds per task name over all runs (task runs' own durations)."""
        totals: dict[str, float] = defaultdict(float)
        offset = 0
        while True:
            page = self.api("POST", "/task_runs/filter", limit=200, offset=offset)
            for task in page:
                name = task["name"].rsplit("-", 1)[0]
                totals[name] += float(task.get("total_run_time") or 0.0)
            if len(page) < 200:
                break
            offset += 200
        return dict(sorted(((k, round(v, 1)) for k, v in totals.items()),
                           key=lambda kv: -kv[1]))

    def alerts(self) -> tuple[int, int, int, int]:
        """Events injected, alerted within two cycles of onset, false AOI-cycles, AOI-cycles."""
        figures = alert_figures(self.root, self.clock_now()[:10])
        return (figures["events_injected"], figures["events_alerted"],
                figures["false_alerts"], self.args.aois * len(self.cycle_seconds))

    def clock_now(self) -> str:
        return SandboxAdmin(self.sandbox_url).now()

    def write(self, finished: bool) -> None:
        jobs = self.hyp3_jobs()
        pairs = [(j["job_type"], json.dumps(j.get("job_parameters", {}).get("granules")
                                            or j.get("job_parameters", {}), sort_keys=True))
                 for j in jobs]
        with FleetBudget.for_workdir(self.root / "work", self.args.budget) as budget:
            months = budget.months()  # the credits counted per (sandbox) month, job by job
        hyp3_total = sum(float(job.get("credit_cost") or 0) for job in jobs)
        injected, alerted, false, aoi_cycles = self.alerts()
        record = hyp3_record(self.root)
        db = self.root / "prefect-home" / "prefect.db"
        db_mb = sum(p.stat().st_size for p in db.parent.glob("prefect.db*")) / 2**20
        aoi_runs = [r for r in self.runs if r["aoi"]]
        self.results.update({
            "cycle_seconds": {"median": round(statistics.median(self.cycle_seconds), 1),
                              "max": round(max(self.cycle_seconds), 1),
                              "all": [round(s, 1) for s in self.cycle_seconds]},
            "cycles_done": len(self.cycle_seconds),
            "planner_seconds_median": round(statistics.median(self.planner_seconds), 1),
            "server_rss_mb": round(self.server_rss, 1),
            "worker_rss_mb_max": round(self.worker_rss, 1),
            "db_mb": round(db_mb, 1),
            "credits_per_month": max(months.values(), default=0.0),
            "credits_by_month": dict(sorted(months.items())),
            "hyp3_jobs": len(jobs), "hyp3_credits_total": hyp3_total,
            "fleet_counted_total": sum(months.values()),
            "duplicate_jobs": len(pairs) - len(set(pairs)) + len(jobs) - len({j["name"] for j in jobs}),
            "aois_current": min(self.current, default=0),
            "aois_current_by_cycle": self.current,
            "failed_runs": sum(r["state"] != "COMPLETED" for r in self.runs),
            "aoi_runs": len(aoi_runs),
            "aoi_run_seconds": {"median": round(statistics.median(
                [r["seconds"] or 0 for r in aoi_runs]), 1) if aoi_runs else None},
            "events_injected": injected, "events_alerted": alerted,
            "false_alerts": false, "aoi_cycles": aoi_cycles,
            "false_alert_rate": round(false / aoi_cycles, 4) if aoi_cycles else None,
            "stage_seconds": self.stages(),
            "world": {"now": self.args.now, "history_dates": self.args.history,
                      "grid_size": self.args.grid_size, "job_seconds": self.args.job_seconds,
                      "products": sorted({a.product for a in self.world.aois}),
                      "large_aois": sum(a.large for a in self.world.aois)},
            "machine": {"cpus": os.cpu_count(), "load_avg_1m_at_end": os.getloadavg()[0]},
            "finished": finished,
        })
        self.results.update(record)  # HyP3's own record: every job, months on its clock
        self.results.update(server_log_figures(self.root))
        out = Path(self.args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.results, indent=1))


def alert_figures(root: Path, now: str) -> dict[str, int]:
    """Injected events (the sandbox's own `events.json`, each in the AOI whose bbox holds it)
    whose onset is two cycles old, those alerted within two cycles of onset near the event,
    and AOI-dates with an announcement that matches no event (false)."""
    from insarhub_sandbox.earth.events import DeformationEvent, distance_m

    events = [DeformationEvent.from_dict(e) for e in
              json.loads((root / "sandbox" / "events.json").read_text())]
    entries = yaml.safe_load((root / "fleet.yaml").read_text())["aois"]
    injected = alerted = false = 0
    for entry in entries:
        west, south, east, north = entry["geometry"]
        mine = [e for e in events if west <= e.lon <= east and south <= e.lat <= north]
        announced: list[dict[str, Any]] = []
        for path in (root / "work" / entry["name"]).glob("*/anomaly_announcements.json"):
            announced += json.loads(path.read_text()).get("regions", [])
        due = [e for e in mine if e.start <= date.fromisoformat(now) - timedelta(days=24)]
        injected += len(due)
        hits: set[date] = set()
        false_dates: set[str] = set()
        for region in announced:
            for item in region.get("announced", []):
                day = _iso(item["date"])
                match = [e for e in mine if distance_m(e, region["lat"], region["lon"])
                         <= SAME_PLACE_M and e.start.isoformat() <= day]
                if not match:
                    false_dates.add(day)
                for event in match:
                    if day <= (event.start + timedelta(days=24)).isoformat():
                        hits.add(event.start)
        alerted += sum(e.start in hits for e in due)
        false += len(false_dates)
    return {"events_injected": injected, "events_alerted": alerted, "false_alerts": false}


def server_log_figures(root: Path) -> dict[str, int]:
    """SQLite trouble in the Prefect server's log: "database is locked" errors (each one a
    request the client had to send again)."""
    log = root / "prefect-home" / "server.log"
    text = log.read_text(errors="replace") if log.is_file() else ""
    return {"sqlite_locked_errors": text.count("sqlite3.OperationalError: database is locked"),
            "server_error_lines": text.count("| ERROR ")}


def hyp3_record(root: Path) -> dict[str, Any]:
    """HyP3's own figures from the sandbox's job store (request times on its clock)."""
    import sqlite3

    store = root / "sandbox" / "hyp3" / "jobs.sqlite"
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as con:
        jobs = [json.loads(doc) for (doc,) in con.execute("SELECT doc FROM jobs")]
    months: dict[str, float] = defaultdict(float)
    for job in jobs:
        months[str(job["request_time"])[:7]] += float(job.get("credit_cost") or 0)
    pairs = [(j["job_type"], str(j.get("job_parameters"))) for j in jobs]
    return {"hyp3_jobs": len(jobs), "hyp3_credits_total": sum(months.values()),
            "hyp3_credits_by_month": dict(sorted(months.items())),
            "credits_per_month": max(months.values(), default=0.0),
            "duplicate_jobs": len(pairs) - len(set(pairs)) + len(jobs)
            - len({j["name"] for j in jobs})}


def recount(root: Path, out: Path) -> None:
    """Redo the HyP3 figures of a finished or stopped run from its kept state."""
    results = json.loads(out.read_text())
    results.update(hyp3_record(root))
    results.update(server_log_figures(root))
    now = date.fromisoformat(results["world"]["now"]) + timedelta(
        days=12 * (results["cycles_done"] - 1))
    results.update(alert_figures(root, now.isoformat()))
    cycles = results["aois"] * results["cycles_done"]
    results["false_alert_rate"] = round(results["false_alerts"] / cycles, 4) if cycles else None
    out.write_text(json.dumps(results, indent=1))


def _iso(text: str) -> str:
    text = str(text)
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text[:10]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--aois", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=float, default=8000.0)
    parser.add_argument("--now", default="2023-01-01", help="the sandbox clock at cycle 1")
    parser.add_argument("--history", type=int, default=11,
                        help="12-day repeats of history before the first cycle")
    parser.add_argument("--event-every", type=int, default=3)  # as the sandbox's --world
    parser.add_argument("--late-events", type=int, default=5, metavar="CYCLE",
                        help="at this cycle (0-based) inject an event ahead in every AOI "
                             "without one; -1: none")
    parser.add_argument("--grid-size", type=int, default=68)
    parser.add_argument("--job-seconds", type=float, default=1.0)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "fleet.json"))
    parser.add_argument("--recount", type=Path, metavar="ROOT",
                        help="only redo the HyP3 figures from a kept run's folder")
    args = parser.parse_args(argv)
    if args.recount:
        recount(args.recount, Path(args.out))
        return 0
    os.environ.setdefault("DO_NOT_TRACK", "1")
    root = Path(tempfile.mkdtemp(prefix="insarhub-fleet-bench-"))
    bench = Bench(args, root)
    began = time.monotonic()
    try:
        bench.start_sandbox()
        bench.write_fleet()
        bench.start_prefect()
        bench.results["setup_seconds"] = round(time.monotonic() - began, 1)
        for number in range(args.cycles):
            bench.cycle(number)
            bench.write(finished=False)
        bench.results["total_seconds"] = round(time.monotonic() - began, 1)
        bench.write(finished=True)
        print(json.dumps({k: v for k, v in bench.results.items() if k != "stage_seconds"},
                         indent=1))
    finally:
        bench.stop()
        print(f"state kept in {root}", flush=True)
    return 0 if math.isfinite(bench.results.get("total_seconds", math.inf)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
