"""`insarhub pairs`: choose a connected interferogram network from saved search results.

    insarhub pairs --workdir work/p100_f466 --max-degree 5
    insarhub pairs --workdir work --strategy sequential --n-nearest 3 --yearly

`--workdir` is one stack folder (holding `scenes.json`, written by `insarhub search --workdir`)
or the search folder holding several. Per stack it prints the network report and writes
`pairs.json` (pairs, baselines, per-scene baselines, report), `pairs.csv` and
`pair_network.png`.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from insarhub.errors import ConfigError

PAIRS_JSON = "pairs.json"
PAIRS_CSV = "pairs.csv"
FIGURE = "pair_network.png"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("pairs", help="select a connected interferogram pair network",
                            description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, metavar="DIR",
                        help="a stack folder with scenes.json, or a folder of stack folders")
    parser.add_argument("--strategy", choices=["sbas", "sequential"], default="sbas")
    parser.add_argument("--dt-targets", type=int, nargs="+", metavar="DAYS",
                        help="temporal baselines to aim for (default 6 12 24 36 48 72 96)")
    parser.add_argument("--dt-tol", type=int, help="days around each target (default 3)")
    parser.add_argument("--dt-max", type=float, help="longest pair in days (default 120)")
    parser.add_argument("--pb-max", type=float, help="largest perpendicular baseline, m (150)")
    parser.add_argument("--min-degree", type=int, help="pairs each date should have (3)")
    parser.add_argument("--max-degree", type=int, help="most pairs per date (5)")
    parser.add_argument("--n-nearest", type=int, help="sequential: next dates to pair (3)")
    parser.add_argument("--yearly", action="store_true",
                        help="add one-year pairs across long gaps (snow seasons)")
    parser.add_argument("--bridge-pb-max", type=float,
                        help="largest perpendicular baseline of a bridging pair, m (400)")
    parser.add_argument("--no-force-connect", action="store_true",
                        help="do not add bridging pairs (the network may fall apart)")
    parser.add_argument("--add", nargs=2, action="append", metavar=("REF", "SEC"),
                        help="always include this pair (repeatable)")
    parser.add_argument("--remove", nargs=2, action="append", metavar=("REF", "SEC"),
                        help="never use this pair (repeatable)")
    parser.add_argument("--looks", choices=["20x4", "10x2"], default="20x4",
                        help="INSAR_GAMMA looks, for the credit estimate")
    parser.add_argument("--no-plot", action="store_true", help="skip pair_network.png")
    parser.set_defaults(func=_pairs)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    names = {"dt_targets": "dt_targets", "dt_tol": "dt_tol", "dt_max": "dt_max",
             "pb_max": "pb_max", "min_degree": "min_degree", "max_degree": "max_degree",
             "n_nearest": "n_nearest", "bridge_pb_max": "bridge_pb_max"}
    options: dict[str, Any] = {"strategy": args.strategy}
    for attr, option in names.items():
        value = getattr(args, attr)
        if value is not None:
            options[option] = tuple(value) if isinstance(value, list) else value
    if args.yearly:
        options["yearly"] = True
    if args.no_force_connect:
        options["force_connect"] = False
    if args.add:
        options["add_pairs"] = [tuple(p) for p in args.add]
    if args.remove:
        options["remove_pairs"] = [tuple(p) for p in args.remove]
    return options


def stack_folders(workdir: Path) -> list[Path]:
    """The stack folder itself, or the stack folders under it."""
    from insarhub.search.persist import SCENES_FILE, stack_dirs

    if (workdir / SCENES_FILE).is_file():
        return [workdir]
    folders = stack_dirs(workdir)
    if not folders:
        raise ConfigError(f"--workdir {workdir}: no {SCENES_FILE} there or in its sub-folders; "
                          "run `insarhub search --workdir DIR` first")
    return folders


def _pairs(args: argparse.Namespace) -> int:
    from insarhub.network import select_pairs, stack_key
    from insarhub.search.multiburst import is_multi_key
    from insarhub.search.persist import load_stack

    folders = stack_folders(args.workdir)
    stacks: dict[Any, list[Any]] = {}
    where: dict[Any, Path] = {}
    for folder in folders:
        products = load_stack(folder)
        key = folder.name if is_multi_key(folder.name) or not products else stack_key(products[0])
        stacks[key] = products
        where[key] = folder
    result = select_pairs(stacks, **_options(args))
    reports = result.reports(looks=args.looks)
    print(result.report(looks=args.looks))
    pair_stacks, baselines, scene_bperp = result
    for key, folder in where.items():
        write_pairs(folder, key, pair_stacks[key], baselines[key], scene_bperp[key],
                    reports[key].to_dict(), result.networks[key].kinds)
        if not args.no_plot and pair_stacks[key]:
            from insarhub.utils import plot_pair_network

            plot_pair_network({key: pair_stacks[key]}, {key: baselines[key]},
                              {key: scene_bperp[key]}, save_path=folder / FIGURE)
        print(f"{folder}: {len(pair_stacks[key])} pairs -> {PAIRS_JSON}, {PAIRS_CSV}"
              + ("" if args.no_plot or not pair_stacks[key] else f", {FIGURE}"))
    return 0


def write_pairs(folder: Path, key: Any, pairs: list[tuple[str, str]],
                baselines: dict[tuple[str, str], tuple[int, float]],
                scene_bperp: dict[str, float], report: dict[str, Any],
                kinds: dict[tuple[str, str], str]) -> None:
    """`pairs.json` (what `Processor.create(pairs=...)` takes, plus baselines) and `pairs.csv`."""
    document = {
        "stack": folder.name,
        "key": list(key) if isinstance(key, tuple) else key,
        "pairs": [list(p) for p in pairs],
        "baselines": [[a, b, baselines[(a, b)][0], round(baselines[(a, b)][1], 2),
                       kinds.get((a, b), "")] for a, b in pairs],
        "scene_bperp": {name: round(value, 2) for name, value in scene_bperp.items()},
        "report": report,
    }
    (folder / PAIRS_JSON).write_text(json.dumps(document, indent=1))
    with (folder / PAIRS_CSV).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference", "secondary", "temporal_days", "perpendicular_m", "kind"])
        writer.writerows(document["baselines"])
