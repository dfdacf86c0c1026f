"""insarhub: search Sentinel-1, make interferograms, run MintPy, monitor areas of interest.

Each command group lives in its own module with `register()`. These are the library's
commands; the `insarhub` command (`flows.cli`) adds those that run Prefect flows (`run`,
`monitor`, `fleet`) and the sandbox's, from the layers above the library.

Errors print one clear line and exit non-zero; no tracebacks for mistakes a user can fix.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from insarhub.cli import analyze, hyp3, isce, pairs, search
from insarhub.errors import InsarHubError
from insarhub.settings import redact

Register = Callable[[argparse._SubParsersAction], None]

# the library's command groups, each a module with `register(subparsers)`
COMMAND_MODULES = [search, pairs, hyp3, analyze, isce]


def build_parser(extra: Sequence[Register] = ()) -> argparse.ArgumentParser:
    """The library's commands, plus those `extra` registers (the layers above add theirs)."""
    parser = argparse.ArgumentParser(prog="insarhub", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in [*(m.register for m in COMMAND_MODULES), *extra]:
        register(sub)
    return parser


def main(argv: list[str] | None = None, extra: Sequence[Register] = ()) -> int:
    parser = build_parser(extra)
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
