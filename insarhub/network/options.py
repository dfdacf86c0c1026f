"""The options of pair selection, defined once.

- `NetworkOptions`: the fields a run form shows (the Prefect flows, `insarhub.options`);
- `PairOptions`: those plus the fine-tuning ones, what `select_pairs(**options)` and
  `extend_pairs` take (unknown names are refused with the allowed ones listed).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from insarhub.errors import ConfigError, config_error

# Safe defaults shared by the library, the CLI, the flows, prefect.yaml and the UI forms:
# a degree cap keeps a 30-date stack near 2.5 pairs (25 INSAR_GAMMA credits) per date, and
# each new date of a monitoring cycle joins its 3 nearest predecessors (as LiCSAR does).
DEFAULT_MAX_DEGREE = 5
DEFAULT_NEW_DATE_NEIGHBOURS = 3


class NetworkOptions(BaseModel):
    """How interferogram pairs are chosen: a connected small-baseline network per stack."""

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["sbas", "sequential"] = Field(
        default="sbas", description="sbas: pairs near the target time spans within the baselines; "
                            "sequential: each date with its next ones")
    max_degree: int = Field(default=DEFAULT_MAX_DEGREE, ge=1,
                            description="at most this many pairs per date (the credit cap)")
    min_degree: int = Field(
        default=3, ge=0, description="at least this many pairs per date where the baselines allow")
    dt_max: float = Field(default=120, gt=0, description="longest time span of a pair (days)")
    pb_max: float = Field(default=150.0, gt=0,
                          description="largest perpendicular baseline of a pair (m)")
    dt_targets: tuple[Annotated[int, Field(gt=0)], ...] = Field(
        default=(6, 12, 24, 36, 48, 72, 96), min_length=1,
        description="time spans (days) the network aims for, shortest first")
    n_nearest: int = Field(default=DEFAULT_NEW_DATE_NEIGHBOURS, ge=1,
                           description="monitoring: pairs from each new date to its nearest "
                                       "predecessors")
    yearly: bool = Field(
        default=False, description="add one-year pairs across long gaps (snow, no data)")
    force_connect: bool = Field(
        default=True, description="add bridge pairs until the network is in one piece")

    @field_validator("dt_targets", mode="before")
    @classmethod
    def _one_target(cls, value: Any) -> Any:
        return (value,) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _degrees(self) -> NetworkOptions:
        if self.min_degree > self.max_degree:
            raise ValueError(f"min_degree={self.min_degree} is above max_degree="
                             f"{self.max_degree}; min_degree must be <= max_degree")
        return self

    def as_kwargs(self) -> dict[str, Any]:
        """The fields that are set to something (None means: the library's default)."""
        return self.model_dump(mode="json", exclude_none=True)


class PairOptions(NetworkOptions):
    """Every option of pair selection (the seed's names and defaults where the seed had them)."""

    model_config = ConfigDict(frozen=True)

    dt_tol: int = Field(default=3, ge=0, description="days a pair may miss its target span by")
    yearly_tol: int = Field(default=30, ge=0, description="days a yearly pair may miss a year by")
    gap_days: int = Field(default=60, ge=0,
                          description="a gap this long (days) gets yearly pairs across it")
    bridge_pb_max: float = Field(default=400.0, gt=0,
                                 description="largest perpendicular baseline of a bridge (m)")
    bridge_dt_max: float | None = Field(
        default=None, gt=0, description="longest time span of a bridge (days; empty: any)")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:  # the library's callers get a ConfigError
            raise config_error(type(self).__name__, exc) from None

    @classmethod
    def from_kwargs(cls, **options: Any) -> PairOptions:
        """The options from keyword arguments; a ConfigError names what is wrong."""
        unknown = sorted(set(options) - set(cls.model_fields))
        if unknown:
            raise ConfigError(f"unknown pair option(s) {', '.join(unknown)}; allowed: "
                              f"{', '.join(sorted(cls.model_fields))}, add_pairs, remove_pairs")
        return cls(**options)

    def cost(self, dt: np.ndarray, bp: np.ndarray) -> np.ndarray:
        return np.asarray(dt / self.dt_max + np.abs(bp) / self.pb_max)

    def within_thresholds(self, dt: np.ndarray, bp: np.ndarray) -> np.ndarray:
        return np.asarray((dt <= self.dt_max) & (np.abs(bp) <= self.pb_max))
