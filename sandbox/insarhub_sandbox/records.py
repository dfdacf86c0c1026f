"""`SceneRecord`: what the sandbox knows of one catalog granule, shared by catalog, HyP3 and Earth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SceneRecord:
    """One Sentinel-1 granule (an IW SLC or a burst) in the sandbox catalog."""

    name: str  # granule name, e.g. S1A_IW_SLC__1SDV_20200102T133501_..._ABCD or S1_..-BURST
    start: datetime  # aware UTC acquisition start
    stop: datetime
    platform: str  # "S1A" | "S1B" | "S1C"
    path: int  # relative orbit
    frame: int  # ASF frame number
    flight_direction: str  # "ASCENDING" | "DESCENDING"
    polarization: str  # e.g. "VV+VH", "VV"
    beam_mode: str  # "IW"
    processing_level: str  # "SLC" | "BURST"
    footprint_wkt: str  # EPSG:4326 polygon
    stack_key: str  # e.g. "p100_f466" or the full burst ID "174_372326_IW3"
    burst_id: str | None = None  # full burst ID for bursts
    absolute_orbit: int = 0
    file_url: str | None = None  # where the SLC stand-in is served
    file_size: int = 0
    md5: str | None = None


def polarization_of(scene: SceneRecord) -> str:
    """'VV' or 'HH', from the granule name (1SDV/1SSV/..._VV_...) or the record."""
    name = scene.name
    if "_1SDH_" in name or "_1SSH_" in name or "_HH_" in name:
        return "HH"
    if "_1SDV_" in name or "_1SSV_" in name or "_VV_" in name:
        return "VV"
    return "HH" if scene.polarization.upper().startswith("HH") else "VV"
