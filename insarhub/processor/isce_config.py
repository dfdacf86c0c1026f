"""`ISCE_S1_Config`: the options of a local ISCE2 topsStack run, validated, with YAML round-trip.

    cfg = ISCE_S1_Config(workdir="p100_f466", bbox=[37.74, 38.00, -113.05, -112.68],
                         slc_dir="p100_f466/slc", dem="dem/dem.wgs84")
    cfg.to_yaml("isce.yaml"); ISCE_S1_Config.from_yaml("isce.yaml") == cfg

Bad values raise `ConfigError` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.json_schema import JsonDict

from insarhub.errors import ConfigError

# options that change nothing in the outputs: a change of these reuses the run files
RUNTIME_ONLY_FIELDS = frozenset({"workdir", "max_workers", "dry_run"})
_AT_LEAST_1: JsonDict = {"minimum": 1}  # shown in run forms; the validators below give the message


class IsceOptions(BaseModel):
    """The topsStack options a run form shows (the Prefect flows' `processor` for
    backend="isce"); `ISCE_S1_Config` is these plus the paths and choices of one run."""

    model_config = ConfigDict(extra="forbid")

    dem: Path | None = Field(
        default=None, description="ISCE2 DEM (demLat_*.dem.wgs84 + .xml); needed to run")
    slc_dir: Path | None = Field(
        default=None, description="SLCs already on disk (empty: downloaded into <stack>/slc)")
    swaths: list[int] = Field(default=[1, 2, 3], description="IW sub-swaths to process",
                              json_schema_extra={"items": {"enum": [1, 2, 3], "type": "integer"}})
    looks_range: int = Field(default=9, description="range looks", json_schema_extra=_AT_LEAST_1)
    looks_azimuth: int = Field(default=3, description="azimuth looks",
                               json_schema_extra=_AT_LEAST_1)
    coregistration: Literal["NESD", "geometry"] = Field(
        default="NESD", description="NESD (network enhanced spectral diversity) or geometry")
    filter_strength: float = Field(default=0.5, description="Goldstein filter strength",
                                   json_schema_extra={"minimum": 0, "maximum": 1})
    unwrap_method: Literal["snaphu", "icu"] = Field(default="snaphu",
                                                    description="phase unwrapper")
    polarization: Literal["vv", "vh", "hh", "hv"] = Field(default="vv",
                                                           description="polarisation")
    max_workers: int = Field(default=4, description="commands run at once",
                             json_schema_extra=_AT_LEAST_1)
    dry_run: bool = Field(default=False, description="write the run files but do not run them")

    def as_kwargs(self) -> dict[str, Any]:
        """The fields that are set to something (None means: the library's default)."""
        return self.model_dump(mode="json", exclude_none=True)

    # ---- field rules -------------------------------------------------------------------------

    @field_validator("swaths")
    @classmethod
    def _check_swaths(cls, value: list[int]) -> list[int]:
        if not value or any(s not in (1, 2, 3) for s in value):
            raise ValueError("choose one or more IW swaths among 1, 2, 3")
        return sorted(set(value))

    @field_validator("looks_range", "looks_azimuth", "max_workers")
    @classmethod
    def _check_positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be a whole number >= 1")
        return value

    @field_validator("filter_strength")
    @classmethod
    def _check_filter(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError("Goldstein filter strength must be between 0 and 1")
        return value

    @field_validator("coregistration", mode="before")
    @classmethod
    def _coregistration_case(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower() in ("nesd", "geometry"):
            return "NESD" if value.lower() == "nesd" else "geometry"
        return value

    @field_validator("polarization", "unwrap_method", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class ISCE_S1_Config(IsceOptions):  # noqa: N801 - the seed's public name
    """Options of `Processor.create('ISCE_S1', pairs=..., config=ISCE_S1_Config(...))`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    workdir: Path
    slc_dir: Path
    bbox: list[float] | None = None  # [S, N, W, E] degrees; None: the stack's common overlap
    orbit_dir: Path | None = None  # default <workdir>/orbits
    aux_dir: Path | None = None  # default <workdir>/aux (S1 AUX_CAL files; may stay empty)
    reference_date: str | None = None  # YYYYMMDD stack reference; default: the first date
    extra_args: list[str] = []  # passed to stackSentinel.py as they are, e.g. ["--num_proc4topo", "4"]

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, type(self).__name__)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, type(self).__name__)) from None

    # ---- field rules -------------------------------------------------------------------------

    @field_validator("bbox")
    @classmethod
    def _check_bbox(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        if len(value) != 4:
            raise ValueError(f"give 4 numbers [S, N, W, E] in degrees, not {len(value)}")
        south, north, west, east = value
        if not (-90 <= south < north <= 90):
            raise ValueError(f"need -90 <= S < N <= 90 (got S={south}, N={north}); "
                             "the order is [S, N, W, E]")
        if not (-180 <= west < east <= 180):
            raise ValueError(f"need -180 <= W < E <= 180 (got W={west}, E={east}); "
                             "the order is [S, N, W, E]")
        return [float(v) for v in value]

    @field_validator("reference_date")
    @classmethod
    def _check_date(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{8}", value):
            raise ValueError("give the date as YYYYMMDD, e.g. '20200102'")
        return value

    # ---- derived paths -----------------------------------------------------------------------

    @property
    def isce_dir(self) -> Path:
        """The topsStack working directory (stackSentinel.py -w)."""
        return Path(self.workdir).expanduser().absolute() / "isce"

    @property
    def orbit_path(self) -> Path:
        return Path(self.orbit_dir or Path(self.workdir) / "orbits").expanduser().absolute()

    @property
    def aux_path(self) -> Path:
        return Path(self.aux_dir or Path(self.workdir) / "aux").expanduser().absolute()

    def processing_hash(self, pairs: list[tuple[str, str]]) -> str:
        """Fingerprint of everything that shapes the outputs: options and pairs."""
        options = self.model_dump(mode="json", exclude=set(RUNTIME_ONLY_FIELDS))
        for key in ("slc_dir", "orbit_dir", "aux_dir", "dem"):
            if options.get(key) is not None:
                options[key] = str(Path(options[key]).expanduser().absolute())
        blob = json.dumps({"options": options, "pairs": sorted(map(list, pairs))}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    # ---- YAML --------------------------------------------------------------------------------

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The config as YAML text; also written to `path` when given."""
        data = self.model_dump(mode="json")
        text = yaml.safe_dump({k: data[k] for k in config_fields()}, sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_yaml(cls, source: str | Path) -> ISCE_S1_Config:
        """Read a config from a YAML file path (or YAML text holding a mapping)."""
        text = _read_text(source)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"ISCE config {source}: not valid YAML ({exc})") from None
        if isinstance(data, dict) and "config" in data and isinstance(data["config"], dict):
            data = data["config"]  # a saved job file: {config: ..., pairs: ...}
        if not isinstance(data, dict):
            raise ConfigError(f"ISCE config {source}: expected a mapping of options, "
                              f"got {type(data).__name__}")
        return cls(**data)


def _read_text(source: str | Path) -> str:
    path = Path(source)
    if isinstance(source, Path) or "\n" not in str(source):
        if not path.is_file():
            raise ConfigError(f"ISCE config file {str(source)!r} does not exist")
        return path.read_text()
    return str(source)


def config_fields() -> list[str]:
    """The fields of `ISCE_S1_Config`, the paths of the run first (as the seed passes them)."""
    first = ["workdir", "slc_dir", "bbox", "orbit_dir", "aux_dir", "dem"]
    return first + [name for name in ISCE_S1_Config.model_fields if name not in first]


def describe_validation_error(exc: ValidationError, model: str) -> str:
    """One readable line per problem: field, value given, what is allowed."""
    order = config_fields()
    allowed = ", ".join(order)
    lines = []
    errors = sorted(exc.errors(), key=lambda e: order.index(str(e["loc"][0]))
                    if e["loc"] and str(e["loc"][0]) in order else len(order))
    for err in errors:
        field = ".".join(str(p) for p in err["loc"]) or "(config)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            lines.append(f"{field}: unknown option; allowed options: {allowed}")
        elif err["type"] == "missing":
            lines.append(f"{field}: required")
        else:
            lines.append(f"{field}={err.get('input')!r}: {msg}")
    return f"invalid {model}: " + "; ".join(lines)
