"""Retries and network repair of a HyP3 processor: failed and expired jobs resubmitted, pairs
that keep failing replaced by pairs that keep the network connected."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from insarhub.errors import ConfigError
from insarhub.processor.base import FAILED, SUCCEEDED
from insarhub.processor.hyp3_pairs import normalize_pairs
from insarhub.processor.hyp3_part import Hyp3Part

log = logging.getLogger(__name__)


@dataclass
class RetryReport:
    """What one retry() did."""

    resubmitted: list[str] = field(default_factory=list)  # new job names (failed or expired)
    exhausted: list[tuple[str, str]] = field(default_factory=list)  # pairs past max_retries


class Hyp3Repairs(Hyp3Part):
    """Retry methods of a HyP3 processor (needs its ledger, status and submission helpers)."""

    job_type: str
    max_retries: int

    def _submit_locked(self, max_credits: float | None = None,
                       allowance: float | None = None) -> Any:
        raise NotImplementedError

    def _export(self) -> Path:
        raise NotImplementedError

    def add_pairs(self, pairs: Any) -> int:
        raise NotImplementedError

    @property
    def pairs(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def retry(self, max_retries: int | None = None) -> RetryReport:
        """Resubmit failed jobs (up to `max_retries` times a pair) and expired, undownloaded ones."""
        limit = self.max_retries if max_retries is None else max_retries

        def work() -> RetryReport:
            self._update(deep=True)
            report = RetryReport()
            failures = Counter(r.pair_id for r in self.ledger.jobs(current_only=False)
                               if r.status == FAILED)
            for r in self.ledger.jobs():
                reason = None
                if r.status == FAILED:
                    if failures[r.pair_id] > limit:
                        report.exhausted.append(r.pair)
                        continue
                    reason = "failed"
                elif r.status == SUCCEEDED and self.is_expired(r) and not self.has_product(r):
                    reason = "expired"
                if reason:
                    name = self.ledger.queue_retry(r.pair_id, reason)
                    if name:
                        report.resubmitted.append(name)
            if report.exhausted:
                log.warning("%d pairs failed more than %d times: %s; repair the network and "
                            "add_pairs() the new ones", len(report.exhausted), limit,
                            report.exhausted[:5])
            self._submit_locked()
            return report

        return self._run("retry", work)

    def failed_pairs(self, max_retries: int | None = None) -> list[tuple[str, str]]:
        """Pairs whose current job failed and that have used up their resubmissions."""
        limit = self.max_retries if max_retries is None else max_retries
        failures = Counter(r.pair_id for r in self.ledger.jobs(current_only=False)
                           if r.status == FAILED)
        return [r.pair for r in self.ledger.jobs()
                if r.status == FAILED and failures[r.pair_id] > limit]

    def drop_pairs(self, pairs: Any) -> int:
        """Take pairs out of the network: no longer followed, retried or counted (kept in the
        ledger's history and in hyp3_jobs.json with "dropped": true)."""
        pair_list, _ = normalize_pairs(pairs, self.job_type)
        dropped = self.ledger.drop_pairs(pair_list, self.job_type)
        self._export()
        return dropped

    def repair_network(self, scenes: Sequence[Any] | None = None, **options: Any) -> Any:
        """Replace the pairs that keep failing with new ones that keep the network connected.

        `scenes`: the stack's asf_search products (e.g. `downloader.stacks[key]`; default: the
        `scenes.json` that `insarhub search` saved in this workdir); `options` as for
        `insarhub.network.select_pairs` (dt_max, pb_max, max_degree, ...). Uses
        `insarhub.network.repair_pairs`: the failing pairs are dropped, the replacement pairs
        queued; call submit() to send them. Returns the `NetworkUpdate`.
        """
        from insarhub.network import repair_pairs

        if scenes is None:
            from insarhub.search.persist import SCENES_FILE, load_stack

            if not (self.workdir / SCENES_FILE).is_file():
                raise ConfigError(f"repair_network needs the stack's scenes: pass scenes= (e.g. "
                                  f"downloader.stacks[key]) or save the search into {self.workdir}")
            scenes = load_stack(self.workdir)
        failed = self.failed_pairs()
        update = repair_pairs(self.pairs, scenes, failed, **options)
        self.ledger.drop_pairs(update.removed or failed, self.job_type)
        added = self.add_pairs(update.pairs) if update.pairs else 0
        log.info("network repaired: %d failing pairs dropped, %d replacement pairs queued",
                 len(update.removed or failed), added)
        self._export()
        return update
