"""The fleet file: one YAML entry per AOI, the single source of truth of what is watched.

    budget: {monthly_credits: 8000, follow_hyp3: true}
    schedule: {cron: "0 6 * * *"}
    workdir: insarhub_work/fleet
    defaults: {start: "2020-01-01", new_date_pairs: 3}
    aois:
      - name: cedar-city
        geometry: [-113.05, 37.74, -112.68, 38.0]     # bbox or WKT
        product: auto                                 # auto | multi_burst | gamma | disp
        priority: 5                                   # higher is served first
        orbit: 100                                    # optional: else the orbit with most dates
        alert: {threshold_mm: 10}

A bad entry (geometry, product, duplicate name, ...) is reported by name (`Fleet.problems`)
and left out; the other entries stay usable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from insarhub.errors import ConfigError, InsarHubError
from insarhub.monitoring import NAME_PATTERN, AlertConfig, MonitorConfig, ScheduleConfig

log = logging.getLogger(__name__)

PRODUCTS = {"auto": "auto", "multi_burst": "S1_Burst", "gamma": "S1_SLC", "disp": "S1_DISP"}
DEFAULT_BUDGET = 8000.0


class FleetError(InsarHubError, ValueError):
    """A fleet file or one of its entries is invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BudgetConfig(_Strict):
    """The fleet's monthly HyP3 credit budget, shared by every AOI."""

    monthly_credits: float = Field(default=DEFAULT_BUDGET, ge=0)
    follow_hyp3: bool = True  # never plan past HyP3's remaining credits (check_credits)


class FleetEntry(_Strict):
    """One watched AOI of the fleet."""

    name: str
    geometry: list[float] | str  # [min_lon, min_lat, max_lon, max_lat] or WKT
    product: Literal["auto", "multi_burst", "gamma", "disp"] = "auto"
    priority: int = 0
    orbit: int | None = Field(default=None, ge=1, le=175)
    start: date | None = None
    alert: AlertConfig = Field(default_factory=AlertConfig)
    enabled: bool = True
    description: str = ""
    monitor: dict[str, Any] = Field(default_factory=dict)  # more MonitorConfig fields

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(f"name {value!r} must be lower-case letters, digits, '-' or '_'")
        return value

    @field_validator("geometry")
    @classmethod
    def _geometry(cls, value: list[float] | str) -> list[float] | str:
        check_geometry(value)
        return value


def check_geometry(value: list[float] | str) -> None:
    """A bbox within lon/lat limits with min < max, or a valid WKT polygon of some area."""
    import shapely
    from shapely.geometry import box

    if isinstance(value, list):
        if len(value) != 4:
            raise ValueError(f"geometry bbox {value} must be [min_lon, min_lat, max_lon, max_lat]")
        west, south, east, north = value
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValueError(f"geometry bbox {value}: need -180 <= min_lon < max_lon <= 180 and "
                             "-90 <= min_lat < max_lat <= 90")
        shape = box(west, south, east, north)
    else:
        try:
            shape = shapely.from_wkt(value)
        except Exception as exc:  # shapely raises several types for bad WKT
            raise ValueError(f"geometry {value[:80]!r} is not WKT: {exc}") from None
        if not shape.is_valid:
            raise ValueError(f"geometry {value[:80]!r} is not a valid polygon "
                             f"({shapely.is_valid_reason(shape)})")
        minx, miny, maxx, maxy = shape.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise ValueError(f"geometry {value[:80]!r} lies outside lon/lat limits")
    if shape.area <= 0:
        raise ValueError(f"geometry {value!r} has no area: give a polygon or a bbox")


class FleetFile(_Strict):
    """The fleet file's top level (entries are validated one by one, see `load_fleet`)."""

    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    workdir: Path = Path("insarhub_work/fleet")
    defaults: dict[str, Any] = Field(default_factory=dict)  # MonitorConfig fields for all
    aois: list[Any] = Field(default_factory=list)


@dataclass(frozen=True)
class EntryProblem:
    """Why one entry of the fleet file is left out."""

    index: int
    name: str
    message: str

    def __str__(self) -> str:
        return f"fleet entry #{self.index + 1} ({self.name}): {self.message}"


@dataclass
class Fleet:
    """A loaded fleet file: the top level, the valid entries and the bad ones."""

    path: Path
    top: FleetFile
    entries: list[FleetEntry]
    problems: list[EntryProblem]

    @property
    def workdir(self) -> Path:
        """The fleet's working folder (relative paths are relative to the fleet file)."""
        folder = self.top.workdir
        return folder if folder.is_absolute() else (self.path.parent / folder).resolve()

    def entry(self, name: str) -> FleetEntry:
        for entry in self.entries:
            if entry.name == name:
                return entry
        bad = [p for p in self.problems if p.name == name]
        if bad:
            raise FleetError(str(bad[0]))
        known = ", ".join(e.name for e in self.entries) or "none"
        raise FleetError(f"no AOI named {name!r} in fleet {self.path} (known: {known}); "
                         "add it with `insarhub fleet add`")

    def enabled(self) -> list[FleetEntry]:
        return [e for e in self.entries if e.enabled]

    def monitor_config(self, entry: FleetEntry | str) -> MonitorConfig:
        """The AOI's monitoring config (what one `monitor_aoi` cycle runs)."""
        item = self.entry(entry) if isinstance(entry, str) else entry
        data: dict[str, Any] = {"start": "2020-01-01", "new_date_pairs": 3,
                                "network": {"max_degree": 4},
                                "schedule": {"cron": None, "interval_hours": 24.0,
                                             "active": False},
                                **self.top.defaults, **item.monitor}
        data.update(name=item.name, aoi=item.geometry, product=PRODUCTS[item.product],
                    alert=item.alert.model_dump(), workdir=str(self.workdir / item.name),
                    description=item.description or f"fleet AOI {item.name}")
        if item.start is not None:
            data["start"] = item.start
        orbit = item.orbit or data.pop("orbit", None)
        data["stack"] = data.get("stack") or orbit or 0
        if data["product"] == "auto" and not isinstance(data["stack"], int):
            data["stack"] = orbit or 0
        try:
            return MonitorConfig.from_dict(data, origin=f"fleet entry {item.name}")
        except ConfigError as exc:
            raise FleetError(f"fleet entry {item.name}: {exc}") from exc

    def write_monitor_config(self, entry: FleetEntry | str, orbit: int | None = None) -> Path:
        """`<workdir>/<name>/monitor.yaml`, the config the AOI's runs read."""
        config = self.monitor_config(entry)
        if orbit is not None and config.stack in (0, None):
            config = config.model_copy(update={"stack": orbit})
        path = Path(config.workdir) / "monitor.yaml"
        config.to_yaml(path)
        return path


def load_fleet(path: str | Path) -> Fleet:
    """Read a fleet file; bad entries become `problems` (logged), never a failed load."""
    source = Path(path)
    if not source.is_file():
        raise FleetError(f"fleet file {source} does not exist; create it with "
                         "`insarhub fleet add NAME --geometry ... --fleet {source}`")
    try:
        raw = yaml.safe_load(source.read_text()) or {}
    except yaml.YAMLError as exc:
        raise FleetError(f"fleet file {source} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise FleetError(f"fleet file {source} must be a YAML mapping, got {type(raw).__name__}")
    try:
        top = FleetFile.model_validate(raw)
    except ValidationError as exc:
        raise FleetError(f"fleet file {source}: {_problems(exc)}") from exc
    entries, problems = parse_entries(top.aois)
    for problem in problems:
        log.error("%s: %s (the other AOIs keep running)", source, problem)
    return Fleet(source, top, entries, problems)


def parse_entries(items: list[Any]) -> tuple[list[FleetEntry], list[EntryProblem]]:
    """Valid entries and the problems of the others (duplicates: the later ones)."""
    entries: list[FleetEntry] = []
    problems: list[EntryProblem] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        name = str(item.get("name", f"#{index + 1}")) if isinstance(item, dict) else f"#{index + 1}"
        if not isinstance(item, dict):
            problems.append(EntryProblem(index, name, f"must be a mapping, got {item!r}"))
            continue
        try:
            entry = FleetEntry.model_validate(item)
        except ValidationError as exc:
            problems.append(EntryProblem(index, name, _problems(exc)))
            continue
        if entry.name in first_index:
            problems.append(EntryProblem(index, name, f"duplicate name {name!r} (first used by "
                                                      f"entry #{first_index[name] + 1}); "
                                                      "rename one of them"))
            continue
        first_index[entry.name] = index
        entries.append(entry)
    return entries, problems


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}"
                     f" (got {str(err.get('input'))[:80]!r})" for err in exc.errors())


# -- editing the file (the commands) -------------------------------------------------------
def _raw(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"budget": BudgetConfig().model_dump(), "workdir": "insarhub_work/fleet",
                "aois": []}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise FleetError(f"fleet file {path} must be a YAML mapping")
    data.setdefault("aois", [])
    return data


def add_entry(path: str | Path, entry: dict[str, Any]) -> FleetEntry:
    """Validate `entry` and append it to the fleet file (created if missing)."""
    source = Path(path)
    data = _raw(source)
    try:
        parsed = FleetEntry.model_validate(entry)
    except ValidationError as exc:
        raise FleetError(f"fleet entry {entry.get('name')!r}: {_problems(exc)}") from exc
    names = [a.get("name") for a in data["aois"] if isinstance(a, dict)]
    if parsed.name in names:
        raise FleetError(f"fleet {source} already has an AOI named {parsed.name!r}; "
                         "remove it first or choose another name")
    data["aois"].append(parsed.model_dump(mode="json", exclude_defaults=True) | {
        "name": parsed.name, "geometry": parsed.geometry, "product": parsed.product})
    _write(source, data)
    return parsed


def remove_entry(path: str | Path, name: str) -> None:
    """Drop the AOI called `name` from the fleet file (its working folder is kept)."""
    source = Path(path)
    data = _raw(source)
    kept = [a for a in data["aois"] if not (isinstance(a, dict) and a.get("name") == name)]
    if len(kept) == len(data["aois"]):
        raise FleetError(f"no AOI named {name!r} in fleet {source}")
    data["aois"] = kept
    _write(source, data)


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    tmp.replace(path)
