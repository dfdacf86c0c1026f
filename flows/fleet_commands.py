"""`insarhub fleet add|list|remove|status|deploy|cycle`: a fleet of AOIs from one YAML file.

    insarhub fleet add cedar-city --geometry=-113.05,37.74,-112.68,38.0 --product auto \\
        --priority 5 --threshold-mm 10            # appends to deployments/fleet.yaml
    insarhub fleet list
    insarhub fleet deploy --pool insarhub-process # registers fleet-cycle and fleet-aoi
    insarhub fleet cycle                          # one cycle now (through the deployments)
    insarhub fleet status                         # per AOI: last cycle, newest date, ...
    insarhub fleet remove cedar-city
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from insarhub.fleet.budget import month_of
from insarhub.fleet.model import add_entry, load_fleet, remove_entry
from insarhub.fleet.status import fleet_status, status_table

DEFAULT_FLEET = "deployments/fleet.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    fleet = sub.add_parser("fleet", help="a fleet of AOIs sharing one credit budget",
                           description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    fleet.add_argument("--fleet", default=DEFAULT_FLEET, help="the fleet file (YAML)")
    actions = fleet.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add an AOI to the fleet file")
    add.add_argument("name")
    add.add_argument("--geometry", required=True,
                     help="min_lon,min_lat,max_lon,max_lat or WKT (with = before a minus)")
    add.add_argument("--product", choices=("auto", "multi_burst", "gamma"), default="auto")
    add.add_argument("--priority", type=int, default=0, help="higher is served first")
    add.add_argument("--orbit", type=int, help="relative orbit (default: most dates)")
    add.add_argument("--start", help="first acquisition date, YYYY-MM-DD")
    add.add_argument("--threshold-mm", type=float, help="alert threshold (mm)")
    add.set_defaults(func=_add)

    actions.add_parser("list", help="the fleet's AOIs").set_defaults(func=_list)
    remove = actions.add_parser("remove", help="drop an AOI (its folder is kept)")
    remove.add_argument("name")
    remove.set_defaults(func=_remove)

    status = actions.add_parser("status", help="per AOI: last cycle, newest date, pending "
                                               "dates, credits this month, open alerts")
    status.add_argument("--month", help="YYYY-MM (default: this month)")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_status)

    deploy = actions.add_parser("deploy", help="register the fleet's deployments and limits")
    deploy.add_argument("--pool", default="insarhub-process")
    deploy.set_defaults(func=_deploy)

    cycle = actions.add_parser("cycle", help="one fleet cycle now, through the deployments")
    cycle.add_argument("--month", help="YYYY-MM the credits count in (default: this month)")
    cycle.set_defaults(func=_cycle)


def _geometry(text: str) -> list[float] | str:
    parts = text.split(",")
    if len(parts) == 4:
        try:
            return [float(p) for p in parts]
        except ValueError:
            pass
    return text


def _add(args: argparse.Namespace) -> int:
    entry: dict[str, Any] = {"name": args.name, "geometry": _geometry(args.geometry),
                             "product": args.product, "priority": args.priority}
    if args.orbit:
        entry["orbit"] = args.orbit
    if args.start:
        entry["start"] = args.start
    if args.threshold_mm is not None:
        entry["alert"] = {"threshold_mm": args.threshold_mm}
    added = add_entry(args.fleet, entry)
    print(f"added {added.name} to {args.fleet}; the next fleet cycle picks it up "
          "(no re-deploy needed)")
    return 0


def _list(args: argparse.Namespace) -> int:
    fleet = load_fleet(args.fleet)
    for entry in fleet.entries:
        state = "" if entry.enabled else "  (disabled)"
        print(f"{entry.name:<24} {entry.product:<12} priority {entry.priority:<3} "
              f"{entry.geometry}{state}")
    for problem in fleet.problems:
        print(f"INVALID {problem}")
    return 1 if fleet.problems else 0


def _remove(args: argparse.Namespace) -> int:
    remove_entry(args.fleet, args.name)
    print(f"removed {args.name} from {args.fleet}")
    return 0


def _status(args: argparse.Namespace) -> int:
    rows = fleet_status(load_fleet(args.fleet), args.month or month_of())
    print(json.dumps(rows, indent=1, default=str) if args.json else status_table(rows))
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from flows.fleet_deployments import deploy_fleet

    print(deploy_fleet(args.fleet, args.pool))
    return 0


def _cycle(args: argparse.Namespace) -> int:
    from prefect.deployments import run_deployment

    run: Any = run_deployment("fleet-cycle/fleet", parameters={"fleet_file": args.fleet,
                                                         "month": args.month},
                         timeout=600, as_subflow=False)
    print(f"fleet cycle {run.name}: {run.state.name if run.state else '?'}")
    return 0 if run.state and run.state.is_completed() else 1
