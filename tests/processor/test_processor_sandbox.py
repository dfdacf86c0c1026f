"""The HyP3 processors against the sandbox HyP3 (real hyp3_sdk session, real HTTP, real zips)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hyp3_helpers import FAST_RETRY, Hyp3User, make_pairs

from insarhub import Downloader, Processor
from insarhub.errors import CredentialsError, CreditError, HyP3Error, ProcessorError
from insarhub.ledger import SUBMITTING, Ledger
from insarhub.processor.hyp3 import Hyp3Processor, InsufficientCreditsError
from insarhub.retry import RetryPolicy

AOI = [-113.05, 37.74, -112.68, 38.00]
LAYERS = ("_unw_phase.tif", "_corr.tif", "_dem.tif", "_lv_theta.tif", "_lv_phi.tif",
          "_water_mask.tif", ".txt")


def processor(kind: str = "Hyp3_S1", **kwargs: Any) -> Hyp3Processor:
    kwargs.setdefault("retry_policy", FAST_RETRY)
    return Processor.create(kind, **kwargs)  # type: ignore[no-any-return]


def wait_done(p: Hyp3Processor, timeout: float = 90) -> None:
    status = p.watch(refresh_interval=0.3, timeout=timeout)
    assert status.finished


def assert_product(folder: Path) -> None:
    assert folder.parent.name == "hyp3" and folder.is_dir()
    for suffix in LAYERS:
        path = folder / f"{folder.name}{suffix}"
        assert path.is_file() and path.stat().st_size > 0, path


def test_seed_flow_submit_save_reload_refresh_download(hyp3_user: Hyp3User, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    hyp3_user.configure(job_seconds=0.5)
    s1 = Downloader.create("S1_SLC", intersectsWith=AOI, start="2020-01-01", end="2020-12-31")
    s1.search()
    s1.filter(path_frame=(100, 466))
    pair_stacks, _, _ = s1.select_pairs(max_degree=5)
    pairs = {key: value[:6] for key, value in pair_stacks.items()}
    workdir = tmp_path / "p100_f466"

    p = processor(pairs=pairs, workdir=workdir)
    result = p.submit()
    assert len(result.submitted) == 6 and not result.queued
    saved = p.save()
    assert saved == workdir / "hyp3_jobs.json"
    p.close()

    p = processor(saved_job_path=saved)
    assert p.workdir == workdir.resolve() and p.pairs == pairs[(100, 466)]
    time.sleep(0.6)
    wait_done(p)
    capsys.readouterr()
    table = p.refresh()
    printed = capsys.readouterr().out
    assert list(table["status"]) == ["SUCCEEDED"] * 6
    for name, job_id in zip(table["name"], table["job_id"], strict=True):
        assert name in printed and job_id in printed
    assert "6 jobs: 6 succeeded" in printed

    products = p.download(progress=False)
    assert len(products) == 6
    for folder in products:
        assert_product(folder)
    stamps = {f: f.stat().st_mtime_ns for f in (workdir / "hyp3").rglob("*.tif")}
    sent = p.client.requests_sent
    again = p.download(progress=False)  # finished products are skipped: nothing fetched
    assert sorted(again) == sorted(products)
    assert stamps == {f: f.stat().st_mtime_ns for f in (workdir / "hyp3").rglob("*.tif")}
    assert p.client.requests_sent == sent  # all final: not even a refresh request
    status = p.snapshot()
    assert status.succeeded and status.counts == {"SUCCEEDED": 6}
    assert status.detail["downloaded"] == 6
    assert not list((workdir / "hyp3").glob("*.zip"))
    assert hyp3_user.jobs_per_name() == {name: 1 for name in table["name"]}


def test_submitting_the_same_pairs_again_creates_no_job(hyp3_user: Hyp3User, workdir: Path,
                                                        slc_pairs_2020: list[Any]) -> None:
    pairs = slc_pairs_2020[:4]
    first = processor(pairs=pairs, workdir=workdir)
    assert len(first.submit().submitted) == 4
    assert first.submit().submitted == []
    first.close()
    second = processor(pairs=slc_pairs_2020[:5], workdir=workdir)  # a new process, one more pair
    assert len(second.submit().submitted) == 1
    counts = hyp3_user.jobs_per_name()
    assert len(counts) == 5 and set(counts.values()) == {1}


def test_refresh_pages_through_jobs_instead_of_one_request_per_job(
        hyp3_user: Hyp3User, workdir: Path, slc_scenes: list[str]) -> None:
    hyp3_user.configure(page_size=10, job_seconds=30)
    p = processor(pairs=make_pairs(slc_scenes, 35), workdir=workdir)
    p.submit()
    before = p.client.requests_sent
    table = p.refresh()
    assert p.client.requests_sent - before == 4  # 35 jobs, 10 a page
    assert set(table["status"]) <= {"PENDING", "RUNNING"} and table["job_id"].notna().all()


def test_flaky_api_100_pairs_complete_without_duplicates(hyp3_user: Hyp3User, workdir: Path,
                                                        slc_scenes: list[str]) -> None:
    hyp3_user.configure(job_seconds=0.5, lost_response_rate=0.2)  # stored, answer lost
    hyp3_user.sandbox.admin.set_faults(hyp3={"error_rate": 0.2}, files={"drop_rate": 0.3})
    pairs = make_pairs(slc_scenes, 100)
    p = processor(pairs=pairs, workdir=workdir, batch_size=50)
    p.submit()
    wait_done(p, timeout=120)
    products = p.download(progress=False)
    assert len(products) == 100
    for folder in products[:10]:
        assert_product(folder)
    hyp3_user.sandbox.admin.clear_faults()
    counts = hyp3_user.jobs_per_name()
    assert len(counts) == 100 and set(counts.values()) == {1}  # zero duplicate jobs
    assert p.snapshot().counts == {"SUCCEEDED": 100}


@pytest.mark.parametrize("lost_answers", [True, False])
def test_sigkill_in_the_middle_of_submitting_then_rerun(hyp3_user: Hyp3User, workdir: Path,
                                                       tmp_path: Path, slc_scenes: list[str],
                                                       lost_answers: bool) -> None:
    pairs = make_pairs(slc_scenes, 40)
    pairs_file = tmp_path / "pairs.json"
    pairs_file.write_text(json.dumps(pairs))
    if lost_answers:  # every POST is stored but answered 502: the worker must look names up
        hyp3_user.configure(lost_response_rate=1.0)
    # HyP3 stops answering once 10 jobs are stored: the worker is then surely mid-submission
    hyp3_user.configure(stall_after_jobs=10)

    def stored() -> int:  # jobs on the server (admin route: never slowed down)
        return sum(hyp3_user.admin.settings()["job_counts"].values())

    baseline = stored()
    env = {**os.environ, "INSARHUB_HYP3_URL": hyp3_user.url, "EARTHDATA_TOKEN": hyp3_user.token}
    worker = subprocess.Popen([sys.executable, str(Path(__file__).parent / "submit_worker.py"),
                               str(workdir), str(pairs_file), "5"], env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "submitting"
        deadline = time.monotonic() + 120
        while stored() - baseline < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker.poll() is None, "the worker finished before it could be killed"
    finally:
        worker.kill()  # SIGKILL, in the middle of submitting
        worker.wait()
    hyp3_user.configure(lost_response_rate=0.0, stall_after_jobs=None)  # the held POST: 503
    on_server = {job.name for job in hyp3_user.server_jobs()}
    assert len(on_server) == 10
    ledger = Ledger.for_workdir(workdir)
    unrecorded = {r.name for r in ledger.jobs(current_only=False, state=SUBMITTING)} & on_server
    if lost_answers:  # jobs reached HyP3 but not the ledger
        assert unrecorded
    ledger.close()

    rerun = processor(pairs=pairs, workdir=workdir)
    result = rerun.submit()
    assert set(result.recovered) == unrecorded
    assert len(result.submitted) == 40 - len(on_server)
    counts = hyp3_user.jobs_per_name()
    assert len(counts) == 40 and set(counts.values()) == {1}  # exactly one job per pair
    assert all(r.job_id for r in rerun.ledger.jobs())


def test_failed_jobs_are_resubmitted_then_reported_for_repair(hyp3_user: Hyp3User, workdir: Path,
                                                              slc_pairs_2020: list[Any]) -> None:
    pairs = slc_pairs_2020[:4]
    failing = [list(pairs[1]), list(pairs[3])]
    hyp3_user.configure(job_seconds=0.3, fail_pairs=failing)
    p = processor(pairs=pairs, workdir=workdir, max_retries=1)
    p.submit()
    wait_done(p)
    status = p.status()
    assert status.counts == {"SUCCEEDED": 2, "FAILED": 2} and not status.succeeded
    base = {tuple(pair): name for pair, name in zip(pairs, p.table()["name"], strict=True)}
    assert sorted(status.failed) == sorted(base[tuple(f)] for f in failing)

    report = p.retry()
    assert sorted(report.resubmitted) == sorted(f"{base[tuple(f)]}_r1" for f in failing)
    wait_done(p)
    report = p.retry()  # failed twice with max_retries=1: not sent again, reported
    assert report.resubmitted == [] and sorted(report.exhausted) == sorted(map(tuple, failing))
    assert sorted(p.failed_pairs()) == sorted(map(tuple, failing))
    assert sorted(p.status().detail["exhausted"]) == sorted(map(tuple, failing))

    hyp3_user.configure(fail_pairs=[])
    report = p.retry(max_retries=2)
    assert sorted(report.resubmitted) == sorted(f"{base[tuple(f)]}_r2" for f in failing)
    wait_done(p)
    assert p.status().succeeded
    counts = hyp3_user.jobs_per_name()
    assert len(counts) == 2 + 2 * 3 and set(counts.values()) == {1}


def test_failing_pairs_are_replaced_through_the_network_repair(hyp3_user: Hyp3User,
                                                               tmp_path: Path) -> None:
    hyp3_user.configure(job_seconds=0.3)
    s1 = Downloader.create("S1_SLC", intersectsWith=AOI, start="2020-01-01", end="2020-06-30")
    s1.search()
    s1.filter(path_frame=(100, 466))
    pair_stacks, _, _ = s1.select_pairs(max_degree=3)
    pairs = pair_stacks[(100, 466)]
    hyp3_user.configure(fail_pairs=[list(pairs[2])])
    p = processor(pairs=pair_stacks, workdir=tmp_path / "p100_f466", max_retries=0)
    p.submit()
    wait_done(p)
    assert p.failed_pairs() == [pairs[2]]
    update = p.repair_network(s1.stacks[(100, 466)], max_degree=5)
    assert pairs[2] in update.removed and update.pairs
    assert pairs[2] not in p.pairs and all(pair in p.pairs for pair in update.pairs)
    p.submit()
    wait_done(p)
    assert p.status().succeeded and p.failed_pairs() == []
    exported = json.loads((p.workdir / "hyp3_jobs.json").read_text())
    dropped = [(e["reference"], e["secondary"]) for e in exported["pairs"] if e["dropped"]]
    assert dropped == [pairs[2]]


def test_expired_products_are_resubmitted_unless_downloaded(hyp3_user: Hyp3User, workdir: Path,
                                                            slc_pairs_2020: list[Any]) -> None:
    hyp3_user.configure(job_seconds=0.3)
    p = processor(pairs=slc_pairs_2020[:2], workdir=workdir)
    p.submit()
    wait_done(p)
    assert len(p.download(progress=False)) == 2
    p.add_pairs(slc_pairs_2020[2:4])
    p.submit()
    wait_done(p)
    not_downloaded = [r.name for r in p.ledger.jobs() if not r.downloaded]
    hyp3_user.sandbox.admin.advance(15)  # past HyP3's 14 days
    report = p.retry()  # asks HyP3 again about succeeded, undownloaded jobs: expired
    assert sorted(report.resubmitted) == sorted(f"{name}_r1" for name in not_downloaded)
    wait_done(p)
    products = p.download(progress=False)
    assert len(products) == 4
    for folder in products:
        assert_product(folder)
    status = p.status()
    assert status.succeeded and status.detail["expired"] == [] and status.detail["downloaded"] == 4


def test_expiry_found_at_download_time_is_recorded(hyp3_user: Hyp3User, workdir: Path,
                                                   slc_pairs_2020: list[Any]) -> None:
    hyp3_user.configure(job_seconds=0.3)
    p = processor(pairs=slc_pairs_2020[:1], workdir=workdir)
    p.submit()
    wait_done(p)
    hyp3_user.sandbox.admin.advance(15)  # the files are gone (404) before we fetch them
    assert p.download(progress=False) == []
    status = p.status()
    assert status.detail["expired"] == [p.ledger.jobs()[0].name]
    assert len(p.retry().resubmitted) == 1
    wait_done(p)
    assert len(p.download(progress=False)) == 1


def test_short_credits_submit_what_fits_and_keep_the_rest(hyp3_user: Hyp3User, workdir: Path,
                                                          slc_pairs_2020: list[Any]) -> None:
    hyp3_user.admin.set_credits(hyp3_user.user_id, 25)  # INSAR_GAMMA 20x4 costs 10
    p = processor(pairs=slc_pairs_2020[:5], workdir=workdir)
    with pytest.raises(CreditError) as caught:
        p.submit()
    message = str(caught.value)
    assert "25 credits missing" in message and "3 stay queued" in message
    assert isinstance(caught.value, InsufficientCreditsError)
    assert (caught.value.missing_credits, caught.value.queued) == (25, 3)
    assert p.status().counts.get("QUEUED") == 3
    exported = json.loads((workdir / "hyp3_jobs.json").read_text())
    states = sorted(j["state"] for e in exported["pairs"] for j in e["jobs"])
    assert states == ["queued"] * 3 + ["submitted"] * 2
    assert len(hyp3_user.server_jobs()) == 2

    hyp3_user.admin.set_credits(hyp3_user.user_id, 100)
    assert len(p.submit().submitted) == 3
    counts = hyp3_user.jobs_per_name()
    assert len(counts) == 5 and set(counts.values()) == {1}


def test_hyp3_refusals_show_the_detail_and_keep_the_queue(hyp3_user: Hyp3User, workdir: Path) -> None:
    unknown = ("S1A_IW_SLC__1SDV_20200102T133500_20200102T133528_030622_034554_0000",
               "S1A_IW_SLC__1SDV_20200114T133459_20200114T133527_030797_034A1C_0000")
    p = processor(pairs=[unknown], workdir=workdir)
    with pytest.raises(HyP3Error, match="HTTP 400.*Some requested scenes could not be found"):
        p.submit()
    assert p.status().counts == {"QUEUED": 1}
    assert p.ledger.runs()[-1]["outcome"] == "error"


def test_the_token_never_appears_in_files_logs_or_errors(hyp3_user: Hyp3User, workdir: Path,
                                                         slc_pairs_2020: list[Any],
                                                         caplog: pytest.LogCaptureFixture,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    hyp3_user.configure(job_seconds=0.3, lost_response_rate=0.5)
    hyp3_user.sandbox.admin.set_faults(hyp3={"error_rate": 0.3})
    p = processor(pairs=slc_pairs_2020[:3], workdir=workdir)
    p.submit()
    wait_done(p)
    p.download(progress=False)
    p.save()
    errors: list[str] = []
    bad = processor(pairs=[("S1A_IW_SLC__1SDV_20200102T133500_20200102T133528_030622_034554_0000",
                            "S1A_IW_SLC__1SDV_20200114T133459_20200114T133527_030797_034A1C_0000")],
                    workdir=workdir.parent / "bad")
    hyp3_user.sandbox.admin.clear_faults()
    with pytest.raises(HyP3Error) as refused:
        bad.submit()
    errors.append(str(refused.value))
    monkeypatch.setenv("INSARHUB_HYP3_URL", "http://127.0.0.1:9")  # nothing listens there
    down = processor(pairs=slc_pairs_2020[:1], workdir=workdir.parent / "down",
                     retry_policy=RetryPolicy(attempts=2, base_delay=0.01))
    with pytest.raises(HyP3Error) as unreachable:
        down.submit()
    errors.append(str(unreachable.value))
    errors.append(repr(down.client))
    token = hyp3_user.token
    assert token not in caplog.text and "Bearer" not in caplog.text
    for error in errors:
        assert token not in error
    for path in workdir.parent.rglob("*"):
        if path.is_file() and path.suffix != ".tif":
            assert token.encode() not in path.read_bytes(), path


def test_burst_pairs_end_to_end(hyp3_user: Hyp3User, tmp_path: Path, burst_scenes: list[str]) -> None:
    hyp3_user.configure(job_seconds=0.3)
    pairs = {"174_372326_IW3": list(zip(burst_scenes[:3], burst_scenes[1:4], strict=True))}
    p = processor("Hyp3_Burst", pairs=pairs, workdir=tmp_path / "174_372326_IW3", looks="20x4")
    p.submit()
    wait_done(p)
    products = p.download(progress=False)
    assert len(products) == 3
    for folder in products:  # one burst, sent as a one-burst INSAR_ISCE_MULTI_BURST job
        assert folder.name.startswith("S1_174_000000s1n00-000000s2n00-372326s3n01_IW_")
        assert (folder / f"{folder.name}_unw_phase.tif").is_file()
    with pytest.raises(Exception, match="holds INSAR_ISCE_MULTI_BURST jobs"):
        processor("Hyp3_S1", workdir=p.workdir)


def test_the_seeds_own_job_file_is_read(hyp3_user: Hyp3User, tmp_path: Path,
                                        slc_pairs_2020: list[Any]) -> None:
    hyp3_user.configure(job_seconds=0.3)
    sdk = hyp3_user.sdk()
    batch = sdk.submit_prepared_jobs([sdk.prepare_insar_job(r, s, name=f"seed_{i}",
                                                            include_dem=True,
                                                            include_look_vectors=True)
                                      for i, (r, s) in enumerate(slc_pairs_2020[:2])])
    seed_dir = tmp_path / "seed"
    seed_dir.mkdir()
    seed_file = seed_dir / "hyp3_jobs.json"
    seed_file.write_text(json.dumps({"job_ids": {hyp3_user.user_id: [j.job_id for j in batch]},
                                     "out_dir": str(seed_dir / "hyp3")}))
    p = processor(saved_job_path=seed_file)
    wait_done(p)
    assert p.pairs == slc_pairs_2020[:2]
    assert len(p.download(progress=False)) == 2
    assert p.submit().submitted == []  # the seed's jobs are known: nothing sent again
    assert len(hyp3_user.server_jobs()) == 2


def test_missing_credentials_and_timeouts_are_clear_errors(hyp3_user: Hyp3User, workdir: Path,
                                                          slc_pairs_2020: list[Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    hyp3_user.configure(job_seconds=60)
    p = processor(pairs=slc_pairs_2020[:1], workdir=workdir)
    p.submit()
    with pytest.raises(ProcessorError, match="still running after 1 s"):
        p.watch(refresh_interval=0.2, timeout=1)
    monkeypatch.delenv("EARTHDATA_TOKEN")
    fresh = processor(workdir=workdir)
    with pytest.raises(CredentialsError, match="set EARTHDATA_TOKEN"):
        fresh.refresh()
