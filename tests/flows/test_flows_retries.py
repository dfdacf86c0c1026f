"""One retry layer: a catalog that keeps failing is asked `attempts` times, not attempts x task retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flowkit import AOI
from prefect import flow

from insarhub.errors import CatalogUnavailableError
from insarhub.retry import CATALOG_POLICY
from tasks.common import NETWORK_RETRIES
from tasks.search import search_scenes


class _Unavailable(BaseHTTPRequestHandler):
    requests = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"errors": ["down for maintenance"]}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def unavailable_catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Unavailable]]:
    _Unavailable.requests = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("INSARHUB_ASF_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield _Unavailable
    server.shutdown()
    server.server_close()


def test_a_failing_catalog_is_asked_once_per_http_retry(harness, unavailable_catalog) -> None:
    @flow(name="search-against-a-down-catalog")
    def search() -> object:
        return search_scenes(AOI, "2020-01-01", "2020-02-01", catalog="down")

    assert NETWORK_RETRIES["retries"] > 0  # the task does retry other failures
    with pytest.raises(CatalogUnavailableError, match="catalog search at http://127.0.0.1"):
        search()
    assert unavailable_catalog.requests == CATALOG_POLICY.attempts  # 6, not 6 x 3
