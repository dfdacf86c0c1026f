"""AOI monitoring: the YAML config of a watched area, new-acquisition and anomaly detection.

A monitoring config (one YAML file per AOI, `deployments/aois/<name>.yaml`) says what to watch
(AOI, stack), how to process it (backend, network, HyP3 and MintPy options), when (schedule),
when to alert (threshold) and where to publish. The logic here is plain Python so that a
notebook can use it; the Prefect flow `flows/monitor.py:monitor_aoi` composes it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from insarhub.anomaly.config import AlertConfig
from insarhub.errors import ConfigError, InsarHubError
from insarhub.granules import acquisition_date  # noqa: F401  (re-exported: callers import it here)
from insarhub.ledger import DB_NAME
from insarhub.network.options import DEFAULT_MAX_DEGREE, DEFAULT_NEW_DATE_NEIGHBOURS

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# the acquisition start in Sentinel-1 SLC and burst granule names: _20200102T133501
_CRON_FIELDS = 5


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScheduleConfig(_Strict):
    """When the monitoring deployment runs: a cron line or an interval (hours)."""

    cron: str | None = "0 6 * * *"
    interval_hours: float | None = None
    timezone: str = "UTC"
    active: bool = True

    @field_validator("cron")
    @classmethod
    def _cron_has_five_fields(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != _CRON_FIELDS:
            raise ValueError(f"cron {value!r} must have 5 fields (minute hour day month weekday)")
        return value

    @field_validator("interval_hours")
    @classmethod
    def _positive_interval(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError(f"interval_hours {value} must be > 0")
        return value

    def prefect_schedule(self) -> dict[str, Any]:
        """The schedule entry of a prefect.yaml deployment."""
        entry: dict[str, Any]
        if self.interval_hours is not None:
            entry = {"interval": int(self.interval_hours * 3600)}
        else:
            entry = {"cron": self.cron}
        entry.update({"timezone": self.timezone, "active": self.active})
        return entry


class WaitConfig(_Strict):
    """How a run waits for interferograms: short polls, then hand over to the next run."""

    poll_interval_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=3600.0, gt=0)


class PublishConfig(_Strict):
    """Where products go (S3 or an S3-compatible endpoint)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None


class MonitorConfig(_Strict):
    """Everything a scheduled monitoring run needs to keep one AOI current."""

    name: str
    description: str = ""
    aoi: list[float] | str  # [min_lon, min_lat, max_lon, max_lat], WKT or a vector file path
    # "auto": the product whose stacks cost fewest HyP3 credits per new date, chosen at the
    # first cycle and kept (<workdir>/product.json); then `stack` is a relative orbit (int)
    product: Literal["S1_SLC", "S1_Burst", "S1_DISP", "auto"] = "S1_SLC"  # S1_DISP: OPERA DISP-S1
    # (path, frame) for SLC stacks, a multi-burst stack ("p100_IW2-3_213494-213496") or burst
    # ID for bursts, or a relative orbit (e.g. 100): the stack of that orbit
    stack: tuple[int, int] | int | str
    backend: Literal["hyp3", "isce"] = "hyp3"
    start: date  # the first acquisition date of the time series
    workdir: Path  # holds <stack>/ with the ledger, products and MintPy outputs
    network: dict[str, Any] = Field(default_factory=lambda: {"max_degree": DEFAULT_MAX_DEGREE})
    new_date_pairs: int = Field(default=DEFAULT_NEW_DATE_NEIGHBOURS, ge=1)  # pairs from each new date to its nearest predecessors
    processor: dict[str, Any] = Field(default_factory=dict)  # HyP3 / ISCE options
    mintpy: dict[str, Any] = Field(default_factory=dict)
    # a full MintPy inversion every N updates (new dates are appended in between); None: only
    # when needed (pairs under old dates changed, new reference point, options changed)
    full_inversion_every: int | None = Field(default=None, ge=1)
    reference_point: tuple[float, float] | None = None  # (lat, lon)
    points: list[tuple[float, float]] = Field(default_factory=list)  # time-series CSV points
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    wait: WaitConfig = Field(default_factory=WaitConfig)
    alert: AlertConfig = Field(default_factory=AlertConfig)
    publish: PublishConfig | None = None
    max_credits: float | None = Field(default=None, ge=0)  # HyP3 credit ceiling of one cycle

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(f"name {value!r} must be lower-case letters, digits, '-' or '_' "
                             "(it names the deployment, the lock and the concurrency limit)")
        return value

    @field_validator("aoi")
    @classmethod
    def _aoi_shape(cls, value: list[float] | str) -> list[float] | str:
        if isinstance(value, list) and len(value) != 4:
            raise ValueError(f"aoi bbox {value} must be [min_lon, min_lat, max_lon, max_lat]")
        if isinstance(value, str) and not value.strip():
            raise ValueError("aoi is empty; give a bbox, a WKT string or a vector file path")
        return value

    @field_validator("stack", mode="before")
    @classmethod
    def _stack_from_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            return tuple(value)
        return value

    @model_validator(mode="after")
    def _auto_needs_an_orbit(self) -> MonitorConfig:
        if self.product == "auto" and not isinstance(self.stack, int):
            raise ValueError(f"product 'auto' chooses between SLC frames and bursts, so stack "
                             f"must be a relative orbit (e.g. 100), not {self.stack!r}")
        return self

    @property
    def concurrency_key(self) -> str:
        """The name of the global concurrency limit that lets one run per AOI at a time."""
        return f"insarhub-aoi-{self.name}"

    @property
    def path_frame(self) -> tuple[int, int] | None:
        return self.stack if isinstance(self.stack, tuple) else None

    @property
    def orbit(self) -> int | None:
        """The relative orbit when `stack` names one (its stack is found by the search)."""
        return self.stack if isinstance(self.stack, int) else None

    # -- YAML ----------------------------------------------------------------------------
    def to_yaml(self, path: str | Path | None = None) -> str:
        """The config as YAML text; also written to `path` when given."""
        data = self.model_dump(mode="json", exclude_none=False)
        text = yaml.safe_dump(data, sort_keys=False)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
        return text

    @classmethod
    def from_yaml(cls, source: str | Path) -> MonitorConfig:
        """Read a config from a YAML file (or YAML text)."""
        text = Path(source).read_text() if _looks_like_path(source) else str(source)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"monitoring config {source} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"monitoring config {source} must be a YAML mapping, got {data!r}")
        return cls.from_dict(data, origin=str(source))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "config") -> MonitorConfig:
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
                f" (got {err.get('input')!r})"
                for err in exc.errors()
            )
            raise ConfigError(f"monitoring config {origin} is invalid: {problems}") from exc


def _looks_like_path(source: str | Path) -> bool:
    if isinstance(source, Path):
        return True
    return "\n" not in source and source.endswith((".yaml", ".yml"))


def find_config(name_or_path: str | Path, config_dir: str | Path = "deployments/aois") -> Path:
    """The config file for an AOI name (`<config_dir>/<name>.yaml`) or an explicit path."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"}:
        if not candidate.is_file():
            raise ConfigError(f"monitoring config {candidate} does not exist")
        return candidate
    for suffix in (".yaml", ".yml"):
        path = Path(config_dir) / f"{name_or_path}{suffix}"
        if path.is_file():
            return path
    known = ", ".join(c.name for c in list_configs(config_dir)) or "none"
    raise ConfigError(f"no monitoring config named {str(name_or_path)!r} in {config_dir} "
                      f"(known: {known}); add one with `insarhub monitor add`")


def list_configs(config_dir: str | Path = "deployments/aois") -> list[MonitorConfig]:
    """Every monitoring config in `config_dir`, sorted by name."""
    folder = Path(config_dir)
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
    return sorted((MonitorConfig.from_yaml(p) for p in paths), key=lambda c: c.name)


class MonitorBusyError(InsarHubError):
    """Another monitoring run holds this AOI's lock."""


LOCK_NAME = ".monitor.lock"


@contextmanager
def aoi_lock(workdir: str | Path, owner: str = "") -> Iterator[Path]:
    """Hold `<workdir>/.monitor.lock` (an exclusive `flock`) for the duration, or raise
    `MonitorBusyError` at once naming who holds it. Works across processes and workers
    sharing the folder; the OS drops the lock when a holder dies, even by SIGKILL."""
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise MonitorBusyError(f"AOI folder {folder} is being processed by {holder}; "
                                   "this run stops so that the AOI is never processed twice "
                                   "at once") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "owner": owner,
                                 "since": datetime.now().isoformat(timespec="seconds")}))
        handle.flush()
        yield path
    finally:
        handle.close()  # closing releases the flock


# -- new acquisitions -------------------------------------------------------------------
def processed_dates(pairs: Iterable[tuple[str, str]]) -> set[date]:
    """The acquisition dates covered by interferogram pairs (reference and secondary)."""
    return {acquisition_date(name) for pair in pairs for name in pair}


MIN_TIMESERIES_DATES = 3  # MintPy needs at least 2 interferograms over 3 dates


def enough_dates(pairs: Iterable[tuple[str, str]]) -> bool:
    """True when the pairs span enough dates for an SBAS time series."""
    return len(processed_dates(pairs)) >= MIN_TIMESERIES_DATES


def new_acquisitions(found: Iterable[str], processed: Iterable[date]) -> list[str]:
    """Scenes of `found` acquired after the newest processed date, one per date, in time order.

    With nothing processed yet every scene is new. Same-date scenes (slices of one pass)
    collapse to the first name, as the pair network does.
    """
    last = max(processed, default=None)
    by_date: dict[date, str] = {}
    for name in sorted(found):
        day = acquisition_date(name)
        if (last is None or day > last) and day not in by_date:
            by_date[day] = name
    return [by_date[d] for d in sorted(by_date)]


def timeseries_summary(mintpy_dir: str | Path) -> dict[str, Any]:
    """What a MintPy run made: dates, interferograms, velocity range (mm/yr, 2-98 %)."""
    import h5py

    from insarhub.anomaly.mintpy import timeseries_file  # the detector imports scipy.stats

    folder = Path(mintpy_dir)
    summary: dict[str, Any] = {"mintpy_dir": str(folder)}

    with h5py.File(timeseries_file(folder), "r") as h5:
        summary["dates"] = [d.decode() for d in h5["date"][()]]
    ifgram = folder / "inputs" / "ifgramStack.h5"
    if ifgram.is_file():
        with h5py.File(ifgram, "r") as h5:
            if "date" in h5:
                summary["interferograms"] = int(h5["date"].shape[0])
            if "dropIfgram" in h5:
                summary["interferograms_used"] = int(np.count_nonzero(h5["dropIfgram"][()]))
    velocity_path = folder / "velocity.h5"
    if velocity_path.is_file():
        with h5py.File(velocity_path, "r") as h5:
            velocity = np.asarray(h5["velocity"][()], dtype=float) * 1000.0
        finite = velocity[np.isfinite(velocity) & (velocity != 0)]
        if finite.size:
            low, high = np.percentile(finite, [2, 98])
            summary["velocity_mm_yr"] = [round(float(low), 2), round(float(high), 2)]
    return summary


PRODUCT_FILE = "product.json"


def chosen_product(workdir: str | Path) -> str | None:
    """The product `product: auto` chose for this AOI at its first cycle, if any."""
    try:
        data = json.loads((Path(workdir) / PRODUCT_FILE).read_text())
    except (OSError, ValueError):
        return None
    value = data.get("product") if isinstance(data, dict) else None
    return str(value) if value in ("S1_SLC", "S1_Burst") else None


def record_product(workdir: str | Path, product: str, detail: Mapping[str, Any] | None = None
                   ) -> Path:
    """Keep the choice of `product: auto` (a time series never switches product)."""
    path = Path(workdir) / PRODUCT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"product": product, "chosen_at": datetime.now().isoformat(),
                                **(detail or {})}, indent=1))
    return path


def orbit_stack(stacks: Sequence[Mapping[str, Any]], orbit: int, workdir: str | Path
                ) -> Mapping[str, Any] | None:
    """The stack of relative orbit `orbit` among searched `stacks` (`search_scenes` records):
    the one whose folder already holds this AOI's ledger (a time series never changes stack),
    else the first (the search puts the stack covering most of the AOI first when an AOI of
    more than 15 burst-swaths is split)."""
    mine = [s for s in stacks if str(s["name"]).startswith(f"p{orbit}_")]
    started = [s for s in mine if (Path(workdir) / str(s["name"]) / DB_NAME).is_file()]
    chosen = started or mine
    return chosen[0] if chosen else None
