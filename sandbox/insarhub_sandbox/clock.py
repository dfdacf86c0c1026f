"""The sandbox's movable "now": acquisitions after it are not yet in the catalog."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def parse_time(value: str | datetime) -> datetime:
    """An aware UTC datetime from an ISO string (date or date-time) or a datetime."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = value.strip().replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SandboxClock:
    """A clock that follows real time from an offset that users can move."""

    def __init__(self, now: str | datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        if now is not None:
            self.set(now)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def set(self, now: str | datetime) -> datetime:
        with self._lock:
            self._offset = parse_time(now) - datetime.now(UTC)
        return self.now()

    def advance(self, days: float = 0.0, seconds: float = 0.0) -> datetime:
        with self._lock:
            self._offset += timedelta(days=days, seconds=seconds)
        return self.now()
