"""A careful HyP3 API client: hyp3_sdk's authenticated session, retries, paging, redaction.

`Hyp3Client` builds hyp3_sdk's `HyP3` with `api_url` from `insarhub.settings.hyp3_url()` and
the Earthdata token from `EARTHDATA_TOKEN` (else hyp3_sdk logs in with `~/.netrc`), then sends
every request itself so that it can:

- retry 5xx, 429 and connection errors with exponential backoff and full jitter (a 429's
  `Retry-After` is honoured), each page of a paged `GET /jobs` on its own;
- turn other 4xx answers into `HyP3Error` carrying HyP3's `detail`;
- keep the token out of every log line and error (hyp3_sdk and requests errors can embed
  URLs or headers: all text is passed through `insarhub.settings.redact`).

It counts the requests it sends (`requests_sent`), for benchmarks and tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import requests

from insarhub import settings
from insarhub.errors import CredentialsError, HyP3Error, RetriesExhausted
from insarhub.retry import RETRY_STATUSES, RetryPolicy

log = logging.getLogger(__name__)

HYP3_POLICY = RetryPolicy(attempts=8)  # GETs; POST /jobs is retried by the poster, by name

class TransientHyP3Error(HyP3Error, RetriesExhausted):
    """HyP3 answered 5xx/429 or could not be reached (after every retry, where retried)."""

    def __init__(self, message: str, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status  # the HTTP status, None for a connection error


class Hyp3Client:
    """HyP3 API calls with retries; `token=None` reads `EARTHDATA_TOKEN`, then `~/.netrc`."""

    def __init__(self, api_url: str | None = None, token: str | None = None,
                 retry: RetryPolicy | None = None) -> None:
        from hyp3_sdk import HyP3
        from hyp3_sdk.exceptions import AuthenticationError

        self.api_url = (api_url or settings.hyp3_url()).rstrip("/")
        self.retry_policy = retry or HYP3_POLICY
        secret = settings.earthdata_token()
        token = token or (secret.get_secret_value() if secret else None)
        self._secrets = [token] if token else []
        if token is None and settings.netrc_login() is None:
            raise CredentialsError(
                "no Earthdata credentials: set EARTHDATA_TOKEN (a bearer token from "
                "urs.earthdata.nasa.gov) or add 'machine urs.earthdata.nasa.gov' to ~/.netrc")
        try:
            self._hyp3 = HyP3(api_url=self.api_url, token=token)  # token None: .netrc login
        except AuthenticationError as exc:
            raise CredentialsError("Earthdata login for HyP3 failed: "
                                   f"{self.redact(str(exc))}") from None
        except requests.RequestException as exc:
            raise CredentialsError(f"Earthdata login for HyP3 could not reach the login "
                                   f"server ({type(exc).__name__}); check the network") from None
        self.session: requests.Session = self._hyp3.session
        self.requests_sent = 0
        self._count_lock = threading.Lock()

    def __repr__(self) -> str:  # never shows the session (its headers hold the token)
        return f"Hyp3Client(api_url={self.api_url!r})"

    def redact(self, text: str) -> str:
        return settings.redact(text, extra=self._secrets)

    def url(self, endpoint: str) -> str:
        return self._hyp3._get_endpoint_url(endpoint)

    # -- the one place requests are sent -------------------------------------------------
    def request(self, method: str, url: str, *, what: str, **kwargs: Any) -> Any:
        """Send with retries; the decoded JSON answer. `what` names the call in errors."""
        policy = self.retry_policy
        last = ""
        for attempt in range(policy.attempts):
            retry_after: float | None = None
            with self._count_lock:
                self.requests_sent += 1
            try:
                response = self.session.request(method, url, timeout=policy.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                last = f"{type(exc).__name__}"
            else:
                if response.status_code < 400:
                    try:
                        return response.json()
                    except ValueError:
                        last = f"HTTP {response.status_code} with a body that is not JSON"
                elif response.status_code in RETRY_STATUSES:
                    last = f"HTTP {response.status_code}: {self._detail(response)}"
                    retry_after = _retry_after(response)
                else:
                    raise self._refusal(what, response)
            if attempt + 1 < policy.attempts:
                wait = policy.delay(attempt, retry_after)
                log.debug("%s failed (%s); retry %d in %.2f s", what, self.redact(last),
                          attempt + 1, wait)
                time.sleep(wait)
        raise TransientHyP3Error(self.redact(
            f"HyP3 {what} failed {policy.attempts} times, last: {last}; "
            f"HyP3 at {self.api_url} may be down: try again later"))

    def _refusal(self, what: str, response: requests.Response) -> Exception:
        """The error for a 4xx answer: HyP3's `detail`, credentials named on 401/403."""
        text = f"HyP3 refused {what} (HTTP {response.status_code}): {self._detail(response)}"
        if response.status_code in (401, 403):
            return CredentialsError(self.redact(
                f"{text}; check EARTHDATA_TOKEN (or the urs.earthdata.nasa.gov entry in ~/.netrc)"))
        return HyP3Error(self.redact(text))

    def _detail(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return self.redact(response.text[:300].strip() or response.reason or "")
        detail = body.get("detail") if isinstance(body, dict) else body
        return self.redact(str(detail))

    # -- API -----------------------------------------------------------------------------
    def user(self) -> dict[str, Any]:
        """`GET /user`: user_id, remaining_credits (None = no limit), ..."""
        return dict(self.request("GET", self.url("/user"), what="GET /user"))

    def costs(self) -> dict[str, Any]:
        """`GET /costs`: the credit cost table per job type."""
        return dict(self.request("GET", self.url("/costs"), what="GET /costs"))

    def post_jobs(self, jobs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """`POST /jobs` (1..200 jobs), sent once: HyP3's job JSON for each.

        Never retried here: a POST that failed may still have created the jobs, so the caller
        looks them up by name before sending them again.
        """
        if not 1 <= len(jobs) <= 200:
            raise HyP3Error(f"POST /jobs takes 1 to 200 jobs, got {len(jobs)}")
        with self._count_lock:
            self.requests_sent += 1
        what = f"POST /jobs ({len(jobs)} jobs)"
        try:
            response = self.session.post(self.url("/jobs"), json={"jobs": list(jobs)},
                                         timeout=self.retry_policy.timeout)
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            raise TransientHyP3Error(f"{what}: {type(exc).__name__}") from None
        if response.status_code in RETRY_STATUSES:
            raise TransientHyP3Error(self.redact(
                f"{what}: HTTP {response.status_code}: {self._detail(response)}"),
                _retry_after(response), response.status_code)
        if response.status_code >= 400:
            raise self._refusal(what, response)
        try:
            return list(response.json().get("jobs", []))
        except ValueError:
            raise TransientHyP3Error(f"{what}: answer is not JSON") from None

    def find_jobs(self, *, name: str | None = None, start: datetime | str | None = None,
                  end: datetime | str | None = None, job_type: str | None = None,
                  status_code: str | None = None) -> list[dict[str, Any]]:
        """`GET /jobs` with filters, following `next` pages (each page retried on its own)."""
        from hyp3_sdk.util import _get_normalized_datetime_str

        params = {"name": name, "job_type": job_type, "status_code": status_code,
                  "start": None if start is None else _get_normalized_datetime_str(start),
                  "end": None if end is None else _get_normalized_datetime_str(end)}
        query = {k: v for k, v in params.items() if v is not None}
        answer = self.request("GET", self.url("/jobs"), what="GET /jobs", params=query)
        jobs = list(answer.get("jobs", []))
        while answer.get("next"):
            answer = self.request("GET", answer["next"], what="GET /jobs (next page)")
            jobs.extend(answer.get("jobs", []))
        return jobs

    def get_job(self, job_id: str) -> dict[str, Any]:
        return dict(self.request("GET", self.url(f"/jobs/{job_id}"), what=f"GET /jobs/{job_id}"))


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None
