"""INSAR_ISCE_MULTI_BURST rules, reimplemented from ASF's code with the real messages.

At submission (the job spec's `validators`, hyp3_api/validation.py and multi_burst_validation.py
of ASFHyP3/hyp3 @ 0973e6d73ad9): at most 15 bursts a side (`check_multi_burst_max_length`);
the same burst number + swath + polarization set on both sides, one polarization (VV or HH),
each side within a 2-minute window and the reference older (`check_multi_burst_pairs`); no
granule across the antimeridian (`check_not_antimeridian`). The DEM coverage check passes: the
sandbox's simulated Earth has a DEM everywhere.

At processing (hyp3-isce2 turns each side into a SAFE with burst2safe, which refuses burst sets
that are not one contiguous block): one absolute orbit, consecutive burst IDs in each swath and
swaths that overlap; the job then ends FAILED with burst2safe's message, as on the real HyP3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from shapely import wkt as shapely_wkt

from insarhub_sandbox.records import SceneRecord

MULTI_BURST = "INSAR_ISCE_MULTI_BURST"
MAX_BURSTS = 15
WINDOW = timedelta(minutes=2)


class MultiBurstError(ValueError):
    """A multi-burst request the real HyP3 refuses (its message is the detail)."""


def job_granules(job_parameters: Mapping[str, Any]) -> list[str]:
    """hyp3_api/util.py `get_granules` for one job: granules, then reference, then secondary."""
    return [g for key in ("granules", "reference", "secondary") for g in job_parameters.get(key) or []]


def _num_swath_pol(name: str) -> str:
    parts = name.split("_")
    return "_".join([parts[1], parts[2], parts[4]])


def _burst_time(name: str) -> datetime:
    return datetime.strptime(name.split("_")[3], "%Y%m%dT%H%M%S")


def check_max_length(reference: Sequence[str], secondary: Sequence[str]) -> None:
    """`check_multi_burst_max_length`."""
    if len(reference) > MAX_BURSTS or len(secondary) > MAX_BURSTS:
        raise MultiBurstError(f"Must provide no more than {MAX_BURSTS} scene pairs, got "
                              f"{len(reference)} reference and {len(secondary)} secondary")


def check_pairs(reference: Sequence[str], secondary: Sequence[str]) -> None:
    """`check_multi_burst_pairs` (multi_burst_validation.validate_bursts)."""
    if len(reference) < 1 or len(secondary) < 1:
        raise MultiBurstError("Must include at least 1 reference scene and 1 secondary scene")
    if len(reference) != len(secondary):
        raise MultiBurstError("Must provide the same number of reference and secondary scenes, got "
                              f"{len(reference)} reference and {len(secondary)} secondary")
    reference_ids = {_num_swath_pol(name) for name in reference}
    if reference_ids != {_num_swath_pol(name) for name in secondary}:
        raise MultiBurstError("Burst number + swath + polarization identifiers must be the same for "
                              "reference scenes and secondary scenes")
    if len(reference_ids) != len(reference):
        raise MultiBurstError("Each reference scene must have a unique burst number + swath + "
                              "polarization identifier")
    polarizations = sorted({name.split("_")[4] for name in reference})
    if len(polarizations) > 1:
        raise MultiBurstError("Scenes must have the same polarization. Polarizations present: "
                              f"{', '.join(polarizations)}")
    if polarizations[0] not in ("VV", "HH"):
        raise MultiBurstError(f"{polarizations[0]} polarization is not currently supported, only VV and HH")
    reference_times = sorted(_burst_time(name) for name in reference)
    secondary_times = sorted(_burst_time(name) for name in secondary)
    for side, times in (("Reference", reference_times), ("Secondary", secondary_times)):
        if times[-1] - times[0] > WINDOW:
            raise MultiBurstError(f"{side} scenes must fall within a 2-minute window in order to "
                                  "ensure they were collected during the same pass")
    if reference_times[-1] >= secondary_times[0]:
        raise MultiBurstError("Reference scenes must be older than secondary scenes")


def check_not_antimeridian(records: Sequence[SceneRecord | None]) -> None:
    """`check_not_antimeridian` on the granules' footprints."""
    for record in records:
        if record is None:
            continue
        west, _, east, _ = shapely_wkt.loads(record.footprint_wkt).bounds
        if abs(west - east) > 180.0 and west * east < 0.0:
            raise MultiBurstError(f"Granule {record.name} crosses the antimeridian. Processing "
                                  "across the antimeridian is not currently supported.")


def validate(job_parameters: Mapping[str, Any], records: Sequence[SceneRecord | None]) -> None:
    """The job spec's validators, in its order; MultiBurstError with HyP3's message."""
    reference, secondary = job_parameters["reference"], job_parameters["secondary"]
    check_max_length(reference, secondary)
    check_pairs(reference, secondary)
    check_not_antimeridian(records)


def check_contiguous(records: Sequence[SceneRecord]) -> None:
    """What burst2safe refuses when hyp3-isce2 builds one side's SAFE (raised at processing)."""
    orbits = {record.absolute_orbit for record in records}
    if len(orbits) != 1:
        raise MultiBurstError(f"All bursts must have the same absolute orbit. Found: {sorted(orbits)}.")
    by_swath: dict[int, list[int]] = {}
    for record in records:
        parts = record.name.split("_")
        by_swath.setdefault(int(parts[2][2]), []).append(int(parts[1]))
    ranges = {}
    for swath_number, numbers in sorted(by_swath.items()):
        numbers.sort()
        if numbers != list(range(numbers[0], numbers[-1] + 1)):
            raise MultiBurstError(f"All bursts must have consecutive burst IDs. Found: {numbers}.")
        ranges[swath_number] = (numbers[0], numbers[-1])
    swaths = sorted(ranges)
    for first, second in zip(swaths, swaths[1:], strict=False):
        if (second - first > 1 or abs(ranges[first][0] - ranges[second][0]) > 1
                or abs(ranges[first][1] - ranges[second][1]) > 1):
            raise MultiBurstError(f"Products from swaths {first} and {second} do not overlap")
