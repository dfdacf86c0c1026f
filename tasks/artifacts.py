"""Artifacts a user reads in the Prefect UI: tables, figures, progress and product pages.

Images and links point where a browser can follow them: the product server's HTTP URLs
(`insarhub.products.serve`, started by `python -m flows.server`) or presigned S3 URLs; with
neither, small PNGs are embedded as data URIs and files are named by path (a browser cannot
open `file://` links from a web page). Artifacts made inside a subflow can be put on the run
the user opened (`on_root=True`: the root flow run), where they are looked for.
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

BAR_WIDTH = 20  # characters of the text progress bar
MAX_EMBED_BYTES = 400_000  # larger PNGs without a URL are named, not embedded
NO_SERVER_HINT = ("Files are on the worker's disk; `make server` serves them over HTTP so "
                  "that these become links.")


def root_flow_run_id() -> UUID | None:
    """The flow run the user opened (the top of this run's parents); None outside a run."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    from prefect.runtime import flow_run

    try:
        return UUID(str(flow_run.root_flow_run_id))
    except (ValueError, TypeError):
        return context.flow_run.id


def _create(kind: str, data: Any, key: str, description: str, on_root: bool) -> UUID:
    """An artifact on the root flow run (on_root) through the API, else where we are."""
    root = root_flow_run_id() if on_root else None
    if root is None:
        makers = {"markdown": lambda: create_markdown_artifact(markdown=data, key=key,
                                                                description=description),
                  "table": lambda: create_table_artifact(table=data, key=key,
                                                         description=description),
                  "progress": lambda: create_progress_artifact(progress=data, key=key,
                                                               description=description)}
        return cast(UUID, makers[kind]())
    import json

    from prefect.artifacts import TableArtifact
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate

    if kind == "table":
        data = json.dumps(TableArtifact._sanitize(data))
    with get_client(sync_client=True) as client:
        created = client.create_artifact(ArtifactCreate(
            type=kind, key=key, description=description, data=data, flow_run_id=root))
    return cast(UUID, created.id)


def table(rows: Sequence[Mapping[str, Any]], key: str, description: str,
          on_root: bool = False) -> UUID | None:
    """A table artifact (skipped when there are no rows)."""
    if not rows:
        return None
    return _create("table", [dict(r) for r in rows], artifact_key(key), description, on_root)


def markdown(body: str, key: str, description: str, on_root: bool = False) -> UUID:
    return _create("markdown", body, artifact_key(key), description, on_root)


def image(png: str | Path, title: str, url: str | None = None) -> str:
    """Markdown showing a PNG: from its URL, else embedded when small, else named."""
    path = Path(png)
    if url:
        return f"![{title}]({url})"
    data = path.read_bytes()
    if len(data) <= MAX_EMBED_BYTES:
        return f"![{title}](data:image/png;base64,{base64.b64encode(data).decode()})"
    return f"{title}: `{path.resolve()}` ({NO_SERVER_HINT})"


def figure(png: str | Path, key: str, title: str, description: str = "",
           url: str | None = None) -> UUID:
    """A markdown artifact showing the PNG inline."""
    body = f"## {title}\n\n{description}\n\n{image(png, title, url)}\n"
    return markdown(body, key, title)


def link_line(label: str, target: str, note: str = "") -> str:
    """One markdown list item: a link for http(s) URLs, the path in code otherwise."""
    suffix = f" — {note}" if note else ""
    if target.startswith(("http://", "https://")):
        return f"- [{label}]({target}){suffix}"
    return f"- {label}: `{target}`{suffix}"


def links(items: Mapping[str, str], key: str, title: str, note: str = "") -> UUID | None:
    """A markdown list of links (HTTP URLs as links, local paths named)."""
    if not items:
        return None
    lines = [f"## {title}", ""]
    lines += [link_line(label, target) for label, target in items.items()]
    if note or any(not t.startswith(("http://", "https://")) for t in items.values()):
        lines += ["", note or NO_SERVER_HINT]
    return markdown("\n".join(lines) + "\n", key, title)


def link(url: str, text: str, key: str) -> UUID:
    return cast(UUID, create_link_artifact(link=url, link_text=text, key=artifact_key(key)))


class Progress:
    """A progress artifact (0-100 %) updated in place; its description says what it counts
    ("<what>: <done> of <total> (<unit>)") and it sits on the run the user opened."""

    def __init__(self, key: str, what: str, unit: str = "", on_root: bool = True) -> None:
        self.what, self.unit = what, unit
        self.id = _create("progress", 0.0, artifact_key(key), f"{what}: not started", on_root)
        self.value = -1.0
        self.text = ""

    def describe(self, done: int, total: int, note: str = "") -> str:
        """'<what>: <done> of <total> <unit> (<p> %) ▓▓▓░░░. <note>' (the UI's artifact page
        shows the description and the number, so the bar is drawn in the text too)."""
        unit = f" {self.unit}" if self.unit else ""
        percent = self.percent(done, total)
        filled = round(percent / 100 * BAR_WIDTH)
        bar = "▓" * filled + "░" * (BAR_WIDTH - filled)
        text = f"{self.what}: {done} of {total}{unit} ({percent:.0f} %) {bar}"
        return f"{text}. {note}" if note else text

    @staticmethod
    def percent(done: int, total: int) -> float:
        return 100.0 * done / total if total else 100.0

    def update(self, done: int, total: int, note: str = "") -> float:
        """Set the progress (an API call only when the value or the text changed)."""
        value, text = self.percent(done, total), self.describe(done, total, note)
        if value != self.value or text != self.text:
            update_progress_artifact(self.id, progress=value, description=text)
            self.value, self.text = value, text
        return value
