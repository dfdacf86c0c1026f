"""Generated bursts as ASF's CMR serves them: the UMM-G item and the catalog entry.

The item follows ASF's real burst records (the recorded `S1_372326_IW3_20180815T151558_VV_6BD3-BURST`,
`tests/fixtures/asf_search/SLC_BURST.yml`): the same AdditionalAttributes that asf_search
14.1's `S1BurstProduct` reads (BURST_ID_FULL/RELATIVE/ABSOLUTE, BURST_INDEX, SUBSWATH_NAME,
AZIMUTH_TIME, AZIMUTH_ANX_TIME, SAMPLES_PER_BURST, BYTE_OFFSET/LENGTH ...), state vectors and
ascending-node time for its baselines, the "USE SERVICE API" links to the burst's GeoTIFF and
XML, and the parent SLC in `InputGranules`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import numpy as np
from shapely.geometry import Polygon

from insarhub_sandbox.catalog.bursts import LINES_PER_BURST, SAMPLES, BurstTable, GeneratedBurst
from insarhub_sandbox.catalog.query import Entry, EntryTable, hash_name, once
from insarhub_sandbox.catalog.umm import BEAM_MODE_DESC, COLLECTION_IDS, iso
from insarhub_sandbox.records import SceneRecord
from insarhub_sandbox.standin import standin_info

BURST_COLLECTION = "SENTINEL-1_BURSTS"
FileUrl = Callable[[str, str], str]  # (kind, filename) -> URL


def _plain(moment: datetime) -> str:
    """ASF's burst time format: no zone suffix (`2018-08-15T15:15:58.385550`)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _sv(vector: tuple[float, float, float], moment: datetime) -> str:
    return ",".join(f"{v:.6f}" for v in vector) + f",{_plain(moment)}"


def filter_attributes(burst: GeneratedBurst) -> dict[str, str]:
    """The attributes a search filters on (the rest are only rendered)."""
    scene = burst.parent
    cell = burst.cell
    return {
        "ASCENDING_DESCENDING": scene.direction, "BEAM_MODE": "IW", "BEAM_MODE_TYPE": "IW",
        "BURST_ID_ABSOLUTE": str(burst.absolute_id), "BURST_ID_FULL": cell.full_id,
        "BURST_ID_RELATIVE": str(cell.relative_id), "BURST_INDEX": str(burst.burst_index),
        "GROUP_ID": scene.group_id, "PATH_NUMBER": str(scene.path),
        "POLARIZATION": burst.polarization, "PROCESSING_LEVEL": "L1", "PROCESSING_TYPE": "BURST",
        "SUBSWATH_NAME": f"IW{cell.swath}", "LOOK_DIRECTION": "R",
    }


def burst_attributes(burst: GeneratedBurst, size: int) -> dict[str, str]:
    """Every AdditionalAttribute of a burst record, by name (strings, as in CMR)."""
    scene = burst.parent
    cell = burst.cell
    times, positions, velocities = burst.state_vectors()
    offset = (burst.burst_index * 3 + cell.swath - 1) * size  # where it would sit in the SLC
    attrs = {
        **filter_attributes(burst),
        "ASC_NODE_TIME": iso(scene.node_time),
        "AZIMUTH_ANX_TIME": repr(round(cell.anx_time, 9)),
        "AZIMUTH_TIME": _plain(burst.azimuth_time),
        "BEAM_MODE_DESC": BEAM_MODE_DESC,
        "BYTE_LENGTH": str(size),
        "BYTE_OFFSET": str(offset),
        "CENTER_LAT": repr(cell.center[1]),
        "CENTER_LON": repr(cell.center[0]),
        "LINES_PER_BURST": str(LINES_PER_BURST),
        "SAMPLES_PER_BURST": str(SAMPLES[cell.swath]),
        "SV_POSITION_POST": _sv(positions[1], times[1]),
        "SV_POSITION_PRE": _sv(positions[0], times[0]),
        "SV_VELOCITY_POST": _sv(velocities[1], times[1]),
        "SV_VELOCITY_PRE": _sv(velocities[0], times[0]),
    }
    return dict(sorted(attrs.items()))


def render_burst(burst: GeneratedBurst, size: int, tiff_url: str, xml_url: str,
                 concept_id: str) -> dict[str, Any]:
    """The `{"meta", "umm"}` item CMR returns for a generated burst."""
    scene = burst.parent
    name = burst.name
    inserted = scene.stop + timedelta(hours=8)
    attributes = burst_attributes(burst, size)
    return {
        "meta": {
            "concept-type": "granule", "concept-id": concept_id, "revision-id": 1,
            "native-id": name, "collection-concept-id": COLLECTION_IDS[BURST_COLLECTION],
            "provider-id": "ASF", "format": "application/vnd.nasa.cmr.umm+json",
            "revision-date": iso(inserted),
        },
        "umm": {
            "TemporalExtent": {"RangeDateTime": {"BeginningDateTime": iso(burst.start),
                                                 "EndingDateTime": iso(burst.stop)}},
            "OrbitCalculatedSpatialDomains": [{"OrbitNumber": scene.absolute_orbit}],
            "GranuleUR": name,
            "AdditionalAttributes": [{"Name": k, "Values": [v]} for k, v in attributes.items()],
            "SpatialExtent": {"HorizontalSpatialDomain": {"Geometry": {"GPolygons": [
                {"Boundary": {"Points": [{"Latitude": lat, "Longitude": lon}
                                         for lon, lat in burst.cell.footprint]}}]}}},
            "ProviderDates": [{"Type": "Insert", "Date": iso(inserted)},
                              {"Type": "Update", "Date": iso(inserted)}],
            "CollectionReference": {"ShortName": BURST_COLLECTION, "Version": "1"},
            "PGEVersionClass": {"PGEName": "Sentinel-1 IPF", "PGEVersion": "003.31"},
            "RelatedUrls": [
                {"URL": tiff_url, "Type": "USE SERVICE API", "Format": "GeoTIFF",
                 "Description": "Use the link to extract the burst as a GeoTIFF from the input granule."},
                {"URL": xml_url, "Type": "USE SERVICE API", "Format": "XML",
                 "Description": "Use the link to extract an extended metadata file of the burst "
                                "from the input granule."},
                {"URL": "https://sentinel1-burst-docs.asf.alaska.edu/", "Type": "VIEW RELATED INFORMATION",
                 "Description": "Usage information for the API used to extract a burst product "
                                "from a Sentinel-1 SLC granule."},
            ],
            "InputGranules": [f"{scene.name}-SLC"],
            "Platforms": [{"Instruments": [{"ShortName": "C-SAR", "Characteristics": [
                {"Name": "LookDirection", "Value": "RIGHT"}]}],
                "ShortName": f"SENTINEL-1{scene.platform[-1]}"}],
            "MetadataSpecification": {"URL": "https://cdn.earthdata.nasa.gov/umm/granule/v1.6.5",
                                      "Name": "UMM-G", "Version": "1.6.5"},
        },
    }


def burst_record(burst: GeneratedBurst, url: str) -> SceneRecord:
    """What HyP3 and the simulated Earth know of a burst."""
    scene = burst.parent
    size, _ = standin_info(burst.name, "BURST")
    return SceneRecord(
        name=burst.name, start=burst.start, stop=burst.stop, platform=scene.platform,
        path=scene.path, frame=0, flight_direction=scene.direction,
        polarization=burst.polarization, beam_mode="IW", processing_level="BURST",
        footprint_wkt=Polygon(burst.cell.footprint).wkt, stack_key=burst.cell.full_id,
        burst_id=burst.cell.full_id, absolute_orbit=scene.absolute_orbit, file_url=url,
        file_size=size)


class BurstEntries(Sequence[Entry]):
    """The entries of a `BurstTable`, each built on first access (searches touch few)."""

    def __init__(self, table: BurstTable, file_url: FileUrl) -> None:
        self.table = table
        self.file_url = file_url
        self._built: dict[int, Entry] = {}
        self._polygons: dict[int, Polygon] = {}
        self._lock = threading.Lock()
        self.rows = {name: row for row, name in enumerate(table.names)}

    def __len__(self) -> int:
        return len(self.table)

    @overload
    def __getitem__(self, index: int) -> Entry: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Entry]: ...

    def __getitem__(self, index: int | slice) -> Entry | Sequence[Entry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        row = int(index)
        with self._lock:
            entry = self._built.get(row)
            if entry is None:
                entry = self._build(row)
                self._built[row] = entry
            return entry

    def footprints(self) -> np.ndarray:
        """One shared Polygon per burst cell, as an object array by row."""
        polygons = [Polygon(cell.footprint) for cell in self.table.cells]
        array = np.empty(len(polygons), dtype=object)
        array[:] = polygons
        return array[self.table.cell_of]

    def _build(self, row: int) -> Entry:
        burst = self.table.burst(row)
        name = self.table.names[row]
        tiff, xml = self.file_url("BURST", f"{name}.tiff"), self.file_url("BURST", f"{name}.xml")
        concept_id = f"G{hash_name(name) % 10**10:010d}-ASF"

        def render() -> dict[str, Any]:
            size, _ = standin_info(name, "BURST")
            return render_burst(burst, size, tiff, xml, concept_id)

        scene = burst.parent
        start = datetime.fromtimestamp(float(self.table.start_ts[row]), UTC)
        stop = datetime.fromtimestamp(float(self.table.stop_ts[row]), UTC)
        return Entry(name, name, "BURST", BURST_COLLECTION, f"SENTINEL-1{scene.platform[-1]}",
                     filter_attributes(burst), start, stop, scene.absolute_orbit,
                     Polygon(burst.cell.footprint), concept_id, COLLECTION_IDS[BURST_COLLECTION],
                     render, once(lambda: burst_record(burst, tiff)))


def burst_table(table: BurstTable, file_url: FileUrl) -> tuple[EntryTable, BurstEntries]:
    """The searchable table of the bursts of `table` (and its lazy entries, with a name index)."""
    entries = BurstEntries(table, file_url)
    return EntryTable.presorted(entries, table.stop_ts, table.start_ts, entries.footprints(),
                                table.columns()), entries
