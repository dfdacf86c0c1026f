"""`Hyp3Part`: what the HyP3 processor's method groups (downloads, repairs) need of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from insarhub.ledger import JobRecord, Ledger


class Hyp3Part:
    """The processor's state and helpers a method group uses; `Hyp3Processor` provides them."""

    workdir: Path
    ledger: Ledger

    def _run(self, action: str, func: Callable[[], Any], lock: str | None = "submit") -> Any:
        raise NotImplementedError

    def _update(self, deep: bool = False) -> None:
        raise NotImplementedError

    def is_expired(self, record: JobRecord) -> bool:
        raise NotImplementedError

    def has_product(self, record: JobRecord) -> bool:
        raise NotImplementedError
