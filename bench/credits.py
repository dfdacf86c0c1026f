"""Benchmark: HyP3 credits of the seed's Utah AOI, INSAR_GAMMA frames vs multi-burst groups.

`python bench/credits.py [--grid 100] [--clock 2020-03-15] [--skip-pipelines]`

Part 1 (catalog only, the sandbox's ASF catalog in this process): the seed AOI's stacks on its
descending orbit 100 (SLC frame p100_f466 and the AOI's multi-burst group), credits per pair and
per new date (3 pairs) at 20x4 and 10x2 from ASF's job-spec cost tables, the credits of a
5-year backfill (the real pair selection, max_degree 5, over 5 years of the stack), how many
months of 8,000 (and of the 4,000 of the 2026 cut) that backfill takes, and how many AOIs of
that size one month keeps current at a 12-day (S1A) and 6-day (S1A+S1C) revisit. Product
footprints (km^2, and pixels at 80 m) say how much bigger a frame product is.

Part 2 (the whole sandbox: catalog, HyP3, simulated Earth; ephemeral Prefect): the pipeline
once per product over the same AOI and dates; bytes downloaded per pair (the sizes HyP3 listed
for each product file, at the sandbox's grid size) and MintPy wall time per stack (a fresh
smallbaselineApp run on the downloaded products, timed). Writes bench/results/credits.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "credits.json"
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

AOI = [-113.05, 37.74, -112.68, 38.00]
ORBIT = 100
SLC_STACK = (100, 466)
BACKFILL = ("2017-03-01", "2022-02-28")  # 5 years of the seed stack
PAIRS_PER_NEW_DATE = 3
DAYS_PER_MONTH = 365.25 / 12
LOOKS = ("20x4", "10x2")
NOTES = {
    "credits": "ASF's job-spec cost tables (the sandbox charges by the same tables; part 2 "
               "checks credits_spent == credits_estimated)",
    "aois_kept_current": "an AOI of the seed's size on one orbit, 3 new pairs per new date, "
                         "12-day (S1A) or 6-day (S1A+S1C) revisit, 8,000 credits a month",
    "backfill": "the pair network insarhub selects (max_degree 5) over 5 years of the seed "
                "stack; months = credits / monthly allowance, rounded up",
    "bytes_per_pair": "sizes HyP3 listed for the sandbox's products, rendered at grid_size "
                      "pixels whatever the footprint: compare real products by pixels_at_80m "
                      "(frame vs burst-group footprint)",
    "mintpy_wall_s": "one fresh smallbaselineApp run on the sandbox products (same grid for "
                     "both products, so about equal by construction), on a shared loaded "
                     "2-core machine",
}


def _area_km2(products: list[Any]) -> float:
    import shapely
    from pyproj import Geod
    from shapely.geometry import shape

    union = shapely.unary_union([shape(p.geometry) for p in products])
    area, _ = Geod(ellps="WGS84").geometry_area_perimeter(union)
    return abs(area) / 1e6


def part_catalog() -> dict[str, Any]:
    from insarhub_sandbox.catalog.service import CatalogServer
    from insarhub_sandbox.server import SANDBOX_TOKEN

    from insarhub import Downloader
    from insarhub.credits import MONTHLY_CREDITS, gamma_pair_cost, multi_burst_pair_cost
    from insarhub.network import select_pairs
    from insarhub.search.multiburst import date_scenes, stack_cells

    with CatalogServer(Path(tempfile.mkdtemp(prefix="bench-credits-"))) as server:
        os.environ["INSARHUB_ASF_URL"] = server.url
        os.environ["EARTHDATA_TOKEN"] = SANDBOX_TOKEN
        window = {"start": BACKFILL[0], "end": BACKFILL[1], "relativeOrbit": ORBIT}
        slc = Downloader.create("S1_SLC", intersectsWith=AOI, **window)
        slc.search()
        bursts = Downloader.create("S1_Burst", intersectsWith=AOI, **window)
        bursts.search()
    slc_stack = slc.stacks[SLC_STACK]
    burst_key = max(bursts.stacks, key=lambda k: len(bursts.stacks[k]))
    burst_stack = bursts.stacks[burst_key]
    n_bursts = len(stack_cells(burst_stack))
    dates = len(date_scenes(burst_stack, str(burst_key)))
    t0 = time.perf_counter()
    slc_pairs = select_pairs({SLC_STACK: slc_stack}, max_degree=5)[0][SLC_STACK]
    burst_pairs = select_pairs({burst_key: burst_stack}, max_degree=5)[0][burst_key]
    network_s = time.perf_counter() - t0

    out: dict[str, Any] = {
        "aoi": AOI, "orbit": ORBIT, "slc_stack": "p100_f466", "burst_stack": burst_key,
        "bursts_per_date": n_bursts, "backfill_window": list(BACKFILL),
        "backfill_dates": {"INSAR_GAMMA": len(slc_stack), "INSAR_ISCE_MULTI_BURST": dates},
        "backfill_pairs": {"INSAR_GAMMA": len(slc_pairs), "INSAR_ISCE_MULTI_BURST":
                           len(burst_pairs)},
        "network_selection_s": round(network_s, 2),
        "footprint_km2": {"INSAR_GAMMA": round(_area_km2(slc_stack[:1]), 1),
                          "INSAR_ISCE_MULTI_BURST": round(_area_km2(burst_stack[:n_bursts]), 1)},
        "per_looks": {},
    }
    out["pixels_at_80m"] = {k: int(v * 1e6 / 80 ** 2) for k, v in out["footprint_km2"].items()}
    for looks in LOOKS:
        gamma, multi = gamma_pair_cost(looks), multi_burst_pair_cost(n_bursts, looks)
        row: dict[str, Any] = {}
        for job_type, per_pair, pairs in (("INSAR_GAMMA", gamma, len(slc_pairs)),
                                          ("INSAR_ISCE_MULTI_BURST", multi, len(burst_pairs))):
            per_date = per_pair * PAIRS_PER_NEW_DATE
            backfill = per_pair * pairs
            row[job_type] = {
                "credits_per_pair": per_pair,
                "credits_per_new_date": per_date,
                "aois_kept_current_per_8000_month": {
                    "12_day_revisit": math.floor(MONTHLY_CREDITS / (per_date * DAYS_PER_MONTH / 12)),
                    "6_day_revisit": math.floor(MONTHLY_CREDITS / (per_date * DAYS_PER_MONTH / 6)),
                },
                "backfill_5_years_credits": backfill,
                "backfill_months_at_8000": math.ceil(backfill / MONTHLY_CREDITS),
                "backfill_months_at_4000": math.ceil(backfill / 4000),
                "aoi_backfills_per_8000_month": math.floor(MONTHLY_CREDITS / backfill),
            }
        row["multi_burst_saving"] = round(1 - multi / gamma, 3)
        out["per_looks"][looks] = row
    return out


def part_pipelines(grid: int, clock: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-credits-flows-"))
    os.environ.update({"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                       "MPLBACKEND": "Agg", "PREFECT_HOME": str(workdir / "prefect"),
                       "PREFECT_LOGGING_LEVEL": "ERROR"})
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
    from insarhub_sandbox.server import Sandbox, SandboxOptions

    from flows.pipeline import insar_pipeline
    from insarhub import Analyzer
    from insarhub.ledger import Ledger
    from insarhub.processor.hyp3_client import Hyp3Client

    sandbox = Sandbox(SandboxOptions(data_dir=workdir / "sandbox", now=f"{clock}T00:00:00+00:00",
                                     job_seconds=0.5, grid_size=grid)).start()
    os.environ.update(sandbox.env())
    out: dict[str, Any] = {"grid_size": grid, "sandbox_clock": clock}
    try:
        for product, stack in (("S1_SLC", SLC_STACK), ("S1_Burst", None)):
            credits_before = float(Hyp3Client().user()["remaining_credits"])
            t0 = time.perf_counter()
            result = insar_pipeline(aoi=AOI, start="2020-01-01", product=product,
                                    path_frame=stack if stack else _burst_key(),
                                    workdir=str(workdir / product), network={"max_degree": 5},
                                    poll_interval_s=0.5, wait_timeout_s=600)
            pipeline_s = time.perf_counter() - t0
            spent = credits_before - float(Hyp3Client().user()["remaining_credits"])
            name, info = next(iter(result["stacks"].items()))
            folder = Path(info["folder"])
            with Ledger.for_workdir(folder) as ledger:
                jobs = ledger.jobs()
            sizes = [int(f.get("size") or 0) for r in jobs for f in r.files]
            fresh = workdir / f"{product}-mintpy"
            shutil.copytree(folder / "hyp3", fresh / "hyp3")
            t0 = time.perf_counter()
            analyzer = Analyzer.create("Hyp3_SBAS", workdir=str(fresh), aoi=AOI)
            analyzer.prep_data()
            analyzer.run()
            mintpy_s = time.perf_counter() - t0
            out[product] = {
                "stack": name, "dates": len((info.get("timeseries") or {}).get("dates", [])),
                "pairs": info["pairs"], "credits_spent": spent,
                "credits_estimated": (info["interferograms"].get("credits") or {}).get("credits"),
                "bytes_per_pair": int(sum(sizes) / max(1, len(jobs))),
                "mintpy_wall_s": round(mintpy_s, 2), "pipeline_wall_s": round(pipeline_s, 1),
            }
            print(f"{product}: {out[product]}", flush=True)
    finally:
        sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def _burst_key() -> str:
    from insarhub import Downloader

    bursts = Downloader.create("S1_Burst", intersectsWith=AOI, start="2020-01-01",
                               relativeOrbit=ORBIT)
    bursts.search()
    return str(max(bursts.stacks, key=lambda k: len(bursts.stacks[k])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=100, help="simulated product pixels")
    parser.add_argument("--clock", default="2020-03-15", help="sandbox clock of part 2")
    parser.add_argument("--skip-pipelines", action="store_true", help="part 1 only")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {"notes": NOTES, "catalog": part_catalog()}
    print(json.dumps(results["catalog"], indent=1), flush=True)
    if not args.skip_pipelines:
        results["pipelines"] = part_pipelines(args.grid, args.clock)
    results["wall_s"] = round(time.perf_counter() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
