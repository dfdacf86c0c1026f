"""The one HTTP retry layer: which answers are retried, and how long to wait between tries.

Every call to ASF or HyP3 retries 429/5xx answers and broken connections here, with
exponential backoff and full jitter (a `Retry-After` is honoured). Requests that a library
sends itself (asf_search) get the same policy as a urllib3 `Retry` on their session; the HyP3
client and the resumable downloads loop with `RetryPolicy.delay`. What is still failing after
the last try raises an error marked `RetriesExhausted`, which Prefect's task retries leave
alone (see `tasks.common`): one call is tried `attempts` times, not `attempts` x task retries.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from urllib3.util.retry import Retry

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request, backoff base and cap (seconds), timeouts."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: tuple[float, float] = (10.0, 120.0)  # connect, read

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]; at least Retry-After."""
        bound = min(self.max_delay, self.base_delay * (2 ** attempt))
        wait = random.uniform(0.0, bound)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait

    def urllib3_retry(self, connect: int | None = None) -> Retry:
        """The same policy for a session whose requests another library sends.

        `connect` caps retries of a host that cannot be reached at all (a wrong URL should
        fail in a second, not hang)."""
        retries = self.attempts - 1
        return Retry(total=retries, connect=retries if connect is None else connect,
                     read=retries, status=retries, backoff_factor=self.base_delay,
                     backoff_max=self.max_delay, backoff_jitter=self.base_delay,
                     status_forcelist=RETRY_STATUSES, allowed_methods=None,
                     raise_on_status=True, respect_retry_after_header=True)


CATALOG_POLICY = RetryPolicy(attempts=6, base_delay=0.3, max_delay=8.0)
DOWNLOAD_POLICY = RetryPolicy(attempts=6, base_delay=0.5, max_delay=30.0)
