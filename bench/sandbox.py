"""Sandbox bench: render 100 HyP3 products of 500x500 pixels, and hold 50 concurrent downloads.

1. `render`: the simulated Earth renders 100 INSAR_GAMMA products (500x500 px) of one stack,
   in one thread and in two (aim: under 30 s on 2 cores);
2. `server`: the same 100 jobs through a real `insarhub sandbox serve --grid-size 500`, from
   `POST /jobs` (hyp3_sdk) to all SUCCEEDED;
3. `downloads`: 50 clients download 50 different products from that server at once:
   throughput, errors, latency per download (and time to first byte).

Run: `.venv/bin/python bench/sandbox.py`; writes bench/results/sandbox.json.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from hyp3_sdk import HyP3
from insarhub_sandbox.admin import SandboxAdmin
from insarhub_sandbox.catalog.service import CatalogService
from insarhub_sandbox.clock import SandboxClock
from insarhub_sandbox.earth.model import SimulatedEarth, product_name
from insarhub_sandbox.records import SceneRecord

N_PRODUCTS = 100
GRID = 500
N_DOWNLOADS = 50
RESULTS = Path(__file__).parent / "results" / "sandbox.json"
PARAMS = {"looks": "20x4", "include_dem": True, "include_look_vectors": True, "apply_water_mask": False}


def pairs(workdir: Path) -> list[tuple[SceneRecord, SceneRecord]]:
    """100 short-baseline pairs of the demo stack (path 100, frame 466)."""
    catalog = CatalogService(SandboxClock(), workdir / "catalog", "http://unused")
    scenes = sorted((r for r in catalog.records if r.stack_key == "p100_f466"), key=lambda r: r.start)
    found = [(scenes[i], scenes[i + step]) for step in (1, 2, 3) for i in range(len(scenes) - step)]
    return found[:N_PRODUCTS]


def render(pairs_: list[tuple[SceneRecord, SceneRecord]], out: Path, workers: int) -> dict[str, Any]:
    earth = SimulatedEarth(seed=0, grid_size=GRID)

    def one(i: int) -> int:
        reference, secondary = pairs_[i]
        job_id = f"{uuid.UUID(int=i)}"
        name = product_name("INSAR_GAMMA", reference, secondary, PARAMS, job_id)
        return earth.render_product("INSAR_GAMMA", reference, secondary, PARAMS, out / job_id, name).stat().st_size

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        sizes = list(pool.map(one, range(len(pairs_))))
    seconds = time.perf_counter() - start
    return {"workers": workers, "products": len(sizes), "grid_px": GRID, "seconds": round(seconds, 2),
            "ms_per_product": round(1000 * seconds / len(sizes), 1),
            "mean_zip_mb": round(statistics.mean(sizes) / 1e6, 2)}


def serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "insarhub_sandbox", "serve", "--port", str(port),
                                "--data-dir", str(data_dir), "--grid-size", str(GRID), "--job-seconds", "0.5"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    SandboxAdmin(url).wait_healthy(timeout=60)
    return process, url


def through_server(url: str, pairs_: list[tuple[SceneRecord, SceneRecord]]) -> tuple[dict[str, Any], list[Any]]:
    hyp3 = HyP3(api_url=url, token=f"bench-{uuid.uuid4()}")
    jobs = [HyP3.prepare_insar_job(a.name, b.name, name="bench", **PARAMS) for a, b in pairs_]
    start = time.perf_counter()
    batch = hyp3.submit_prepared_jobs(jobs)
    while not batch.complete():
        time.sleep(0.5)
        batch = hyp3.find_jobs(name="bench")
    seconds = time.perf_counter() - start
    return ({"jobs": len(batch), "succeeded": sum(j.succeeded() for j in batch),
             "submit_to_all_succeeded_s": round(seconds, 2)}, list(batch))


def download(url: str, size: int) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        with requests.get(url, stream=True, timeout=120) as response:
            response.raise_for_status()
            first = None
            got = 0
            for chunk in response.iter_content(chunk_size=1 << 20):
                if first is None:
                    first = time.perf_counter() - start
                got += len(chunk)
        ok = got == size
        return {"ok": ok, "bytes": got, "seconds": time.perf_counter() - start, "ttfb": first or 0.0,
                "error": None if ok else f"size {got} != {size}"}
    except requests.RequestException as exc:
        return {"ok": False, "bytes": 0, "seconds": time.perf_counter() - start, "ttfb": 0.0, "error": str(exc)}


def downloads(jobs: list[Any]) -> dict[str, Any]:
    files = [job.files[0] for job in jobs[:N_DOWNLOADS]]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=N_DOWNLOADS) as pool:
        results = list(pool.map(lambda f: download(f["url"], f["size"]), files))
    wall = time.perf_counter() - start
    seconds = sorted(r["seconds"] for r in results)
    total = sum(r["bytes"] for r in results)
    return {
        "concurrent": len(files), "errors": sum(not r["ok"] for r in results),
        "error_messages": sorted({r["error"] for r in results if r["error"]})[:5],
        "total_mb": round(total / 1e6, 1), "wall_s": round(wall, 2),
        "throughput_mb_s": round(total / 1e6 / wall, 1),
        "latency_p50_s": round(statistics.median(seconds), 3),
        "latency_p95_s": round(seconds[int(0.95 * (len(seconds) - 1))], 3),
        "latency_max_s": round(seconds[-1], 3),
        "ttfb_p50_s": round(statistics.median(r["ttfb"] for r in results), 3),
    }


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="insarhub-bench-sandbox-") as tmp:
        workdir = Path(tmp)
        pairs_ = pairs(workdir)
        figures: dict[str, Any] = {"cpu_count": os.cpu_count()}
        figures["render"] = [render(pairs_, workdir / f"render{w}", w) for w in (1, 2)]
        process, url = serve(workdir / "server")
        try:
            figures["server"], jobs = through_server(url, pairs_)
            figures["downloads"] = downloads(jobs)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
