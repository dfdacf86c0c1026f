"""Fixtures for the HyP3 processor and ledger tests.

Every sandbox test gets its own HyP3 user (a unique EARTHDATA_TOKEN: the sandbox makes each
distinct token a user), so credits, jobs and per-user faults never leak between tests. Pairs
are real sandbox catalog granules (the seed's Utah stack, path 100 frame 466, and the recorded
burst stack 174_372326_IW3).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hyp3_helpers import Hyp3User, stack_scenes
from hyp3_sdk import HyP3
from insarhub_sandbox.admin import Hyp3Admin
from insarhub_sandbox.catalog.service import CatalogService
from insarhub_sandbox.clock import SandboxClock
from insarhub_sandbox.records import SceneRecord


@pytest.fixture(scope="session")
def catalog_records(tmp_path_factory: pytest.TempPathFactory) -> list[SceneRecord]:
    """Every scene of the sandbox catalog (the same content the sandbox server serves)."""
    data_dir = tmp_path_factory.mktemp("catalog")
    return list(CatalogService(clock=SandboxClock(), data_dir=data_dir, base_url="http://x").records)


@pytest.fixture(scope="session")
def slc_scenes(catalog_records: list[SceneRecord]) -> list[str]:
    """The seed stack: path 100, frame 466, all dates (time order)."""
    return stack_scenes(catalog_records, "p100_f466")


@pytest.fixture(scope="session")
def slc_pairs_2020(catalog_records: list[SceneRecord]) -> list[tuple[str, str]]:
    """Consecutive 2020 pairs of the seed's AOI stack (p100_f466)."""
    names = stack_scenes(catalog_records, "p100_f466", 2020)
    return list(zip(names[:-1], names[1:], strict=True))


@pytest.fixture(scope="session")
def burst_scenes(catalog_records: list[SceneRecord]) -> list[str]:
    return stack_scenes(catalog_records, "174_372326_IW3")


@pytest.fixture
def hyp3_user(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hyp3User]:
    token = f"test-token-{uuid.uuid4().hex}"
    monkeypatch.setenv("EARTHDATA_TOKEN", token)
    user_id = str(HyP3(api_url=sandbox.url, token=token).my_info()["user_id"])
    admin = Hyp3Admin(sandbox.url)
    yield Hyp3User(sandbox.url, token, user_id, admin, sandbox)
    sandbox.admin.clear_faults()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "p100_f466"
