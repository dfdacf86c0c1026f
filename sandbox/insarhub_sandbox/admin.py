"""Clients for a running sandbox's admin routes: `SandboxAdmin` (clock, faults, events) and
`Hyp3Admin` (HyP3 failures, speed, paging, credits, the truth files)."""

from __future__ import annotations

import time
from pathlib import Path
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


class Hyp3Admin(SandboxAdmin):
    """Client for the sandbox HyP3's admin routes: failures, speed, paging, credits, truth."""

    def settings(self) -> dict[str, Any]:
        return dict(self._call("GET", "hyp3"))

    def configure(self, *, user_id: str | None = None, **settings: Any) -> dict[str, Any]:
        """e.g. `configure(fail_pairs=[[ref, sec]])`, `configure(fail_rate=0.2, user_id=...)`."""
        body = {**settings, **({"user_id": user_id} if user_id else {})}
        return dict(self._call("POST", "hyp3", body))

    def reset(self) -> dict[str, Any]:
        """Back to the defaults: no failures, the sandbox's job_seconds, 100 jobs a page."""
        return dict(self._call("POST", "hyp3", {"reset": True}))

    def set_credits(self, user_id: str, credits: float) -> dict[str, Any]:
        return dict(self._call("POST", "hyp3", {"credits": {user_id: credits}}))

    def truth_files(self, stack_key: str) -> list[str]:
        return list(self._call("GET", f"truth/{stack_key}/"))

    def download_truth(self, stack_key: str, out_dir: Path) -> list[Path]:
        """Copy a stack's truth files (velocity, per-date displacement) into `out_dir`."""
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in self.truth_files(stack_key):
            response = requests.get(f"{self.url}/_sandbox/truth/{stack_key}/{name}", timeout=self.timeout)
            if response.status_code >= 400:
                raise SandboxError(f"truth file {name} of {stack_key}: HTTP {response.status_code}")
            path = out_dir / name
            path.write_bytes(response.content)
            paths.append(path)
        return paths
