"""The option groups of the flows as typed models: the Prefect run form shows their fields,
defaults, allowed values and descriptions, and Python callers may still pass plain dicts
(pydantic turns them into models; unknown names are refused with the allowed ones listed).

- `NetworkOptions`: pair selection (`insarhub.network.select_pairs` / `extend_pairs`), defined
  in `insarhub.network.options` beside the `PairOptions` it is part of,
- `Hyp3Options` / `IsceOptions`: the interferogram processor of the backend, built from
  (or the base of) the processor's own `GammaOptions`, `BurstOptions`, `ISCE_S1_Config`,
- `MintPyOptions`: smallbaselineApp template keys,
- `Point`: a (lat, lon) place for the time-series CSV and plot,
- `PublishOptions`: an S3 bucket to publish products to, with presigned links.

Each model turns itself back into what the library takes (`as_kwargs()`, `template()` ...),
so the domain code keeps its plain signatures.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from insarhub.errors import ConfigError, config_error
from insarhub.network.options import NetworkOptions
from insarhub.processor.hyp3_jobs import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_PREFIX,
    GammaOptions,
    Looks,
    option_fields,
)
from insarhub.processor.isce_config import IsceOptions

PRESIGN_MAX_S = 7 * 24 * 3600  # S3 SigV4 presigned URLs live at most 7 days

__all__ = ["Hyp3Options", "IsceOptions", "MintPyOptions", "NetworkOptions", "Point",
           "ProcessorOptions", "PublishOptions", "as_model", "point_tuples", "processor_options"]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def as_kwargs(self) -> dict[str, Any]:
        """The fields that are set to something (None means: the library's default)."""
        return self.model_dump(mode="json", exclude_none=True)


_GAMMA = option_fields(GammaOptions)


def _job_field(name: str) -> Any:
    """A field of both job types, with the default and description of `GammaOptions`."""
    return Field(default=_GAMMA[name].default, description=_GAMMA[name].description)


def _gamma_only(name: str, **rules: Any) -> Any:
    """An INSAR_GAMMA-only field: empty means the `GammaOptions` default."""
    default = _GAMMA[name].default
    shown = {True: "yes", False: "no"}.get(default, default)
    return Field(default=None, description=f"INSAR_GAMMA only: {_GAMMA[name].description} "
                                           f"(empty: {shown})", **rules)


class Hyp3Options(_Options):
    """HyP3 job options (INSAR_GAMMA for S1_SLC, INSAR_ISCE_BURST for S1_Burst): the fields
    and defaults of `GammaOptions` / `BurstOptions`, plus the processor's own."""

    looks: Looks = _job_field("looks")
    apply_water_mask: bool = _job_field("apply_water_mask")
    phase_filter_parameter: float | None = _gamma_only("phase_filter_parameter", ge=0, le=1)
    include_dem: bool | None = _gamma_only("include_dem")
    include_look_vectors: bool | None = _gamma_only("include_look_vectors")
    include_inc_map: bool | None = _gamma_only("include_inc_map")
    include_displacement_maps: bool | None = _gamma_only("include_displacement_maps")
    include_wrapped_phase: bool | None = _gamma_only("include_wrapped_phase")
    name_prefix: str | None = Field(
        default=None, description=f"prefix of the HyP3 job names (empty: {DEFAULT_PREFIX})")
    max_retries: int | None = Field(
        default=None, ge=0,
        description=f"resubmissions of a failed pair (empty: {DEFAULT_MAX_RETRIES})")


ProcessorOptions = Hyp3Options | IsceOptions


def processor_options(backend: str, value: Any) -> dict[str, Any] | None:
    """The processor options of `backend` as keyword arguments (None: the defaults).

    Accepts a model of either kind or a dict; a model of the other kind is read again as the
    backend's own (a run form may pick the wrong tab), so misplaced names are refused clearly.
    """
    if value is None:
        return None
    model: type[Hyp3Options] | type[IsceOptions] = (
        IsceOptions if backend == "isce" else Hyp3Options)
    if isinstance(value, Hyp3Options | IsceOptions) and value == type(value)():
        return None  # the defaults as a run form sends them: nothing chosen (a workdir's
        # saved options stay; the other backend's defaults do not get in the way)
    if isinstance(value, model):
        return value.as_kwargs()
    data = value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value
    from pydantic import ValidationError

    try:
        return model.model_validate(dict(data or {})).as_kwargs()
    except (ValidationError, TypeError, ValueError) as exc:
        raise ConfigError(f"processor options {data!r} do not fit backend={backend!r}: {exc}"
                          ) from None


MINTPY_KEYS = {"min_coherence": "mintpy.network.minCoherence",
               "coherence_based": "mintpy.network.coherenceBased",
               "deramp": "mintpy.deramp", "topographic_residual": "mintpy.topographicResidual"}


class MintPyOptions(_Options):
    """MintPy smallbaselineApp options: the common ones by name, any other template key in
    `template` (e.g. {"mintpy.network.startDate": "20200101"})."""

    min_coherence: float | None = Field(
        default=None, ge=0, le=1, description="mintpy.network.minCoherence: drop interferograms "
                                      "below it (with coherence_based; empty: 0.7)")
    coherence_based: bool | None = Field(
        default=None, description="mintpy.network.coherenceBased (empty: no)")
    deramp: Literal["no", "linear", "quadratic"] | None = Field(
        default=None, description="mintpy.deramp: remove a ramp per date (empty: no)")
    topographic_residual: bool | None = Field(
        default=None, description="mintpy.topographicResidual: correct DEM error (empty: yes)")
    template: dict[str, str | float | bool] = Field(
        default_factory=dict, description="any other mintpy.* key of smallbaselineApp.cfg")

    @model_validator(mode="before")
    @classmethod
    def _template_keys(cls, data: Any) -> Any:
        """Plain `{"mintpy.x": value}` dicts (the seed's form) go into `template`."""
        if isinstance(data, dict) and any(str(k).startswith("mintpy.") for k in data):
            data = dict(data)
            template = dict(data.pop("template", None) or {})
            for key in [k for k in data if str(k).startswith("mintpy.")]:
                template[key] = data.pop(key)
            data["template"] = template
        return data

    def as_template(self) -> dict[str, Any]:
        """MintPy template keys and values (what `Analyzer(mintpy_options=...)` takes)."""
        named = self.model_dump(exclude={"template"})
        out = {MINTPY_KEYS[name]: value for name, value in named.items() if value is not None}
        return {**out, **self.template}


class Point(_Options):
    """A place for the displacement time series (CSV + plot)."""

    lat: float = Field(ge=-90, le=90, description="latitude (degrees)")
    lon: float = Field(ge=-180, le=180, description="longitude (degrees)")

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            if len(data) != 2:
                raise ValueError(f"a point is (lat, lon), got {data!r}")
            return {"lat": data[0], "lon": data[1]}
        return data

    def as_tuple(self) -> tuple[float, float]:
        return (self.lat, self.lon)


def point_tuples(points: Any) -> list[tuple[float, float]] | None:
    """(lat, lon) tuples from Points, pairs or dicts (None for none)."""
    if not points:
        return None
    return [(p if isinstance(p, Point) else Point.model_validate(p)).as_tuple() for p in points]


class PublishOptions(_Options):
    """Publish the products to S3 (or an S3-compatible store); the artifacts then link
    presigned URLs that open in a browser without credentials."""

    bucket: str = Field(description="bucket name (it must exist)")
    prefix: str = Field(default="", description="key prefix inside the bucket")
    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, ...); empty: AWS")
    presign_expiry_s: int = Field(default=PRESIGN_MAX_S, ge=60, le=PRESIGN_MAX_S,
                                  description="how long the links in the artifacts work "
                                              "(seconds, at most 7 days)")


def as_model(model: type[BaseModel], value: Any) -> Any:
    """`value` as `model` (None stays None); a clear ConfigError for bad input."""
    if value is None or isinstance(value, model):
        return value
    from pydantic import ValidationError

    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise config_error(model.__name__, exc) from None
