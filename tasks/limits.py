"""Prefect global concurrency limits that protect the machine and the services.

    insarhub-hyp3-submit   HyP3 `POST /jobs` at once over all AOIs and workers (default 2)
    insarhub-download      product downloads at once (default 4)
    insarhub-mintpy        MintPy inversions at once: CPU- and memory-bound (default: cores)

`insarhub fleet deploy` creates them (`prefect gcl create NAME --limit N` does the same; change
one with `prefect gcl update NAME --limit N`). Where a limit does not exist the stage runs
unlimited. A slot is a lease renewed while its holder lives: a run killed without a word
(SIGKILL) gives its slot back after `LEASE_SECONDS`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

HYP3_SUBMIT = "insarhub-hyp3-submit"
DOWNLOAD = "insarhub-download"
MINTPY = "insarhub-mintpy"
LEASE_SECONDS = 60.0  # Prefect's least lease


def default_limits() -> dict[str, int]:
    """The limits and their defaults (MintPy: one per core)."""
    return {HYP3_SUBMIT: 2, DOWNLOAD: 4, MINTPY: max(1, os.cpu_count() or 1)}


@contextmanager
def limit(name: str) -> Iterator[None]:
    """Hold one slot of the global concurrency limit `name`; where the server has no such
    limit (an ephemeral API, a server nobody deployed to) the stage runs unlimited, quietly."""
    from prefect.concurrency.sync import concurrency

    if not _exists(name):
        yield
        return
    with concurrency(name, occupy=1, strict=False, lease_duration=LEASE_SECONDS):
        yield


_SEEN: dict[str, tuple[bool, float]] = {}
RECHECK_SECONDS = 60.0  # a limit created later is seen within this long


def _exists(name: str) -> bool:
    """Whether the server has the limit (asked again after RECHECK_SECONDS while missing)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    known, when = _SEEN.get(name, (False, -RECHECK_SECONDS))
    if known or time.monotonic() - when < RECHECK_SECONDS:
        return known
    try:
        with get_client(sync_client=True) as client:
            client.read_global_concurrency_limit_by_name(name)
        found = True
    except ObjectNotFound:
        found = False
    _SEEN[name] = (found, time.monotonic())
    return found


def ensure_limits(limits: dict[str, int] | None = None) -> dict[str, int]:
    """Create the limits that are missing on the server (existing ones keep their value)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    wanted = limits or default_limits()
    out: dict[str, int] = {}
    with get_client(sync_client=True) as client:
        for name, value in wanted.items():
            try:
                out[name] = int(client.read_global_concurrency_limit_by_name(name).limit)
            except ObjectNotFound:
                with suppress(ObjectAlreadyExists):
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=name, limit=value))
                out[name] = value
    return out
