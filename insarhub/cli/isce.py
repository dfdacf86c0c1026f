"""`insarhub isce submit|status|watch|retry|cancel`: local ISCE2 topsStack processing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from insarhub.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("isce", help="interferograms with a local ISCE2 topsStack")
    actions = parser.add_subparsers(dest="isce_command", metavar="ACTION", required=True)
    helps = {
        "submit": "write the run files for the pairs and start the background runner",
        "status": "print the step table",
        "watch": "print the step table until every step has ended",
        "retry": "run the failed commands again, from the first failed step on",
        "cancel": "stop the runner and its commands",
    }
    for name, text in helps.items():
        action = actions.add_parser(name, help=text)
        action.add_argument("--config", type=Path, required=True,
                            help="ISCE_S1_Config YAML, or the saved <workdir>/isce_job.yaml")
        if name == "submit":
            action.add_argument("--pairs", type=Path,
                                help="pairs file: JSON/YAML list of [reference, secondary] scene "
                                     "names or lines 'REFERENCE SECONDARY' (default: those of "
                                     "the job file or of the last submit)")
            action.add_argument("--dry-run", action="store_true",
                                help="write the run files only; execute nothing")
        if name == "watch":
            action.add_argument("--interval", type=float, default=60.0,
                                help="seconds between checks (default 60)")
            action.add_argument("--timeout", type=float, help="give up after this many seconds")
        action.set_defaults(func=_run)


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """Pairs from JSON/YAML ([[ref, sec], ...], {stack: [...]} or a job file) or text lines."""
    if not path.is_file():
        raise ConfigError(f"--pairs {str(path)!r}: file not found")
    text = path.read_text()
    data: Any
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        data = None
    if isinstance(data, dict) and "pairs" in data:
        data = data["pairs"]
    if isinstance(data, dict) and len(data) == 1:
        data = next(iter(data.values()))
    if isinstance(data, list) and all(isinstance(p, list | tuple) for p in data):
        return [(str(p[0]), str(p[1])) for p in data if len(p) == 2]
    pairs = []
    for line in text.splitlines():
        words = line.replace(",", " ").split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) != 2:
            raise ConfigError(f"--pairs {str(path)!r}: line {line!r} is not 'REFERENCE SECONDARY'")
        pairs.append((words[0], words[1]))
    return pairs


def _run(args: argparse.Namespace) -> int:
    from insarhub.processor.isce import IsceS1Processor

    options: dict[str, Any] = {}
    pairs: Any = None
    job = yaml.safe_load(args.config.read_text()) if args.config.is_file() else None
    if isinstance(job, dict) and "config" in job:
        pairs = job.get("pairs") or None
    if getattr(args, "pairs", None) is not None:
        pairs = read_pairs(args.pairs)
    if getattr(args, "dry_run", False):
        options["dry_run"] = True
    processor = IsceS1Processor(pairs=pairs, config=args.config, **options)
    command = args.isce_command
    if command == "submit":
        status = processor.submit()
        print(f"{processor.isce_dir}: {status.line()}")
        return 0
    if command == "retry":
        processor.retry()
    elif command == "cancel":
        processor.cancel()
    elif command == "watch":
        status = processor.watch(refresh_interval=args.interval, timeout=args.timeout)
        return 0 if status.succeeded else 1
    processor.refresh()
    return 0
