"""Benchmark: prep, MintPy and products for a 30-date, ~100-interferogram, 500x500 HyP3 stack.

`python bench/mintpy.py [--grid 500] [--dates 30] [--neighbours 4] [--keep DIR]`

Each stage runs in its own process so its peak memory (max RSS) is its own; MintPy's peak is
that of the smallbaselineApp process. Products are made with `insarhub.products.make_products`
when that package is installed. Also reports the velocity RMSE against the simulated truth and
against an ideal per-pixel least-squares fit. Writes bench/results/mintpy.json.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "mintpy.json"
# this file is called mintpy.py: keep its folder off the path, or `import mintpy` finds it
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_render(workdir: Path, grid: int, dates: int, neighbours: int) -> dict:
    from insarhub_sandbox.earth.model import (
        SimulatedEarth,
        make_scenes,
        product_name,
        sequential_pairs,
    )

    earth = SimulatedEarth(seed=11, grid_size=grid)
    scenes = make_scenes(dates)
    pairs = sequential_pairs(scenes, neighbours)
    started = time.perf_counter()
    for ref, sec in pairs:
        name = product_name("INSAR_GAMMA", ref, sec, {}, f"{ref.name}{sec.name}")
        earth.render_product("INSAR_GAMMA", ref, sec, {}, workdir / "hyp3", name)
    earth.write_truth(scenes[0].stack_key, scenes, workdir / "truth")
    return {"wall_s": time.perf_counter() - started, "peak_rss_mb": _peak_mb(), "interferograms": len(pairs)}


def stage_prep(workdir: Path) -> dict:
    from insarhub.analyzer.hyp3_sbas import Hyp3SBASAnalyzer

    started = time.perf_counter()
    analyzer = Hyp3SBASAnalyzer(workdir)
    analyzer.prep_data()
    grid = analyzer.inputs.grid if analyzer.inputs else None
    return {"wall_s": time.perf_counter() - started, "peak_rss_mb": _peak_mb(),
            "grid": [grid.width, grid.length] if grid else None}


def stage_mintpy(workdir: Path) -> dict:
    from insarhub.analyzer.hyp3_sbas import Hyp3SBASAnalyzer

    analyzer = Hyp3SBASAnalyzer(workdir)
    analyzer.run()
    report = analyzer.last_run
    assert report is not None
    return {"wall_s": report.wall_s, "peak_rss_mb": report.peak_rss_mb,
            "steps_s": {k: round(v, 2) for k, v in report.steps.items()}}


def stage_products(workdir: Path) -> dict:
    try:
        from insarhub.products import make_products
    except ImportError:
        return {"skipped": "insarhub.products not installed"}
    started = time.perf_counter()
    result = make_products(workdir / "mintpy", workdir / "products")
    return {"wall_s": time.perf_counter() - started, "peak_rss_mb": _peak_mb(), "files": len(result.files())}


def stage_accuracy(workdir: Path) -> dict:
    import h5py
    import numpy as np
    from insarhub_sandbox.earth.model import WAVELENGTH
    from osgeo import gdal

    gdal.UseExceptions()
    record = json.loads((workdir / "mintpy" / "insarhub_prep.json").read_text())
    grid, ref = record["grid"], record["reference_point"]
    r, c = ref["row"], ref["col"]
    ds = gdal.Open(str(workdir / "truth" / "velocity.tif"))
    gt, truth = ds.GetGeoTransform(), ds.ReadAsArray().astype(np.float64)
    col0, row0 = round((grid["x0"] - gt[0]) / gt[1]), round((gt[3] - grid["y0"]) / -gt[5])
    truth = truth[row0:row0 + grid["length"], col0:col0 + grid["width"]]
    truth -= truth[r, c]
    with h5py.File(workdir / "mintpy" / "velocity.h5") as f:
        ours = f["velocity"][:].astype(np.float64)
    ours -= ours[r, c]
    rows, data = [], []
    clipped = sorted((workdir / "mintpy" / "clipped").glob("*/*_unw_phase_clip.tif"))
    for unw in clipped:
        name = unw.parent.name
        params = dict(line.split(":", 1) for line in (unw.parent / f"{name}.txt").read_text().splitlines())
        d1, d2 = (datetime.strptime(x, "%Y%m%dT%H%M%S") for x in name.split("_")[1:3])
        rows.append([(d2 - d1).days / 365.25, float(params["Baseline"])])
        phase = gdal.Open(str(unw)).ReadAsArray().astype(np.float64)
        data.append((phase - phase[r, c]).ravel())
    solution = np.linalg.lstsq(np.array(rows), np.array(data), rcond=None)[0]
    ideal = (-WAVELENGTH / (4 * math.pi) * solution[0]).reshape(truth.shape)
    water = next((workdir / "mintpy" / "clipped").glob("*/*_water_mask_clip.tif"))
    mask = (gdal.Open(str(water)).ReadAsArray() > 0) & np.isfinite(ours) & (ours != 0)

    def rmse(x: np.ndarray) -> float:
        return float(1000 * np.sqrt(np.mean((x - truth)[mask] ** 2)))

    return {"velocity_rmse_mm_yr": round(rmse(ours), 3), "ideal_lsq_rmse_mm_yr": round(rmse(ideal), 3),
            "pixels": int(mask.sum())}


STAGES: dict[str, Callable[..., dict]] = {"render": stage_render, "prep": stage_prep, "mintpy": stage_mintpy, "products": stage_products,
          "accuracy": stage_accuracy}


def run_stage(name: str, workdir: Path, args: argparse.Namespace) -> dict:
    """Run one stage in a fresh interpreter; it prints its figures as the last JSON line."""
    command = [sys.executable, __file__, "--stage", name, "--workdir", str(workdir), "--grid", str(args.grid),
               "--dates", str(args.dates), "--neighbours", str(args.neighbours)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"stage {name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_s"] = round(time.perf_counter() - started, 2)
    print(f"{name:<9} {json.dumps(figures)}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=500)
    parser.add_argument("--dates", type=int, default=30)
    parser.add_argument("--neighbours", type=int, default=4, help="pairs per date (4 -> ~110 interferograms)")
    parser.add_argument("--keep", type=Path, help="work in (and keep) this folder")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        if args.stage == "render":
            figures = stage_render(args.workdir, args.grid, args.dates, args.neighbours)
        else:
            figures = STAGES[args.stage](args.workdir)
        print(json.dumps(figures))
        return

    base = args.keep or Path(tempfile.mkdtemp(prefix="insarhub-bench-mintpy-"))
    workdir = base / "p100_f466"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    try:
        results = {name: run_stage(name, workdir, args) for name in STAGES}
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    prep_s, mintpy_s = results["prep"]["wall_s"], results["mintpy"]["wall_s"]
    summary = {
        "stack": {"grid": args.grid, "dates": args.dates,
                  "interferograms": results["render"]["interferograms"]},
        **results,
        "prep_over_mintpy": round(prep_s / mintpy_s, 3),
        "prep_within_quarter_of_mintpy": prep_s <= mintpy_s / 4,
        "machine": {"cpus": __import__("os").cpu_count(), "python": sys.version.split()[0]},
        "measured_at": datetime.now().isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=1))
    print(f"prep {prep_s:.1f} s vs MintPy {mintpy_s:.1f} s (ratio {summary['prep_over_mintpy']}); "
          f"written {RESULTS}")


if __name__ == "__main__":
    main()
