"""Multi-burst HyP3 jobs against the sandbox: the Utah AOI's bursts as one stack per orbit,
INSAR_ISCE_MULTI_BURST jobs with the ledger's guarantees, credits known before submission."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hyp3_helpers import FAST_RETRY, Hyp3User

from insarhub import Downloader, Processor
from insarhub.credits import CreditCeilingError
from insarhub.ledger import DB_NAME, Ledger
from insarhub.processor.hyp3 import InsufficientCreditsError
from insarhub.processor.hyp3_jobs import acquisition_date
from insarhub.search.multiburst import split_name

AOI = [-113.05, 37.74, -112.68, 38.00]
STACK = "p100_IW2-3_213494-213496"  # the AOI's 6 bursts on the seed's descending orbit


@pytest.fixture
def burst_pairs(sandbox: Any) -> list[tuple[str, str]]:
    """The pair network of the AOI's multi-burst stack, Jan-Mar 2020 (5 dates)."""
    downloader = Downloader.create("S1_Burst", intersectsWith=AOI, start="2020-01-01",
                                   end="2020-03-01", relativeOrbit=100)
    downloader.search()
    pair_stacks, _, _ = downloader.select_pairs(max_degree=3)
    return list(pair_stacks[STACK])


def processor(workdir: Path, pairs: Any = None, **options: Any) -> Any:
    return Processor.create("Hyp3_Burst", pairs=pairs, workdir=workdir, retry_policy=FAST_RETRY,
                            **options)


def test_multi_burst_jobs_are_submitted_once_and_cost_what_was_estimated(
        hyp3_user: Hyp3User, tmp_path: Path, burst_pairs: list[tuple[str, str]]) -> None:
    hyp3_user.configure(job_seconds=0.3)
    before = float(hyp3_user.sdk().check_credits())
    p = processor(tmp_path / STACK, burst_pairs)
    estimate = p.estimate()
    assert (estimate.job_type, estimate.bursts, estimate.jobs) == (
        "INSAR_ISCE_MULTI_BURST", 6, len(burst_pairs))
    assert estimate.credits == 5 * len(burst_pairs)  # 5-12 bursts at 20x4: 5 credits a pair
    p.submit()
    jobs = hyp3_user.server_jobs()
    assert len(jobs) == len(burst_pairs)
    for job in jobs:
        params = job.job_parameters
        assert job.job_type == "INSAR_ISCE_MULTI_BURST" and len(params["reference"]) == 6
        assert (("+".join(params["reference"]), "+".join(params["secondary"]))
                in set(burst_pairs))
    assert before - float(hyp3_user.sdk().check_credits()) == estimate.credits
    # a rerun, and a second processor on the same workdir, send nothing again
    p.submit()
    processor(tmp_path / STACK, burst_pairs).submit()
    assert set(hyp3_user.jobs_per_name().values()) == {1}
    assert len(hyp3_user.server_jobs()) == len(burst_pairs)


def test_a_post_that_reached_hyp3_before_a_crash_is_found_not_resent(
        hyp3_user: Hyp3User, tmp_path: Path, burst_pairs: list[tuple[str, str]]) -> None:
    p = processor(tmp_path / STACK, burst_pairs[:2])
    record = p.queued()[0]
    # the process dies between the POST and writing the job id: intent written, job on HyP3
    p.ledger.mark_submitting([record.name])
    p.client.post_jobs([record.payload()])
    p.close()
    result = processor(tmp_path / STACK).submit()
    assert result.recovered == [record.name] and len(result.submitted) == 1
    assert hyp3_user.jobs_per_name() == {r: 1 for r in hyp3_user.jobs_per_name()}
    assert len(hyp3_user.server_jobs()) == 2


def test_max_credits_refuses_the_whole_network_and_submits_nothing(
        hyp3_user: Hyp3User, tmp_path: Path, burst_pairs: list[tuple[str, str]]) -> None:
    p = processor(tmp_path / STACK, burst_pairs)
    needed = 5 * len(burst_pairs)
    with pytest.raises(CreditCeilingError) as caught:
        p.submit(max_credits=needed - 1)
    message = str(caught.value)
    assert f"needs {needed} credits ({len(burst_pairs)} pairs x 5" in message
    assert f"max_credits={needed - 1}" in message and "lower max_degree" in message
    assert hyp3_user.server_jobs() == []
    assert len(p.queued()) == len(burst_pairs)
    assert p.submit(max_credits=needed).submitted  # at the ceiling: sent


def test_short_credits_send_the_newest_dates_first_and_keep_the_rest_queued(
        hyp3_user: Hyp3User, tmp_path: Path, burst_pairs: list[tuple[str, str]]) -> None:
    hyp3_user.admin.set_credits(hyp3_user.user_id, 10)  # two pairs of 6 bursts
    p = processor(tmp_path / STACK, burst_pairs)
    with pytest.raises(InsufficientCreditsError):
        p.submit()
    sent = [(j.job_parameters["reference"][0], j.job_parameters["secondary"][0])
            for j in hyp3_user.server_jobs()]
    assert len(sent) == 2
    newest = sorted(burst_pairs, key=lambda pr: (acquisition_date(pr[1]), acquisition_date(pr[0])),
                    reverse=True)[:2]
    assert sorted(acquisition_date(s) for _, s in sent) == \
        sorted(acquisition_date(s) for _, s in newest)
    assert len(p.queued()) == len(burst_pairs) - 2
    hyp3_user.admin.set_credits(hyp3_user.user_id, 1000)  # next month
    p.submit()
    assert len(hyp3_user.server_jobs()) == len(burst_pairs) and not p.queued()


def test_products_download_and_name_the_multi_burst_stack(
        hyp3_user: Hyp3User, tmp_path: Path, burst_pairs: list[tuple[str, str]]) -> None:
    from insarhub.analyzer.prep import parse_name

    hyp3_user.configure(job_seconds=0.2)
    p = processor(tmp_path / STACK, burst_pairs[:2])
    p.submit()
    assert p.watch(refresh_interval=0.3, timeout=120).finished
    products = p.download(progress=False)
    assert len(products) == 2
    for folder in products:
        parsed = parse_name(folder.name)
        assert parsed is not None and parsed[0] == "INSAR_ISCE_MULTI_BURST", folder.name
        assert (folder / f"{folder.name}_unw_phase.tif").is_file()


def test_a_ledger_of_single_burst_jobs_keeps_working(hyp3_user: Hyp3User, tmp_path: Path,
                                                     burst_scenes: list[str]) -> None:
    hyp3_user.configure(job_seconds=0.2)
    workdir = tmp_path / "174_372326_IW3"
    workdir.mkdir()
    with Ledger(workdir / DB_NAME) as ledger:  # written by an insarhub before multi-burst jobs
        ledger.set_meta({"processor": "Hyp3_Burst", "job_type": "INSAR_ISCE_BURST"})
    pairs = list(zip(burst_scenes[:2], burst_scenes[1:3], strict=True))
    p = processor(workdir, pairs)
    assert p.job_type == "INSAR_ISCE_BURST"
    p.submit()
    assert {j.job_type for j in hyp3_user.server_jobs()} == {"INSAR_ISCE_BURST"}
    assert [split_name(r) for r, _ in p.pairs] == [[r] for r, _ in pairs]
    reopened = processor(workdir)
    assert reopened.job_type == "INSAR_ISCE_BURST" and len(reopened.pairs) == 2
    reopened.submit()
    assert len(hyp3_user.server_jobs()) == 2
