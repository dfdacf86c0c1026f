"""HyP3 processor benchmark against the sandbox HyP3: 500 pairs.

Measures, for `Hyp3S1Processor` (the ledger, paged refresh, parallel downloads):
- submit: time and API requests for 500 jobs (credits check + 3 POSTs of <= 200);
- refresh: time and API requests for one refresh of 500 unfinished jobs, beside hyp3_sdk's
  `HyP3.refresh(batch)` (one GET /jobs/{id} per job);
- download: time to fetch (and unzip) the 500 products with 50 ms added to every file answer
  (sandbox Faults(latency_s=0.05) on group "files"), beside hyp3_sdk's `Batch.download_files`
  on the same products; the ratio (aim: >= 3x faster).

    .venv/bin/python bench/hyp3.py [--pairs 500] [--workers 8]

Writes bench/results/hyp3.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "hyp3.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sandbox(data_dir: Path, job_seconds: float) -> tuple[subprocess.Popen[bytes], str]:
    from insarhub_sandbox.admin import SandboxAdmin

    port = free_port()
    log = (data_dir.parent / "sandbox.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "insarhub_sandbox", "serve", "--port",
                             str(port), "--data-dir", str(data_dir), "--job-seconds",
                             str(job_seconds)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    SandboxAdmin(url).wait_healthy(timeout=60)
    return proc, url


def bench_pairs(count: int, data_dir: Path) -> list[tuple[str, str]]:
    """`count` distinct same-stack pairs of real sandbox catalog scenes (seed stack first)."""
    from insarhub_sandbox.catalog.service import CatalogService
    from insarhub_sandbox.clock import SandboxClock

    records = CatalogService(clock=SandboxClock(), data_dir=data_dir, base_url="http://x").records
    stacks: dict[str, list[Any]] = {}
    for record in records:
        if record.processing_level == "SLC":
            stacks.setdefault(record.stack_key, []).append(record)
    ordered = sorted(stacks.values(), key=lambda s: (s[0].stack_key != "p100_f466", -len(s)))
    pairs: list[tuple[str, str]] = []
    for scenes in ordered:
        names = [r.name for r in sorted(scenes, key=lambda r: r.start)]
        for step in (1, 2, 3):
            pairs += [(names[i], names[i + step]) for i in range(len(names) - step)]
            if len(pairs) >= count:
                return pairs[:count]
    raise SystemExit(f"the sandbox catalog gives only {len(pairs)} pairs")


def quiet() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stdout(io.StringIO())


def run(pair_count: int, workers: int) -> dict[str, Any]:
    from hyp3_sdk import HyP3
    from insarhub_sandbox.admin import Hyp3Admin, SandboxAdmin

    from insarhub import Processor

    tmp = Path(tempfile.mkdtemp(prefix="bench-hyp3-"))
    proc, url = start_sandbox(tmp / "sandbox", job_seconds=20)
    token = f"bench-{uuid.uuid4().hex}"
    os.environ.update({"INSARHUB_HYP3_URL": url, "EARTHDATA_TOKEN": token})
    try:
        pairs = bench_pairs(pair_count, tmp / "catalog")
        p = Processor.create("Hyp3_S1", pairs=pairs, workdir=tmp / "work")

        t0 = time.perf_counter()
        p.submit()
        submit_s = time.perf_counter() - t0
        submit_requests = p.client.requests_sent

        sent = p.client.requests_sent
        t0 = time.perf_counter()
        with quiet():
            table = p.refresh()
        refresh_s = time.perf_counter() - t0
        refresh_requests = p.client.requests_sent - sent
        unfinished = int((~table["status"].isin(["SUCCEEDED", "FAILED"])).sum())

        sdk = HyP3(api_url=url, token=token)
        batch = sdk.find_jobs()
        t0 = time.perf_counter()
        batch = sdk.refresh(batch)
        sdk_refresh_s = time.perf_counter() - t0

        with quiet():
            status = p.watch(refresh_interval=2.0, timeout=900)
        assert status.counts.get("SUCCEEDED") == pair_count, status.line()

        admin = SandboxAdmin(url)
        admin.set_faults(files={"latency_s": 0.05})
        t0 = time.perf_counter()
        products = p.download(max_workers=workers, progress=False)
        download_s = time.perf_counter() - t0
        assert len(products) == pair_count

        batch = sdk.find_jobs()
        sdk_dir = tmp / "sdk"
        t0 = time.perf_counter()
        with quiet(), contextlib.redirect_stderr(io.StringIO()):
            files = batch.download_files(sdk_dir)
        sdk_download_s = time.perf_counter() - t0
        assert len(files) == pair_count
        download_mb = sum(f.stat().st_size for f in files) / 1e6
        admin.clear_faults()
        page_size = Hyp3Admin(url).settings().get("page_size")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    return {
        "pairs": pair_count,
        "api_page_size": page_size,
        "submit_s": round(submit_s, 3),
        "submit_requests": submit_requests,
        "refresh_s": round(refresh_s, 3),
        "refresh_requests": refresh_requests,
        "refresh_unfinished_jobs": unfinished,
        "hyp3_sdk_refresh_s": round(sdk_refresh_s, 3),
        "hyp3_sdk_refresh_requests": pair_count,
        "download_latency_s": 0.05,
        "download_workers": workers,
        "download_s": round(download_s, 3),
        "download_includes_unzip": True,
        "hyp3_sdk_download_s": round(sdk_download_s, 3),
        "download_speedup": round(sdk_download_s / download_s, 2),
        "download_mb": round(download_mb, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    result = run(args.pairs, args.workers)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:28s} {value}")
    print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
