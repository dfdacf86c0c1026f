"""What every processor offers: submit, a non-blocking status snapshot, refresh, watch, retry."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from insarhub.errors import ProcessorError

log = logging.getLogger(__name__)



class JobStatus(StrEnum):
    """Where a job (HyP3) or a command (ISCE2) stands; equal to HyP3's status strings."""

    QUEUED = "QUEUED"  # in the ledger, not sent (waiting for credits)
    SUBMITTING = "SUBMITTING"  # being sent
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


# the states processors count (members of JobStatus, typed as the strings they equal)
PENDING: str = JobStatus.PENDING
RUNNING: str = JobStatus.RUNNING
SUCCEEDED: str = JobStatus.SUCCEEDED
FAILED: str = JobStatus.FAILED
STATES: tuple[str, ...] = (PENDING, RUNNING, SUCCEEDED, FAILED)


@dataclass
class ProcessingStatus:
    """Where all the work of a processor stands, at one instant."""

    counts: dict[str, int] = field(default_factory=dict)  # JobStatus -> number of jobs/commands
    failed: list[str] = field(default_factory=list)  # names of failed jobs/commands
    detail: dict[str, Any] = field(default_factory=dict)  # processor-specific extras

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> bool:
        """Nothing pending or running (failures included)."""
        return self.counts.get(PENDING, 0) + self.counts.get(RUNNING, 0) == 0

    @property
    def done(self) -> int:
        """Jobs or commands that have finished, succeeded or failed."""
        return self.counts.get(SUCCEEDED, 0) + self.counts.get(FAILED, 0)

    @property
    def succeeded(self) -> bool:
        return self.finished and not self.failed and self.counts.get(FAILED, 0) == 0

    def line(self) -> str:
        parts = [f"{state.lower()} {self.counts.get(state, 0)}" for state in STATES]
        return f"{self.total} total: " + ", ".join(parts)


class BaseProcessor(ABC):
    """Common life cycle of HyP3 and ISCE processors."""

    @abstractmethod
    def submit(self) -> Any:
        """Start the work (idempotent: what was started before is not started again)."""

    @abstractmethod
    def snapshot(self) -> ProcessingStatus:
        """Non-blocking status, without printing: what the Prefect watcher polls."""

    @abstractmethod
    def refresh(self) -> Any:
        """Update the status, print the status table and return it."""

    @abstractmethod
    def retry(self) -> Any:
        """Start again what failed."""

    def watch(self, refresh_interval: float = 60.0, timeout: float | None = None) -> ProcessingStatus:
        """Block until everything has finished (or `timeout` seconds have passed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.snapshot()
            log.info("%s", status.line())
            if status.finished:
                self.refresh()
                return status
            if deadline is not None and time.monotonic() >= deadline:
                raise ProcessorError(
                    f"still running after {timeout:.0f} s ({status.line()}); "
                    "call watch() again or refresh() later: nothing is lost"
                )
            time.sleep(refresh_interval if deadline is None
                       else max(0.0, min(refresh_interval, deadline - time.monotonic())))
