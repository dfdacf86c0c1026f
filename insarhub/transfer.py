"""Parallel, resumable, verified file downloads (SLCs, bursts, HyP3 products).

Each file streams into `<path>.part`; an interrupted transfer (dropped connection, killed
process) resumes from the bytes already there with an HTTP `Range` request. A finished file is
checked against its expected size and MD5 before it is renamed into place, and files already
complete are skipped. 429/5xx answers and broken connections are retried with exponential
backoff and jitter; 401/403 raise `CredentialsError` at once. Failures are collected and
reported together in one `DownloadError` once every other file is done.

Credentials: pass an authenticated `requests.Session`; the default session sends
`EARTHDATA_TOKEN` as a bearer token, or lets requests use `~/.netrc`. Nothing here prompts,
and no credential ever reaches a log line or an error message.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from tqdm.auto import tqdm

from insarhub import settings
from insarhub.errors import CredentialsError, DownloadError, DownloadRetriesExhausted
from insarhub.retry import DOWNLOAD_POLICY, RetryPolicy

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
RETRY_STATUS = {429, 500, 502, 503, 504}
TIMEOUT = (15.0, 120.0)  # connect, read (seconds)


@dataclass
class FileSpec:
    """One file to fetch: where from, where to, and what it must look like when done."""

    url: str
    path: Path
    size: int | None = None
    md5: str | None = None

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @property
    def part(self) -> Path:
        return self.path.with_name(self.path.name + ".part")


class _Retryable(Exception):
    """A transient failure: try again after a pause (and resume from the .part file)."""


class _Corrupt(Exception):
    """The downloaded bytes do not match the expected size/MD5: start over."""


def safe_url(url: str) -> str:
    """`url` without its query string and user info, fit for logs and error messages."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def has_credentials() -> bool:
    """True when an Earthdata token or a `~/.netrc` login is available."""
    return settings.earthdata_token() is not None or settings.netrc_login() is not None


def default_session(max_workers: int = 8) -> requests.Session:
    """A session with the Earthdata bearer token when `EARTHDATA_TOKEN` is set (else `.netrc`)."""
    session = requests.Session()
    token = settings.earthdata_token()
    if token is not None:
        session.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
    adapter = HTTPAdapter(pool_connections=max_workers, pool_maxsize=max_workers)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def require_credentials(urls: Iterable[str]) -> None:
    """Raise `CredentialsError` before any transfer when a non-loopback URL needs Earthdata login."""
    remote = sorted({urlsplit(u).hostname or "" for u in urls if not settings.is_loopback(u)})
    if remote and not has_credentials():
        raise CredentialsError(
            f"downloading from {', '.join(remote)} needs Earthdata credentials: set "
            f"{settings.TOKEN_ENV} to an Earthdata Login token, or add "
            f"'machine {settings.EARTHDATA_LOGIN_HOST} login <user> password <password>' to ~/.netrc")


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def is_complete(spec: FileSpec) -> bool:
    """True when `spec.path` exists and matches the expected size and MD5 (when known)."""
    if not spec.path.is_file():
        return False
    if spec.size is not None and spec.path.stat().st_size != spec.size:
        return False
    return spec.md5 is None or file_md5(spec.path) == spec.md5.lower()


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: `read1` keeps every byte received before a connection drops."""
    raw = response.raw
    while True:
        chunk = raw.read1(CHUNK)
        if not chunk:
            return
        yield chunk


class _Progress:
    """One byte-counting bar for all files (thread-safe)."""

    def __init__(self, specs: list[FileSpec], enabled: bool) -> None:
        total = sum(s.size or 0 for s in specs) or None
        self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                        desc=f"{len(specs)} file(s)", disable=not enabled, leave=False)
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        with self.lock:
            self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


class _Downloader:
    def __init__(self, session: requests.Session, policy: RetryPolicy,
                 progress: _Progress) -> None:
        self.session = session
        self.policy = policy
        self.progress = progress

    def fetch(self, spec: FileSpec) -> Path:
        if is_complete(spec):
            log.debug("already complete: %s", spec.path)
            self.progress.add(spec.size or 0)
            return spec.path
        spec.path.parent.mkdir(parents=True, exist_ok=True)
        if spec.part.exists():
            self.progress.add(spec.part.stat().st_size)  # bytes kept from an earlier run
        attempt = 0
        while True:
            try:
                self._transfer(spec)
                self._finish(spec)
                return spec.path
            except (_Retryable, _Corrupt) as exc:
                if isinstance(exc, _Corrupt):
                    spec.part.unlink(missing_ok=True)
                attempt += 1
                if attempt >= self.policy.attempts:
                    raise DownloadRetriesExhausted(
                        f"{spec.path.name}: gave up after {attempt} attempts ({exc})") from None
                pause = self.policy.delay(attempt - 1)
                log.info("%s: %s; retry %d/%d in %.1f s", spec.path.name, exc, attempt,
                         self.policy.attempts - 1, pause)
                time.sleep(pause)

    def _transfer(self, spec: FileSpec) -> None:
        offset = spec.part.stat().st_size if spec.part.exists() else 0
        if spec.size is not None and offset >= spec.size:
            return  # all bytes are there: verify
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            response = self.session.get(spec.url, headers=headers, stream=True, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise _Retryable(f"connection failed: {type(exc).__name__}") from None
        with response:
            status = response.status_code
            if status in (401, 403):
                raise CredentialsError(
                    f"{safe_url(spec.url)} refused the Earthdata credentials (HTTP {status}); "
                    f"check {settings.TOKEN_ENV} or the urs.earthdata.nasa.gov entry in ~/.netrc")
            if status == 416 and offset:
                if spec.size is None:
                    return  # the server says we already have everything
                raise _Corrupt(f"server refused resuming at byte {offset}")
            if status in RETRY_STATUS:
                raise _Retryable(f"HTTP {status}")
            if status >= 400:
                raise DownloadError(f"{safe_url(spec.url)}: HTTP {status}")
            if offset and status == 200:  # no Range support: start again from byte 0
                log.debug("%s: server ignored Range, restarting", spec.path.name)
                offset = 0
            expected = response.headers.get("Content-Length")
            received = 0
            mode = "ab" if offset else "wb"
            with spec.part.open(mode) as handle:
                try:
                    for chunk in _chunks(response):
                        handle.write(chunk)
                        received += len(chunk)
                        self.progress.add(len(chunk))
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    raise _Retryable(f"connection dropped after {offset + received} bytes "
                                     f"({type(exc).__name__})") from None
            if expected is not None and received < int(expected):
                raise _Retryable(f"connection dropped after {offset + received} bytes")

    def _finish(self, spec: FileSpec) -> None:
        size = spec.part.stat().st_size
        if spec.size is not None and size != spec.size:
            if size < spec.size:
                raise _Retryable(f"incomplete: {size} of {spec.size} bytes")
            self.progress.add(-size)
            raise _Corrupt(f"size {size} bytes, expected {spec.size}")
        if spec.md5 is not None:
            actual = file_md5(spec.part)
            if actual != spec.md5.lower():
                self.progress.add(-size)
                raise _Corrupt(f"MD5 {actual} does not match the catalog's {spec.md5}")
        os.replace(spec.part, spec.path)
        log.debug("downloaded %s (%d bytes)", spec.path, size)


def download_files(files: Iterable[FileSpec], *, session: requests.Session | None = None,
                   max_workers: int = 8, progress: bool = True, retries: int = 5,
                   backoff: float = 0.5) -> list[Path]:
    """Fetch `files` in parallel; returns their paths in order. Raises `DownloadError` naming
    every file that failed (after the others finished) or `CredentialsError` if refused."""
    specs = list(files)
    if not specs:
        return []
    targets = [s.path.resolve() for s in specs]
    if len(set(targets)) != len(targets):
        raise DownloadError("two downloads share one target path; give each file its own path")
    own_session = session is None
    http = session or default_session(max_workers)
    bar = _Progress(specs, progress)
    worker = _Downloader(http, RetryPolicy(attempts=retries + 1, base_delay=backoff,
                                          max_delay=DOWNLOAD_POLICY.max_delay), bar)
    failures: list[str] = []
    exhausted = 0
    credential_error: CredentialsError | None = None
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(specs)))) as pool:
            futures = [pool.submit(worker.fetch, spec) for spec in specs]
            for spec, future in zip(specs, futures, strict=True):
                try:
                    future.result()
                except CredentialsError as exc:
                    credential_error = credential_error or exc
                except DownloadError as exc:
                    failures.append(str(exc))
                    exhausted += isinstance(exc, DownloadRetriesExhausted)
                except OSError as exc:
                    failures.append(f"{spec.path.name}: {type(exc).__name__}: {exc}")
    finally:
        bar.close()
        if own_session:
            http.close()
    if credential_error is not None:
        raise CredentialsError(settings.redact(str(credential_error)))
    if failures:
        listing = "; ".join(settings.redact(f) for f in failures[:10])
        more = f" (and {len(failures) - 10} more)" if len(failures) > 10 else ""
        error = DownloadRetriesExhausted if exhausted == len(failures) else DownloadError
        raise error(f"{len(failures)} of {len(specs)} download(s) failed: {listing}{more}. "
                    "Run the download again to resume them.")
    return [s.path for s in specs]
