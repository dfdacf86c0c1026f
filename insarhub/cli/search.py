"""`insarhub search`: find Sentinel-1 stacks over an AOI, optionally save and download them.

    insarhub search --aoi -113.05 37.74 -112.68 38.00
    insarhub search --aoi aoi.geojson --path-frame 100 466 --start 2020-01-01 --end 2020-12-31 \
        --workdir work --download
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from insarhub.aoi import aoi_argument
from insarhub.errors import ConfigError
from insarhub.factory import Downloader


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("search", help="search Sentinel-1 stacks over an AOI (and download)",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aoi", nargs="+", required=True, metavar="AOI",
                        help="bbox MIN_LON MIN_LAT MAX_LON MAX_LAT, a WKT string, or a "
                             ".geojson/.shp/.zip file")
    parser.add_argument("--type", default="S1_SLC", choices=Downloader.available(),
                        help="what to search (default S1_SLC)")
    parser.add_argument("--start", help="first acquisition date, YYYY-MM-DD")
    parser.add_argument("--end", help="last acquisition date, YYYY-MM-DD")
    parser.add_argument("--path-frame", nargs=2, type=int, action="append", metavar=("PATH", "FRAME"),
                        help="keep this stack (repeatable)")
    parser.add_argument("--burst-id", action="append", help="keep this burst stack (repeatable)")
    parser.add_argument("--flight-direction", choices=["ASCENDING", "DESCENDING"])
    parser.add_argument("--season", nargs="+", type=int, metavar="MONTH", help="months 1..12 to keep")
    parser.add_argument("--min-aoi-coverage", type=float, metavar="PERCENT")
    parser.add_argument("--latest", type=int, metavar="N", help="keep the last N scenes per stack")
    parser.add_argument("--footprint", type=Path, metavar="PNG", help="write the footprint map")
    parser.add_argument("--workdir", type=Path, help="save results (and downloads) here")
    parser.add_argument("--download", action="store_true", help="download the kept scenes")
    parser.add_argument("--workers", type=int, default=4, help="parallel downloads (default 4)")
    parser.set_defaults(func=_search)


def _search(args: argparse.Namespace) -> int:
    keywords: dict[str, Any] = {}
    if args.start:
        keywords["start"] = args.start
    if args.end:
        keywords["end"] = args.end
    if args.flight_direction:
        keywords["flightDirection"] = args.flight_direction
    downloader = Downloader.create(args.type, intersectsWith=aoi_argument(args.aoi), workdir=args.workdir,
                                   **keywords)
    downloader.search()
    stacks = [tuple(pf) for pf in args.path_frame or []] + list(args.burst_id or [])
    if stacks or args.season or args.min_aoi_coverage is not None or args.latest:
        downloader.filter(path_frame=stacks or None, season=args.season,
                          min_aoi_coverage=args.min_aoi_coverage, latest_n=args.latest)
    downloader.summary()
    if args.footprint:
        downloader.footprint(save_path=args.footprint)
        print(f"Footprint map: {args.footprint}")
    if args.workdir:
        saved = downloader.save(args.workdir)
        print(f"Saved {len(saved)} stack(s) under {args.workdir}")
    if args.download:
        if not args.workdir:
            raise ConfigError("--download needs --workdir DIR (where the stack folders go)")
        downloader.download(workdir=args.workdir, max_workers=args.workers)
    return 0
