"""The HyP3 client: retries with backoff, HyP3's detail on refusals, no token anywhere."""

from __future__ import annotations

import pytest
from hyp3_helpers import Hyp3User

from insarhub.errors import CredentialsError, HyP3Error
from insarhub.processor.hyp3_client import Hyp3Client, TransientHyP3Error
from insarhub.retry import RetryPolicy

FAST = RetryPolicy(attempts=30, base_delay=0.01, max_delay=0.05)


def test_backoff_has_full_jitter_within_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    delays = [policy.delay(attempt) for attempt in range(10) for _ in range(50)]
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 400  # jittered, not a fixed schedule
    assert max(policy.delay(0) for _ in range(200)) <= 0.5
    assert policy.delay(0, retry_after=3.0) >= 3.0  # a 429's Retry-After is honoured


def test_5xx_and_429_are_retried_until_an_answer(hyp3_user: Hyp3User) -> None:
    hyp3_user.sandbox.admin.set_faults(hyp3={"error_rate": 0.5})
    client = Hyp3Client(retry=FAST)
    for _ in range(10):
        assert client.user()["user_id"] == hyp3_user.user_id
    assert client.requests_sent > 10  # some answers were faults, retried


def test_a_dead_api_gives_up_with_a_clear_error(hyp3_user: Hyp3User) -> None:
    hyp3_user.sandbox.admin.set_faults(hyp3={"error_rate": 1.0})
    client = Hyp3Client(retry=RetryPolicy(attempts=3, base_delay=0.01))
    with pytest.raises(TransientHyP3Error, match="GET /costs failed 3 times, last: HTTP (500|502|503|429)"):
        client.costs()
    assert client.requests_sent == 3


def test_other_4xx_show_hyp3s_detail_at_once(hyp3_user: Hyp3User) -> None:
    client = Hyp3Client(retry=FAST)
    with pytest.raises(HyP3Error, match="HTTP 404.*job_id does not exist: nope") as caught:
        client.get_job("nope")
    assert not isinstance(caught.value, TransientHyP3Error)
    assert client.requests_sent == 1  # not retried
    with pytest.raises(HyP3Error, match="POST /jobs takes 1 to 200 jobs, got 201"):
        client.post_jobs([{}] * 201)


def test_find_jobs_follows_every_page(hyp3_user: Hyp3User) -> None:
    hyp3_user.configure(page_size=3)
    sdk = hyp3_user.sdk()
    golden = ("S1A_IW_SLC__1SDV_20210803T104735_20210803T104802_039064_049BF3_21C5",
              "S1A_IW_SLC__1SDV_20210815T104736_20210815T104802_039239_04A1EA_4155")
    sdk.submit_prepared_jobs([sdk.prepare_insar_job(*golden, name=f"page-{i}") for i in range(8)])
    client = Hyp3Client(retry=FAST)
    jobs = client.find_jobs()
    assert sorted(j["name"] for j in jobs) == [f"page-{i}" for i in range(8)]
    assert client.requests_sent == 3
    assert [j["name"] for j in client.find_jobs(name="page-5")] == ["page-5"]


def test_no_credentials_is_a_clear_error(sandbox: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EARTHDATA_TOKEN")
    with pytest.raises(CredentialsError, match="set EARTHDATA_TOKEN.*~/.netrc"):
        Hyp3Client()


def test_the_client_never_shows_its_token(hyp3_user: Hyp3User) -> None:
    client = Hyp3Client(retry=FAST)
    assert hyp3_user.token not in repr(client)
    assert client.redact(f"Authorization: Bearer {hyp3_user.token}") == "Authorization: Bearer ***"


def test_a_refused_token_is_a_credentials_error(hyp3_user: Hyp3User) -> None:
    client = Hyp3Client(retry=FAST)
    client.session.headers.pop("Authorization")  # as if the token had been revoked
    with pytest.raises(CredentialsError, match="HTTP 401.*No authorization token provided.*"
                                               "check EARTHDATA_TOKEN"):
        client.user()
    assert client.requests_sent == 1
