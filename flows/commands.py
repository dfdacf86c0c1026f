"""`insarhub run` (the whole pipeline as a Prefect flow) and `insarhub monitor add|list|run`.

    insarhub run --aoi -113.05,37.74,-112.68,38.0 --start 2020-01-01 --end 2020-12-31 \\
                 --path-frame 100 466 --workdir work
    insarhub monitor add utah --aoi -113.05,37.74,-112.68,38.0 --stack 100 466 \\
                 --start 2020-01-01 --cron "0 6 * * *" --threshold-mm 20
    insarhub monitor list
    insarhub monitor run utah          # one monitoring cycle now (as the schedule would)

These commands run flows, so they live above the library (`flows.cli` adds them to the
library's commands). Without PREFECT_API_URL they run on a temporary local Prefect server.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from insarhub.aoi import aoi_argument
from insarhub.errors import ConfigError
from insarhub.network.options import DEFAULT_MAX_DEGREE

CONFIG_DIR = Path("deployments/aois")


def parse_json(value: str | None, option: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{option} {value!r} is not valid JSON ({exc.msg}); "
                          "e.g. '{\"max_degree\": 5}'") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{option} must be a JSON object, got {value!r}")
    return data


def parse_stack(values: list[str] | None) -> tuple[int, int] | int | str | None:
    """`100 466` -> (100, 466); `100` -> relative orbit 100; a stack or burst ID -> the ID."""
    if not values:
        return None
    if len(values) == 1 and values[0].isdigit():
        return int(values[0])
    if len(values) == 2:
        try:
            return (int(values[0]), int(values[1]))
        except ValueError:
            pass
    if len(values) == 1:
        return values[0]
    raise ConfigError(f"stack {' '.join(values)!r}: give PATH FRAME (e.g. 100 466), a "
                      "multi-burst stack (e.g. p100_IW2-3_213494-213496), a burst ID or, with "
                      "product auto, a relative orbit (e.g. 100)")


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the whole pipeline as a Prefect flow",
                         description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--aoi", required=True, type=aoi_argument,
                     help="min_lon,min_lat,max_lon,max_lat | WKT | vector file")
    run.add_argument("--start", required=True, help="first date, YYYY-MM-DD")
    run.add_argument("--end", help="last date (default: now)")
    run.add_argument("--path-frame", nargs="+", metavar="N",
                     help="keep one stack: PATH FRAME (SLC) or a burst ID")
    run.add_argument("--product", choices=("S1_SLC", "S1_Burst", "S1_DISP", "disp", "auto"),
                     default="S1_SLC",
                     help="disp: OPERA DISP-S1 (0 credits, North America); auto: DISP-S1 where "
                          "a frame covers the AOI, else the product whose stacks cost fewest "
                          "HyP3 credits per new date")
    run.add_argument("--max-credits", type=float, metavar="N",
                     help="HyP3 credit ceiling: above it nothing is submitted")
    run.add_argument("--backend", choices=("hyp3", "isce"), default="hyp3")
    run.add_argument("--workdir", default="insarhub_work/pipeline")
    run.add_argument("--max-degree", type=int, help="pairs per date (pair network option)")
    run.add_argument("--network", help="pair network options as JSON")
    run.add_argument("--processor", help="HyP3/ISCE options as JSON, e.g. '{\"looks\": \"10x2\"}'")
    run.add_argument("--mintpy", help="MintPy template options as JSON")
    run.add_argument("--poll-interval", type=float, default=30.0, help="seconds between polls")
    run.add_argument("--wait-timeout", type=float, default=3600.0,
                     help="seconds to wait for interferograms before handing over to a rerun")
    run.add_argument("--dask", type=int, metavar="WORKERS",
                     help="fan out over stacks on a local Dask cluster (needs prefect-dask)")
    run.set_defaults(func=_run)

    monitor = sub.add_parser("monitor", help="AOI monitoring configs and cycles")
    actions = monitor.add_subparsers(dest="monitor_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="write an AOI config and its scheduled deployment")
    add.add_argument("name", help="AOI name: lower-case letters, digits, - and _")
    add.add_argument("--aoi", required=True, type=aoi_argument)
    add.add_argument("--stack", required=True, nargs="+", metavar="N", help="PATH FRAME or burst ID")
    add.add_argument("--start", required=True, help="first date of the time series")
    add.add_argument("--product", choices=("S1_SLC", "S1_Burst", "S1_DISP", "auto"),
                     default="S1_SLC")
    add.add_argument("--max-credits", type=float, metavar="N",
                     help="HyP3 credit ceiling of one cycle")
    add.add_argument("--backend", choices=("hyp3", "isce"), default="hyp3")
    add.add_argument("--workdir", help="default insarhub_work/aois/<name>")
    add.add_argument("--max-degree", type=int, default=DEFAULT_MAX_DEGREE,
                     help=f"most pairs per date ({DEFAULT_MAX_DEGREE})")
    add.add_argument("--cron", default="0 6 * * *", help="schedule (UTC cron)")
    add.add_argument("--interval-hours", type=float, help="schedule every N hours instead")
    add.add_argument("--threshold-mm", type=float, default=10.0,
                     help="least magnitude (mm) of an anomaly region that alerts")
    add.add_argument("--publish-bucket", help="S3 bucket for the products")
    add.add_argument("--publish-prefix", default="")
    add.add_argument("--publish-endpoint", help="S3-compatible endpoint URL")
    add.add_argument("--config-dir", type=Path, default=CONFIG_DIR)
    add.add_argument("--prefect-file", type=Path, default=Path("prefect.yaml"),
                     help="add the deployment here (skipped when the file is missing)")
    add.add_argument("--force", action="store_true", help="overwrite an existing config")
    add.set_defaults(func=_monitor_add)

    listing = actions.add_parser("list", help="list the AOI configs")
    listing.add_argument("--config-dir", type=Path, default=CONFIG_DIR)
    listing.set_defaults(func=_monitor_list)

    cycle = actions.add_parser("run", help="run one monitoring cycle of an AOI now")
    cycle.add_argument("config", help="AOI name (in --config-dir) or a config file")
    cycle.add_argument("--config-dir", type=Path, default=CONFIG_DIR)
    cycle.set_defaults(func=_monitor_run)


def patient_ephemeral_server() -> None:
    """Give a temporary local Prefect server time to start on a busy machine (Prefect waits
    20 s; its first start on a fresh PREFECT_HOME alone takes ~15 s)."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _run(args: argparse.Namespace) -> int:
    network = parse_json(args.network, "--network") or {}
    if args.max_degree is not None:
        network["max_degree"] = args.max_degree
    patient_ephemeral_server()
    from flows.pipeline import insar_pipeline, with_dask

    flow: Any = with_dask(args.dask) if args.dask else insar_pipeline
    result = flow(aoi=args.aoi, start=args.start, end=args.end,
                  path_frame=parse_stack(args.path_frame), backend=args.backend,
                  product=args.product, workdir=args.workdir, network=network or None,
                  processor=parse_json(args.processor, "--processor"),
                  mintpy=parse_json(args.mintpy, "--mintpy"), poll_interval_s=args.poll_interval,
                  wait_timeout_s=args.wait_timeout, max_credits=args.max_credits)
    print(f"{'STACK':<26} {'SCENES':>6} {'PAIRS':>6} {'DATES':>6}  VELOCITY (mm/yr)  PRODUCTS")
    for name, stack in result["stacks"].items():
        ts = stack.get("timeseries") or {}
        products = stack.get("products") or {}
        print(f"{name:<26} {stack['scenes']:>6} {stack['pairs']:>6} {len(ts.get('dates', [])):>6}"
              f"  {str(ts.get('velocity_mm_yr', '-')):<16}  "
              f"{Path(next(iter(products.values()))).parent if products else '-'}")
    spent = [stack.get("interferograms", {}).get("credits") or {}
             for stack in result["stacks"].values()]
    if any(spent):
        print(f"HyP3 credits ({result.get('product')}): "
              f"{sum(float(c.get('credits', 0)) for c in spent):g} for "
              f"{sum(int(c.get('jobs', 0)) for c in spent)} new jobs")
    if result["waiting"]:
        print(f"still waiting for interferograms: {', '.join(result['waiting'])}; run the same "
              "command again later (nothing is submitted twice)")
    return 0


def _monitor_add(args: argparse.Namespace) -> int:
    from insarhub.monitoring import MonitorConfig

    path = args.config_dir / f"{args.name}.yaml"
    if path.exists() and not args.force:
        raise ConfigError(f"{path} exists; edit it, or pass --force to replace it")
    schedule: dict[str, Any] = ({"interval_hours": args.interval_hours, "cron": None}
                                if args.interval_hours else {"cron": args.cron})
    publish = ({"bucket": args.publish_bucket, "prefix": args.publish_prefix,
                "endpoint_url": args.publish_endpoint} if args.publish_bucket else None)
    config = MonitorConfig.from_dict({
        "name": args.name, "aoi": args.aoi, "stack": parse_stack(args.stack),
        "product": args.product, "backend": args.backend, "start": args.start,
        "workdir": args.workdir or f"insarhub_work/aois/{args.name}",
        "network": {"max_degree": args.max_degree}, "schedule": schedule,
        "alert": {"threshold_mm": args.threshold_mm}, "publish": publish,
        "max_credits": args.max_credits}, origin=str(path))
    config.to_yaml(path)
    print(f"wrote {path}")
    if args.prefect_file.is_file():
        from flows.deployments import add_monitor_deployment, deployment_name

        if add_monitor_deployment(config, path, args.prefect_file):
            print(f"added deployment monitor-aoi/{deployment_name(config)} to {args.prefect_file}; "
                  "register it with: prefect deploy --all")
        else:
            print(f"{args.prefect_file} already has deployment {deployment_name(config)}")
    else:
        print(f"no {args.prefect_file}: add a deployment with entrypoint "
              "flows/monitor.py:monitor_aoi and parameters {config: " + str(path) + "}")
    return 0


def _monitor_list(args: argparse.Namespace) -> int:
    from insarhub.monitoring import list_configs

    configs = list_configs(args.config_dir)
    if not configs:
        print(f"no AOI configs in {args.config_dir}; add one with `insarhub monitor add`")
        return 0
    print(f"{'NAME':<24} {'STACK':<26} {'BACKEND':<7} {'START':<10}  {'SCHEDULE':<16} "
          f"{'ALERT':>8}  WORKDIR")
    for c in configs:
        when = c.schedule.cron or f"every {c.schedule.interval_hours} h"
        stack = f"{c.stack[0]} {c.stack[1]}" if isinstance(c.stack, tuple) else c.stack
        print(f"{c.name:<24} {stack:<26} {c.backend:<7} {c.start.isoformat():<10}  {when:<16} "
              f"{c.alert.threshold_mm:>5.1f} mm  {c.workdir}")
    return 0


def _monitor_run(args: argparse.Namespace) -> int:
    patient_ephemeral_server()
    from flows.monitor import monitor_aoi

    result = monitor_aoi(args.config, str(args.config_dir))
    print(f"{result['aoi']}: {result['status']}; {len(result.get('new_dates', []))} new date(s), "
          f"{result.get('pairs_submitted', 0)} pairs submitted")
    anomaly = result.get("anomaly")
    if anomaly:
        print(f"newest date {anomaly['date']}: {len(anomaly['regions'])} anomaly region(s) "
              f"({anomaly['reason']})")
        for region in anomaly["regions"]:
            print(f"  {region['status']}: {region['magnitude_mm']:+.1f} mm over "
                  f"{region['extent_km2']:.2f} km2 at lat {region['lat']}, lon {region['lon']} "
                  f"(z {region['significance']:.1f}, since {region['first_date']})"
                  + (f", watched site {region['site']}" if region.get("site") else ""))
    return 0 if result["status"] != "skipped" else 3
