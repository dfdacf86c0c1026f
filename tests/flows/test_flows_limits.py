"""The global concurrency limits of `tasks.limits`: honoured where the server has them, quiet
where it has not (an ephemeral API). The deploy commands creating them: the real-server tests."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from tasks import limits


@task
def hold(name: str, seconds: float) -> tuple[float, float]:
    with limits.limit(name):
        start = time.monotonic()
        time.sleep(seconds)
        return start, time.monotonic()


@flow
def two_holders(name: str) -> list[tuple[float, float]]:
    futures = [hold.submit(name, 1.5), hold.submit(name, 1.5)]
    return [f.result() for f in futures]


def test_a_limit_of_one_runs_its_holders_one_after_the_other(harness: str) -> None:
    name = f"insarhub-test-{uuid.uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    (a_start, a_end), (b_start, b_end) = sorted(two_holders(name))
    assert b_start >= a_end  # the second waited for the first's slot


def test_a_missing_limit_runs_unlimited_without_warnings(
        harness: str, caplog: pytest.LogCaptureFixture) -> None:
    name = f"insarhub-missing-{uuid.uuid4().hex[:8]}"
    with caplog.at_level(logging.WARNING):
        (a_start, a_end), (b_start, b_end) = sorted(two_holders(name))
    assert b_start < a_end  # both at once: nothing limits them
    assert not [r for r in caplog.records if "do not exist" in r.getMessage()]
