"""Crash-safe appends: stage new files, then swap them in, with a journal saying how far we got.

An append writes every new output into `<mintpy_dir>/.insarhub_append/` and touches only one
file in place: the interferogram stack, which grows by the new pairs (its datasets are
resizable). The journal `<mintpy_dir>/insarhub_append.json` says:

- `{"state": "staging", "pairs": N}` while files are being made: the old outputs are untouched;
  a run that finds this shrinks the stack back to its N old pairs, drops the staging folder
  and starts the append again;
- `{"state": "commit", "files": [...]}` once every staged file is complete: a run that finds
  this moves the remaining staged files in place (`os.replace`, atomic per file) and finishes.

So a process killed at any instant leaves the previous time series readable, and the next run
completes the update.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

JOURNAL_NAME = "insarhub_append.json"
STAGING_NAME = ".insarhub_append"
STACK = Path("inputs") / "ifgramStack.h5"


class AppendJournal:
    """The journal and staging folder of one MintPy work directory."""

    def __init__(self, mintpy_dir: Path, on_move: Callable[[str], None] | None = None) -> None:
        self.mintpy_dir = mintpy_dir
        self.on_move = on_move  # called after each file is moved in (tests kill the process there)
        self.path = mintpy_dir / JOURNAL_NAME
        self.staging = mintpy_dir / STAGING_NAME

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, record: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w") as out:
            json.dump(record, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)

    def begin(self, old_pairs: int) -> Path:
        """Start an append of a stack that has `old_pairs` pairs; returns an empty staging folder."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        self._write({"state": "staging", "pairs": old_pairs})
        return self.staging

    def mark_commit(self, files: Sequence[str]) -> None:
        """Every staged file is complete: from now on the append is finished, not undone."""
        self._write({"state": "commit", "files": list(files)})

    def move(self, files: Sequence[str]) -> None:
        """Move the staged files in place (names relative to staging) and end the journal."""
        for name in files:
            staged = self.staging / name
            if staged.exists():
                os.replace(staged, self.mintpy_dir / name)
                if self.on_move:
                    self.on_move(name)
        self.path.unlink(missing_ok=True)
        shutil.rmtree(self.staging, ignore_errors=True)

    def recover(self) -> str | None:
        """Finish or undo an interrupted append; says what was done (None: nothing to do)."""
        record = self.read()
        if not record:
            if self.staging.exists():
                shutil.rmtree(self.staging, ignore_errors=True)
            return None
        if record.get("state") == "commit":
            self.move(record.get("files", []))
            return "finished the interrupted append (moved its staged files in place)"
        old_pairs = int(record.get("pairs", 0))
        undone = shrink_stack(self.mintpy_dir / STACK, old_pairs)
        shutil.rmtree(self.staging, ignore_errors=True)
        self.path.unlink(missing_ok=True)
        return f"undid an interrupted append ({undone}); it starts again"


def shrink_stack(stack: Path, pairs: int) -> str:
    """Cut the stack back to its first `pairs` pairs; an unreadable stack is removed (reloaded)."""
    import h5py

    if not stack.is_file():
        return "no interferogram stack"
    try:
        with h5py.File(stack, "r+") as h5:
            total = int(h5["date"].shape[0])
            if total <= pairs:
                return "the stack had not grown yet"
            for name, dataset in list(h5.items()):
                if dataset.ndim >= 1 and dataset.shape[0] == total:
                    if dataset.maxshape[0] is None:
                        dataset.resize(pairs, axis=0)
                    else:
                        data = dataset[:pairs]
                        del h5[name]
                        h5.create_dataset(name, data=data)
        return f"removed {total - pairs} appended pair(s) from the stack"
    except (OSError, KeyError, ValueError) as exc:
        log.warning("the interferogram stack %s is unreadable after an interrupted append (%s): "
                    "removing it so that the next full run loads it again", stack, exc)
        stack.unlink(missing_ok=True)
        return "removed an unreadable stack"
