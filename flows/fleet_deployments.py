"""The fleet's two deployments, registered with one command (`insarhub fleet deploy`).

`fleet-cycle/fleet` carries the fleet file's schedule and path; `fleet-aoi/fleet-aoi` runs one
AOI per run (its parameters come from the cycle). Both go to a `process` work pool served by
any number of `prefect worker start --pool <pool>`; the Docker and Kubernetes variants are in
prefect.yaml (comments). The global concurrency limits (`tasks.limits`) are created too.

The cycle has no deployment concurrency limit: two cycles at once are safe (each grant is one
SQLite transaction against the month's budget, each AOI run holds its AOI's slot). With
Prefect 3.8.8's CANCEL_NEW limit, a cycle that waited behind busy workers was cancelled
(seen in CI), and so was the next one, 2 s after it was made, with no other cycle running.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from flows.server import PROJECT_DIR, WORK_POOL, create_limits, run_cli
from insarhub.errors import ConfigError
from insarhub.fleet.model import load_fleet

CYCLE_DEPLOYMENT = "fleet"
AOI_DEPLOYMENT = "fleet-aoi"


def fleet_deployments(fleet_file: str | Path, pool: str = WORK_POOL) -> list[dict[str, Any]]:
    """The prefect.yaml entries of the fleet (the fleet file as the workers will see it)."""
    fleet = load_fleet(fleet_file)
    work_pool: dict[str, Any] = {"name": pool, "work_queue_name": None, "job_variables": {}}
    return [
        {"name": CYCLE_DEPLOYMENT, "entrypoint": "flows/fleet.py:fleet_cycle",
         "description": f"Plan the credits of fleet {fleet.path.name} and start its AOI runs",
         "tags": ["insarhub", "fleet"], "parameters": {"fleet_file": str(fleet_file)},
         "schedules": [fleet.top.schedule.prefect_schedule()],
         "work_pool": work_pool},
        {"name": AOI_DEPLOYMENT, "entrypoint": "flows/fleet.py:fleet_aoi",
         "description": "One AOI of a fleet under its credit grant (runs made by fleet-cycle)",
         "tags": ["insarhub", "fleet"], "work_pool": work_pool},
    ]


def write_prefect_file(fleet_file: str | Path, pool: str = WORK_POOL,
                       out: str | Path | None = None) -> Path:
    """A prefect.yaml holding the fleet's deployments (in the fleet's working folder)."""
    fleet = load_fleet(fleet_file)
    path = Path(out) if out else fleet.workdir / "prefect-fleet.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"name": "insarhub-fleet", "prefect-version": "3.8.8", "build": None, "push": None,
            "pull": [{"prefect.deployments.steps.set_working_directory":
                      {"directory": str(PROJECT_DIR)}}],
            "deployments": fleet_deployments(fleet_file, pool)}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def api_url(env: dict[str, str]) -> str:
    """The Prefect server's API URL: the environment's, else the active profile's."""
    from prefect.settings import PREFECT_API_URL

    url = env.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if not url:
        raise ConfigError("no Prefect server to deploy to: start one (`make server` or "
                          "`prefect server start`) and set PREFECT_API_URL")
    return str(url).rstrip("/")


def deploy_fleet(fleet_file: str | Path, pool: str = WORK_POOL,
                 env: dict[str, str] | None = None,
                 limits: dict[str, int] | None = None) -> str:
    """Create the pool and the concurrency limits, register both deployments; the CLI output."""
    environment = dict(env or os.environ)
    prefect_file = write_prefect_file(fleet_file, pool)
    run_cli(environment, "work-pool", "create", pool, "--type", "process", "--overwrite")
    create_limits(api_url(environment), limits)
    return run_cli(environment, "deploy", "--no-prompt", "--prefect-file", str(prefect_file),
                   "--name", CYCLE_DEPLOYMENT, "--name", AOI_DEPLOYMENT, timeout=300)
