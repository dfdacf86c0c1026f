"""hyp3_sdk, unchanged, against the sandbox HyP3 served by a real `insarhub sandbox serve`."""

from __future__ import annotations

import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hyp3_sdk import HyP3
from hyp3_sdk.exceptions import HyP3Error, HyP3SDKError, ServerError, ServiceUnavailableError
from insarhub_sandbox.admin import Hyp3Admin
from insarhub_sandbox.catalog.service import CatalogService
from insarhub_sandbox.clock import SandboxClock
from insarhub_sandbox.records import SceneRecord

GAMMA_LAYERS = ("_unw_phase.tif", "_corr.tif", "_dem.tif", "_lv_theta.tif", "_lv_phi.tif",
                "_water_mask.tif", ".txt")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> CatalogService:
    """The sandbox catalog's scenes (the same generated data the server serves)."""
    return CatalogService(SandboxClock(), tmp_path_factory.mktemp("catalog"), "http://unused")


def stack(catalog: CatalogService, key: str) -> list[SceneRecord]:
    return sorted((r for r in catalog.records if r.stack_key == key), key=lambda r: r.start)


@pytest.fixture
def slcs(catalog: CatalogService) -> list[str]:
    return [r.name for r in stack(catalog, "p100_f466") if r.start.year == 2020]


@pytest.fixture
def hyp3(sandbox) -> HyP3:
    """A HyP3 client for a user of its own (a fresh token = a fresh user)."""
    return HyP3(api_url=sandbox.url, token=f"test-{uuid.uuid4()}")


@pytest.fixture
def admin(sandbox) -> Iterator[Hyp3Admin]:
    yield Hyp3Admin(sandbox.url)


def test_submit_watch_download_gamma(hyp3: HyP3, slcs: list[str], tmp_path: Path) -> None:
    assert hyp3.check_credits() == 8000
    costs = hyp3.costs()
    assert costs["INSAR_GAMMA"] == {"cost_parameters": ["looks"], "cost_table": {"20x4": 10.0, "10x2": 15.0}}
    assert costs["INSAR_ISCE_BURST"] == {"cost": 1.0}

    batch = hyp3.submit_insar_job(slcs[0], slcs[1], name="sdk-gamma", include_dem=True,
                                  include_look_vectors=True)
    batch += hyp3.submit_insar_job(slcs[1], slcs[2], name="sdk-gamma", looks="10x2",
                                   include_dem=True, include_look_vectors=True)
    assert [job.status_code for job in batch] == ["PENDING", "PENDING"]
    assert [job.credit_cost for job in batch] == [10, 15]
    assert hyp3.check_credits() == 8000 - 25

    batch = hyp3.watch(batch, timeout=120, interval=0.3)
    assert batch.succeeded()
    job = batch[0]
    assert job.processing_times and job.processing_times[0] > 0
    assert job.expiration_time is not None and not job.expired()
    assert (job.expiration_time - job.request_time).days in (13, 14)
    assert job.files[0]["s3"]["key"] == f"{job.job_id}/{job.files[0]['filename']}"

    paths = batch.download_files(tmp_path)
    assert [p.name for p in paths] == [j.files[0]["filename"] for j in batch]
    for path, job in zip(paths, batch, strict=True):
        assert path.stat().st_size == job.files[0]["size"]
        name = path.stem
        assert name.startswith("S1AA_2020") and ("_INT80_G_" in name or "_INT40_G_" in name)
        with zipfile.ZipFile(path) as archive:
            members = {m.split("/")[-1] for m in archive.namelist()}
        assert {f"{name}{layer}" for layer in GAMMA_LAYERS} <= members


def test_burst_job(hyp3: HyP3, catalog: CatalogService, tmp_path: Path) -> None:
    bursts = [r.name for r in stack(catalog, "174_372326_IW3")]
    job = hyp3.submit_insar_isce_burst_job(bursts[10], bursts[11], name="sdk-burst")[0]
    assert job.credit_cost == 1
    assert job.job_parameters == {"apply_water_mask": False, "looks": "20x4", "granules": [bursts[10], bursts[11]]}
    job = hyp3.watch(job, timeout=120, interval=0.3)
    assert job.succeeded()
    assert job.files[0]["filename"].startswith("S1_372326_IW3_")
    (path,) = job.download_files(tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert any(m.endswith("_unw_phase.tif") for m in archive.namelist())
    assert hyp3.check_credits() == 8000 - 1


def test_find_jobs_filters_and_next_url_paging(hyp3: HyP3, admin: Hyp3Admin, slcs: list[str],
                                               sandbox) -> None:
    user_id = hyp3.my_info()["user_id"]
    admin.configure(page_size=3, user_id=user_id)
    first = hyp3.submit_prepared_jobs([HyP3.prepare_insar_job(slcs[i], slcs[i + 1], name="paging")
                                       for i in range(5)])
    second = hyp3.submit_prepared_jobs([HyP3.prepare_insar_job(slcs[i], slcs[i + 2], name="other")
                                        for i in range(2)])

    found = hyp3.find_jobs(name="paging")  # 5 jobs over two pages
    assert sorted(j.job_id for j in found) == sorted(j.job_id for j in first)
    assert len(hyp3.find_jobs()) == 7
    assert {j.job_id for j in hyp3.find_jobs(job_type="INSAR_GAMMA", name="other")} == {j.job_id for j in second}
    assert len(hyp3.find_jobs(job_type="INSAR_ISCE_BURST")) == 0
    assert len(hyp3.find_jobs(start=first[0].request_time)) == 7
    assert len(hyp3.find_jobs(end="2020-01-01T00:00:00Z")) == 0

    headers = {"Authorization": hyp3.session.headers["Authorization"]}
    page = requests.get(f"{sandbox.url}/jobs", params={"name": "paging"}, headers=headers, timeout=10).json()
    assert len(page["jobs"]) == 3
    assert page["next"].startswith(f"{sandbox.url}/jobs?") and "start_token=" in page["next"]
    newest_first = [j["request_time"] for j in page["jobs"]]
    assert newest_first == sorted(newest_first, reverse=True)
    last = requests.get(page["next"], headers=headers, timeout=10).json()
    assert len(last["jobs"]) == 2 and "next" not in last

    hyp3.watch(first + second, timeout=120, interval=0.3)
    assert len(hyp3.find_jobs(status_code="SUCCEEDED")) == 7
    assert len(hyp3.find_jobs(status_code="PENDING")) == 0

    # another user sees these jobs only when asking for this user_id (jobs are public in HyP3)
    stranger = HyP3(api_url=sandbox.url, token=f"test-{uuid.uuid4()}")
    assert len(stranger.find_jobs()) == 0
    assert len(stranger.find_jobs(user_id=user_id, name="other")) == 2


def test_update_jobs_renames_and_user_job_names(hyp3: HyP3, slcs: list[str], sandbox) -> None:
    batch = hyp3.submit_prepared_jobs([HyP3.prepare_insar_job(slcs[3], slcs[4], name="before"),
                                       HyP3.prepare_insar_job(slcs[4], slcs[5])])
    assert hyp3.my_info()["job_names"] == ["before"]
    hyp3.update_jobs(batch, name="after")
    assert {j.name for j in hyp3.refresh(batch)} == {"after"}
    assert hyp3.my_info()["job_names"] == ["after"]
    hyp3.update_jobs(batch[0], name=None)
    assert hyp3.get_job_by_id(batch[0].job_id).name is None

    stranger = HyP3(api_url=sandbox.url, token=f"test-{uuid.uuid4()}")
    with pytest.raises(HyP3Error, match="You cannot modify a different user's job"), \
            pytest.warns(UserWarning):
        stranger.update_jobs(batch, name="mine")


def test_failed_jobs_for_named_pairs(hyp3: HyP3, admin: Hyp3Admin, slcs: list[str], tmp_path: Path) -> None:
    user_id = hyp3.my_info()["user_id"]
    admin.configure(fail_pairs=[[slcs[7], slcs[6]]], user_id=user_id)  # order does not matter
    batch = hyp3.submit_prepared_jobs([HyP3.prepare_insar_job(slcs[6], slcs[7], name="f"),
                                       HyP3.prepare_insar_job(slcs[7], slcs[8], name="f")])
    batch = hyp3.watch(batch, timeout=120, interval=0.3)
    failed, good = batch
    assert failed.status_code == "FAILED" and good.status_code == "SUCCEEDED"
    assert failed.files is None and failed.processing_times is None
    log = requests.get(failed.logs[0], timeout=10)
    assert log.status_code == 200 and "fail_pairs" in log.text
    assert [p.name for p in batch.download_files(tmp_path)] == [good.files[0]["filename"]]


def test_fail_rate_fails_every_job_of_that_user(hyp3: HyP3, admin: Hyp3Admin, slcs: list[str],
                                                sandbox) -> None:
    admin.configure(fail_rate=1.0, user_id=hyp3.my_info()["user_id"])
    batch = hyp3.watch(hyp3.submit_insar_job(slcs[9], slcs[10]), timeout=120, interval=0.3)
    assert batch[0].status_code == "FAILED"
    neighbour = HyP3(api_url=sandbox.url, token=f"test-{uuid.uuid4()}")
    assert neighbour.watch(neighbour.submit_insar_job(slcs[9], slcs[10]), timeout=120,
                           interval=0.3)[0].status_code == "SUCCEEDED"


def test_expired_products_cannot_be_downloaded(hyp3: HyP3, slcs: list[str], sandbox,
                                               tmp_path: Path) -> None:
    job = hyp3.watch(hyp3.submit_insar_job(slcs[11], slcs[12])[0], timeout=120, interval=0.3)
    url = job.files[0]["url"]
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200 and len(whole.content) == job.files[0]["size"]
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206 and part.content == whole.content[100:200]

    sandbox.admin.advance(15)  # the sandbox clock moves 15 days on (the fixture resets it)
    job = hyp3.refresh(job)
    assert job.expired()  # hyp3_sdk's own check, on the real clock, agrees with the server
    with pytest.raises(HyP3SDKError, match="Expired jobs cannot be downloaded"):
        job.download_files(tmp_path)
    gone = requests.get(url, timeout=10)
    assert gone.status_code == 404 and b"NoSuchKey" in gone.content


def test_credits_refused_when_short(hyp3: HyP3, admin: Hyp3Admin, slcs: list[str]) -> None:
    user_id = hyp3.my_info()["user_id"]
    admin.set_credits(user_id, 15)
    jobs = [HyP3.prepare_insar_job(slcs[i], slcs[i + 1], name="credits") for i in range(2)]
    with pytest.raises(HyP3Error, match=r"These jobs would cost 20\.0 credits, but you have only 15\.0 remaining\."):
        hyp3.submit_prepared_jobs(jobs)
    assert hyp3.check_credits() == 15
    assert len(hyp3.find_jobs()) == 0  # nothing of a refused batch was stored
    hyp3.submit_prepared_jobs(jobs[0])
    assert hyp3.check_credits() == 5


def test_api_faults_surface_as_hyp3_sdk_errors(hyp3: HyP3, sandbox) -> None:
    sandbox.admin.set_faults(hyp3={"error_rate": 1.0})
    kinds = set()
    for _ in range(12):
        with pytest.raises(HyP3SDKError) as raised:
            hyp3.check_credits()
        kinds.add(type(raised.value))
        if isinstance(raised.value, HyP3Error):
            assert "429" in str(raised.value)
    assert kinds <= {ServerError, ServiceUnavailableError, HyP3Error} and len(kinds) >= 2
    sandbox.admin.clear_faults()
    assert hyp3.check_credits() == 8000


def test_lost_answer_to_a_stored_submission(hyp3: HyP3, admin: Hyp3Admin, slcs: list[str]) -> None:
    admin.configure(lost_response_rate=1.0, user_id=hyp3.my_info()["user_id"])
    with pytest.raises(ServerError):
        hyp3.submit_insar_job(slcs[13], slcs[14], name="lost")
    stored = hyp3.find_jobs(name="lost")  # what a careful client looks for before resubmitting
    assert len(stored) == 1 and stored[0].job_parameters["granules"] == [slcs[13], slcs[14]]
    assert hyp3.check_credits() == 8000 - 10


def test_credits_come_back_each_month(hyp3: HyP3, slcs: list[str], sandbox) -> None:
    hyp3.submit_insar_job(slcs[15], slcs[16], looks="10x2")
    assert hyp3.check_credits() == 8000 - 15
    sandbox.admin.advance(32)  # a new month on the sandbox clock (the fixture resets it)
    assert hyp3.check_credits() == 8000
