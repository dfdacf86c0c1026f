"""Products one click away: a read-only HTTP server for registered products folders.

Browsers refuse `file://` links from a web page, so the Prefect UI cannot open a product on
disk. This server, bound to 127.0.0.1, serves the files of the products folders that the
flows *register* (an append-only JSON-lines registry file) under

    <base URL>/<folder id>/<file path inside the folder>

where the folder id is a short hash of the folder's absolute path. Nothing else is served:
no directory listings, no path outside a registered folder (`..`, symlinks out, absolute
paths all answer 404), GET and HEAD only. Flows learn where it is from two environment
variables that `python -m flows.server` sets for its worker:

    INSARHUB_PRODUCTS_URL        the server's base URL (links are made only when set)
    INSARHUB_PRODUCTS_REGISTRY   the registry file the flows append folders to

Run on its own: `python -m insarhub.products.serve --registry FILE --port 8766`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import mimetypes
import os
import shutil
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from insarhub.products.stac import MEDIA_TYPES

log = logging.getLogger(__name__)

URL_ENV = "INSARHUB_PRODUCTS_URL"
REGISTRY_ENV = "INSARHUB_PRODUCTS_REGISTRY"
_CHUNK = 256 * 1024


def folder_id(folder: str | Path) -> str:
    """The URL id of a products folder: 16 hex digits of the SHA-256 of its absolute path."""
    return hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:16]


class ProductRegistry:
    """The products folders a server may serve, one JSON line each (appended, never rewritten:
    concurrent flows register without a lock; a line is one `write` on an O_APPEND file)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._folders: dict[str, Path] = {}
        self._lock = threading.Lock()

    def register(self, folder: str | Path) -> str:
        """Add `folder` (once) and return its id."""
        resolved = Path(folder).resolve()
        ident = folder_id(resolved)
        if ident in self.folders():
            return ident
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"id": ident, "folder": str(resolved)}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        with self._lock:
            self._folders[ident] = resolved
        return ident

    def folders(self) -> dict[str, Path]:
        """Every registered folder by id (re-read from the file)."""
        found: dict[str, Path] = {}
        if self.path.is_file():
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                    found[str(entry["id"])] = Path(entry["folder"])
                except (ValueError, KeyError, TypeError):
                    continue  # a torn or foreign line: skip it
        with self._lock:
            self._folders.update(found)
            return dict(self._folders)

    def folder(self, ident: str) -> Path | None:
        with self._lock:
            known = self._folders.get(ident)
        return known if known is not None else self.folders().get(ident)


def resolve_file(folder: Path, relative: str) -> Path | None:
    """The file `relative` inside `folder`, or None when it is not a regular file in there
    (missing, a directory, hidden, or reached through `..` or a symlink out)."""
    parts = [p for p in relative.split("/") if p]
    if not parts or any(p in (".", "..") or p.startswith(".") or "\\" in p for p in parts):
        return None
    root = folder.resolve()
    target = root.joinpath(*parts).resolve()
    try:
        target.relative_to(root)
    except ValueError:
        return None
    return target if target.is_file() else None


def content_type(path: Path) -> str:
    """The media type of a product file (GeoTIFFs, STAC JSON, PNG, CSV, ...)."""
    return (MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
            or "application/octet-stream")


# -- the side of the flows -----------------------------------------------------------------
def products_base_url() -> str | None:
    """The product server's base URL from the environment (None: no server)."""
    value = os.environ.get(URL_ENV, "").strip().rstrip("/")
    return value or None


def register_products(folder: str | Path) -> str | None:
    """Register `folder` with the product server of the environment; the folder's base URL
    (None when no server is configured)."""
    base, registry = products_base_url(), os.environ.get(REGISTRY_ENV, "").strip()
    if not base or not registry:
        return None
    ident = ProductRegistry(registry).register(folder)
    return f"{base}/{ident}"


def product_urls(folder: str | Path, files: Iterable[str | Path]) -> dict[str, str]:
    """HTTP URLs of `files` (inside `folder`) on the product server, by file name; empty when
    no server is configured."""
    base = register_products(folder)
    if base is None:
        return {}
    root = Path(folder).resolve()
    urls = {}
    for file in files:
        relative = Path(file).resolve().relative_to(root).as_posix()
        urls[Path(file).name] = f"{base}/{quote(relative)}"
    return urls


# -- the server ----------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    server: ProductHTTPServer
    server_version = "InSARHubProducts/1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _refuse(self) -> None:
        self.send_error(405, "read-only: GET and HEAD only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

    def _answer(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        ident, _, relative = path.lstrip("/").partition("/")
        folder = self.server.registry.folder(ident) if ident else None
        target = resolve_file(folder, relative) if folder is not None else None
        if target is None:
            self.send_error(404, "no such product")
            return
        size = target.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", content_type(target))
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            with target.open("rb") as stream:
                shutil.copyfileobj(stream, self.wfile, _CHUNK)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)


class ProductHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, registry: ProductRegistry, port: int = 0, host: str = "127.0.0.1") -> None:
        self.registry = registry
        super().__init__((host, port), _Handler)


class ProductServer:
    """The product server in a background thread of this process."""

    def __init__(self, registry: str | Path, port: int = 0, host: str = "127.0.0.1") -> None:
        self.registry = ProductRegistry(registry)
        self.httpd = ProductHTTPServer(self.registry, port, host)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def env(self) -> dict[str, str]:
        """The environment that points flows at this server."""
        return {URL_ENV: self.url, REGISTRY_ENV: str(self.registry.path)}

    def start(self) -> ProductServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="product-server",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ProductServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m insarhub.products.serve",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--registry", type=Path,
                        default=Path((env or os.environ).get(REGISTRY_ENV, "products.jsonl")))
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args(argv)
    server = ProductServer(args.registry, args.port)
    print(f"products on {server.url} (registry {args.registry}); Ctrl-C stops", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
