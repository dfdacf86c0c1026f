"""`SandboxAdmin`: a client for a running sandbox's admin routes (clock, faults, events)."""

from __future__ import annotations

import time
from typing import Any

import requests

from insarhub_sandbox.errors import SandboxError


class SandboxAdmin:
    """Move the sandbox clock and switch faults on a running sandbox at `url`."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = requests.request(method, f"{self.url}/_sandbox/{path}", json=body,
                                        timeout=self.timeout)
        except requests.RequestException as exc:
            raise SandboxError(f"sandbox at {self.url} is not reachable ({exc}); "
                               "start it with `insarhub sandbox serve`") from exc
        if response.status_code >= 400:
            raise SandboxError(f"sandbox refused {method} {path}: {response.text}")
        return response.json()

    def healthy(self) -> bool:
        try:
            return bool(self._call("GET", "health").get("ok"))
        except SandboxError:
            return False

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return
            time.sleep(0.1)
        raise SandboxError(f"sandbox at {self.url} did not become healthy in {timeout:.0f} s")

    def now(self) -> str:
        return str(self._call("GET", "clock")["now"])

    def set_now(self, now: str) -> str:
        return str(self._call("POST", "clock", {"now": now})["now"])

    def advance(self, days: float) -> str:
        return str(self._call("POST", "clock", {"advance_days": days})["now"])

    def reset_clock(self) -> str:
        """Back to real time."""
        return str(self._call("POST", "clock", {"reset": True})["now"])

    def set_faults(self, **groups: dict[str, float]) -> dict[str, Any]:
        """e.g. `set_faults(hyp3={"error_rate": 0.2}, files={"drop_rate": 0.3})`."""
        return dict(self._call("POST", "faults", groups))

    def clear_faults(self) -> None:
        self._call("POST", "faults", {})

    def add_event(self, lon: float, lat: float, start: str, magnitude_mm: float = -30.0,
                  sigma_m: float = 400.0, kind: str = "step", **more: Any) -> list[dict[str, Any]]:
        """Inject a deformation event into the simulated Earth (products rendered from now
        on show it on the acquisitions from `start`); returns every event."""
        body = {"lon": lon, "lat": lat, "start": start, "magnitude_mm": magnitude_mm,
                "sigma_m": sigma_m, "kind": kind, **more}
        return list(self._call("POST", "events", body))

    def events(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "events"))

    def clear_events(self) -> None:
        self._call("DELETE", "events")
