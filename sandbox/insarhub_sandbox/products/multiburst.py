"""INSAR_ISCE_MULTI_BURST products of the simulated Earth: one side's bursts as one scene.

A multi-burst pair is rendered like a burst pair (ISCE2 layers: unw_phase, corr, conncomp,
wrapped_phase, dem, lv_theta, lv_phi, los_disp, water_mask) from a *group record*: the bursts of
one side merged into one `SceneRecord` whose footprint is the union of theirs and whose stack key
names the burst set the way the product name does (`100_000000s1n00-213524s2n03-213525s3n03`),
so every pair of the same burst set shares one canvas and one truth. Pixels outside the bursts'
union are no-data (0) and the grid is cropped to the rest: the product covers exactly its bursts
(within the Earth's simulated window around the site of interest).

Names follow hyp3-isce2 (`S1_{path}_{id}s1n{count}-{id}s2n{count}-{id}s3n{count}_IW_{date1}_{date2}_
{pol}_INT{pixel}_{hex}`, `000000s<n>n00` for an unused swath); the `.txt` lists each side's bursts
comma-separated, as the real `S1_044_..._B4FA.txt` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import shapely
from pyproj import Transformer
from shapely import wkt as shapely_wkt
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from insarhub_sandbox.errors import SandboxError
from insarhub_sandbox.products.geotiff import PIXEL_SPACING, GeoGrid, Layer
from insarhub_sandbox.records import SceneRecord, polarization_of

SEPARATOR = ","  # between the burst names of a group record's name


def burst_names(group: SceneRecord) -> list[str]:
    return [name.strip() for name in group.name.split(SEPARATOR) if name.strip()]


def _id_and_swath(name: str) -> tuple[int, int]:
    parts = name.split("_")
    if len(parts) < 4 or parts[0] != "S1" or not parts[2].startswith("IW"):
        raise SandboxError(f"{name!r} is not a Sentinel-1 burst granule name")
    return int(parts[1]), int(parts[2][2])


def swath_tokens(names: Sequence[str]) -> str:
    """`000000s1n00-213524s2n03-213525s3n03`: first burst ID and count of each swath."""
    by_swath: dict[int, list[int]] = {}
    for name in names:
        number, swath = _id_and_swath(name)
        by_swath.setdefault(swath, []).append(number)
    tokens = []
    for swath in (1, 2, 3):
        numbers = by_swath.get(swath, [])
        tokens.append(f"{min(numbers):06d}s{swath}n{len(numbers):02d}" if numbers else f"000000s{swath}n00")
    return "-".join(tokens)


def group_key(path: int, names: Sequence[str]) -> str:
    """The stack key of a burst set: relative orbit and swath tokens."""
    return f"{path:03d}_{swath_tokens(names)}"


def group_record(records: Sequence[SceneRecord]) -> SceneRecord:
    """One side of a multi-burst pair as a single scene (union footprint, burst-set stack key)."""
    if not records:
        raise SandboxError("a multi-burst side needs at least one burst")
    first = records[0]
    names = [r.name for r in records]
    union = shapely.union_all([shapely_wkt.loads(r.footprint_wkt) for r in records])
    return SceneRecord(
        name=SEPARATOR.join(names), start=min(r.start for r in records),
        stop=max(r.stop for r in records), platform=first.platform, path=first.path, frame=0,
        flight_direction=first.flight_direction, polarization=first.polarization,
        beam_mode="IW", processing_level="BURST", footprint_wkt=union.wkt,
        stack_key=group_key(first.path, names), burst_id=None,
        absolute_orbit=first.absolute_orbit, file_url=None, file_size=0, md5=None)


def product_name(reference: SceneRecord, secondary: SceneRecord, looks: str, suffix: str) -> str:
    """`S1_100_000000s1n00-213524s2n03-213525s3n03_IW_20200102_20200114_VV_INT80_ABCD`."""
    key = group_key(reference.path, burst_names(reference))  # refuses sides that are not bursts
    return (f"S1_{key}_IW_{reference.start:%Y%m%d}_{secondary.start:%Y%m%d}"
            f"_{polarization_of(reference)}_INT{PIXEL_SPACING[looks]}_{suffix}")


def granule_list(group: SceneRecord) -> str:
    """The `.txt`'s granule value: the side's bursts, comma-separated."""
    return ", ".join(burst_names(group))


def burst_anchor(scene: SceneRecord, footprint: BaseGeometry, sites: Sequence[tuple[float, float]],
                 reach_deg: float = 0.5) -> tuple[float, float] | None:
    """Where to centre the simulated Earth for bursts that miss every site but lie beside one.

    Bursts tile an AOI in pieces (single-burst stacks, burst groups along the track); a piece
    that misses the site of interest is simulated on its part nearest to the site (0.02 deg
    inside its edge), so its products still overlap the AOI. None for SLCs or far bursts.
    """
    if scene.processing_level != "BURST":
        return None
    inner = footprint.buffer(-0.02)
    if inner.is_empty:
        return None
    for lon, lat in sites:
        site = Point(lon, lat)
        if inner.distance(site) <= reach_deg:
            point = nearest_points(inner, site)[0]
            return round(point.x, 4), round(point.y, 4)
    return None


def clip_to_footprint(layers: Mapping[str, Layer], grid: GeoGrid, reference: SceneRecord,
                      secondary: SceneRecord) -> tuple[dict[str, Layer], GeoGrid]:
    """Blank every pixel outside both sides' burst footprints and crop the grid to the rest."""
    for side in (reference, secondary):
        swath_tokens(burst_names(side))  # refuses sides that are not bursts
    x = grid.x0 + (np.arange(grid.width) + 0.5) * grid.spacing
    y = grid.y0 - (np.arange(grid.length) + 0.5) * grid.spacing
    xx, yy = np.meshgrid(x, y)
    lon, lat = Transformer.from_crs(grid.epsg, 4326, always_xy=True).transform(xx, yy)
    covered = shapely_wkt.loads(reference.footprint_wkt).intersection(
        shapely_wkt.loads(secondary.footprint_wkt))
    inside = shapely.contains_xy(covered, lon, lat)
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if rows.size == 0:
        raise SandboxError(f"bursts {granule_list(reference)} do not cover the simulated Earth's "
                           "region; choose bursts over the site of interest")
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    keep = inside[r0:r1, c0:c1]
    clipped = {}
    for suffix, layer in layers.items():
        data = np.where(keep, layer.array[r0:r1, c0:c1], 0).astype(layer.array.dtype)
        clipped[suffix] = Layer(data, nodata=0, units=layer.units)
    cropped = GeoGrid(epsg=grid.epsg, x0=grid.x0 + c0 * grid.spacing, y0=grid.y0 - r0 * grid.spacing,
                      spacing=grid.spacing, width=int(c1 - c0), length=int(r1 - r0))
    return clipped, cropped
