"""`python -m flows.demo` (`make demo`): the whole service, offline, in a few minutes.

1. starts the sandbox (ASF catalog + HyP3 + simulated Earth) in this process, its clock at
   2021-01-01 so that stack (100, 466) has its 2020 acquisitions,
2. runs `insar_pipeline` on the seed's AOI for 2020 (ephemeral Prefect: no server needed),
3. injects a local subsidence event into the simulated Earth (from the first new date on),
   moves the sandbox clock a month on and runs one `monitor_aoi` cycle, which finds the new
   acquisitions, submits only their pairs, updates the time series and products, and alerts,
4. prints what was made: stacks, dates, pairs, jobs, velocity range, product paths, the
   HyP3 credits each step spent (`--product S1_Burst`: the AOI's 6 bursts as multi-burst
   jobs, 5 credits a pair instead of INSAR_GAMMA's 10), and the alert: where, how big, how
   far from the injected truth.

Everything lands in `demo_work/` (deleted and made again on each run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from flows.commands import patient_ephemeral_server

AOI = [-113.05, 37.74, -112.68, 38.0]
STACKS: dict[str, Any] = {"S1_SLC": (100, 466), "S1_Burst": "p100_IW2-3_213494-213496"}
SANDBOX_NOW = "2021-01-01T00:00:00+00:00"
EVENT = {"lon": -112.856, "lat": 37.876, "start": "2021-01-02", "magnitude_mm": -60.0,
         "sigma_m": 500.0, "kind": "step"}  # a sinkhole-like bowl near the AOI's centre


def _environment(workdir: Path) -> None:
    """Quiet, offline Prefect with its state in the demo folder (before Prefect is imported)."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["PREFECT_HOME"] = str((workdir / "prefect").resolve())
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.pop("PREFECT_API_URL", None)  # an ephemeral server, whatever the profile says
    patient_ephemeral_server()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("demo_work"))
    parser.add_argument("--start", default="2020-01-01", help="first acquisition date")
    parser.add_argument("--grid-size", type=int, default=100,
                        help="simulated product pixels (80 m): 8 km, room for the event to "
                             "stand out of kilometre-scale atmosphere")
    parser.add_argument("--max-degree", type=int, default=4, help="pairs per date (network)")
    parser.add_argument("--product", choices=tuple(STACKS), default="S1_SLC",
                        help="SLC frames (INSAR_GAMMA) or the AOI's bursts (multi-burst)")
    args = parser.parse_args(argv)

    workdir: Path = args.workdir
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    _environment(workdir)

    from insarhub_sandbox.server import Sandbox, SandboxOptions

    from insarhub.errors import InsarHubError

    sandbox = Sandbox(SandboxOptions(data_dir=workdir / "sandbox", now=SANDBOX_NOW,
                                     job_seconds=2.0, grid_size=args.grid_size)).start()
    os.environ.update(sandbox.env())
    print(f"sandbox (ASF catalog + HyP3, simulated Earth) on {sandbox.url}, clock {SANDBOX_NOW[:10]}")
    try:
        return _run(args, workdir, sandbox)
    except InsarHubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        sandbox.stop()


def _run(args: argparse.Namespace, workdir: Path, sandbox: Any) -> int:
    from insarhub_sandbox.earth.events import DeformationEvent

    from flows.monitor import monitor_aoi
    from flows.pipeline import insar_pipeline
    from insarhub.monitoring import MonitorConfig
    from insarhub.options import NetworkOptions, Point

    stack_key = STACKS[args.product]
    started = time.perf_counter()
    credits_0 = _remaining_credits()
    print(f"\n== 1. insar_pipeline: AOI {AOI}, {args.product} stack {stack_key}, from "
          f"{args.start} ==", flush=True)
    result = insar_pipeline(aoi=AOI, start=args.start, path_frame=stack_key,
                            product=args.product, workdir=str(workdir / "aoi"), name="demo-utah",
                            network=NetworkOptions(max_degree=args.max_degree),
                            points=[Point(lat=37.87, lon=-112.86)], poll_interval_s=1.0,
                            wait_timeout_s=600)
    pipeline_s = time.perf_counter() - started
    stack = next(iter(result["stacks"].values()))
    _report_pipeline(result, pipeline_s)
    credits_1 = _remaining_credits()
    print(f"HyP3 credits spent by the pipeline: {credits_0 - credits_1:g}")

    config = MonitorConfig.from_dict({
        "name": "demo-utah", "aoi": AOI, "stack": stack_key, "product": args.product,
        "start": args.start,
        "workdir": workdir / "aoi", "network": {"max_degree": args.max_degree},
        "new_date_pairs": 3, "points": [(37.87, -112.86)],
        "wait": {"poll_interval_s": 1.0, "timeout_s": 600}, "alert": {"threshold_mm": 25.0}})
    config_path = workdir / "demo-utah.yaml"
    config.to_yaml(config_path)
    sandbox.events.add(DeformationEvent.from_dict(EVENT))
    print(f"\ninjected event: {EVENT['magnitude_mm']:+.0f} mm bowl (sigma {EVENT['sigma_m']:.0f} m) "
          f"at lat {EVENT['lat']}, lon {EVENT['lon']} from {EVENT['start']}")
    now = sandbox.clock.advance(days=30)
    print(f"\n== 2. a month later (sandbox clock {now.date()}): monitor_aoi {config_path} ==",
          flush=True)
    started = time.perf_counter()
    cycle = monitor_aoi(str(config_path))
    _report_cycle(cycle, time.perf_counter() - started)
    credits_2 = _remaining_credits()
    print(f"HyP3 credits spent by the monitoring cycle: {credits_1 - credits_2:g}; in all "
          f"{credits_0 - credits_2:g} of the month's {_monthly():,}")
    print(f"\nDone in {time.perf_counter() - started + pipeline_s:.0f} s. Stack folder: "
          f"{stack['folder']}\nNext: `make server` for the Prefect UI with the deployments.")
    return 0


def _remaining_credits() -> float:
    """The HyP3 account's remaining credits (the sandbox's, here)."""
    from insarhub.processor.hyp3_client import Hyp3Client

    return float(Hyp3Client().user().get("remaining_credits") or 0.0)


def _monthly() -> int:
    from insarhub.credits import MONTHLY_CREDITS

    return MONTHLY_CREDITS


def _report_pipeline(result: dict[str, Any], seconds: float) -> None:
    for name, stack in result["stacks"].items():
        ts = stack.get("timeseries") or {}
        jobs = stack["interferograms"]
        dates = ts.get("dates", [])
        print(f"stack {name}: {stack['scenes']} scenes, {len(dates)} dates "
              f"({dates[0] if dates else '-'} .. {dates[-1] if dates else '-'}), "
              f"{stack['pairs']} pairs")
        print(f"  HyP3 jobs: {jobs.get('line')}; {jobs.get('products')} products downloaded")
        print(f"  velocity (2-98 %): {ts.get('velocity_mm_yr')} mm/yr over "
              f"{ts.get('interferograms')} interferograms")
        print("  products:")
        for path in (stack.get("products") or {}).values():
            print(f"    {path}")
    print(f"pipeline: {seconds:.0f} s")


def _report_cycle(cycle: dict[str, Any], seconds: float) -> None:
    from insarhub.granules import acquisition_date

    new = [acquisition_date(n).isoformat() for n in cycle.get("new_dates", [])]
    print(f"monitoring cycle: {cycle['status']}; new dates {', '.join(new) or 'none'}; "
          f"{cycle['pairs_submitted']} new pairs submitted")
    ts = cycle.get("timeseries") or {}
    if ts:
        print(f"  time series now {len(ts['dates'])} dates up to {ts['dates'][-1]}, velocity "
              f"{ts.get('velocity_mm_yr')} mm/yr")
    anomaly = cycle.get("anomaly") or {}
    if anomaly:
        _report_alert(anomaly)
    print(f"  products updated in {Path(cycle.get('folder', '.')) / 'products'}")
    print(f"monitoring: {seconds:.0f} s")


def _report_alert(anomaly: dict[str, Any]) -> None:
    from insarhub_sandbox.earth.events import DeformationEvent, distance_m

    truth = DeformationEvent.from_dict(EVENT)
    if not anomaly["regions"]:
        print(f"  newest date {anomaly['date']}: no anomaly ({anomaly['reason']})")
    for region in anomaly["regions"]:
        where = (f"{distance_m(truth, region['lat'], region['lon']):.0f} m from the injected "
                 "event" if region["lat"] is not None else "no geocoding")
        print(f"  ANOMALY ({region['status']}, since {region['first_date']}): "
              f"{region['magnitude_mm']:+.1f} mm over {region['extent_km2']:.2f} km2 at lat "
              f"{region['lat']}, lon {region['lon']} (pixel {region['row']},{region['col']}), "
              f"z {region['significance']:.1f}: {where}")
    print(f"  events insarhub.deformation.anomaly emitted: {len(anomaly.get('announced', []))}")
    if anomaly.get("figure"):
        print(f"  residual map: {anomaly['figure']}")


if __name__ == "__main__":
    sys.exit(main())
