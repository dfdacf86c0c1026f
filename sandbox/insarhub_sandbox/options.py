"""What a sandbox serves and how it is reached: shared by the server and its services."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SANDBOX_TOKEN = "sandbox-earthdata-token"  # accepted by the sandbox only; not a real credential


@dataclass
class SandboxOptions:
    """What a sandbox serves and how fast it moves."""

    data_dir: Path
    now: str | None = None  # the catalog clock; None = real time
    job_seconds: float = 2.0  # HyP3 time from PENDING to SUCCEEDED
    grid_size: int = 60  # simulated product size in pixels (square)
    credits: int = 8000  # HyP3 monthly credits per user
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
