"""Real HyP3 product formats: names, the parameter `.txt`, GeoTIFF layers and the product zip.

Kept apart from the physics in `earth` so that the layout of a real product (what MintPy's
`prep_hyp3` parses) is in one place. Layouts copied from real products
(`tests/fixtures/mintpy/*.txt`).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from insarhub_sandbox.errors import SandboxError
from insarhub_sandbox.products import multiburst
from insarhub_sandbox.products.geotiff import PIXEL_SPACING
from insarhub_sandbox.records import SceneRecord, polarization_of

GAMMA = "INSAR_GAMMA"
ISCE_BURST = "INSAR_ISCE_BURST"
ISCE_MULTI_BURST = "INSAR_ISCE_MULTI_BURST"
JOB_TYPES = (GAMMA, ISCE_BURST, ISCE_MULTI_BURST)
LOOKS = {GAMMA: ("20x4", "10x2"), ISCE_BURST: ("20x4", "10x2", "5x1"),
         ISCE_MULTI_BURST: ("20x4", "10x2", "5x1")}
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed zip entry times: same pair, same bytes


def looks_of(job_type: str, job_parameters: Mapping[str, object]) -> str:
    """The `looks` job parameter, checked against the job spec's enum."""
    if job_type not in JOB_TYPES:
        raise SandboxError(f"job_type {job_type!r} cannot be rendered; allowed: {', '.join(JOB_TYPES)}")
    looks = str(job_parameters.get("looks", "20x4"))
    if looks not in LOOKS[job_type]:
        raise SandboxError(f"looks {looks!r} is not allowed for {job_type}; allowed: {', '.join(LOOKS[job_type])}")
    return looks


def _hex4(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:4].upper()


def product_name(job_type: str, reference: SceneRecord, secondary: SceneRecord,
                 job_parameters: Mapping[str, object], job_id: str) -> str:
    """The real HyP3 product name of a pair.

    INSAR_GAMMA: `S1AA_20200102T133501_20200114T133501_VVP012_INT80_G_ueF_ABCD`;
    INSAR_ISCE_BURST: `S1_372326_IW3_20200102_20200114_VV_INT80_ABCD`;
    INSAR_ISCE_MULTI_BURST: `S1_100_000000s1n00-213524s2n03-213525s3n03_IW_20200102_20200114_VV_INT80_ABCD`
    (sides given as `multiburst.group_record`s). The last four hex digits come from the job id.
    """
    looks = looks_of(job_type, job_parameters)
    pixel = PIXEL_SPACING[looks]
    pol = polarization_of(reference)
    suffix = _hex4(job_id)
    if job_type == ISCE_MULTI_BURST:
        return multiburst.product_name(reference, secondary, looks, suffix)
    if job_type == GAMMA:
        days = abs((secondary.start.date() - reference.start.date()).days)
        mask = "w" if job_parameters.get("apply_water_mask") else "u"
        return (f"S1{reference.platform[-1]}{secondary.platform[-1]}"
                f"_{reference.start:%Y%m%dT%H%M%S}_{secondary.start:%Y%m%dT%H%M%S}"
                f"_{pol}P{days:03d}_INT{pixel}_G_{mask}eF_{suffix}")
    burst = burst_number_and_swath(reference)
    return (f"S1_{burst}_{reference.start:%Y%m%d}_{secondary.start:%Y%m%d}"
            f"_{pol}_INT{pixel}_{suffix}")


def burst_number_and_swath(scene: SceneRecord) -> str:
    """'372326_IW3' from a burst record (its full burst ID '174_372326_IW3' or its name)."""
    if scene.burst_id:
        parts = scene.burst_id.split("_")
        if len(parts) == 3:
            return f"{int(parts[1]):06d}_{parts[2]}"
    parts = scene.name.split("_")
    if len(parts) > 3 and parts[0] == "S1" and parts[2].startswith("IW"):
        return f"{parts[1]}_{parts[2]}"
    raise SandboxError(f"scene {scene.name!r} is not a burst (no burst ID); INSAR_ISCE_BURST needs bursts")


# -- the parameter .txt ----------------------------------------------------------------------
@dataclass(frozen=True)
class PairGeometry:
    """Acquisition geometry written to the parameter file."""

    baseline: float  # perpendicular baseline secondary - reference (m)
    heading: float  # degrees (GAMMA convention, negative)
    height: float  # spacecraft height (m)
    earth_radius: float  # Earth radius at nadir (m)
    range_near: float
    range_center: float
    range_far: float
    utc_seconds: float  # seconds of day of the reference acquisition
    ref_phase: float  # unwrapped phase subtracted at the reference point (rad)
    ref_line: int
    ref_pixel: int
    ref_x: float
    ref_y: float
    ref_lat: float
    ref_lon: float
    width: int
    length: int


def absolute_orbit(scene: SceneRecord) -> int:
    """The record's absolute orbit, or one consistent with its relative orbit (MintPy's rule)."""
    if scene.absolute_orbit:
        return scene.absolute_orbit
    offset = {"S1A": 73, "S1B": 202, "S1C": 99, "S1D": 42}.get(scene.platform, 73)
    cycles = 150 if scene.platform == "S1A" else 30
    return offset + (scene.path - 1) % 175 + 175 * cycles


def parameter_text(job_type: str, reference: SceneRecord, secondary: SceneRecord, looks: str,
                   geometry: PairGeometry, water_mask: bool) -> str:
    """The `<name>.txt` of a product, in the real layout (no blank lines: MintPy crashes on them)."""
    range_looks, azimuth_looks = looks.split("x")
    g = geometry
    if job_type == GAMMA:
        lines = [
            f"Reference Granule: {reference.name}",
            f"Secondary Granule: {secondary.name}",
            f"Reference Pass Direction: {reference.flight_direction}",
            f"Reference Orbit Number: {absolute_orbit(reference)}",
            f"Secondary Pass Direction: {secondary.flight_direction}",
            f"Secondary Orbit Number: {absolute_orbit(secondary)}",
            f"Baseline: {g.baseline:.4f}",
            f"UTC time: {g.utc_seconds:.6f}",
            f"Heading: {g.heading:.7f}",
            f"Spacecraft height: {g.height:.4f}",
            f"Earth radius at nadir: {g.earth_radius:.4f}",
            f"Slant range near: {g.range_near:.4f}",
            f"Slant range center: {g.range_center:.4f}",
            f"Slant range far: {g.range_far:.4f}",
            f"Range looks: {range_looks}",
            f"Azimuth looks: {azimuth_looks}",
            "INSAR phase filter: adf",
            "Phase filter parameter: 0.6",
            f"Resolution of output (m): {PIXEL_SPACING[looks]}",
            "Range bandpass filter: no",
            "Azimuth bandpass filter: no",
            "DEM source: GLO-30",
            f"DEM resolution (m): {2 * PIXEL_SPACING[looks]}",
            "Unwrapping type: mcf",
            f"Phase at reference point: {g.ref_phase:.5f}",
            f"Azimuth line of the reference point in SAR space: {g.ref_line}",
            f"Range pixel of the reference point in SAR space: {g.ref_pixel}",
            f"Y coordinate of the reference point in the map projection: {g.ref_y:.4f}",
            f"X coordinate of the reference point in the map projection: {g.ref_x:.4f}",
            f"Latitude of the reference point (WGS84): {g.ref_lat:.8f}",
            f"Longitude of the reference point (WGS84): {g.ref_lon:.8f}",
            "Unwrapping threshold: none",
            "Speckle filter: no",
        ]
    else:
        lines = [
            f"Reference Granule: {', '.join(reference.name.split(','))}",
            f"Secondary Granule: {', '.join(secondary.name.split(','))}",
            f"Reference Pass Direction: {reference.flight_direction}",
            f"Reference Orbit Number: {absolute_orbit(reference)}",
            f"Secondary Pass Direction: {secondary.flight_direction}",
            f"Secondary Orbit Number: {absolute_orbit(secondary)}",
            f"Baseline: {g.baseline!r}",
            f"UTC time: {g.utc_seconds:.6f}",
            f"Heading: {g.heading!r}",
            f"Spacecraft height: {g.height!r}",
            f"Earth radius at nadir: {g.earth_radius!r}",
            f"Slant range near: {g.range_near!r}",
            f"Slant range center: {g.range_center!r}",
            f"Slant range far: {g.range_far!r}",
            f"Range looks: {range_looks}",
            f"Azimuth looks: {azimuth_looks}",
            "INSAR phase filter: yes",
            "Phase filter parameter: 0.5",
            "Range bandpass filter: no",
            "Azimuth bandpass filter: no",
            "DEM source: GLO_30",
            "DEM resolution (m): 30",
            "Unwrapping type: snaphu_mcf",
            "Speckle filter: yes",
            f"Water mask: {'yes' if water_mask else 'no'}",
        ]
    if job_type == ISCE_BURST:  # multi-burst products have no radar-grid lines
        lines += [
            f"Radar n lines: {g.length}",
            f"Radar n samples: {g.width}",
            "Radar first valid line: 0",
            f"Radar n valid lines: {g.length}",
            "Radar first valid sample: 0",
            f"Radar n valid samples: {g.width}",
            f"Multilook azimuth time interval: {0.002055556 * int(azimuth_looks)!r}",
            f"Multilook range pixel size: {2.329562 * int(range_looks)!r}",
            f"Radar sensing stop: {reference.stop:%Y-%m-%dT%H:%M:%S.%f}",
        ]
    return "\n".join(lines) + "\n"


# -- the zip ----------------------------------------------------------------------------------
def write_product_zip(out_dir: Path, name: str, files: Mapping[str, bytes]) -> Path:
    """`<out_dir>/<name>.zip` holding `<name>/<file>` for each file; written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.zip"
    partial = out_dir / f".{name}.zip.part"
    with zipfile.ZipFile(partial, "w") as archive:
        for filename, data in files.items():
            info = zipfile.ZipInfo(f"{name}/{filename}", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            compress = zipfile.ZIP_STORED if filename.endswith(".tif") else zipfile.ZIP_DEFLATED
            info.compress_type = compress
            archive.writestr(info, data)
    partial.replace(target)
    return target


def readme_text(name: str, job_type: str, layers: Sequence[str]) -> str:
    """A short README like the `<name>.README.md.txt` of real products."""
    listing = "\n".join(f"- {name}{suffix}" for suffix in layers)
    return (f"# {job_type} product {name}\n\nSimulated by the insarhub sandbox (not real data):\n"
            f"a synthetic Earth with a known truth, in the real HyP3 product layout.\n\n{listing}\n")
