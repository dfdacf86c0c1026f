"""Render a generated scene as the CMR UMM-G item (`{"meta": ..., "umm": ...}`) ASF serves.

The shape follows ASF's real Sentinel-1 SLC records (see the recorded Fairbanks fixtures):
the same AdditionalAttributes, including the state vectors and ascending-node time that
asf_search needs to compute perpendicular baselines.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from insarhub_sandbox.catalog.stacks import GeneratedScene

COLLECTION_IDS = {
    "SENTINEL-1A_SLC": "C1214470488-ASF",
    "SENTINEL-1B_SLC": "C1327985661-ASF",
    "SENTINEL-1C_SLC": "C3470873558-ASF",
    "SENTINEL-1_BURSTS": "C2709161906-ASF",
}
BEAM_MODE_DESC = ("Interferometric Wide. 250 km swath, 5 m x 20 m spatial resolution and burst "
                  "synchronization for interferometry. IW is considered to be the standard mode "
                  "over land masses.")


def iso(moment: datetime) -> str:
    """CMR's timestamp format: `2020-01-02T13:35:00.607000Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sv(vector: tuple[float, float, float], moment: datetime) -> str:
    return ",".join(f"{v:.6f}" for v in vector) + f",{moment:%Y-%m-%dT%H:%M:%S.%f}"


def _pge_version(moment: datetime) -> str:
    if moment.year < 2016:
        return "002.43"
    if moment.year < 2018:
        return "002.72"
    if moment.year < 2020:
        return "002.91"
    if moment.year < 2023:
        return "003.31"
    return "003.80"


def scene_attributes(scene: GeneratedScene, size: int, md5: str) -> dict[str, str]:
    """AdditionalAttributes of a generated SLC, by name (all values are strings, as in CMR)."""
    near_start, far_start, far_end, near_end = scene.corners
    unit = scene.platform[-1]
    processed = scene.stop + timedelta(hours=3, minutes=_minutes(scene.name))
    return {
        "ACQUISITION_DATE": iso(scene.stop),
        "ASCENDING_DESCENDING": scene.direction,
        "ASC_NODE_TIME": iso(scene.node_time),
        "ASF_PLATFORM": f"Sentinel-1{unit}",
        "BEAM_MODE": "IW",
        "BEAM_MODE_DESC": BEAM_MODE_DESC,
        "BEAM_MODE_TYPE": "IW",
        "BYTES": str(size),
        "CENTER_ESA_FRAME": str(scene.esa_frame),
        "CENTER_FRAME_ID": str(scene.frame - 3),
        "CENTER_LAT": f"{scene.center[1]:.4f}",
        "CENTER_LON": f"{scene.center[0]:.4f}",
        "DOPPLER": "0",
        "FARADAY_ROTATION": "NA",
        "FAR_END_LAT": str(far_end[1]),
        "FAR_END_LON": str(far_end[0]),
        "FAR_START_LAT": str(far_start[1]),
        "FAR_START_LON": str(far_start[0]),
        "FRAME_NUMBER": str(scene.frame),
        "GRANULE_TYPE": f"SENTINEL_1{unit}_FRAME",
        "GROUP_ID": scene.group_id,
        "LOOK_DIRECTION": "R",
        "MD5SUM": md5,
        "MISSION_NAME": "NA",
        "NEAR_END_LAT": str(near_end[1]),
        "NEAR_END_LON": str(near_end[0]),
        "NEAR_START_LAT": str(near_start[1]),
        "NEAR_START_LON": str(near_start[0]),
        "PATH_NUMBER": str(scene.path),
        "POLARIZATION": scene.polarization,
        "PROCESSING_DATE": iso(processed),
        "PROCESSING_DESCRIPTION": f"Sentinel-1{unit} Single Look Complex product",
        "PROCESSING_LEVEL": "L1",
        "PROCESSING_TYPE": "SLC",
        "PROCESSING_TYPE_DISPLAY": "L1 Single Look Complex (SLC)",
        "SV_POSITION_POST": _sv(scene.positions[1], scene.sv_times[1]),
        "SV_POSITION_PRE": _sv(scene.positions[0], scene.sv_times[0]),
        "SV_VELOCITY_POST": _sv(scene.velocities[1], scene.sv_times[1]),
        "SV_VELOCITY_PRE": _sv(scene.velocities[0], scene.sv_times[0]),
    }


def _minutes(name: str) -> int:
    return sum(name.encode()) % 240


def collection_of(platform: str, kind: str = "SLC") -> str:
    """CMR collection short name: SENTINEL-1A_SLC ... or SENTINEL-1_BURSTS."""
    return "SENTINEL-1_BURSTS" if kind == "BURST" else f"SENTINEL-1{platform[-1]}_SLC"


def render_scene(scene: GeneratedScene, size: int, md5: str, file_url: str,
                 concept_id: str) -> dict[str, Any]:
    """The `{"meta", "umm"}` item CMR returns for a generated SLC."""
    attributes = scene_attributes(scene, size, md5)
    granule_ur = f"{scene.name}-SLC"
    short_name = collection_of(scene.platform)
    inserted = scene.stop + timedelta(hours=6)
    return {
        "meta": {
            "concept-type": "granule",
            "concept-id": concept_id,
            "revision-id": 1,
            "native-id": granule_ur,
            "collection-concept-id": COLLECTION_IDS[short_name],
            "provider-id": "ASF",
            "format": "application/echo10+xml",
            "revision-date": iso(inserted),
        },
        "umm": {
            "TemporalExtent": {"RangeDateTime": {"BeginningDateTime": iso(scene.start),
                                                 "EndingDateTime": iso(scene.stop)}},
            "OrbitCalculatedSpatialDomains": [{"OrbitNumber": scene.absolute_orbit}],
            "GranuleUR": granule_ur,
            "AdditionalAttributes": [{"Name": k, "Values": [v]} for k, v in attributes.items()],
            "SpatialExtent": {"HorizontalSpatialDomain": {"Geometry": {"GPolygons": [
                {"Boundary": {"Points": [{"Longitude": lon, "Latitude": lat}
                                         for lon, lat in scene.footprint]}}]}}},
            "ProviderDates": [{"Date": iso(inserted), "Type": "Insert"},
                              {"Date": iso(inserted), "Type": "Update"}],
            "CollectionReference": {"ShortName": short_name, "Version": "1"},
            "PGEVersionClass": {"PGEName": "Sentinel-1 IPF", "PGEVersion": _pge_version(scene.start)},
            "RelatedUrls": [
                {"Format": "Not provided", "Type": "GET DATA", "URL": file_url,
                 "Description": "This link provides direct download access to the granule."},
                {"Format": "Not provided", "Type": "VIEW RELATED INFORMATION",
                 "URL": "www.asf.alaska.edu/sar-data-sets/sentinel-1",
                 "Description": "ASF DAAC Sentinel-1 data set landing page"},
            ],
            "DataGranule": {
                "DayNightFlag": "Unspecified",
                "Identifiers": [{"Identifier": scene.name, "IdentifierType": "ProducerGranuleId"}],
                "ProductionDateTime": iso(scene.start),
                "ArchiveAndDistributionInformation": [
                    {"Name": f"{scene.name}.zip", "SizeInBytes": size, "Format": "ZIP",
                     "Checksum": {"Value": md5, "Algorithm": "MD5"}}],
            },
            "Platforms": [{"ShortName": f"SENTINEL-1{scene.platform[-1]}",
                           "Instruments": [{"ShortName": "C-SAR"}]}],
        },
    }
