"""A small threaded HTTP layer for the sandbox: routing, JSON, Range files and faults.

Services register handlers on a `Router` under a fault *group* ("catalog", "hyp3", "files");
`Faults` for a group turn a share of its answers into 5xx/429, add latency, or cut file
downloads mid-body, so that clients are tested against a flaky network for real.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

CHUNK = 256 * 1024


@dataclass
class Request:
    """One HTTP request as a handler sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    base_url: str
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    """What a handler answers: a body, or a file served with Range support."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    content_type: str = "application/json"


Handler = Callable[[Request], Response]


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj, default=str).encode(), dict(headers or {}))


def error_response(status: int, detail: str) -> Response:
    """HyP3's and FastAPI's error shape: `{"detail": ...}`."""
    return json_response({"detail": detail}, status)


def file_response(path: Path, content_type: str = "application/octet-stream") -> Response:
    return Response(200, file=path, content_type=content_type)


@dataclass
class Faults:
    """Fault injection for one group of routes."""

    error_rate: float = 0.0  # share of answers replaced by 500/502/503/429
    latency_s: float = 0.0  # added before every answer
    drop_rate: float = 0.0  # share of file downloads cut off halfway

    def to_dict(self) -> dict[str, float]:
        return {"error_rate": self.error_rate, "latency_s": self.latency_s, "drop_rate": self.drop_rate}


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    group: str


class Router:
    """Method + regex path routing; named groups become `Request.params`."""

    def __init__(self) -> None:
        self.routes: list[_Route] = []

    def add(self, method: str, pattern: str, handler: Handler, group: str = "default") -> None:
        self.routes.append(_Route(method.upper(), re.compile(f"^{pattern}$"), handler, group))

    def match(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | int:
        """The route and its params, or 404/405."""
        allowed = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                if route.method == method:
                    return route, found.groupdict()
                allowed = True
        return 405 if allowed else 404


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threaded server with a router and per-group faults."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], router: Router, seed: int | None = None) -> None:
        super().__init__(address, _Handler)
        self.router = router
        self.faults: dict[str, Faults] = {}
        self.random = random.Random(seed)
        self.fault_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start_background(self, name: str = "insarhub-sandbox") -> None:
        """Serve in a daemon thread until `stop()`."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name=name)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (a background thread or `serve_forever` elsewhere) and close the socket."""
        self.shutdown()
        self.server_close()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout=5)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (or faults that cut them off) are normal here, not errors."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.fault_lock:
            return self.random.random() < rate


class _Handler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet by default
        pass

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        found = self.server.router.match(self.command, split.path)
        if isinstance(found, int):
            self._send(error_response(found, f"{self.command} {split.path}: not found"
                                      if found == 404 else "method not allowed"))
            return
        route, params = found
        faults = self.server.faults.get(route.group)
        if faults:
            if faults.latency_s > 0:
                time.sleep(faults.latency_s)
            if self.server.roll(faults.error_rate):
                status = self.server.random.choice([500, 502, 503, 429])
                message = "sandbox fault injected: try again later"
                # CMR answers {"errors": [...]}; HyP3 and S3-like file routes {"detail": ...}
                self._send(json_response({"errors": [message]}, status) if route.group == "catalog"
                           else error_response(status, message))
                return
        request = Request(self.command, split.path, parse_qs(split.query, keep_blank_values=True),
                          self.headers, body, self.server.url, params)
        try:
            response = route.handler(request)
        except Exception as exc:  # a handler bug must not kill the server thread silently
            response = error_response(500, f"sandbox internal error: {type(exc).__name__}: {exc}")
        drop = bool(faults and response.file is not None and self.server.roll(faults.drop_rate))
        self._send(response, drop=drop)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _dispatch  # noqa: N815

    def _send(self, response: Response, drop: bool = False) -> None:
        if response.file is not None:
            self._send_file(response, drop)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _send_file(self, response: Response, drop: bool) -> None:
        path = response.file
        assert path is not None
        if not path.is_file():
            self._send(error_response(404, f"{path.name}: no such file"))
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        status = 200
        spec = self.headers.get("Range", "")
        found = re.fullmatch(r"bytes=(\d*)-(\d*)", spec.strip())
        if found and (found.group(1) or found.group(2)):
            if found.group(1):
                start = int(found.group(1))
                end = min(int(found.group(2)), size - 1) if found.group(2) else size - 1
            else:
                start = max(size - int(found.group(2)), 0)
            if start >= size or start > end:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        limit = length // 2 if drop else length
        with path.open("rb") as handle:
            handle.seek(start)
            sent = 0
            while sent < limit:
                chunk = handle.read(min(CHUNK, limit - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
        if drop:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
