"""Helpers shared by the processor tests (imported by conftest.py and the tests)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from hyp3_sdk import HyP3
from insarhub_sandbox.admin import Hyp3Admin
from insarhub_sandbox.records import SceneRecord

from insarhub.retry import RetryPolicy

# fast retries: the sandbox answers in milliseconds
FAST_RETRY = RetryPolicy(attempts=12, base_delay=0.02, max_delay=0.3, timeout=(5.0, 30.0))


def stack_scenes(records: list[SceneRecord], stack_key: str, year: int | None = None) -> list[str]:
    scenes = sorted((r for r in records if r.stack_key == stack_key
                     and (year is None or r.start.year == year)), key=lambda r: r.start)
    return [r.name for r in scenes]


def make_pairs(names: list[str], count: int, max_step: int = 20) -> list[tuple[str, str]]:
    """`count` distinct (earlier, later) pairs from one stack's time-ordered scenes."""
    pairs = []
    for step in range(1, max_step + 1):
        for i in range(len(names) - step):
            pairs.append((names[i], names[i + step]))
            if len(pairs) == count:
                return pairs
    raise ValueError(f"only {len(pairs)} pairs from {len(names)} scenes")


@dataclass
class Hyp3User:
    """One isolated sandbox HyP3 user: its token, id, and admin handles."""

    url: str
    token: str
    user_id: str
    admin: Hyp3Admin
    sandbox: Any

    def sdk(self) -> HyP3:
        """hyp3_sdk's own client as this user: the independent view of the server."""
        return HyP3(api_url=self.url, token=self.token)

    def server_jobs(self) -> list[Any]:
        return list(self.sdk().find_jobs())

    def jobs_per_name(self) -> Counter[str]:
        return Counter(str(job.name) for job in self.server_jobs())

    def configure(self, **settings: Any) -> None:
        self.admin.configure(user_id=self.user_id, **settings)
