"""What every InSARHub task shares: retry and cache policies, rate-limit tags, key names.

Network stages (catalog search, HyP3 calls, downloads) are retried by Prefect only where the
library's one HTTP retry layer (`insarhub.retry`) does not reach: not a service that kept
failing through every HTTP retry (`RetriesExhausted`: the next run or schedule tries again),
and not mistakes a retry cannot fix (bad input, missing credits). Pure stages cache
on their inputs and their own source code, with results persisted so that a rerun in another
process (after a crash) reuses them. Tags rate-limit the calls to ASF and HyP3 once a limit
exists on the server:

    prefect concurrency-limit create asf 2     # at most 2 catalog/SLC calls at once
    prefect concurrency-limit create hyp3 4    # at most 4 HyP3 API calls at once
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.tasks import Task, exponential_backoff

from insarhub.errors import (
    AOIError,
    ConfigError,
    CredentialsError,
    CreditError,
    PairNetworkError,
    RetriesExhausted,
    StackError,
)

ASF_TAG = "asf"
HYP3_TAG = "hyp3"
DEFAULT_TAG_LIMITS = {ASF_TAG: 2, HYP3_TAG: 4}

# errors a task retry cannot fix (or that the HTTP layer retried already): the task fails at
# once with the clear message
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    AOIError, ConfigError, CreditError, CredentialsError, PairNetworkError, StackError,
    RetriesExhausted,
)

SEARCH_CACHE_TTL = timedelta(hours=6)  # a catalog search is reused this long
PURE_CACHE = INPUTS + TASK_SOURCE  # cache key: the inputs and the task's own source
# stages with side effects (HyP3 jobs, files) are never cached: the ledger makes them safe
SIDE_EFFECTS: dict[str, Any] = {"cache_policy": NO_CACHE}


def retry_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry condition: retry unless the failure is one that a retry cannot fix."""
    try:
        state.result(raise_on_failure=True)
    except PERMANENT_ERRORS:
        return False
    except BaseException:
        return True
    return True


NETWORK_RETRIES: dict[str, Any] = {
    "retries": 2,  # failures outside HTTP (a broken product file, a busy ledger, ...)
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient,
}


def artifact_key(*parts: object) -> str:
    """An artifact key (lower-case letters, digits, dashes) from free-form parts."""
    text = "-".join(str(p) for p in parts if p not in (None, ""))
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")
