"""CMR UMM-G items for DISP-S1 and DISP-S1-STATIC granules, shaped as ASF serves OPERA.

asf_search's tests hold no recorded DISP-S1 granule (its DISP-S1 tests search ASF live), so
the shape comes from what asf_search reads and checks: the collection short names and their
AdditionalAttributes (`tests/yml_tests/test_collection_attributes.yml`: POLARIZATION,
PRODUCT_VERSION, PROCESSING_TYPE, FRAME_ID, STACK_ID, ASCENDING_DESCENDING, PATH_NUMBER,
REFERENCE_/SECONDARY_ZERO_DOPPLER_START/END_TIME, FRAME_NUMBER), `OPERAS1Product` (FRAME_NUMBER,
STACK_ID, a direct-access `<id>.zarr.json.gz` and the frame stack's
`..._short_wavelength_displacement.zarr.json.gz`, ArchiveAndDistributionInformation with Name,
SizeInBytes, Format), and the ASF granule layout of the other recorded fixtures.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from insarhub_sandbox.catalog.umm import iso

DISP_COLLECTION = "OPERA_L3_DISP-S1_V1"
STATIC_COLLECTION = "OPERA_L3_DISP-S1-STATIC_V1"
COLLECTION_IDS = {DISP_COLLECTION: "C3294057315-ASF", STATIC_COLLECTION: "C4090131664-ASF"}
BUCKET = "s3://asf-cumulus-prod-opera-products"


def disp_name(frame_id: int, reference: datetime, secondary: datetime, generated: datetime) -> str:
    """OPERA_L3_DISP-S1_IW_F<frame>_VV_<ref>Z_<sec>Z_v1.0_<generation>Z (no extension)."""
    fmt = "%Y%m%dT%H%M%SZ"
    return (f"OPERA_L3_DISP-S1_IW_F{frame_id:05d}_VV_{reference:{fmt}}_{secondary:{fmt}}"
            f"_v1.0_{generated:{fmt}}")


def static_name(frame_id: int, first: datetime, platform: str) -> str:
    return f"OPERA_L3_DISP-S1-STATIC_F{frame_id:05d}_{first:%Y%m%d}_{platform}_v1.0"


def stack_id(frame_id: int) -> str:
    return f"OPERA_L3_DISP-S1_IW_F{frame_id:05d}_VV"


def _polygon(ring: list[tuple[float, float]]) -> dict[str, Any]:
    return {"HorizontalSpatialDomain": {"Geometry": {"GPolygons": [{"Boundary": {"Points": [
        {"Longitude": lon, "Latitude": lat} for lon, lat in ring]}}]}}}


def _meta(concept_id: str, granule_ur: str, collection: str, inserted: datetime) -> dict[str, Any]:
    return {"concept-type": "granule", "concept-id": concept_id, "revision-id": 1,
            "native-id": granule_ur, "collection-concept-id": COLLECTION_IDS[collection],
            "provider-id": "ASF", "format": "application/vnd.nasa.cmr.umm+json",
            "revision-date": iso(inserted)}


def disp_attributes(frame_id: int, path: int, direction: str, reference: tuple[datetime, datetime],
                    secondary: tuple[datetime, datetime]) -> dict[str, str]:
    return {
        "POLARIZATION": "VV", "PRODUCT_VERSION": "1.0", "PROCESSING_TYPE": "DISP-S1",
        "FRAME_ID": str(frame_id), "FRAME_NUMBER": str(frame_id), "STACK_ID": stack_id(frame_id),
        "ASCENDING_DESCENDING": direction, "PATH_NUMBER": str(path),
        "REFERENCE_ZERO_DOPPLER_START_TIME": iso(reference[0]),
        "REFERENCE_ZERO_DOPPLER_END_TIME": iso(reference[1]),
        "SECONDARY_ZERO_DOPPLER_START_TIME": iso(secondary[0]),
        "SECONDARY_ZERO_DOPPLER_END_TIME": iso(secondary[1]),
    }


def render_disp(name: str, attributes: dict[str, str], ring: list[tuple[float, float]],
                platform: str, url: str, size: int, md5: str, concept_id: str,
                generated: datetime) -> dict[str, Any]:
    """The `{"meta", "umm"}` item of one DISP-S1 granule."""
    start = attributes["REFERENCE_ZERO_DOPPLER_START_TIME"]
    end = attributes["SECONDARY_ZERO_DOPPLER_END_TIME"]
    frame = attributes["FRAME_NUMBER"]
    stack = f"{BUCKET}/OPERA_L3_DISP-S1_STACK_V1/{stack_id(int(frame))}_V1/{stack_id(int(frame))}"
    s3 = f"{BUCKET}/{DISP_COLLECTION}/{name}/{name}"
    inserted = generated + timedelta(hours=2)
    return {
        "meta": _meta(concept_id, name, DISP_COLLECTION, inserted),
        "umm": {
            "TemporalExtent": {"RangeDateTime": {"BeginningDateTime": start, "EndingDateTime": end}},
            "GranuleUR": name,
            "AdditionalAttributes": [{"Name": k, "Values": [v]} for k, v in attributes.items()],
            "SpatialExtent": _polygon(ring),
            "ProviderDates": [{"Date": iso(inserted), "Type": "Insert"},
                              {"Date": iso(inserted), "Type": "Update"}],
            "CollectionReference": {"ShortName": DISP_COLLECTION, "Version": "1"},
            "PGEVersionClass": {"PGEName": "DISP_S1_PGE", "PGEVersion": "3.0.x"},
            "RelatedUrls": [
                {"URL": url, "Type": "GET DATA", "Description": "Download the product NetCDF"},
                {"URL": f"{s3}.nc", "Type": "GET DATA VIA DIRECT ACCESS",
                 "Description": "This link provides direct download access via S3 to the granule"},
                {"URL": f"{s3}.zarr.json.gz", "Type": "GET DATA VIA DIRECT ACCESS",
                 "Description": "Kerchunk reference of the granule"},
                {"URL": f"{stack}_short_wavelength_displacement.zarr.json.gz",
                 "Type": "GET DATA VIA DIRECT ACCESS",
                 "Description": "Kerchunk reference of the frame's stack"},
                {"URL": url.replace(".nc", ".short_wavelength_displacement.png"),
                 "Type": "GET RELATED VISUALIZATION", "Description": "Browse image"},
            ],
            "DataGranule": {
                "DayNightFlag": "Unspecified",
                "Identifiers": [{"Identifier": name, "IdentifierType": "ProducerGranuleId"}],
                "ProductionDateTime": iso(generated),
                "ArchiveAndDistributionInformation": [
                    {"Name": f"{name}.nc", "SizeInBytes": size, "Format": "netCDF-4",
                     "Checksum": {"Value": md5, "Algorithm": "MD5"}}],
            },
            "Platforms": [{"ShortName": f"Sentinel-1{platform[-1]}",
                           "Instruments": [{"ShortName": "C-SAR"}]}],
        },
    }


def render_static(name: str, frame_id: int, path: int, direction: str,
                  ring: list[tuple[float, float]], moment: datetime, platform: str,
                  files: dict[str, tuple[str, int, str]], concept_id: str) -> dict[str, Any]:
    """The item of one DISP-S1-STATIC granule; `files` = {suffix: (url, size, md5)}."""
    attributes = {"PROCESSING_TYPE": "DISP-S1-STATIC", "FRAME_NUMBER": str(frame_id),
                  "FRAME_ID": str(frame_id), "PATH_NUMBER": str(path),
                  "ASCENDING_DESCENDING": direction, "PRODUCT_VERSION": "1.0"}
    return {
        "meta": _meta(concept_id, name, STATIC_COLLECTION, moment),
        "umm": {
            "TemporalExtent": {"RangeDateTime": {"BeginningDateTime": iso(moment),
                                                 "EndingDateTime": iso(moment)}},
            "GranuleUR": name,
            "AdditionalAttributes": [{"Name": k, "Values": [v]} for k, v in attributes.items()],
            "SpatialExtent": _polygon(ring),
            "CollectionReference": {"ShortName": STATIC_COLLECTION, "Version": "1"},
            "RelatedUrls": [{"URL": url, "Type": "GET DATA", "Description": suffix}
                            for suffix, (url, _, _) in files.items()],
            "DataGranule": {
                "DayNightFlag": "Unspecified",
                "Identifiers": [{"Identifier": name, "IdentifierType": "ProducerGranuleId"}],
                "ProductionDateTime": iso(moment),
                "ArchiveAndDistributionInformation": [
                    {"Name": url.rsplit("/", 1)[-1], "SizeInBytes": size, "Format": "GeoTIFF",
                     "Checksum": {"Value": md5, "Algorithm": "MD5"}}
                    for url, size, md5 in files.values()],
            },
            "Platforms": [{"ShortName": f"Sentinel-1{platform[-1]}",
                           "Instruments": [{"ShortName": "C-SAR"}]}],
        },
    }
