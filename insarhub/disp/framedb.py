"""opera-utils' frame/burst database, offline.

opera-utils fetches its database (burst_db release files) with pooch on first use. Here it is
read only from `OPERA_UTILS_DATA_DIR` (or `data_dir=`): the files found there are registered
without a hash (so generated databases, like the sandbox's, are accepted as they are) and
pooch's download URL points back at that folder, so no call ever leaves the machine. A missing
file is an error that names it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from insarhub.disp.errors import DispError

log = logging.getLogger(__name__)
ENV = "OPERA_UTILS_DATA_DIR"
_configured: Path | None = None


def configure(data_dir: str | Path | None = None) -> Path:
    """Point opera-utils at the local database; returns its folder."""
    global _configured
    folder = data_dir if data_dir is not None else os.environ.get(ENV)
    if not folder:
        raise DispError(
            f"opera-utils needs its OPERA frame database offline: set {ENV} to a folder holding "
            "frame-geometries-simple-0.9.0.geojson.zip and opera-s1-disp-0.9.0-frame-to-burst"
            ".json.zip (the sandbox writes them to <sandbox data dir>/opera_utils; for ASF's "
            "frames copy them once from opera-adt/burst_db release v0.9.0)")
    path = Path(folder).expanduser().resolve()
    from opera_utils import datasets

    pooches: list[Any] = [datasets.POOCH]
    for pooch in pooches:
        pooch.path = path
        pooch.base_url = path.as_uri() + "/"  # never the internet: "downloads" copy from here
        pooch.urls = {}
        for name in list(pooch.registry):
            if (path / name).is_file():
                pooch.registry[name] = None
    if _configured != path:
        log.info("opera-utils frame database: %s", path)
    _configured = path
    return path


def require(name: str) -> Path:
    """The path of one database file, or a DispError naming it."""
    folder = _configured
    env = os.environ.get(ENV)
    if folder is None or (env and Path(env).expanduser().resolve() != folder):
        folder = configure()  # first use, or OPERA_UTILS_DATA_DIR now names another folder
    path = folder / name
    if not path.is_file():
        raise DispError(f"opera-utils database file {name} is missing from {folder} ({ENV}); "
                        "copy it there (no download is attempted)")
    return path


def frame_geodataframe() -> Any:
    """Every frame of the database as a GeoDataFrame (index frame_id, orbit_pass, geometry)."""
    from opera_utils import datasets
    from opera_utils.burst_frame_db import get_frame_geodataframe

    return get_frame_geodataframe(json_file=require(
        f"frame-geometries-simple-{datasets.BURST_DB_VERSION}.geojson.zip"))


def frame_epsg_bounds(frame_id: int) -> tuple[int, tuple[float, float, float, float]]:
    """(EPSG, (xmin, ymin, xmax, ymax)) of a frame, from the frame->burst map."""
    from opera_utils import datasets
    from opera_utils.burst_frame_db import get_frame_bbox

    require(f"opera-s1-disp-{datasets.BURST_DB_VERSION}-frame-to-burst.json.zip")
    try:
        epsg, bbox = get_frame_bbox(int(frame_id))
    except KeyError:
        raise DispError(f"frame {frame_id} is not in the opera-utils database at "
                        f"{_configured}") from None
    return epsg, tuple(bbox)  # type: ignore[return-value]
