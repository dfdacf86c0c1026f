"""Search tests: an in-process sandbox catalog, and the environment pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from insarhub_sandbox.catalog.service import CatalogServer
from insarhub_sandbox.clock import SandboxClock
from insarhub_sandbox.server import SANDBOX_TOKEN

SEED_AOI = [-113.05, 37.74, -112.68, 38.00]


@pytest.fixture(scope="session")
def catalog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogServer]:
    with CatalogServer(tmp_path_factory.mktemp("catalog")) as server:
        yield server


@pytest.fixture
def catalog_env(catalog_server: CatalogServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[CatalogServer]:
    """INSARHUB_ASF_URL and EARTHDATA_TOKEN point at the catalog; faults and clock reset after."""
    monkeypatch.setenv("INSARHUB_ASF_URL", catalog_server.url)
    monkeypatch.setenv("EARTHDATA_TOKEN", SANDBOX_TOKEN)
    yield catalog_server
    catalog_server.set_faults()
    catalog_server.clock.set(SandboxClock().now())
