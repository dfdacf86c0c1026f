"""The option groups of the flows as typed models: the Prefect run form shows their fields,
defaults, allowed values and descriptions, and Python callers may still pass plain dicts
(pydantic turns them into models; unknown names are refused with the allowed ones listed).

- `NetworkOptions`: pair selection (`insarhub.network.select_pairs` / `extend_pairs`), defined
  in `insarhub.network.options` beside the `PairOptions` it is part of,
- `Hyp3Options` / `IsceOptions`: the interferogram processor of the backend,
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

PRESIGN_MAX_S = 7 * 24 * 3600  # S3 SigV4 presigned URLs live at most 7 days

__all__ = ["Hyp3Options", "IsceOptions", "MintPyOptions", "NetworkOptions", "Point",
           "ProcessorOptions", "PublishOptions", "as_model", "point_tuples", "processor_options"]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def as_kwargs(self) -> dict[str, Any]:
        """The fields that are set to something (None means: the library's default)."""
        return self.model_dump(mode="json", exclude_none=True)


class Hyp3Options(_Options):
    """HyP3 job options (INSAR_GAMMA for S1_SLC, INSAR_ISCE_BURST for S1_Burst)."""

    looks: Literal["20x4", "10x2", "5x1"] = Field(
        default="20x4", description="range x azimuth looks: 20x4 is 80 m pixels and 10 credits a "
                            "pair, 10x2 is 40 m and 15 credits; 5x1 for bursts only")
    apply_water_mask: bool = Field(default=True, description="mask water before unwrapping")
    phase_filter_parameter: float | None = Field(
        default=None, ge=0, le=1, description="INSAR_GAMMA only: adaptive phase filter strength "
                                      "(0 = off; empty: 0.5)")
    include_dem: bool | None = Field(
        default=None, description="INSAR_GAMMA only (empty: yes; MintPy needs it)")
    include_look_vectors: bool | None = Field(
        default=None, description="INSAR_GAMMA only (empty: yes; MintPy needs them)")
    include_inc_map: bool | None = Field(default=None, description="INSAR_GAMMA only (empty: yes)")
    include_displacement_maps: bool | None = Field(
        default=None, description="INSAR_GAMMA only (empty: yes)")
    include_wrapped_phase: bool | None = Field(
        default=None, description="INSAR_GAMMA only (empty: no)")
    name_prefix: str | None = Field(
        default=None, description="prefix of the HyP3 job names (empty: insarhub)")
    max_retries: int | None = Field(
        default=None, ge=0, description="resubmissions of a failed pair (empty: 2)")


class IsceOptions(_Options):
    """Local ISCE2 topsStack options (the `ISCE_S1_Config` fields a run form needs)."""

    dem: str | None = Field(
        default=None, description="ISCE2 DEM (demLat_*.dem.wgs84 + .xml); needed to run")
    slc_dir: str | None = Field(
        default=None, description="SLCs already on disk (empty: downloaded into <stack>/slc)")
    swaths: list[Literal[1, 2, 3]] = Field(default=[1, 2, 3],
                                           description="IW sub-swaths to process")
    looks_range: int = Field(default=9, ge=1, description="range looks")
    looks_azimuth: int = Field(default=3, ge=1, description="azimuth looks")
    coregistration: Literal["NESD", "geometry"] = "NESD"
    filter_strength: float = Field(default=0.5, ge=0, le=1, description="Goldstein filter strength")
    unwrap_method: Literal["snaphu", "icu"] = "snaphu"
    polarization: Literal["vv", "vh", "hh", "hv"] = "vv"
    max_workers: int = Field(default=4, ge=1, description="commands run at once")
    dry_run: bool = Field(default=False, description="write the run files but do not run them")


ProcessorOptions = Hyp3Options | IsceOptions


def processor_options(backend: str, value: Any) -> dict[str, Any] | None:
    """The processor options of `backend` as keyword arguments (None: the defaults).

    Accepts a model of either kind or a dict; a model of the other kind is read again as the
    backend's own (a run form may pick the wrong tab), so misplaced names are refused clearly.
    """
    if value is None:
        return None
    model: type[_Options] = IsceOptions if backend == "isce" else Hyp3Options
    if isinstance(value, _Options) and value == type(value)():
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
