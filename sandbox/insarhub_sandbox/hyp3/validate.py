"""Validation of `POST /jobs` as the real HyP3 API does it, from ASF's own job specs.

Two passes, in the real API's order:

1. schema: the request body and each job against the OpenAPI document
   (`tests/fixtures/hyp3/openapi-spec.yml.j2`: `post_jobs_body`, `list_of_new_jobs` 1..200,
   `name` 1..100 characters) and the job type's `api_schema` blocks from the job specs copied
   byte for byte into `sandbox/insarhub_sandbox/data/hyp3_<JOB_TYPE>.yml` (ASFHyP3/hyp3 @ 0973e6d73ad9,
   BSD-3): granule patterns and lengths, `looks` enums, types, no unknown parameters;
2. granules (hyp3_api/validation.py): every granule must exist ("Some requested scenes could not
   be found: ..."), burst pairs must share burst ID and polarization (`check_single_burst_pair`),
   multi-burst pairs pass the INSAR_ISCE_MULTI_BURST validators (`hyp3_multiburst`).
   The sandbox adds one rule of its own: the two INSAR_GAMMA scenes must come from the same
   stack (same relative orbit; same path and frame for catalog scenes), because the sandbox
   simulates one Earth per stack.

A granule "exists" when the sandbox catalog has it and the catalog clock has passed its
acquisition, or when it is one of the real granules of ASF's regression payloads listed in
`data/hyp3_outside_granules.txt` (accepted so the golden payloads validate; the catalog has no
metadata for most of them, so their jobs end FAILED with a log saying why).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from insarhub_sandbox.errors import SandboxError
from insarhub_sandbox.hyp3 import multiburst as hyp3_multiburst
from insarhub_sandbox.hyp3.multiburst import MULTI_BURST, job_granules
from insarhub_sandbox.records import SceneRecord

DATA_DIR = Path(__file__).parent.parent / "data"
JOB_TYPES = ("INSAR_GAMMA", "INSAR_ISCE_BURST", "INSAR_ISCE_MULTI_BURST")
MAX_JOBS = 200  # openapi-spec list_of_new_jobs maxItems
MAX_PATCH_JOBS = 100  # hyp3_api/handlers.py patch_jobs
NAME_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 100}
COST_PROFILE = "EDC"  # the cost profile of ASF's production API (hyp3-api.asf.alaska.edu)


class Hyp3ApiError(SandboxError):
    """A refusal the sandbox HyP3 answers with HTTP `status` and `{"detail": detail}`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class JobSpec:
    """One job type's parameters, defaults and cost, as ASF's job spec file defines them."""

    job_type: str
    required: tuple[str, ...]
    parameters: dict[str, dict[str, Any]]  # name -> api_schema
    cost: dict[str, Any]  # {"cost": x} or {"cost_parameters": [...], "cost_table": {...}}

    def schema(self) -> dict[str, Any]:
        """The `<JOB_TYPE>Parameters` schema of the API (job_parameters.yml.j2)."""
        return {"type": "object", "additionalProperties": False, "required": list(self.required),
                "properties": self.parameters}

    def defaults(self) -> dict[str, Any]:
        return {name: s["default"] for name, s in self.parameters.items() if "default" in s}

    def credit_cost(self, job_parameters: dict[str, Any]) -> Decimal:
        """dynamo/jobs.py `_get_credit_cost`: a fixed cost or a lookup by parameter values."""
        if "cost" in self.cost:
            return Decimal(str(self.cost["cost"]))
        lookup: Any = self.cost["cost_table"]
        for parameter in self.cost["cost_parameters"]:
            value = job_parameters[parameter]
            key = str(len(value)) if isinstance(value, list) else str(value)
            lookup = lookup[key]
        return Decimal(str(lookup))


@functools.cache
def job_specs() -> dict[str, JobSpec]:
    """The job specs the sandbox serves, read from `data/hyp3_<JOB_TYPE>.yml`."""
    specs = {}
    for job_type in JOB_TYPES:
        raw = yaml.safe_load((DATA_DIR / f"hyp3_{job_type}.yml").read_text())[job_type]
        parameters = {name: p["api_schema"] for name, p in raw["parameters"].items() if "api_schema" in p}
        profiles = raw["cost_profiles"]
        cost = profiles.get(COST_PROFILE, profiles["DEFAULT"])
        specs[job_type] = JobSpec(job_type, tuple(raw.get("required_parameters", [])), parameters,
                                  _stringify_keys(cost))
    return specs


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _stringify_keys(v) for k, v in value.items()}
    return value


def costs_table() -> dict[str, Any]:
    """`GET /costs`: each job type's fixed or variable cost definition."""
    return {job_type: spec.cost for job_type, spec in job_specs().items()}


@functools.cache
def outside_granules() -> frozenset[str]:
    """Real granules accepted without being in the sandbox catalog (see module docstring)."""
    lines = (DATA_DIR / "hyp3_outside_granules.txt").read_text().splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@dataclass
class NewJob:
    """A validated job, ready to be stored: defaults filled in, scenes looked up."""

    job_type: str
    job_parameters: dict[str, Any]
    credit_cost: Decimal
    name: str | None = None
    records: list[SceneRecord | None] = field(default_factory=list)

    @property
    def granules(self) -> list[str]:
        return job_granules(self.job_parameters)


# -- pass 1: the request body and each job against the schemas ---------------------------------

def _where(error: ValidationError, prefix: str) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{prefix}{path}"


def _first_error(validator: Draft7Validator, value: Any, prefix: str) -> str | None:
    errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return None
    error = errors[0]
    return f"{_where(error, prefix)}: {error.message}"


def parse_post_body(body: Any) -> tuple[list[dict[str, Any]], bool]:
    """The jobs and `validate_only` of a `POST /jobs` body, or Hyp3ApiError(400)."""
    if not isinstance(body, dict):
        raise Hyp3ApiError(400, "Request body must be a JSON object with a 'jobs' list")
    unknown = sorted(set(body) - {"jobs", "validate_only"})
    if unknown:
        raise Hyp3ApiError(400, f"Additional properties are not allowed ({', '.join(map(repr, unknown))} "
                                "given); allowed: 'jobs', 'validate_only'")
    jobs = body.get("jobs")
    if not isinstance(jobs, list):
        raise Hyp3ApiError(400, "'jobs' is a required property and must be a list of jobs")
    if not 1 <= len(jobs) <= MAX_JOBS:
        raise Hyp3ApiError(400, f"jobs: {len(jobs)} jobs given; a request takes 1 to {MAX_JOBS} jobs")
    validate_only = body.get("validate_only", False)
    if validate_only is None:
        validate_only = False
    if not isinstance(validate_only, bool):
        raise Hyp3ApiError(400, f"validate_only: {validate_only!r} is not of type 'boolean'")
    return jobs, validate_only


def check_job_schema(job: Any, index: int) -> dict[str, Any]:
    """One new job against `<JOB_TYPE>Job` (job_parameters.yml.j2); defaults filled in."""
    where = f"jobs[{index}]"
    if not isinstance(job, dict):
        raise Hyp3ApiError(400, f"{where}: {job!r} is not of type 'object'")
    job_type = job.get("job_type")
    if job_type not in JOB_TYPES:
        allowed = ", ".join(repr(t) for t in JOB_TYPES)
        detail = (f"{where}: 'job_type' is a required property" if job_type is None else
                  f"{where}.job_type: {job_type!r} is not one of [{allowed}]")
        raise Hyp3ApiError(400, detail)
    spec = job_specs()[job_type]
    schema = {
        "type": "object", "additionalProperties": False, "required": ["job_type", "job_parameters"],
        "properties": {"job_type": {"type": "string", "enum": [job_type]}, "name": NAME_SCHEMA,
                       "job_parameters": spec.schema()},
    }
    message = _first_error(_validator(job_type, schema), job, where)
    if message:
        raise Hyp3ApiError(400, message)
    return {**job, "job_parameters": {**spec.defaults(), **job["job_parameters"]}}


_VALIDATORS: dict[str, Draft7Validator] = {}


def _validator(key: str, schema: dict[str, Any]) -> Draft7Validator:
    if key not in _VALIDATORS:
        _VALIDATORS[key] = Draft7Validator(schema)
    return _VALIDATORS[key]


# -- pass 2: the granules -----------------------------------------------------------------------

Lookup = Callable[[str], "SceneRecord | None"]


def _relative_orbit(granule: str) -> int:
    """validation.py `check_same_relative_orbits`: relative orbit from an SLC name."""
    parts = granule.split("_")
    offset = 73 if parts[0] == "S1A" else 27
    return ((int(parts[7]) - offset) % 175) + 1


def _stack_of(granule: str, record: SceneRecord | None) -> str:
    if record is not None:
        return f"path {record.path} frame {record.frame} ({record.stack_key})"
    return f"relative orbit {_relative_orbit(granule)}"


def check_single_burst_pair(granule1: str, granule2: str) -> None:
    """validation.py `check_single_burst_pair`, with the real messages."""
    if "_".join(granule1.split("_")[1:3]) != "_".join(granule2.split("_")[1:3]):
        raise Hyp3ApiError(400, f"Burst IDs do not match for {granule1} and {granule2}.")
    pol1, pol2 = granule1.split("_")[4], granule2.split("_")[4]
    if pol1 != pol2:
        raise Hyp3ApiError(400, "The requested scenes need to have the same polarization, got: "
                                f"{', '.join([pol1, pol2])}")
    if pol1 not in ["VV", "HH"]:
        raise Hyp3ApiError(400, f"Only VV and HH polarizations are currently supported, got: {pol1}")


def check_same_stack(granule1: str, granule2: str, records: Sequence[SceneRecord | None]) -> None:
    """Sandbox rule for INSAR_GAMMA: one pair, one stack (and one co-polarization)."""
    pol1, pol2 = granule1[15], granule2[15]
    if pol1 != pol2:
        raise Hyp3ApiError(400, "The requested scenes need to have the same polarization, got: "
                                f"{granule1[14:16]}, {granule2[14:16]}")
    rec1, rec2 = records
    if rec1 is not None and rec2 is not None:
        same = rec1.stack_key == rec2.stack_key
    else:
        same = _relative_orbit(granule1) == _relative_orbit(granule2)
    if not same:
        raise Hyp3ApiError(400, f"The requested scenes are not from the same stack: {granule1} is "
                                f"{_stack_of(granule1, rec1)}, {granule2} is {_stack_of(granule2, rec2)}; "
                                "pair scenes of one path and frame")


def find_records(names: Sequence[str], lookup: Lookup, now: datetime) -> dict[str, SceneRecord | None]:
    """Each granule's catalog record (None for outside granules); 400 for unknown ones."""
    found: dict[str, SceneRecord | None] = {}
    missing = []
    for name in dict.fromkeys(names):
        record = lookup(name)
        if record is not None and record.stop <= now:
            found[name] = record
        elif name in outside_granules():
            found[name] = None
        else:
            missing.append(name)
    if missing:
        raise Hyp3ApiError(400, f"Some requested scenes could not be found: {', '.join(missing)}")
    return found


def validate_jobs(body: Any, lookup: Lookup, now: datetime) -> tuple[list[NewJob], bool]:
    """`POST /jobs` validation: (validated jobs, validate_only), or Hyp3ApiError(400)."""
    raw_jobs, validate_only = parse_post_body(body)
    checked = [check_job_schema(job, i) for i, job in enumerate(raw_jobs)]
    records = find_records([g for job in checked for g in job_granules(job["job_parameters"])],
                           lookup, now)
    new_jobs = []
    for job in checked:
        params = job["job_parameters"]
        job_records = [records[g] for g in job_granules(params)]
        if job["job_type"] == MULTI_BURST:
            try:
                hyp3_multiburst.validate(params, job_records)
            except hyp3_multiburst.MultiBurstError as exc:
                raise Hyp3ApiError(400, str(exc)) from exc
        else:
            granule1, granule2 = params["granules"]
            if granule1 == granule2:
                raise Hyp3ApiError(400, f"The two granules of a pair must differ; got {granule1} twice")
            if job["job_type"] == "INSAR_ISCE_BURST":
                check_single_burst_pair(granule1, granule2)
            else:
                check_same_stack(granule1, granule2, job_records)
        cost = job_specs()[job["job_type"]].credit_cost(params)
        new_jobs.append(NewJob(job["job_type"], params, cost, job.get("name"), job_records))
    return new_jobs, validate_only
