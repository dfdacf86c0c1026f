"""The sandbox HyP3's life cycle, truth, thread safety and state across restarts."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
from hyp3_sdk import HyP3
from insarhub_sandbox.admin import Hyp3Admin, SandboxAdmin
from insarhub_sandbox.catalog.service import CatalogService
from insarhub_sandbox.clock import SandboxClock


@pytest.fixture(scope="module")
def slcs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    catalog = CatalogService(SandboxClock(), tmp_path_factory.mktemp("catalog"), "http://unused")
    records = sorted((r for r in catalog.records if r.stack_key == "p100_f466" and r.start.year == 2021),
                     key=lambda r: r.start)
    return [r.name for r in records]


def serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`insarhub sandbox serve` on a free port, in a process of this test's own."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "insarhub_sandbox", "serve", "--port", str(port),
                                "--data-dir", str(data_dir), "--job-seconds", "0.5"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        SandboxAdmin(url).wait_healthy(timeout=60)
    except Exception:
        process.kill()
        raise
    return process, url


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def new_client(url: str) -> HyP3:
    return HyP3(api_url=url, token=f"test-{uuid.uuid4()}")


def test_life_cycle_pending_running_succeeded(sandbox, slcs: list[str]) -> None:
    hyp3 = new_client(sandbox.url)
    Hyp3Admin(sandbox.url).configure(job_seconds=3, user_id=hyp3.my_info()["user_id"])
    job = hyp3.submit_insar_job(slcs[0], slcs[1])[0]
    seen = [job.status_code]
    deadline = time.monotonic() + 60
    while not job.complete() and time.monotonic() < deadline:
        time.sleep(0.1)
        job = hyp3.refresh(job)
        if job.status_code != seen[-1]:
            seen.append(job.status_code)
    assert seen == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert job.expiration_time is not None and job.processing_times is not None
    finished = job.expiration_time - timedelta(days=14)
    assert timedelta(seconds=1.5) <= finished - job.request_time <= timedelta(seconds=5)


def test_advancing_the_clock_finishes_slow_jobs(sandbox, slcs: list[str]) -> None:
    hyp3 = new_client(sandbox.url)
    Hyp3Admin(sandbox.url).configure(job_seconds=3 * 3600, user_id=hyp3.my_info()["user_id"])
    job = hyp3.submit_insar_job(slcs[2], slcs[3])[0]
    time.sleep(0.5)
    assert hyp3.refresh(job).status_code == "PENDING"
    sandbox.admin.advance(0.25)  # six hours later
    deadline = time.monotonic() + 60
    while not (job := hyp3.refresh(job)).complete() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.status_code == "SUCCEEDED"
    assert job.request_time < job.expiration_time - timedelta(days=14)  # finished hours "later"


def test_truth_is_served_for_rendered_stacks(sandbox, slcs: list[str], tmp_path: Path) -> None:
    hyp3 = new_client(sandbox.url)
    batch = hyp3.watch(hyp3.submit_insar_job(slcs[4], slcs[5], include_dem=True,
                                             include_look_vectors=True), timeout=120, interval=0.3)
    assert batch.succeeded()
    admin = Hyp3Admin(sandbox.url)
    names = admin.truth_files("p100_f466")
    dates = [name.split("_")[5][:8] for name in (slcs[4], slcs[5])]
    assert {"velocity.tif", *(f"displacement_{d}.tif" for d in dates)} <= set(names)
    paths = {p.name: p for p in admin.download_truth("p100_f466", tmp_path)}
    with rasterio.open(paths["velocity.tif"]) as src:
        velocity = src.read(1)
        assert src.crs.to_epsg() // 100 == 326  # UTM north, as the products
    assert np.isfinite(velocity).all() and np.abs(velocity).max() > 0.005  # a real bowl, m/yr
    missing = requests.get(f"{sandbox.url}/_sandbox/truth/p100_f466/nothing.tif", timeout=10)
    assert missing.status_code == 404


def test_concurrent_clients(sandbox, slcs: list[str]) -> None:
    """Threads submitting, listing and downloading at once: no error, no lost or extra job."""
    clients = [new_client(sandbox.url) for _ in range(8)]
    errors: list[BaseException] = []

    def work(hyp3: HyP3, k: int) -> None:
        try:
            for i in range(3):
                a, b = slcs[(k + i) % 20], slcs[(k + i) % 20 + 1]
                hyp3.submit_insar_job(a, b, name=f"c{k}")
                hyp3.find_jobs(name=f"c{k}")
            batch = hyp3.watch(hyp3.find_jobs(name=f"c{k}"), timeout=120, interval=0.3)
            for job in batch:
                assert len(requests.get(job.files[0]["url"], timeout=30).content) == job.files[0]["size"]
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c, k)) for k, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    for hyp3 in clients:
        jobs = hyp3.find_jobs()
        assert Counter(j.status_code for j in jobs) == {"SUCCEEDED": 3}
        assert hyp3.check_credits() == 8000 - 30


def test_a_restarted_sandbox_keeps_users_jobs_and_products(tmp_path: Path, slcs: list[str]) -> None:
    data_dir = tmp_path / "data"
    token = f"test-{uuid.uuid4()}"
    process, url = serve(data_dir)
    try:
        hyp3 = HyP3(api_url=url, token=token)
        batch = hyp3.watch(hyp3.submit_insar_job(slcs[6], slcs[7], name="keep"), timeout=120, interval=0.2)
        pending = hyp3.submit_insar_job(slcs[7], slcs[8], name="keep-later")
        Hyp3Admin(url).set_credits(hyp3.my_info()["user_id"], 123)
    finally:
        stop(process)

    process, url = serve(data_dir)  # another port: file URLs follow the server
    try:
        hyp3 = HyP3(api_url=url, token=token)
        assert hyp3.check_credits() == 123
        job = hyp3.get_job_by_id(batch[0].job_id)
        old_url = batch[0].files[0]["url"]
        assert job.status_code == "SUCCEEDED" and job.files[0]["size"] == batch[0].files[0]["size"]
        assert job.files[0]["url"] == url + old_url[old_url.index("/hyp3-sandbox-contentbucket/"):]
        assert len(requests.get(job.files[0]["url"], timeout=10).content) == job.files[0]["size"]
        later = hyp3.watch(hyp3.refresh(pending), timeout=120, interval=0.2)
        assert later.succeeded()  # a job the first run never rendered is rendered by the second
        assert sorted(hyp3.my_info()["job_names"]) == ["keep", "keep-later"]
    finally:
        stop(process)
