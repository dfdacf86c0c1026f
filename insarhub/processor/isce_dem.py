"""A DEM for topsStack when the user gives none: ISCE2's own `dem.py` stitches one.

    dem.py -a stitch -b 37 39 -114 -112 -r -s 1 -c     # in <workdir>/dem/

stitches SRTM 1-arcsec tiles over the integer-degree box around `bbox` and corrects the
heights to the WGS84 ellipsoid (`-c`), writing `demLat_N37_N39_Lon_W114_W112.dem.wgs84` with its
`.xml`/`.vrt`. The tiles come from NASA Earthdata (credentials in `~/.netrc`, as ISCE2 reads
them). A DEM already stitched there is reused, so a rerun costs nothing.
"""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
from pathlib import Path

from insarhub.errors import ConfigError, IsceError

log = logging.getLogger(__name__)

DEM_SCRIPT = "dem.py"
DEM_FOLDER = "dem"


def dem_box(bbox_snwe: list[float]) -> tuple[int, int, int, int]:
    """The integer-degree (S, N, W, E) box that holds `bbox_snwe`, as dem.py takes it."""
    south, north, west, east = bbox_snwe
    return math.floor(south), math.ceil(north), math.floor(west), math.ceil(east)


def dem_name(box: tuple[int, int, int, int]) -> str:
    """dem.py's file name for an integer box, e.g. demLat_N37_N39_Lon_W114_W112.dem.wgs84."""
    south, north, west, east = box

    def lat(v: int) -> str:
        return f"{'N' if v >= 0 else 'S'}{abs(v):02d}"

    def lon(v: int) -> str:
        return f"{'E' if v >= 0 else 'W'}{abs(v):03d}"

    return f"demLat_{lat(south)}_{lat(north)}_Lon_{lon(west)}_{lon(east)}.dem.wgs84"


def stitch_dem(bbox_snwe: list[float] | None, workdir: Path) -> Path:
    """The DEM over `bbox_snwe` in `<workdir>/dem/`, stitched by ISCE2's dem.py when missing."""
    if bbox_snwe is None:
        raise ConfigError("dem: none given and no bbox to stitch one over; give dem= (an ISCE2 "
                          "DEM) or bbox=[S, N, W, E] so that ISCE2's dem.py can make one")
    box = dem_box(bbox_snwe)
    folder = workdir / DEM_FOLDER
    target = folder / dem_name(box)
    if target.is_file() and target.with_name(target.name + ".xml").is_file():
        return target
    script = shutil.which(DEM_SCRIPT)
    if script is None:
        raise IsceError(f"dem: none given, and ISCE2's {DEM_SCRIPT} (which stitches one) is not on "
                        "PATH; put ISCE2's applications folder on PATH (e.g. "
                        "$CONDA_PREFIX/lib/python3.*/site-packages/isce/applications) or give dem=")
    folder.mkdir(parents=True, exist_ok=True)
    command = [script, "-a", "stitch", "-b", *(str(v) for v in box), "-r", "-s", "1", "-c"]
    log.info("stitching a DEM over %s with ISCE2: %s", box, " ".join(command[1:]))
    with (folder / "dem.log").open("w") as out:
        done = subprocess.run(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                              check=False)
    if done.returncode != 0 or not target.is_file():
        tail = (folder / "dem.log").read_text(errors="replace")[-600:]
        raise IsceError(f"{DEM_SCRIPT} could not stitch a DEM over {box} (exit "
                        f"{done.returncode}; it needs Earthdata credentials in ~/.netrc); give "
                        f"dem= instead. Its log ({folder / 'dem.log'}) ends:\n{tail}")
    return target
