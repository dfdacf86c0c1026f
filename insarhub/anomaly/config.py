"""`AlertConfig`: when a monitoring cycle reports a deformation anomaly."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

log = logging.getLogger(__name__)

# Gaussian widths of the sought bowls: a sqrt(2) ladder, so that a bowl of any width between
# them meets a template within 2^(1/4) of its own. In an atmosphere's k^(-8/3) spectrum that
# keeps at least 96.6 % of the whitened matched filter's signal-to-noise (a ladder of 2 keeps
# 87 %), for the price of more maps in the family-wise threshold.
DEFAULT_SCALES_M = (250.0, 354.0, 500.0, 707.0, 1000.0)


class WatchSite(BaseModel):
    """A place the user watches (a slope, a dam, a mine): events there are sought at a far
    lower threshold than anywhere in the AOI, since the search area is small."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(default=1000.0, ge=100.0, le=20_000.0)


class AlertConfig(BaseModel):
    """Alert on a local region whose newest displacement leaves its own trend by more than its
    own noise (at the `false_alarm_rate` per cycle over the whole AOI) and by `threshold_mm`."""

    model_config = ConfigDict(extra="forbid")

    threshold_mm: float = Field(default=10.0, ge=0)  # least |magnitude| of a reported region
    false_alarm_rate: float = Field(default=0.02, gt=0, lt=0.5)  # per cycle, event-free AOI
    scales_m: list[float] = Field(default_factory=lambda: list(DEFAULT_SCALES_M),
                                  min_length=1)  # Gaussian widths of the sought bowls
    min_coherence: float = Field(default=0.7, ge=0, le=1)  # temporal coherence of reliable pixels
    min_dates: int = Field(default=8, ge=5)  # dates before the newest two that fit the trend
    check_unwrapping: bool = True  # closure of the newest dates' pairs (inputs/ifgramStack.h5)
    # watched sites: half the false-alarm rate is spent on them, so smaller events are found
    # there (the other half on the whole AOI; the rate per cycle stays `false_alarm_rate`)
    watch: list[WatchSite] = Field(default_factory=list)

    @field_validator("watch")
    @classmethod
    def _distinct_sites(cls, value: list[WatchSite]) -> list[WatchSite]:
        names = [site.name for site in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"watched site name(s) {', '.join(repeated)} appear twice: "
                             "give each site its own name")
        return value

    @model_validator(mode="before")
    @classmethod
    def _drop_percentile(cls, data: Any) -> Any:
        """Configs written before regions were detected carry `percentile`: it is ignored."""
        if isinstance(data, dict) and "percentile" in data:
            data = {k: v for k, v in data.items() if k != "percentile"}
            log.info("alert.percentile is no longer used (anomalies are detected as regions)")
        return data
