"""`insarhub submit | status | download | retry`: HyP3 interferograms for one stack folder.

    insarhub submit   --workdir work/p100_f466            # pairs.json from `insarhub pairs`
    insarhub submit   --workdir work/p100_f466 --pairs my_pairs.csv --looks 10x2
    insarhub submit   --workdir work/p100_f466 --max-credits 300   # refuse a dearer network
    insarhub submit   --workdir work/p100_f466 --estimate          # credits only, send nothing
    insarhub status   --workdir work/p100_f466            # refresh from HyP3, print the table
    insarhub download --workdir work/p100_f466            # products into <workdir>/hyp3/
    insarhub retry    --workdir work/p100_f466 --repair   # resubmit; replace pairs that keep failing

Everything is recorded in the stack's ledger (<workdir>/insarhub.db) and exported to
<workdir>/hyp3_jobs.json: commands can be repeated or interrupted safely.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from insarhub.errors import ConfigError, HyP3Error
from insarhub.ledger import DB_NAME, Ledger

PAIRS_FILE = "pairs.json"
TYPES = ("Hyp3_S1", "Hyp3_Burst")
BOOL_OPTIONS = ("include_dem", "include_look_vectors", "include_inc_map", "apply_water_mask",
                "include_displacement_maps", "include_wrapped_phase")


def register(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workdir", type=Path, required=True, metavar="DIR",
                        help="the stack folder (holds insarhub.db and hyp3_jobs.json)")
    common.add_argument("--type", choices=TYPES, dest="processor_type",
                        help="processor (default: the workdir's, else from the granule names)")

    submit = sub.add_parser("submit", parents=[common], help="submit HyP3 jobs for pairs",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    submit.add_argument("--pairs", type=Path, metavar="FILE",
                        help=f"pairs file: {PAIRS_FILE} of `insarhub pairs`, a JSON list of "
                             "[reference, secondary] or a CSV with reference,secondary columns "
                             f"(default: <workdir>/{PAIRS_FILE}, else the ledger's queue)")
    submit.add_argument("--looks", help="20x4 | 10x2 (| 5x1 for bursts)")
    submit.add_argument("--phase-filter-parameter", type=float, metavar="0..1")
    for name in BOOL_OPTIONS:
        submit.add_argument(f"--{name.replace('_', '-')}", action=argparse.BooleanOptionalAction,
                            default=None)
    submit.add_argument("--name-prefix", help="job name prefix (default ifg)")
    submit.add_argument("--batch-size", type=int, default=200, help="jobs per request (<= 200)")
    submit.add_argument("--max-credits", type=float, metavar="N",
                        help="credit ceiling: above it nothing is submitted (default: none)")
    submit.add_argument("--estimate", action="store_true",
                        help="print the credits the pairs would cost; submit nothing")
    submit.set_defaults(func=_submit)

    status = sub.add_parser("status", parents=[common], help="refresh and print HyP3 job status")
    status.add_argument("--offline", action="store_true", help="print the ledger, ask HyP3 nothing")
    status.set_defaults(func=_status)

    download = sub.add_parser("download", parents=[common], help="download finished HyP3 products")
    download.add_argument("--workers", type=int, default=8, help="parallel downloads")
    download.add_argument("--keep-zip", action="store_true", help="keep the zips after unzipping")
    download.add_argument("--no-progress", action="store_true")
    download.set_defaults(func=_download)

    retry = sub.add_parser("retry", parents=[common],
                           help="resubmit failed and expired HyP3 jobs")
    retry.add_argument("--max-retries", type=int, help="resubmissions per pair (default 2)")
    retry.add_argument("--repair", action="store_true",
                       help="replace pairs past --max-retries with new pairs (needs scenes.json)")
    retry.set_defaults(func=_retry)


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """Pairs from `insarhub pairs`' pairs.json, a JSON list, or a CSV (reference, secondary)."""
    if not path.is_file():
        raise ConfigError(f"--pairs {path}: no such file; run `insarhub pairs --workdir ...` "
                          "or give a JSON/CSV file of (reference, secondary) pairs")
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if rows and not {"reference", "secondary"} <= set(rows[0]):
            raise ConfigError(f"--pairs {path}: the CSV needs 'reference' and 'secondary' columns")
        return [(row["reference"], row["secondary"]) for row in rows]
    try:
        data: Any = json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"--pairs {path}: not JSON or CSV ({exc})") from None
    if isinstance(data, dict):
        data = data.get("pairs")
    if not isinstance(data, list):
        raise ConfigError(f"--pairs {path}: expected a list of [reference, secondary] "
                          "(or {\"pairs\": [...]})")
    return [tuple(pair) for pair in data]


def _processor_type(args: argparse.Namespace, pairs: list[tuple[str, str]] | None = None) -> str:
    if args.processor_type:
        return str(args.processor_type)
    if (args.workdir / DB_NAME).is_file():
        with Ledger(args.workdir / DB_NAME) as ledger:
            saved = ledger.get_meta("processor")
        if saved in TYPES:
            return str(saved)
    if pairs and str(pairs[0][0]).endswith("-BURST"):
        return "Hyp3_Burst"
    if pairs:
        return "Hyp3_S1"
    raise ConfigError(f"--workdir {args.workdir} has no HyP3 ledger ({DB_NAME}) yet: run "
                      "`insarhub submit --workdir DIR` first (with pairs)")


def _open(args: argparse.Namespace, pairs: list[tuple[str, str]] | None = None,
          **options: Any) -> Any:
    from insarhub import Processor

    return Processor.create(_processor_type(args, pairs), pairs=pairs or None,
                            workdir=args.workdir, **options)


def _submit(args: argparse.Namespace) -> int:
    pairs_path = args.pairs or (args.workdir / PAIRS_FILE)
    pairs = read_pairs(pairs_path) if args.pairs or pairs_path.is_file() else None
    if pairs is None and not (args.workdir / DB_NAME).is_file():
        raise ConfigError(f"no pairs: give --pairs FILE or run `insarhub pairs --workdir "
                          f"{args.workdir}` first (it writes {PAIRS_FILE})")
    options: dict[str, Any] = {name: getattr(args, name) for name in
                               ("looks", "phase_filter_parameter", *BOOL_OPTIONS)
                               if getattr(args, name) is not None}
    from insarhub import Processor
    from insarhub.credits import MONTHLY_CREDITS, check_ceiling

    processor = Processor.create(_processor_type(args, pairs), workdir=args.workdir,
                                 name_prefix=args.name_prefix, batch_size=args.batch_size,
                                 **options)
    estimate = processor.estimate(pairs)  # priced before anything is queued or sent
    try:
        remaining = processor.client.user().get("remaining_credits") if estimate.jobs else None
    except (HyP3Error, OSError):
        remaining = None
    print(f"HyP3 credits: {estimate.line()}; a month has {MONTHLY_CREDITS:,}"
          + (f", {float(remaining):g} remain" if remaining is not None else "")
          + (f", max_credits {args.max_credits:g}" if args.max_credits is not None else ""))
    if args.estimate:
        return 0
    check_ceiling(estimate, args.max_credits)
    if pairs:
        processor.add_pairs(pairs)
    result = processor.submit(max_credits=args.max_credits)
    print(f"{len(result.submitted)} jobs submitted, {len(result.recovered)} found again on HyP3, "
          f"{len(result.queued)} queued; ledger: {processor.ledger.path}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from insarhub.processor.hyp3 import format_table

    processor = _open(args)
    if args.offline:
        print(format_table(processor.table()))
    else:
        processor.refresh()
    return 0


def _download(args: argparse.Namespace) -> int:
    processor = _open(args)
    products = processor.download(max_workers=args.workers, progress=not args.no_progress,
                                  keep_zip=args.keep_zip)
    print(f"{len(products)} products in {processor.products_dir}")
    return 0


def _retry(args: argparse.Namespace) -> int:
    options = {} if args.max_retries is None else {"max_retries": args.max_retries}
    processor = _open(args, **options)
    report = processor.retry()
    print(f"{len(report.resubmitted)} jobs resubmitted")
    if report.exhausted:
        print(f"{len(report.exhausted)} pairs keep failing:")
        for reference, secondary in report.exhausted:
            print(f"  {reference} {secondary}")
        if args.repair:
            update = processor.repair_network()
            processor.submit()
            print(f"network repaired: {len(update.removed)} pairs dropped, "
                  f"{len(update.pairs)} new pairs submitted")
        else:
            print("replace them with `insarhub retry --workdir DIR --repair`")
    return 0
