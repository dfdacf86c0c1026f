"""Pure job preparation for HyP3: options, payloads, deterministic names and costs.

Nothing here talks to HyP3. `prepare_insar_gamma_job`, `prepare_insar_isce_burst_job` and
`prepare_insar_isce_multi_burst_job` build the same dictionaries as hyp3_sdk's
`HyP3.prepare_insar_job`, `prepare_insar_isce_burst_job` and
`prepare_insar_isce_multi_burst_job` (checked against ASF's job specs), and `job_name` gives
each pair a unique name, stable across runs, by which a job that reached HyP3 but not the
ledger is found again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Literal

from pydantic import ConfigDict, Field, StrictBool, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic.fields import FieldInfo

from insarhub.errors import ConfigError, config_error
from insarhub.granules import acquisition_day
from insarhub.search.multiburst import MAX_BURST_SWATHS, join_names, split_name

INSAR_GAMMA = "INSAR_GAMMA"
INSAR_ISCE_BURST = "INSAR_ISCE_BURST"
INSAR_ISCE_MULTI_BURST = "INSAR_ISCE_MULTI_BURST"

MAX_NAME_LENGTH = 100  # HyP3 openapi: name maxLength
MAX_PREFIX_LENGTH = 40
MAX_JOBS_PER_REQUEST = 200  # HyP3 openapi: list_of_new_jobs maxItems
DEFAULT_PREFIX = "ifg"  # job names: <prefix>_<refdate>_<secdate>_<hash>
DEFAULT_MAX_RETRIES = 2  # resubmissions of a failed pair

GRANULE_PATTERNS = {
    INSAR_GAMMA: re.compile(r"^S1[ABCD]_IW_SLC__1S[SD][VH]_\S{50}$"),  # 67 characters
    INSAR_ISCE_BURST: re.compile(r"^S1_\d{6}_IW\S*-BURST$"),  # 43 characters
}
MULTI_BURST_PATTERN = re.compile(r"^S1_(\d{6})_IW(\d)_(\d{8}T\d{6})_([VH]{2})_[\dA-F]{4}-BURST$")
GRANULE_LENGTHS = {INSAR_GAMMA: 67, INSAR_ISCE_BURST: 43}
GRANULE_HINT = {
    INSAR_GAMMA: "an IW SLC name like S1A_IW_SLC__1SDV_20200102T133501_20200102T133528_"
                 "030626_038260_1C8A",
    INSAR_ISCE_BURST: "a burst name like S1_136231_IW2_20200604T022312_VV_7C85-BURST",
    INSAR_ISCE_MULTI_BURST: "1 to 15 burst names of one date like S1_136231_IW2_20200604T022312"
                            "_VV_7C85-BURST (a list, or joined by '+')",
}
PROCESSOR_FOR = {INSAR_GAMMA: "Hyp3_S1", INSAR_ISCE_BURST: "Hyp3_Burst",
                 INSAR_ISCE_MULTI_BURST: "Hyp3_Burst"}
PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LOOKS = {INSAR_GAMMA: ("20x4", "10x2"), INSAR_ISCE_BURST: ("20x4", "10x2", "5x1"),
         INSAR_ISCE_MULTI_BURST: ("20x4", "10x2", "5x1")}


Looks = Literal["20x4", "10x2", "5x1"]
_LOOKS_HELP = ("range x azimuth looks: 20x4 is 80 m pixels and 10 credits a pair, 10x2 is 40 m "
               "and 15 credits; 5x1 for bursts only")
_OPTIONS = ConfigDict(extra="forbid")


def _looks() -> Any:
    return Field(default="20x4", description=_LOOKS_HELP)


def _water_mask() -> Any:
    return Field(default=True, description="mask water before unwrapping")


@pydantic_dataclass(frozen=True, config=_OPTIONS)
class GammaOptions:
    """INSAR_GAMMA job parameters (defaults: what MintPy needs, as in the seed).

    The one definition of these fields and defaults: `insarhub.options.Hyp3Options` (the run
    form) is built from it. The field order is the job parameters' order.
    """

    looks: Looks = _looks()
    include_dem: StrictBool = Field(default=True, description="the DEM (MintPy needs it)")
    include_look_vectors: StrictBool = Field(
        default=True, description="the look vectors (MintPy needs them)")
    include_inc_map: StrictBool = Field(default=True, description="the incidence angle maps")
    apply_water_mask: StrictBool = _water_mask()
    phase_filter_parameter: int | float = Field(
        default=0.5, description="adaptive phase filter strength, 0 to 1 (0 = off)")
    include_displacement_maps: StrictBool = Field(
        default=True, description="the LOS and vertical displacement maps")
    include_wrapped_phase: StrictBool = Field(default=False, description="the wrapped phase")


@pydantic_dataclass(frozen=True, config=_OPTIONS)
class BurstOptions:
    """INSAR_ISCE_BURST and INSAR_ISCE_MULTI_BURST job parameters."""

    looks: Looks = _looks()
    apply_water_mask: StrictBool = _water_mask()


JobOptions = GammaOptions | BurstOptions


def option_fields(cls: type[GammaOptions] | type[BurstOptions]) -> dict[str, FieldInfo]:
    """The fields (name, default, description) of a job options class."""
    return dict(cls.__pydantic_fields__)  # type: ignore[union-attr]


def make_options(job_type: str, values: Mapping[str, Any]) -> JobOptions:
    """Validated options for `job_type`; unknown names and bad values raise ConfigError."""
    cls: type[GammaOptions] | type[BurstOptions] = (
        GammaOptions if job_type == INSAR_GAMMA else BurstOptions)
    allowed = set(option_fields(cls))
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(f"option {unknown[0]!r} is not a {job_type} option; "
                          f"allowed: {', '.join(sorted(allowed))}")
    looks = values.get("looks", option_fields(cls)["looks"].default)
    if looks not in LOOKS[job_type]:
        raise ConfigError(f"looks={looks!r} is not allowed for {job_type}; "
                          f"choose one of {', '.join(LOOKS[job_type])}")
    for key, value in values.items():
        if key.startswith(("include_", "apply_")) and not isinstance(value, bool):
            raise ConfigError(f"{key}={value!r} must be True or False")
    if "phase_filter_parameter" in values:
        value = values["phase_filter_parameter"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ConfigError(f"phase_filter_parameter={value!r} must be a number from 0 to 1 "
                              "(0 turns the adaptive filter off)")
    try:
        return cls(**values)
    except ValidationError as exc:
        raise config_error(f"{job_type} options", exc) from None


def check_granule(job_type: str, name: Any, field: str = "pairs") -> str:
    """`name` if it is a granule `job_type` can process, else ConfigError saying what fits.

    INSAR_ISCE_MULTI_BURST takes one date's bursts: a list of burst names or their '+'-joined
    node name; the joined name (swath, then burst order) is returned.
    """
    if job_type == INSAR_ISCE_MULTI_BURST:
        return check_burst_set(name, field)
    if isinstance(name, str) and len(name) == GRANULE_LENGTHS[job_type] \
            and GRANULE_PATTERNS[job_type].match(name):
        return name
    advice = ""
    for other, pattern in GRANULE_PATTERNS.items():
        if other != job_type and isinstance(name, str) and pattern.match(name):
            advice = f"; it is a {other} granule: use Processor.create('{PROCESSOR_FOR[other]}')"
    raise ConfigError(f"{field}: {name!r} is not a granule {job_type} can process; "
                      f"expected {GRANULE_HINT[job_type]}{advice}")


def check_burst_set(value: Any, field: str = "pairs") -> str:
    """One date's burst set (list or '+'-joined) checked as HyP3's multi-burst validators do:
    1-15 burst names, unique burst IDs, one polarisation (VV or HH), one pass (2 minutes)."""
    names = split_name(value) if isinstance(value, str) else value
    if isinstance(names, str | bytes) or not isinstance(names, list | tuple) or not names:
        raise ConfigError(f"{field}: {value!r:.120} is not a burst set; expected "
                          f"{GRANULE_HINT[INSAR_ISCE_MULTI_BURST]}")
    bad = [n for n in names if not isinstance(n, str) or not MULTI_BURST_PATTERN.match(n)]
    if bad:
        raise ConfigError(f"{field}: {bad[0]!r:.80} is not a burst granule name; expected "
                          f"{GRANULE_HINT[INSAR_ISCE_MULTI_BURST]}")
    if len(names) > MAX_BURST_SWATHS:
        raise ConfigError(f"{field}: {len(names)} bursts; a multi-burst job takes at most "
                          f"{MAX_BURST_SWATHS}: split the AOI's bursts (the S1_Burst search does)")
    parts = [MULTI_BURST_PATTERN.match(n).groups() for n in names]  # type: ignore[union-attr]
    ids = [(p[0], p[1]) for p in parts]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{field}: the same burst ID appears twice in {value!r:.120}")
    if len({p[3] for p in parts}) > 1 or parts[0][3] not in ("VV", "HH"):
        raise ConfigError(f"{field}: bursts must share one polarisation, VV or HH; got "
                          f"{sorted({p[3] for p in parts})}")
    days = {acquisition_day(n) for n in names}
    if len(days) > 1:
        raise ConfigError(f"{field}: bursts of one side must come from one pass (one date); got "
                          f"{sorted(days)}")
    return join_names(names)


def check_multi_burst_pair(reference: str, secondary: str, field: str = "pairs") -> None:
    """Both sides hold the same burst IDs, the reference is older (HyP3's validators)."""
    def ids(name: str) -> list[tuple[str, str]]:
        found = [MULTI_BURST_PATTERN.match(n) for n in split_name(name)]
        return sorted((m.group(1), m.group(2)) for m in found if m)

    if ids(reference) != ids(secondary):
        raise ConfigError(f"{field}: reference and secondary must hold the same bursts; got "
                          f"{len(split_name(reference))} and {len(split_name(secondary))} with "
                          "different burst IDs (a date missing a burst cannot be paired)")
    if acquisition_date(reference) >= acquisition_date(secondary):
        raise ConfigError(f"{field}: the reference ({acquisition_date(reference)}) must be older "
                          f"than the secondary ({acquisition_date(secondary)})")


def check_prefix(prefix: Any) -> str:
    if not isinstance(prefix, str) or not prefix or len(prefix) > MAX_PREFIX_LENGTH \
            or not PREFIX_PATTERN.match(prefix):
        raise ConfigError(f"name_prefix={prefix!r} must be 1 to {MAX_PREFIX_LENGTH} letters, "
                          "digits, '.', '_' or '-', starting with a letter or digit")
    return prefix


def prepare_insar_gamma_job(reference: str, secondary: str, options: GammaOptions,
                            name: str | None = None) -> dict[str, Any]:
    """An INSAR_GAMMA job dict, as hyp3_sdk's `prepare_insar_job` makes it."""
    params: dict[str, Any] = {"granules": [reference, secondary], **asdict(options),
                              "include_los_displacement": False}
    job: dict[str, Any] = {"job_parameters": params, "job_type": INSAR_GAMMA}
    if name is not None:
        job["name"] = name
    return job


def prepare_insar_isce_burst_job(reference: str, secondary: str, options: BurstOptions,
                                 name: str | None = None) -> dict[str, Any]:
    """An INSAR_ISCE_BURST job dict, as hyp3_sdk's `prepare_insar_isce_burst_job` makes it."""
    params: dict[str, Any] = {"granules": [reference, secondary], **asdict(options)}
    job: dict[str, Any] = {"job_parameters": params, "job_type": INSAR_ISCE_BURST}
    if name is not None:
        job["name"] = name
    return job


def prepare_insar_isce_multi_burst_job(reference: list[str], secondary: list[str],
                                       options: BurstOptions, name: str | None = None
                                       ) -> dict[str, Any]:
    """An INSAR_ISCE_MULTI_BURST job dict, as hyp3_sdk's
    `prepare_insar_isce_multi_burst_job` makes it."""
    params: dict[str, Any] = {"reference": list(reference), "secondary": list(secondary),
                              "apply_water_mask": options.apply_water_mask,
                              "looks": options.looks}
    job: dict[str, Any] = {"job_parameters": params, "job_type": INSAR_ISCE_MULTI_BURST}
    if name is not None:
        job["name"] = name
    return job


def prepare_job(job_type: str, reference: str, secondary: str, options: JobOptions,
                name: str | None = None) -> dict[str, Any]:
    """The job dict of one pair (multi-burst: '+'-joined burst sets on each side)."""
    if job_type == INSAR_GAMMA:
        assert isinstance(options, GammaOptions)
        return prepare_insar_gamma_job(reference, secondary, options, name)
    assert isinstance(options, BurstOptions)
    if job_type == INSAR_ISCE_MULTI_BURST:
        return prepare_insar_isce_multi_burst_job(split_name(reference), split_name(secondary),
                                                  options, name)
    return prepare_insar_isce_burst_job(reference, secondary, options, name)


def job_granules(request: Mapping[str, Any]) -> tuple[str, str]:
    """(reference, secondary) as the ledger keys a job: granule names, or '+'-joined burst
    sets for a multi-burst job."""
    params = request["job_parameters"]
    if "granules" in params:
        reference, secondary = params["granules"]
        return str(reference), str(secondary)
    return join_names(params["reference"]), join_names(params["secondary"])


acquisition_date = acquisition_day  # YYYYMMDD of a granule's start, or 'x' (the older name)


def job_name(prefix: str, request: Mapping[str, Any]) -> str:
    """`<prefix>_<refdate>_<secdate>_<hash>`: unique per pair and parameters, stable.

    The hash covers the job type, both granules and every parameter, so the same pair asked
    with other options is another job; a resubmission adds `_r<n>` (see ledger.attempt_name).
    """
    params = request["job_parameters"]
    reference, secondary = job_granules(request)
    digest = hashlib.sha256(json.dumps({"job_type": request["job_type"], **params},
                                       sort_keys=True).encode()).hexdigest()[:10]
    name = f"{prefix}_{acquisition_date(reference)}_{acquisition_date(secondary)}_{digest}"
    if len(name) + 4 > MAX_NAME_LENGTH:  # room for "_r99"
        raise ConfigError(f"job name {name!r} is longer than HyP3 allows; shorten name_prefix")
    return name
