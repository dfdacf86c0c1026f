"""Write one OPERA L3 DISP-S1 NetCDF (HDF5) in the product's layout.

Layout as JPL's DISP-S1 writer makes it (opera-adt/disp-s1 `product.py`, `product_info.py`;
read by opera-utils' `opera_utils.disp`): CF-1.8 global attributes; root 2-D (y, x) layers
`displacement`, `short_wavelength_displacement`, `recommended_mask`,
`connected_component_labels`, `temporal_coherence`, `estimated_phase_quality`,
`persistent_scatterer_mask`, `shp_counts`, `water_mask`, `phase_similarity`,
`timeseries_inversion_residuals`, each with `long_name`, `description`, `units`,
`grid_mapping = spatial_ref`; pixel-centre `x`/`y` (m), `time` and `reference_time` (seconds
since 2010-01-01); the `spatial_ref` grid mapping (CF CRS attributes plus `GeoTransform`);
groups `/corrections` (ionospheric_delay, solid_earth_tide, perpendicular_baseline,
reference_point), `/identification` and `/metadata`. Displacement is in meters, positive
towards the platform, relative to the product's reference date.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyproj

from insarhub_sandbox.earth.model import WAVELENGTH
from insarhub_sandbox.products.geotiff import GeoGrid

GLOBAL_ATTRS = {
    "Conventions": "CF-1.8", "contact": "opera-sds-ops@jpl.nasa.gov", "institution": "NASA JPL",
    "mission_name": "OPERA", "reference_document": "JPL D-108765",
    "title": "OPERA_L3_DISP-S1 Product",
}
TIME_REFERENCE = datetime(2010, 1, 1)
TIME_UNITS = "seconds since 2010-01-01 00:00:00.000000"
TOWARDS = " Positive values indicate apparent motion towards the platform."
LAYERS: dict[str, tuple[str, str, Any, str]] = {  # name: (long_name, description, fill, units)
    "displacement": ("Line-of-sight displacement", "Displacement along the radar Line-of-Sight "
                     "(LOS) direction." + TOWARDS, np.nan, "meters"),
    "short_wavelength_displacement": (
        "Short wavelength displacement", "Displacement in Line-of-Sight (LOS) with "
        "long-wavelength signals removed." + TOWARDS, np.nan, "meters"),
    "recommended_mask": ("Recommended Mask", "Suggested mask to remove low quality pixels, "
                         "where 0 indicates a bad pixel, 1 is a good pixel.", 255, "unitless"),
    "connected_component_labels": ("Connected Component Labels",
                                   "Connected component labels of the unwrapped phase", 65535,
                                   "unitless"),
    "temporal_coherence": ("Temporal Coherence", "Temporal coherence of phase inversion",
                           np.nan, "unitless"),
    "estimated_phase_quality": ("Estimated phase quality",
                                "Sliding window estimate of multi-looked phase noise", np.nan,
                                "unitless"),
    "persistent_scatterer_mask": ("Persistent Scatterer Mask", "Mask of persistent scatterers "
                                  "downsampled to the multilooked output grid", 255, "unitless"),
    "shp_counts": ("Statistically Homogeneous Pixels Counts", "Number of statistically "
                   "homogeneous pixels (SHPs) used at each output pixel during multilooking", 0,
                   "unitless"),
    "water_mask": ("Water Mask", "Binary mask created to ignore water during processing.", 255,
                   "unitless"),
    "phase_similarity": ("Phase Similarity", "Median cosine similarity of wrapped phase in each "
                         "pixel's neighborhood.", np.nan, "unitless"),
    "timeseries_inversion_residuals": ("Timeseries inversion residuals", "Sum of residuals of "
                                       "the timeseries inversion for this secondary date.",
                                       np.nan, "radians"),
}
CORRECTIONS: dict[str, tuple[str, str]] = {
    "ionospheric_delay": ("Ionospheric Delay", "Apparent displacement from excess path delay "
                          "difference due to signal propagation through the ionosphere. "
                          "Subtract from /displacement to apply as a correction."),
    "solid_earth_tide": ("Solid Earth Tide", "Surface displacement due to Solid Earth tide "
                         "difference between the reference and secondary acquisition times, "
                         "projected onto the radar line of sight. Subtract from /displacement "
                         "to apply as a correction."),
    "perpendicular_baseline": ("Perpendicular Baseline", "Perpendicular baseline between "
                               "reference and secondary acquisitions. May be used to correct "
                               "for DEM error in the displacement imagery."),
}


def _seconds(moment: datetime) -> float:
    return (moment.replace(tzinfo=None) - TIME_REFERENCE).total_seconds()


def _geo(group: Any, grid: GeoGrid) -> None:
    """Pixel-centre x/y dimension scales and the spatial_ref grid mapping of one group."""
    y = grid.y0 - (np.arange(grid.length) + 0.5) * grid.spacing
    x = grid.x0 + (np.arange(grid.width) + 0.5) * grid.spacing
    for name, values in (("y", y), ("x", x)):
        var = group.create_dataset(name, data=values.astype(float))
        var.make_scale(name)
        var.attrs.update({"standard_name": f"projection_{name}_coordinate",
                          "long_name": f"{name} coordinate of projection", "units": "m"})
    ref = group.create_dataset("spatial_ref", data=0, dtype=int)
    ref.attrs.update(pyproj.CRS.from_epsg(grid.epsg).to_cf())
    ref.attrs.update({"GeoTransform": " ".join(str(v) for v in grid.geotransform),
                      "units": "unitless",
                      "long_name": "Dummy variable with geo-referencing metadata in attributes"})


def _time(group: Any, name: str, moment: datetime, long_name: str) -> None:
    var = group.create_dataset(name, data=np.array([_seconds(moment)]), dtype=float)
    if name == "time":
        var.make_scale("time")
    else:
        var.dims[0].attach_scale(group["time"])
    var.attrs.update({"standard_name": "time", "long_name": long_name, "calendar": "standard",
                      "units": TIME_UNITS})


def _layer(group: Any, name: str, data: np.ndarray, long_name: str, description: str,
           fill: Any, units: str) -> None:
    chunks = (min(256, data.shape[0]), min(256, data.shape[1]))
    var = group.create_dataset(name, data=data, dtype=data.dtype, fillvalue=fill, chunks=chunks,
                               compression="gzip", compression_opts=4, shuffle=True)
    var.dims[0].attach_scale(group["y"])
    var.dims[1].attach_scale(group["x"])
    var.attrs.update({"long_name": long_name, "description": description, "units": units,
                      "grid_mapping": "spatial_ref", "_FillValue": np.array(fill, data.dtype)})


def _text(group: Any, name: str, value: object, description: str) -> None:
    var = group.create_dataset(name, data=np.bytes_(str(value)))
    var.attrs["description"] = description


def write_product(path: Path, grid: GeoGrid, layers: dict[str, np.ndarray], info: dict[str, Any]) -> Path:
    """Write the product; `info` holds frame_id, reference/secondary start and end datetimes,
    track_number, orbit_pass_direction, platform, bounding_polygon, reference_point (row, col,
    lat, lon), static_layers_data_access, wavelength_cutoff, thresholds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".nc.tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs.update(GLOBAL_ATTRS)
        _geo(f, grid)
        _time(f, "time", info["secondary_start"], "Time corresponding to beginning of secondary acquisition")
        _time(f, "reference_time", info["reference_start"],
              "Time corresponding to beginning of reference acquisition")
        for name, (long_name, description, fill, units) in LAYERS.items():
            _layer(f, name, layers[name], long_name, description, fill, units)
        f["short_wavelength_displacement"].attrs.update(
            {"wavelength_cutoff": str(info["wavelength_cutoff"]), "wavelength_cutoff_units": "meters"})
        f["recommended_mask"].attrs.update(
            {"temporal_coherence_threshold": "0.6", "similarity_threshold": "0.5",
             "uses_connected_component_labels": "True"})
        corrections = f.create_group("corrections")
        corrections.attrs["description"] = (
            "Phase corrections which may be used to correct the displacement image")
        _geo(corrections, grid)
        _time(corrections, "time", info["secondary_start"],
              "Time corresponding to beginning of secondary image")
        for name, (long_name, description) in CORRECTIONS.items():
            _layer(corrections, name, layers[f"corrections/{name}"], long_name, description,
                   np.nan, "meters")
        row, col, lat, lon = info["reference_point"]
        point = corrections.create_dataset("reference_point", data=0, dtype=int)
        point.attrs.update({"rows": [row], "cols": [col], "latitudes": [lat],
                            "longitudes": [lon], "units": "unitless",
                            "description": "Dummy dataset containing attributes recording the "
                            "spatial location where the reference phase was taken."})
        ident = f.create_group("identification")
        for name, value, description in (
            ("processing_facility", "NASA Jet Propulsion Laboratory on AWS", "Product processing facility"),
            ("frame_id", info["frame_id"], "Product frame identifier"),
            ("product_version", "1.0", "Product version"),
            ("radar_band", "C", "Acquired radar frequency band"),
            ("instrument_name", "Sentinel-1", "Name of the instrument used to collect the remote sensing data"),
            ("look_direction", "Right", "Look direction"),
            ("track_number", info["track_number"], "Track number"),
            ("orbit_pass_direction", info["orbit_pass_direction"], "Orbit direction"),
            ("reference_datetime", info["reference_start"].strftime("%Y-%m-%d %H:%M:%S.%f"),
             "UTC datetime of the acquisition sensing start of the reference epoch"),
            ("secondary_datetime", info["secondary_start"].strftime("%Y-%m-%d %H:%M:%S.%f"),
             "UTC datetime of the acquisition sensing start of the secondary epoch"),
            ("reference_zero_doppler_start_time", info["reference_start"].isoformat(), "Reference start"),
            ("reference_zero_doppler_end_time", info["reference_end"].isoformat(), "Reference end"),
            ("secondary_zero_doppler_start_time", info["secondary_start"].isoformat(), "Secondary start"),
            ("secondary_zero_doppler_end_time", info["secondary_end"].isoformat(), "Secondary end"),
            ("bounding_polygon", info["bounding_polygon"], "WKT of the product footprint (EPSG:4326)"),
            ("static_layers_data_access", info["static_layers_data_access"],
             "Location of the static layers product"),
        ):
            _text(ident, name, value, description)
        wl = ident.create_dataset("radar_wavelength", data=WAVELENGTH, dtype=float)
        wl.attrs.update({"units": "meters", "description": "Wavelength of the transmitted signal"})
        coh = ident.create_dataset("average_temporal_coherence",
                                   data=float(np.nanmean(layers["temporal_coherence"])), dtype=float)
        coh.attrs["description"] = "Mean temporal coherence of the product"
        meta = f.create_group("metadata")
        _text(meta, "platform_id", info["platform"], "Sentinel-1 unit")
        _text(meta, "product_pge_version", "0.4.x (insarhub sandbox)", "Version of the PGE")
    tmp.replace(path)
    return path
