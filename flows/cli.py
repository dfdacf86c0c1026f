"""The `insarhub` command: the library's commands, those that run flows, and the sandbox's.

    insarhub search|pairs|submit|status|download|retry|analyze|isce ...   (insarhub.cli)
    insarhub run|monitor ...                                           (flows.commands)
    insarhub sandbox serve ...                                         (insarhub_sandbox)

The sandbox is a package of its own; where it is not installed, `insarhub sandbox` says how to
get it.
"""

from __future__ import annotations

import argparse

from flows import commands, fleet_commands
from insarhub import cli as library_cli
from insarhub.errors import ConfigError

SANDBOX_MISSING = (
    "the sandbox (offline ASF catalog and HyP3) is a separate package, not installed here. "
    "From a checkout of insarhub: pip install -e ./sandbox (the folder beside insarhub/), "
    "then run `insarhub sandbox serve` again"
)


def register_sandbox(sub: argparse._SubParsersAction) -> None:
    """`insarhub sandbox ...` from the sandbox package, or a command that says how to install it."""
    try:
        from insarhub_sandbox import cli as sandbox_cli
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("insarhub_sandbox"):
            raise
        parser = sub.add_parser("sandbox", help="the offline sandbox (not installed: see its help)",
                                description=SANDBOX_MISSING)
        parser.add_argument("rest", nargs=argparse.REMAINDER)
        parser.set_defaults(func=_sandbox_missing)
        return
    sandbox_cli.register(sub)


def _sandbox_missing(args: argparse.Namespace) -> int:
    raise ConfigError(SANDBOX_MISSING)


def main(argv: list[str] | None = None) -> int:
    return library_cli.main(argv, extra=(commands.register, fleet_commands.register,
                                         register_sandbox))


if __name__ == "__main__":
    raise SystemExit(main())
