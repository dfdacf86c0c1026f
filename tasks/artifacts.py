"""Artifacts a user reads in the Prefect UI: tables, figures, progress and product links.

Figures are embedded in markdown artifacts as base64 PNG (the UI renders them inline) and the
PNG file itself is kept in the working directory, linked beside.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from tasks.common import artifact_key

MAX_EMBED_BYTES = 400_000  # larger PNGs are linked, not embedded


def table(rows: Sequence[Mapping[str, Any]], key: str, description: str) -> UUID | None:
    """A table artifact (skipped when there are no rows)."""
    if not rows:
        return None
    return cast(UUID, create_table_artifact(table=[dict(r) for r in rows],
                                            key=artifact_key(key), description=description))


def figure(png: str | Path, key: str, title: str, description: str = "") -> UUID:
    """A markdown artifact showing the PNG inline (or linking it when large)."""
    path = Path(png)
    data = path.read_bytes()
    if len(data) <= MAX_EMBED_BYTES:
        image = f"![{title}](data:image/png;base64,{base64.b64encode(data).decode()})"
    else:
        image = f"[{path.name}]({path.resolve().as_uri()})"
    body = f"## {title}\n\n{description}\n\n{image}\n\nFile: `{path.resolve()}`\n"
    return cast(UUID, create_markdown_artifact(markdown=body, key=artifact_key(key),
                                               description=title))


def links(items: Mapping[str, str], key: str, title: str) -> UUID | None:
    """A markdown list of links (local files as file:// URIs, S3 and HTTP as they are)."""
    if not items:
        return None
    lines = [f"## {title}", ""]
    for label, target in items.items():
        url = target if "://" in target else Path(target).resolve().as_uri()
        lines.append(f"- [{label}]({url})")
    return cast(UUID, create_markdown_artifact(markdown="\n".join(lines) + "\n",
                                               key=artifact_key(key), description=title))


def link(url: str, text: str, key: str) -> UUID:
    return cast(UUID, create_link_artifact(link=url, link_text=text, key=artifact_key(key)))


class Progress:
    """A progress artifact (0-100 %) updated in place while interferograms are made."""

    def __init__(self, key: str, description: str) -> None:
        self.description = description
        self.id = cast(UUID, create_progress_artifact(progress=0.0, key=artifact_key(key),
                                                      description=description))
        self.value = 0.0
        self.note = ""

    def update(self, done: int, total: int, note: str = "") -> float:
        """Set the progress (an API call only when the value or the note changed)."""
        value = 100.0 * done / total if total else 100.0
        if value != self.value or note != self.note:
            update_progress_artifact(self.id, progress=value,
                                     description=f"{self.description}: {note}" if note else None)
            self.value, self.note = value, note
        return value
