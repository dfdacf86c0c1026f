"""`insarhub analyze`: MintPy time series of a stack working directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from insarhub.aoi import aoi_argument
from insarhub.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("analyze", help="run the MintPy SBAS time series of a stack working directory")
    parser.add_argument("--workdir", type=Path, required=True,
                        help="stack working directory (its hyp3/ folder holds the interferograms)")
    parser.add_argument("--type", default="Hyp3_SBAS", help="analyzer type (Hyp3_SBAS or ISCE_SBAS)")
    parser.add_argument("--ref-lat", type=float, help="reference point latitude (with --ref-lon)")
    parser.add_argument("--ref-lon", type=float, help="reference point longitude (with --ref-lat)")
    parser.add_argument("--aoi", help="clip to this AOI: --aoi=W,S,E,N (with '='), WKT or a GeoJSON/shapefile path")
    parser.add_argument("--steps", nargs="+", metavar="STEP",
                        help="smallbaselineApp steps to run (default: all)")
    parser.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                        help="any MintPy template option, e.g. -o mintpy.deramp=linear (repeatable)")
    parser.add_argument("--prep-only", action="store_true", help="prepare the inputs and template only")
    parser.add_argument("--full", action="store_true",
                        help="invert every date again (default: append new dates to an existing time series "
                             "when that is sound)")
    parser.set_defaults(func=_analyze)


def _options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {pair!r} must be KEY=VALUE, e.g. mintpy.deramp=linear")
        options[key.strip()] = value.strip()
    return options


def _analyze(args: argparse.Namespace) -> int:
    from insarhub.factory import Analyzer

    if args.full and args.steps:
        raise ConfigError("--full runs every smallbaselineApp step; give --full or --steps, not both")
    if (args.ref_lat is None) != (args.ref_lon is None):
        raise ConfigError("give both --ref-lat and --ref-lon, or neither (automatic reference point)")
    reference = (args.ref_lat, args.ref_lon) if args.ref_lat is not None else None
    analyzer = Analyzer.create(args.type, workdir=args.workdir, aoi=aoi_argument(args.aoi) if args.aoi else None,
                               reference_point=reference, mintpy_options=_options(args.option))
    template = analyzer.prep_data()
    ref = analyzer.reference
    print(f"template: {template}")
    if ref is not None:
        print(f"reference point: lat {ref.lat:.6f} lon {ref.lon:.6f} "
              f"({'automatic' if ref.automatic else 'given'}, mean coherence {ref.coherence:.2f})")
    if args.prep_only:
        return 0
    outputs = analyzer.run(args.steps, full=args.full)
    report = analyzer.last_run
    if report is not None:
        print(f"time series: {report.mode} run ({report.reason})")
        print(f"MintPy: {len(report.steps)} steps in {report.wall_s:.1f} s; log {report.log_file}")
    for name, path in outputs.items():
        print(f"{name:<24} {path}")
    return 0
