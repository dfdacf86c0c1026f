"""insarhub: search Sentinel-1, make interferograms, run MintPy, monitor areas of interest.

Each command group lives in its own module with `register()`.

Errors print one clear line and exit non-zero; no tracebacks for mistakes a user can fix.
Commands that run Prefect flows import them lazily: the library itself never imports Prefect.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from insarhub.errors import InsarHubError
from insarhub.settings import redact

# command-group modules, each with `register(subparsers)`; missing ones are skipped
COMMAND_MODULES = [
    "insarhub.cli.search",
    "insarhub.cli.pairs",
    "insarhub.cli.hyp3",
    "insarhub.cli.analyze",
    "insarhub.cli.isce",
    "insarhub.cli.flows",
    "insarhub.cli.sandbox",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="insarhub", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InsarHubError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
