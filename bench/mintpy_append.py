"""Benchmark: one new date appended to a MintPy time series, against a full inversion.

`python bench/mintpy_append.py [--grid 300] [--dates 60] [--neighbours 3] [--keep DIR] [--case NAME]`

A simulated HyP3 stack of `dates` dates is run in full (the existing series); then the 3 pairs
of one new date arrive and the same stack is brought up to date twice: by `prep_data(); run()`
(an append) and by `prep_data(); run(full=True)` on a copy. Each update runs in its own process,
so its wall time and peak memory (max RSS of it and its MintPy subprocesses) are its own.
Reports the time ratio, the velocity and newest-date displacement RMS differences between the
two (land pixels), and both against the simulated truth. Writes bench/results/mintpy_append.json
(one entry per case, kept across runs; a case still running leaves its stages so far).

The 150-date, 500x500 case takes hours (MintPy's weighted inversion is pixel by pixel): its
last full run can be made at the same time on another folder (`--stage render`, `render-new`,
`full` with `--workdir`), and the case finished with `--assemble`.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "mintpy_append.json"
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # `import mintpy` is MintPy


def _scenes(dates: int):  # type: ignore[no-untyped-def]
    from insarhub_sandbox.earth.model import make_scenes

    return make_scenes(dates)


def stage_render(workdir: Path, grid: int, dates: int, neighbours: int, new: bool) -> dict:
    """The first `dates` dates (or only the pairs of the date after them, with `new`)."""
    from insarhub_sandbox.earth.model import SimulatedEarth, product_name, sequential_pairs

    earth = SimulatedEarth(seed=11, grid_size=grid)
    scenes = _scenes(dates + 1)
    pairs = sequential_pairs(scenes, neighbours)
    pairs = [p for p in pairs if p[1] is scenes[-1]] if new else [p for p in pairs if p[1] is not scenes[-1]]
    started = time.perf_counter()
    for ref, sec in pairs:
        name = product_name("INSAR_GAMMA", ref, sec, {}, f"{ref.name}{sec.name}")
        earth.render_product("INSAR_GAMMA", ref, sec, {}, workdir / "hyp3", name)
    if new:
        earth.write_truth(scenes[0].stack_key, scenes, workdir / "truth")
    return {"wall_s": time.perf_counter() - started, "interferograms": len(pairs)}


def stage_update(workdir: Path, full: bool) -> dict:
    """prep_data(); run(full) — the figures of one update."""
    from insarhub.analyzer.hyp3_sbas import Hyp3SBASAnalyzer

    started = time.perf_counter()
    analyzer = Hyp3SBASAnalyzer(workdir)
    analyzer.prep_data()
    prep_s = time.perf_counter() - started
    analyzer.run(full=full)
    report = analyzer.last_run
    assert report is not None
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": report.mode, "reason": report.reason, "wall_s": round(time.perf_counter() - started, 2),
            "prep_s": round(prep_s, 2), "run_s": round(report.wall_s, 2), "python_peak_rss_mb": round(own, 1),
            "mintpy_peak_rss_mb": report.peak_rss_mb, "steps_s": {k: round(v, 2) for k, v in report.steps.items()}}


def compare(appended: Path, full: Path | None) -> dict:
    """RMS differences append - full (land pixels) and each against the simulated truth; with
    no `full`, the append against the truth only."""
    import h5py
    import numpy as np
    from osgeo import gdal

    gdal.UseExceptions()
    record = json.loads((appended / "mintpy" / "insarhub_prep.json").read_text())
    grid, ref = record["grid"], record["reference_point"]
    r, c = ref["row"], ref["col"]

    def truth(name: str) -> np.ndarray:
        ds = gdal.Open(str(appended / "truth" / name))
        gt, data = ds.GetGeoTransform(), ds.ReadAsArray().astype(np.float64)
        col0, row0 = round((grid["x0"] - gt[0]) / gt[1]), round((gt[3] - grid["y0"]) / -gt[5])
        data = data[row0:row0 + grid["length"], col0:col0 + grid["width"]]
        return data - data[r, c]

    def read(folder: Path, name: str, dataset: str) -> np.ndarray:
        with h5py.File(folder / "mintpy" / name, "r") as h5:
            data = h5[dataset][()].astype(np.float64)
        return data

    def newest(folder: Path, name: str) -> np.ndarray:
        series = read(folder, name, "timeseries")
        shift = series[-1] - series[0]  # since the first date: the reference dates may differ
        return shift - shift[r, c]

    water = next((appended / "mintpy" / "clipped").glob("*/*_water_mask_clip.tif"))
    mask = gdal.Open(str(water)).ReadAsArray() > 0
    folders = {"append": appended, **({"full": full} if full else {})}
    vel = {k: read(f, "velocity.h5", "velocity") for k, f in folders.items()}
    vel = {k: v - v[r, c] for k, v in vel.items()}
    mask &= np.isfinite(vel["append"]) & (vel["append"] != 0)
    for values in vel.values():
        mask &= np.isfinite(values)
    last = sorted((appended / "truth").glob("displacement_*.tif"))[-1].name
    true_newest, true_velocity = truth(last), truth("velocity.tif")

    def rms(x: np.ndarray) -> float:
        return round(float(1000 * np.sqrt(np.mean(x[mask] ** 2))), 3)

    out: dict = {"pixels": int(mask.sum())}
    if full:
        out.update({
            "velocity_rms_diff_mm_yr": rms(vel["append"] - vel["full"]),
            "newest_rms_diff_mm": rms(newest(appended, "timeseries_demErr.h5")
                                      - newest(full, "timeseries_demErr.h5")),
            "newest_raw_rms_diff_mm": rms(newest(appended, "timeseries.h5") - newest(full, "timeseries.h5")),
            "dem_error_rms_diff_m": round(rms(read(appended, "demErr.h5", "dem")
                                              - read(full, "demErr.h5", "dem")) / 1000, 3)})
    for key, folder in folders.items():
        out[f"{key}_vs_truth"] = {"velocity_rmse_mm_yr": rms(vel[key] - true_velocity),
                                  "newest_rmse_mm": rms(newest(folder, "timeseries_demErr.h5") - true_newest)}
    return out


def run_stage(args: argparse.Namespace, stage: str, workdir: Path, *extra: str) -> dict:
    """A stage in a fresh interpreter; its figures are the last JSON line it prints."""
    command = [sys.executable, __file__, "--stage", stage, "--workdir", str(workdir), "--grid", str(args.grid),
               "--dates", str(args.dates), "--neighbours", str(args.neighbours), *extra]
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        out, err = proc.communicate()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"stage {stage} failed:\n{out[-3000:]}\n{err[-3000:]}")
    figures = json.loads(out.strip().splitlines()[-1])
    figures["process_s"] = round(time.perf_counter() - started, 2)
    figures["peak_rss_mb_so_far"] = round(usage.ru_maxrss / 1024, 1)  # the largest process yet
    print(f"{stage:<8} {json.dumps(figures)}", flush=True)
    return figures


def _write(case: str, entry: dict) -> None:
    """Keep the other cases of bench/results/mintpy_append.json; replace this one."""
    existing = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    existing[case] = entry
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(existing, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=300)
    parser.add_argument("--dates", type=int, default=60)
    parser.add_argument("--neighbours", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="work in (and keep) this folder")
    parser.add_argument("--case", help="name of this case in the results (default: <dates>x<grid>)")
    parser.add_argument("--stage", choices=("render", "render-new", "append", "full"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--assemble", type=Path, nargs="+", metavar="PATH",
                        help="APPENDED [FULL FULL_FIGURES]: finish a --keep case (see _assemble)")
    args = parser.parse_args()
    if args.stage:
        if args.stage.startswith("render"):
            figures = stage_render(args.workdir, args.grid, args.dates, args.neighbours, args.stage == "render-new")
        else:
            figures = stage_update(args.workdir, full=args.stage == "full")
        print(json.dumps(figures))
        return

    case = args.case or f"{args.dates}x{args.grid}"
    if args.assemble:
        _assemble(args, case, *args.assemble)
        return
    base = args.keep or Path(tempfile.mkdtemp(prefix="insarhub-bench-append-"))
    appended, full = base / "p100_f466", base / "full" / "p100_f466"
    shutil.rmtree(base / "full", ignore_errors=True)
    shutil.rmtree(appended, ignore_errors=True)
    appended.mkdir(parents=True)
    results: dict = {}

    def stage(name: str, stage: str, workdir: Path) -> None:
        results[name] = run_stage(args, stage, workdir)
        _write(case, {"partial": True, **results})  # a long case leaves what it measured so far

    try:
        stage("render", "render", appended)
        stage("initial_full", "full", appended)  # the existing time series
        stage("render_new", "render-new", appended)
        shutil.copytree(appended, full, symlinks=True)
        stage("append", "append", appended)
        stage("full", "full", full)
        results["compare"] = compare(appended, full)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    _summarize(args, case, results)


def _summarize(args: argparse.Namespace, case: str, results: dict) -> None:
    """The case's entry in bench/results/mintpy_append.json, with its goals."""
    ratio = results["append"]["wall_s"] / results["full"]["wall_s"]
    summary = {
        "stack": {"grid": args.grid, "dates": args.dates, "new_dates": 1,
                  "interferograms": results["render"]["interferograms"] + results["render_new"]["interferograms"]},
        **results,
        "time_ratio_append_over_full": round(ratio, 3),
        "peak_rss_mb": {"append": max(results["append"]["python_peak_rss_mb"],
                                      results["append"]["mintpy_peak_rss_mb"] or 0),
                        "full": max(results["full"]["python_peak_rss_mb"], results["full"]["mintpy_peak_rss_mb"] or 0)},
        "machine": {"cpus": __import__("os").cpu_count(), "python": sys.version.split()[0],
                    "note": "2 cores shared with other jobs: wall times are noisy"},
        "measured_at": datetime.now().isoformat(timespec="seconds"),
    }
    goals = {"60x300": 0.25, "150x500": 0.10}
    compared = results["compare"]
    if case in goals:
        summary["goal"] = {"time_ratio_at_most": goals[case], "velocity_rms_diff_mm_yr_at_most": 0.5,
                           "newest_rms_diff_mm_at_most": 2.0}
        summary["meets_goal"] = {"time": ratio <= goals[case]}
        if "velocity_rms_diff_mm_yr" in compared:
            summary["meets_goal"].update(velocity=compared["velocity_rms_diff_mm_yr"] <= 0.5,
                                         newest=compared["newest_rms_diff_mm"] <= 2.0)
    _write(case, summary)
    print(f"{case}: append {results['append']['wall_s']:.1f} s vs full {results['full']['wall_s']:.1f} s "
          f"(ratio {ratio:.3f}); {json.dumps(compared)}; written {RESULTS}")



def _assemble(args: argparse.Namespace, case: str, appended: Path, full: Path | None = None,
              full_figures: Path | None = None) -> None:
    """Finish a long --keep case from its partial results. Its last full run may have been made
    elsewhere at the same time (`--stage render`, `render-new`, `full` on the folder `full`,
    figures the last JSON line of `full_figures`); without one, the time ratio is taken against
    the initial full run (one date fewer: the ratio is a little high) and the append is compared
    with the truth only."""
    results = {k: v for k, v in json.loads(RESULTS.read_text())[case].items() if k != "partial"}
    missing = {"render", "initial_full", "render_new", "append"} - set(results)
    if missing:
        raise SystemExit(f"case {case} has no {sorted(missing)} yet: run it with --keep first")
    if full and full_figures:
        results["full"] = json.loads(full_figures.read_text().strip().splitlines()[-1])
        results["full"]["note"] = f"run in {full} concurrently with the initial full run and the append"
    else:
        results["full"] = {**results["initial_full"], "note": f"the initial full run ({args.dates} dates): "
                           f"no full run of all {args.dates + 1} dates was made"}
    results["compare"] = compare(appended, full)
    _summarize(args, case, results)

if __name__ == "__main__":
    main()
