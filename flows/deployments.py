"""prefect.yaml entries for AOI monitoring configs: one scheduled deployment per AOI.

`insarhub monitor add` writes `deployments/aois/<name>.yaml` and appends the matching entry to
prefect.yaml with `add_monitor_deployment`; `prefect deploy --all` then registers everything.
Each monitoring deployment allows one run at a time (a second one is cancelled, not queued):
with the per-AOI lock inside `monitor_aoi`, one AOI is never processed twice at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from insarhub.errors import ConfigError
from insarhub.monitoring import MonitorConfig

PROJECT_DIR = Path(__file__).resolve().parent.parent
PREFECT_YAML = PROJECT_DIR / "prefect.yaml"
WORK_POOL = "insarhub-process"
MONITOR_ENTRYPOINT = "flows/monitor.py:monitor_aoi"


def deployment_name(config: MonitorConfig) -> str:
    return f"monitor-{config.name}"


def monitor_deployment(config: MonitorConfig, config_path: str | Path,
                       work_pool: str = WORK_POOL) -> dict[str, Any]:
    """The prefect.yaml deployment of one AOI config (`config_path` as the flow will see it)."""
    return {
        "name": deployment_name(config),
        "description": config.description or f"Keep the AOI {config.name} current",
        "entrypoint": MONITOR_ENTRYPOINT,
        "tags": ["insarhub", "monitoring", f"aoi:{config.name}"],
        "parameters": {"config": str(config_path)},
        "schedules": [config.schedule.prefect_schedule()],
        "concurrency_limit": {"limit": 1, "collision_strategy": "CANCEL_NEW"},
        "work_pool": {"name": work_pool, "work_queue_name": None, "job_variables": {}},
    }


def deployments(prefect_yaml: str | Path = PREFECT_YAML) -> list[dict[str, Any]]:
    data = yaml.safe_load(Path(prefect_yaml).read_text()) or {}
    return list(data.get("deployments") or [])


def add_monitor_deployment(config: MonitorConfig, config_path: str | Path,
                           prefect_yaml: str | Path = PREFECT_YAML,
                           work_pool: str = WORK_POOL) -> bool:
    """Append the AOI's deployment to prefect.yaml unless one of that name is there.

    The `deployments:` list must be the file's last top-level key (as in ours): the entry is
    appended as text so that the comments and anchors of the file stay as they are.
    """
    path = Path(prefect_yaml)
    name = deployment_name(config)
    if any(d.get("name") == name for d in deployments(path)):
        return False
    text = path.read_text()
    last_key = [line for line in text.splitlines() if line and not line[0].isspace()
                and not line.startswith(("#", "-"))][-1]
    if not last_key.startswith("deployments:"):
        raise ConfigError(f"{path}: `deployments:` must be the last top-level key to add {name} "
                          "(or add the entry by hand)")
    entry = yaml.safe_dump([monitor_deployment(config, config_path, work_pool)], sort_keys=False)
    text = text.rstrip("\n") + "\n" + entry
    path.write_text(text)
    return True
