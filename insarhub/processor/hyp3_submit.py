"""Sending jobs to HyP3 without ever paying twice: intent first, ids after, names on doubt.

`Hyp3Posting` is the POST half of `Hyp3Processor` (insarhub.processor.hyp3): a batch is marked
`submitting` in the ledger before its POST; a 5xx or a lost answer may hide created jobs, so
their unique names are looked up on HyP3 before anything is sent again, and a process that
died mid-POST is recovered the same way at its next start (`_recover`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from insarhub.errors import CredentialsError, CreditError, HyP3Error
from insarhub.ledger import SUBMITTING, JobRecord, Ledger
from insarhub.processor.hyp3_client import Hyp3Client, TransientHyP3Error

log = logging.getLogger(__name__)


class InsufficientCreditsError(CreditError):
    """Credits ran short: some jobs were submitted, `queued` stay in the ledger."""

    def __init__(self, message: str, *, missing_credits: float, queued: int, submitted: int) -> None:
        super().__init__(message)
        self.missing_credits = missing_credits
        self.queued = queued
        self.submitted = submitted



class Hyp3Posting:
    """POST /jobs and the by-name look-ups that make it safe to repeat."""

    ledger: Ledger
    max_workers: int
    job_type: str

    @property
    def client(self) -> Hyp3Client:
        raise NotImplementedError

    def _post(self, chunk: list[JobRecord]) -> list[str]:
        """POST one batch (intent first, ids after); on doubt, look the names up first."""
        claimed = set(self.ledger.mark_submitting([r.name for r in chunk]))
        pending = [r for r in chunk if r.name in claimed]
        done: list[str] = []
        policy = self.client.retry_policy
        for attempt in range(policy.attempts):
            if not pending:
                return done
            try:
                answer = self.client.post_jobs([r.payload() for r in pending])
            except TransientHyP3Error as exc:
                if exc.status != 429:  # a 5xx or a lost answer may hide created jobs
                    found = self._lookup([r.name for r in pending])
                    self.ledger.record_submitted(list(found.values()))
                    done += list(found)
                    pending = [r for r in pending if r.name not in found]
                log.info("POST /jobs: %s; %d jobs to send again", exc, len(pending))
                if pending and attempt + 1 < policy.attempts:
                    time.sleep(policy.delay(attempt, exc.retry_after))
                continue
            except CredentialsError:  # 401/403: HyP3 took none of them
                self.ledger.requeue([r.name for r in pending])
                raise
            except HyP3Error as exc:  # a 4xx: HyP3 took none of them
                self.ledger.requeue([r.name for r in pending])
                if "credit" in str(exc).lower():
                    raise InsufficientCreditsError(
                        f"{exc}; {len(pending)} jobs stay queued in the ledger: call submit() "
                        "again when credits are renewed", missing_credits=float("nan"),
                        queued=len(pending), submitted=len(done)) from None
                raise
            self.ledger.record_submitted(answer)
            returned = {str(job.get("name")) for job in answer}
            done += [r.name for r in pending if r.name in returned]
            pending = [r for r in pending if r.name not in returned]
            if pending:  # HyP3 answered without some names: check, never guess
                found = self._lookup([r.name for r in pending])
                self.ledger.record_submitted(list(found.values()))
                done += list(found)
                self.ledger.requeue([r.name for r in pending if r.name not in found])
            return done
        self.ledger.requeue([r.name for r in pending])  # looked up after the last failure
        raise TransientHyP3Error(
            f"POST /jobs failed {policy.attempts} times; {len(pending)} jobs stay queued in "
            f"the ledger: call submit() again later")

    def _lookup(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Jobs on HyP3 by exact name (`GET /jobs?name=`), one request per name, in parallel."""
        if not names:
            return {}

        def find(name: str) -> list[dict[str, Any]]:
            return self.client.find_jobs(name=name, job_type=self.job_type)

        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(names))) as pool:
            answers = list(pool.map(find, names))
        found: dict[str, dict[str, Any]] = {}
        for name, jobs in zip(names, answers, strict=True):
            jobs = sorted((j for j in jobs if j.get("name") == name),
                          key=lambda j: str(j.get("request_time")))
            if len(jobs) > 1:
                log.warning("%d HyP3 jobs are named %s; keeping the first, %s", len(jobs), name,
                            jobs[0].get("job_id"))
            if jobs:
                found[name] = jobs[0]
        return found

    def _recover(self) -> list[str]:
        """Jobs whose POST may have reached HyP3 (intent written, no id): found by name."""
        intents = self.ledger.jobs(current_only=False, state=SUBMITTING, include_dropped=True)
        if not intents:
            return []
        found = self._lookup([r.name for r in intents])
        self.ledger.record_submitted(list(found.values()))
        self.ledger.requeue([r.name for r in intents if r.name not in found])
        log.info("recovered %d of %d interrupted submissions by name; %d back in the queue",
                 len(found), len(intents), len(intents) - len(found))
        return list(found)
