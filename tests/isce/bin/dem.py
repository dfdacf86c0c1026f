#!/usr/bin/env python3
"""Stand-in of ISCE2's dem.py for tests (insarhub-topsstack-standin): `-a stitch -b S N W E -c`.

Parses the real script's options and writes what it writes with `-c`: the EGM96 DEM
`demLat_N37_N39_Lon_W114_W112.dem` and the ellipsoid-corrected `.dem.wgs84`, each with its
`.xml` and `.vrt` (small placeholders: the stand-in topsStack reads only their names).
ISCE_STANDIN_FAIL matching "dem" makes it fail as dem.py does without Earthdata credentials.
"""

import argparse
import os
import re
import sys


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description="Create DEM simulator")
    p.add_argument("-a", "--action", dest="action", default="stitch")
    p.add_argument("-b", "--bbox", dest="bbox", type=int, nargs=4, required=True)
    p.add_argument("-s", "--source", dest="source", type=int, default=1)
    p.add_argument("-r", "--report", dest="report", action="store_true")
    p.add_argument("-c", "--correct", dest="correct", action="store_true")
    p.add_argument("-k", "--keep", dest="keep", action="store_true")
    inps = p.parse_args(argv)
    if re.search(os.environ.get("ISCE_STANDIN_FAIL", "^$"), "dem"):
        print("Authentication failed for urs.earthdata.nasa.gov", file=sys.stderr)
        return 1
    s, n, w, e = inps.bbox

    def lat(v: int) -> str:
        return f"{'N' if v >= 0 else 'S'}{abs(v):02d}"

    def lon(v: int) -> str:
        return f"{'E' if v >= 0 else 'W'}{abs(v):03d}"

    name = f"demLat_{lat(s)}_{lat(n)}_Lon_{lon(w)}_{lon(e)}.dem"
    names = [name, name + ".wgs84"] if inps.correct else [name]
    for dem in names:
        for suffix in ("", ".xml", ".vrt"):
            with open(dem + suffix, "wb") as out:
                out.write(b"\0" * 16 if not suffix else b"<imageFile/>\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
