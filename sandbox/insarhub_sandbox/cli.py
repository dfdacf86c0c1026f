"""`insarhub sandbox serve` (or `python -m insarhub_sandbox serve`): the offline ASF catalog and
HyP3 on loopback."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from insarhub_sandbox.earth.events import DeformationEvent
from insarhub_sandbox.errors import SandboxError
from insarhub_sandbox.server import Sandbox, SandboxOptions


def register(sub: argparse._SubParsersAction) -> None:
    """Add `sandbox serve` to a command line (the `insarhub` command's)."""
    add_commands(sub.add_parser("sandbox", help="the offline sandbox (catalog + HyP3)"))


def main(argv: list[str] | None = None) -> int:
    """`python -m insarhub_sandbox serve ...`."""
    parser = argparse.ArgumentParser(prog="python -m insarhub_sandbox", description=__doc__)
    add_commands(parser)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def add_commands(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="serve the sandbox on 127.0.0.1 until interrupted")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    serve.add_argument("--data-dir", type=Path, default=Path(".sandbox"),
                       help="where rendered products and job state live")
    serve.add_argument("--now", help="the catalog clock, e.g. 2021-01-01 (default: real time)")
    serve.add_argument("--job-seconds", type=float, default=2.0,
                       help="HyP3 seconds from PENDING to SUCCEEDED")
    serve.add_argument("--grid-size", type=int, default=60, help="simulated product size (pixels)")
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--event", action="append", default=[], type=_event,
                       metavar="LON,LAT,DATE,MM[,SIGMA_M[,KIND]]",
                       help="inject a deformation event (repeatable; with = before a "
                            "negative longitude), e.g. --event="
                            "-112.87,37.86,2020-03-01,-30,400,step (kind: step|accelerating)")
    serve.add_argument("--world", type=int, default=0, metavar="N",
                       help="also serve N generated AOIs around --now (catalog.world), "
                            "their events injected; 0: Utah only")
    serve.add_argument("--world-cycles", type=int, default=30,
                       help="12-day cycles of acquisitions after --now in the world's stacks")
    serve.set_defaults(func=_serve)


def _event(text: str) -> DeformationEvent:
    try:
        return DeformationEvent.parse(text)
    except SandboxError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _serve(args: argparse.Namespace) -> int:
    extra: dict[str, object] = {"initial_events": args.event}
    if args.world:
        from insarhub_sandbox.catalog.world import make_world

        if not args.now:
            raise SandboxError("--world needs --now (the date the world's stacks are built around)")
        extra["world"] = make_world(args.world, args.now[:10], cycles=args.world_cycles)
    options = SandboxOptions(data_dir=args.data_dir, now=args.now, job_seconds=args.job_seconds,
                             grid_size=args.grid_size, seed=args.seed, extra=extra)
    sandbox = Sandbox(options, host=args.host, port=args.port)
    print(f"# insarhub sandbox on {sandbox.url} (Ctrl-C stops it)")
    for key, value in sandbox.env().items():
        print(f"export {key}={value}")
    print("", flush=True)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.server.server_close()
    return 0
