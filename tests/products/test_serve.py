"""The product server: registered products folders over HTTP on loopback, nothing else."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from insarhub.products.serve import (
    REGISTRY_ENV,
    URL_ENV,
    ProductRegistry,
    ProductServer,
    folder_id,
    product_urls,
)


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    stack = tmp_path / "aoi" / "p100_f466"
    products = stack / "products"
    (products / "sub").mkdir(parents=True)
    (products / "velocity.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    (products / "velocity.tif").write_bytes(b"II*\x00" + b"1" * 50)
    (products / "item.json").write_text('{"type": "Feature"}')
    (products / "sub" / "timeseries_points.csv").write_text("date,p1\n2020-01-02,0.0\n")
    (products / ".hidden").write_text("no")
    (stack / "insarhub.db").write_text("the ledger: not a product")
    (products / "ledger-link.db").symlink_to(stack / "insarhub.db")
    return {"products": products, "stack": stack}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ProductServer]:
    with ProductServer(tmp_path / "registry" / "products.jsonl") as running:
        yield running


def test_registered_files_are_served_with_their_types(server, folders, monkeypatch) -> None:
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    products = folders["products"]
    urls = product_urls(products, [products / "velocity.png", products / "velocity.tif",
                                   products / "item.json", products / "sub" / "timeseries_points.csv"])
    assert urls["velocity.png"] == f"{server.url}/{folder_id(products)}/velocity.png"
    expected = {"velocity.png": "image/png", "velocity.tif": "image/tiff",
                "item.json": "application/json", "timeseries_points.csv": "text/csv"}
    for name, url in urls.items():
        response = requests.get(url, timeout=10)
        assert response.status_code == 200, url
        assert response.headers["Content-Type"].startswith(expected[name])
        path = products / name if name != "timeseries_points.csv" else products / "sub" / name
        assert response.content == path.read_bytes()
    head = requests.head(urls["velocity.tif"], timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) == (products / "velocity.tif").stat().st_size
    # registering again adds nothing
    ProductRegistry(os.environ[REGISTRY_ENV]).register(products)
    assert len(Path(os.environ[REGISTRY_ENV]).read_text().splitlines()) == 1


@pytest.mark.parametrize("path", [
    "/", "/{id}", "/{id}/", "/{id}/sub", "/{id}/missing.tif", "/{id}/.hidden",
    "/{id}/../insarhub.db", "/{id}/%2e%2e/insarhub.db", "/{id}/sub/..%2f..%2finsarhub.db",
    "/{id}/ledger-link.db", "/{id}//etc/passwd", "/0123456789abcdef/velocity.png",
    "/{id}/..%5c..%5cinsarhub.db",
])
def test_nothing_outside_the_registered_folders(server, folders, path) -> None:
    ident = server.registry.register(folders["products"])
    response = requests.get(f"{server.url}{path.format(id=ident)}", timeout=10)
    assert response.status_code == 404, path
    assert b"ledger" not in response.content


def test_read_only(server, folders) -> None:
    ident = server.registry.register(folders["products"])
    url = f"{server.url}/{ident}/velocity.png"
    for method in ("PUT", "POST", "DELETE"):
        assert requests.request(method, url, data=b"x", timeout=10).status_code == 405
    assert (folders["products"] / "velocity.png").read_bytes()[:4] == b"\x89PNG"


def test_a_folder_registered_by_another_process_is_found(server, folders) -> None:
    """Flows run in worker processes: they append to the registry file the server reads."""
    ident = ProductRegistry(server.registry.path).register(folders["products"])
    assert requests.get(f"{server.url}/{ident}/item.json", timeout=10).status_code == 200


def test_no_server_configured_means_no_links(folders, monkeypatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    assert product_urls(folders["products"], [folders["products"] / "velocity.png"]) == {}


def test_server_listens_on_loopback_only(server) -> None:
    assert server.httpd.server_address[0] == "127.0.0.1"
