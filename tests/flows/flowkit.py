"""Helpers of the flow tests (an importable module: pytest fixtures stay in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

# the sandbox clock at which the tests start: stack (100, 466) shows 4 dates of 2020
SANDBOX_NOW = "2020-02-12T00:00:00+00:00"
AOI = [-113.05, 37.74, -112.68, 38.0]


@dataclass
class SandboxUser:
    """A HyP3 user of its own (own jobs and credits): a unique token in EARTHDATA_TOKEN."""

    url: str
    token: str
    user_id: str

    def _get(self, path: str, **params: Any) -> Any:
        response = requests.get(f"{self.url}{path}", params=params or None, timeout=30,
                                headers={"Authorization": f"Bearer {self.token}"})
        response.raise_for_status()
        return response.json()

    def jobs(self) -> list[dict[str, Any]]:
        """Every HyP3 job of this user (following `next`)."""
        page = self._get("/jobs")
        jobs = list(page["jobs"])
        while page.get("next"):
            response = requests.get(page["next"], timeout=30,
                                    headers={"Authorization": f"Bearer {self.token}"})
            response.raise_for_status()
            page = response.json()
            jobs += page["jobs"]
        return jobs

    def credits(self) -> float:
        return float(self._get("/user")["remaining_credits"])


def task_runs_of(flow_run_id: Any) -> list[Any]:
    """The task runs of a flow run (subflows included), from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (  # noqa: E501
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
    )

    with get_client(sync_client=True) as client:
        runs = [flow_run_id]
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])))
        runs += [c.id for c in children]
        return list(client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=runs))))


def artifact_keys() -> set[str]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {a.key for a in client.read_artifacts() if a.key}


def artifacts_of_run(flow_run_id: Any) -> dict[str, Any]:
    """The newest artifact of each key created on one flow run, by key."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    out: dict[str, Any] = {}
    for artifact in sorted(found, key=lambda a: a.created or 0):
        if artifact.key:
            out[artifact.key] = artifact
    return out


def all_artifact_data() -> list[Any]:
    """The content of every artifact on the server (tables, markdown, links)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return [a.data for a in client.read_artifacts()]
