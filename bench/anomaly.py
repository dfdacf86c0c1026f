"""Anomaly alerts on synthetic MintPy-style stacks, per setting of the simulated Earth.

Each setting draws random 40-date, 200x200 px (80 m) stacks (`insarhub.anomaly.synthetic`):
- `flat_12mm`: today's flat Earth, 12 mm turbulence;
- `mountain`: 1,000 m relief, a seasonal stratified delay of +-40 mm/km, turbulence of its own
  on every date (0.6-3x, median 8 mm);
- `ramp`: the mountain with events that grow over 4 dates;
- `unwrap`: the mountain with unwrapping errors (a patch off by +-1 cycle in
  `--unwrap-rate` of the interferograms; each date paired with its 3 predecessors);
- `unwrap_unchecked`: the same stacks (same seed) judged without their pairs (no closure);
- `winter`: the mountain with the newest dates in winter, when the high ground decorrelates;
- `watched`: the mountain with one watched site (`alert.watch`, 1 km radius): at the event's
  place on event stacks, at a random place (2 km inside) on event-free ones.
Event stacks carry a 30 mm, sigma 400 m subsidence bowl from date 39 of 40 (steps: detected
on the first or second date; ramps from date 34 to 37: detected by three dates after the
end). Event-free stacks give the false alarms per AOI-cycle (both newest cycles judged).
`--sweep` sizes give the smallest event detected 90 % of the time (mountain, or
`--sweep-setting watched`); `--bound` the ideal observer's curve (a matched filter that knows
the bowl's shape, scale and each date's atmosphere, at the detector's own AOI-wide and
watched thresholds), the most any detector judging two dates can find. The detector runs
with its defaults (`AlertConfig`); the pairs and the per-date reliability go to it where the
setting has them. One JSON per run; `--merge` joins runs into bench/results/anomaly.json.

    nice python bench/anomaly.py --settings mountain --stacks 100 --free-stacks 100 --out F
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from insarhub.anomaly import AlertConfig, AnomalyReport, detect_anomaly
from insarhub.anomaly.synthetic import Earth, Stack, make_stack

MATCH_KM = 1.5
EVENT_MM = -30.0
WINTER_START = date(2019, 10, 5)  # the newest dates of 40 fall in January
WATCH_RADIUS_M = 1000.0
RESULTS = Path(__file__).resolve().parent / "results" / "anomaly.json"


def mountain(unwrap_error_rate: float = 0.0, winter: bool = False) -> Earth:
    """1,000 m relief, +-40 mm/km seasonal stratified delay, turbulence 0.6-3x by date."""
    return Earth(relief_m=1000.0, seasonal_mm_per_km=40.0, turbulence_factors=(0.6, 3.0),
                 unwrap_error_rate=unwrap_error_rate, winter=winter)


def settings(unwrap_rate: float) -> dict[str, dict[str, Any]]:
    return {
        "flat_12mm": {"earth": Earth(), "atmosphere_mm": 12.0},
        "mountain": {"earth": mountain(), "atmosphere_mm": 8.0},
        "ramp": {"earth": mountain(), "atmosphere_mm": 8.0, "ramp_dates": 4},
        "unwrap": {"earth": mountain(unwrap_error_rate=unwrap_rate),
                   "atmosphere_mm": 8.0},
        "unwrap_unchecked": {"earth": mountain(unwrap_error_rate=unwrap_rate),
                             "atmosphere_mm": 8.0, "check": False},
        "winter": {"earth": mountain(winter=True), "atmosphere_mm": 8.0,
                   "start": WINTER_START},
        "watched": {"earth": mountain(), "atmosphere_mm": 8.0, "watch": True},
    }


def _disc(stack: Stack, row: float, col: float) -> np.ndarray:
    rows, cols = np.mgrid[0:stack.height.shape[0], 0:stack.height.shape[1]]
    return np.hypot(rows - row, cols - col) * stack.pixel_m <= WATCH_RADIUS_M


def _site(rng: np.random.Generator, stack: Stack, setting: dict[str, Any]) -> np.ndarray | None:
    """The watched site of a stack: at its event, else at a random place 2 km inside."""
    if not setting.get("watch"):
        return None
    if stack.event is not None:
        return _disc(stack, stack.event.row, stack.event.col)
    margin = 2000.0 / stack.pixel_m
    row, col = rng.uniform(margin, stack.height.shape[0] - margin, 2)
    return _disc(stack, row, col)


def _detect(stack: Stack, count: int, check: bool = True, watch: np.ndarray | None = None
            ) -> tuple[AnomalyReport, float]:
    alert = AlertConfig()
    pairs = {(stack.dates[i], stack.dates[j]): v for (i, j), v in stack.pairs.items()
             if j < count and check}
    started = time.perf_counter()
    report = detect_anomaly(stack.dates[:count], stack.displacement_m[:count], alert.threshold_mm,
                            height=stack.height, pixel_size_m=stack.pixel_m,
                            false_alarm_rate=alert.false_alarm_rate, scales_m=alert.scales_m,
                            min_dates=alert.min_dates, pairs=pairs or None,
                            reliable=None if stack.reliable is None else stack.reliable[:count],
                            watch=watch)
    return report, time.perf_counter() - started


def _make(rng: np.random.Generator, setting: dict[str, Any], event_mm: float | None,
          size: int = 200, n_dates: int = 40) -> Stack:
    ramp = int(setting.get("ramp_dates", 1))
    first = n_dates - 2 - (ramp - 1) - 2 if ramp > 1 else n_dates - 2
    return make_stack(rng, atmosphere_mm=setting["atmosphere_mm"], earth=setting["earth"],
                      event_mm=event_mm, event_first=first, ramp_dates=ramp, size=size,
                      n_dates=n_dates, start=setting.get("start", date(2020, 1, 2)))


def _event_trial(stack: Stack, times: list[float], watch: np.ndarray | None = None
                 ) -> dict[str, Any]:
    """Cycles from the event's first date on, until detected: steps two cycles (first or second
    date), ramps until three dates after the ramp's end."""
    event = stack.event
    assert event is not None
    last = event.first_index + 1 if event.ramp_dates == 1 else event.last_ramp_index + 3
    result: dict[str, Any] = {"detected": False, "cycle": None, "error_m": None,
                              "magnitude_mm": None, "false_regions": 0}
    for cycle, newest in enumerate(range(event.first_index, min(last, len(stack.dates) - 1) + 1),
                                   start=1):
        report, seconds = _detect(stack, newest + 1, watch=watch)
        times.append(seconds)
        distances = [math.hypot(r.row - event.row, r.col - event.col) * stack.pixel_m
                     for r in report.regions]
        near = [i for i, d in enumerate(distances) if d <= MATCH_KM * 1000]
        result["false_regions"] += len(distances) - len(near)
        if near:
            best = min(near, key=lambda i: distances[i])
            result.update(detected=True, cycle=cycle, error_m=distances[best],
                          magnitude_mm=report.regions[best].magnitude_mm)
            break
    return result


def _unwrap_outcome(stack: Stack, count: int, report: AnomalyReport) -> dict[str, int]:
    """True unwrapping errors in the pairs of the two judged dates: found (right pair and
    sign), and regions reported as deformation on a true error's patch."""
    judged = {count - 1, count - 2}
    truth = [e for e in stack.unwrap_errors if e.secondary in judged]
    names = {(stack.dates[e.reference].strftime("%Y%m%d"),
              stack.dates[e.secondary].strftime("%Y%m%d"), e.cycles) for e in truth}
    found = {(u.reference_date, u.secondary_date, u.cycles) for u in report.unwrapping_errors}
    as_deformation = sum(any(e.patch[max(0, min(r.row, e.patch.shape[0] - 1)),
                                     max(0, min(r.col, e.patch.shape[1] - 1))]
                             or _near_patch(e.patch, r.row, r.col, stack.pixel_m)
                             for e in truth) for r in report.regions)
    return {"errors": len(truth), "found": len(names & found), "spurious": len(found - names),
            "as_deformation": int(as_deformation > 0)}


def _near_patch(patch: np.ndarray, row: int, col: int, pixel_m: float) -> bool:
    rows, cols = np.nonzero(patch)
    return bool(rows.size) and float(np.min(np.hypot(rows - row, cols - col))) * pixel_m <= 1000


def _binomial(successes: int, trials: int) -> dict[str, Any]:
    rate = successes / trials if trials else float("nan")
    se = math.sqrt(rate * (1 - rate) / trials) if trials else float("nan")
    return {"rate": round(rate, 4), "count": successes, "of": trials, "se": round(se, 4)}


PROGRESS: Path | None = None  # a JSON line per trial, so that a cut run can be assembled


def _log(kind: str, name: str, event_mm: float | None, result: dict[str, Any]) -> None:
    if PROGRESS is not None:
        with PROGRESS.open("a") as handle:
            handle.write(json.dumps({"kind": kind, "setting": name, "event_mm": event_mm,
                                     **result}) + "\n")


def _free_trial(stack: Stack, setting: dict[str, Any], times: list[float],
                watch: np.ndarray | None = None) -> dict[str, Any]:
    """Both newest cycles of an event-free stack: alarms, calibration, unwrapping outcome."""
    result: dict[str, Any] = {"cycles": 0, "alarms": 0, "calibration": [],
                              "unwrap": {"errors": 0, "found": 0, "spurious": 0,
                                         "as_deformation": 0}}
    for count in (len(stack.dates) - 1, len(stack.dates)):
        report, seconds = _detect(stack, count, setting.get("check", True), watch)
        times.append(seconds)
        result["cycles"] += 1
        result.setdefault("z_threshold", []).append(report.z_threshold)
        if watch is not None:
            result.setdefault("watch_z_threshold", []).append(report.watch_z_threshold)
            result["watched_alarms"] = result.get("watched_alarms", 0) + any(
                r.watched for r in report.regions)
        result["alarms"] += bool(report.regions)
        result["calibration"].append(report.calibration or 1.0)
        if setting["earth"].unwrap_error_rate:
            for key, value in _unwrap_outcome(stack, count, report).items():
                result["unwrap"][key] += value
    result["seconds"] = times[-2:]
    return result


def summarise(events: list[dict[str, Any]], free: list[dict[str, Any]], unwrap_rate: float,
              event_mm: float) -> dict[str, Any]:
    """The figures of a setting from its trials."""
    out: dict[str, Any] = {}
    times = [t for trial in [*events, *free] for t in trial.get("seconds", [])]
    if events:
        stacks = len(events)
        detected = [t for t in events if t["detected"]]
        errors = [t["error_m"] for t in detected]
        out.update({
            "event_mm": event_mm, "event_stacks": stacks,
            "detection": _binomial(len(detected), stacks),
            "detected_on_first_date": round(sum(t["cycle"] == 1 for t in events) / stacks, 3),
            "median_location_error_m": round(float(np.median(errors)), 1) if errors else None,
            "p90_location_error_m": round(float(np.percentile(errors, 90)), 1) if errors else None,
            "median_magnitude_mm": round(float(np.median([t["magnitude_mm"] for t in detected])),
                                         2) if detected else None,
        })
    if free:
        cycles = sum(t["cycles"] for t in free)
        alarms = sum(t["alarms"] for t in free)
        nominal = AlertConfig().false_alarm_rate
        measured = _binomial(alarms, cycles)
        out.update({"event_free_stacks": len(free), "event_free_cycles": cycles,
                    "false_alarms": measured, "nominal_rate": nominal,
                    "measured_minus_nominal_pp": round(100 * (measured["rate"] - nominal), 2),
                    "median_calibration_ratio": round(float(np.median(
                        [c for t in free for c in t["calibration"]])), 3)})
        for key in ("z_threshold", "watch_z_threshold"):
            values = [z for t in free for z in t.get(key, []) if z is not None]
            if values:
                out[f"median_{key}"] = round(float(np.median(values)), 2)
        if any("watched_alarms" in t for t in free):
            out["false_alarms_at_the_site"] = _binomial(
                sum(t.get("watched_alarms", 0) for t in free), cycles)
        if unwrap_rate:
            unwrap = {k: sum(t["unwrap"][k] for t in free)
                      for k in ("errors", "found", "spurious", "as_deformation")}
            out["unwrapping"] = {
                **unwrap,
                "cycles_with_error_as_deformation": _binomial(unwrap["as_deformation"], cycles),
                "errors_reported_as_unwrapping": _binomial(unwrap["found"], unwrap["errors"])}
    out["seconds_per_detection"] = round(float(np.mean(times)), 2) if times else None
    return out


def run_setting(name: str, setting: dict[str, Any], rng: np.random.Generator, stacks: int,
                free_stacks: int, event_mm: float = EVENT_MM) -> dict[str, Any]:
    """Event and event-free stacks drawn in turn (a cut run stays balanced)."""
    events: list[dict[str, Any]] = []
    free: list[dict[str, Any]] = []
    for index in range(max(stacks, free_stacks)):
        if index < stacks:
            times: list[float] = []
            stack = _make(rng, setting, event_mm)
            trial = _event_trial(stack, times, _site(rng, stack, setting))
            trial["seconds"] = times
            events.append(trial)
            _log("event", name, event_mm, trial)
        if index < free_stacks:
            stack = _make(rng, setting, None)
            trial = _free_trial(stack, setting, [], _site(rng, stack, setting))
            free.append(trial)
            _log("free", name, None, trial)
    out = {"atmosphere_mm": setting["atmosphere_mm"],
           **summarise(events, free, setting["earth"].unwrap_error_rate, event_mm)}
    print(f"{name} {event_mm:g} mm: {json.dumps(out)}", flush=True)
    return out


def assemble(progress: Path, unwrap_rate: float) -> dict[str, Any]:
    """Settings and sweep sizes from a progress file of a cut run."""
    lines = [json.loads(line) for line in progress.read_text().splitlines() if line.strip()]
    out: dict[str, Any] = {}
    for name in sorted({line["setting"] for line in lines}):
        mine = [line for line in lines if line["setting"] == name]
        sizes = sorted({line["event_mm"] for line in mine if line["kind"] == "event"})
        free = [line for line in mine if line["kind"] == "free"]
        rate = unwrap_rate if name.startswith("unwrap") else 0.0
        if name.startswith("sweep"):
            out[name] = {f"{-s:g}mm": summarise([x for x in mine if x["event_mm"] == s], [],
                                                0.0, s)["detection"] for s in sizes}
            continue
        events = [line for line in mine if line["kind"] == "event"]
        out[name] = summarise(events, free, rate, sizes[0] if sizes else EVENT_MM)
    return out


def sweep(name: str, setting: dict[str, Any], rng: np.random.Generator, stacks: int,
          sizes: list[float]) -> dict[str, Any]:
    label = "sweep" if name == "mountain" else f"sweep_{name}"
    rates = {f"{s:g}mm": run_setting(label, setting, rng, stacks, 0, -s)["detection"]
             for s in sizes}
    smallest = next((s for s in sorted(sizes) if rates[f"{s:g}mm"]["rate"] >= 0.9
                     and all(rates[f"{b:g}mm"]["rate"] >= 0.9 for b in sizes if b > s)), None)
    return {"sizes": rates, "stacks_per_size": stacks, "smallest_mm_90pct": smallest}


def matched_snr_per_mm(rng: np.random.Generator, sigma_m: float = 400.0, size: int = 200,
                       pixel_m: float = 80.0, fields: int = 40) -> float:
    """The signal-to-noise of a 1 mm, `sigma_m` bowl per mm of turbulence std (k^-8/3 over
    the map, as the synthetic Earth draws it), at the detector's best scale: its own filters,
    plane removed, whitened by the noise's own spectrum."""
    from insarhub.anomaly import filters
    from insarhub.anomaly.config import DEFAULT_SCALES_M
    from insarhub.anomaly.synthetic import powerlaw_fields

    noise = filters.remove_plane(powerlaw_fields(rng, fields, size, 8.0 / 3.0) / 1000.0,
                                 np.ones((size, size), bool))
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    bowl = np.exp(-((rows - size / 2) ** 2 + (cols - size / 2) ** 2) * pixel_m ** 2
                  / (2 * sigma_m ** 2)) / 1000.0
    matched, spectra = filters.make_filters(noise, [s / pixel_m for s in DEFAULT_SCALES_M])
    signal = matched.spectra(bowl[None])
    best = 0.0
    for index in range(len(DEFAULT_SCALES_M)):
        spread = float(np.std(matched.apply(spectra, index)))
        best = max(best, float(matched.apply(signal, index)[0, size // 2, size // 2]) / spread)
    return best


def ideal_bound(rng: np.random.Generator, sizes: list[float], thresholds: dict[str, float],
                draws: int = 200_000) -> dict[str, Any]:
    """Detection within two dates of a step's onset by an ideal observer: the matched filter
    at the best scale on the first date, then on both dates weighted by each one's atmosphere
    (the mountain's 0.6-3x turbulence, median 8 mm), at each given z threshold. Taken as
    independent, the two chances give an upper bound; trend, white noise and the noise
    estimate's own error only lower it."""
    per_mm = matched_snr_per_mm(rng)
    low, high = 0.6, 3.0
    factors = np.exp(rng.uniform(math.log(low), math.log(high), (draws, 2)))
    turbulence = 8.0 * factors / math.sqrt(low * high)
    from scipy.stats import norm

    curves: dict[str, Any] = {}
    for name, u in thresholds.items():
        rates = {}
        for size in sizes:
            first = size * per_mm / turbulence[:, 0]
            both = np.hypot(first, size * per_mm / turbulence[:, 1])
            p = 1 - (1 - norm.cdf(first - u)) * (1 - norm.cdf(both - u))
            rates[f"{size:g}mm"] = round(float(p.mean()), 3)
        smallest = next((s for s in sorted(sizes) if rates[f"{s:g}mm"] >= 0.9), None)
        curves[name] = {"z_threshold": u, "detection": rates, "smallest_mm_90pct": smallest}
    return {"snr_per_mm_per_mm_turbulence": round(per_mm, 4), "curves": curves}


def timing(name: str, setting: dict[str, Any], dates: int = 150, size: int = 1000
           ) -> dict[str, Any]:
    stack = _make(np.random.default_rng(7), setting, EVENT_MM, size=size, n_dates=dates)
    cpu = time.process_time()
    report, seconds = _detect(stack, dates)
    return {"setting": name, "pixels": f"{size}x{size}", "dates": dates,
            "seconds": round(seconds, 2), "cpu_seconds": round(time.process_time() - cpu, 2),
            "load_average": round(os.getloadavg()[0], 1), "regions": len(report.regions),
            "unwrapping_errors": len(report.unwrapping_errors)}


def merge(parts: list[Path], out: Path) -> None:
    """Join run files: settings, sweeps and timings side by side, each with its command."""
    merged: dict[str, Any] = {"settings": {}, "runs": []}
    for part in parts:
        data = json.loads(part.read_text())
        for key in ("goal", "setup"):
            merged.setdefault(key, data.get(key))
        merged["settings"].update(data.get("settings", {}))
        for key in ("sweep", "timing"):
            if key in data:
                merged.setdefault(key, {}).update(data[key])
        merged["runs"].append(data.get("command"))
    out.write_text(json.dumps(merged, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="*", default=[], help="settings to measure")
    parser.add_argument("--stacks", type=int, default=100, help="event stacks per setting")
    parser.add_argument("--free-stacks", type=int, default=100,
                        help="event-free stacks per setting (two cycles each)")
    parser.add_argument("--sweep", type=float, nargs="*", default=[],
                        help="event sizes (mm) for the smallest-event curve (mountain)")
    parser.add_argument("--sweep-stacks", type=int, default=50)
    parser.add_argument("--sweep-setting", default="mountain", help="mountain or watched")
    parser.add_argument("--bound", type=float, nargs="*", default=[],
                        help="event sizes (mm) for the ideal observer's curve")
    parser.add_argument("--bound-z", type=float, nargs="*", default=[4.8, 4.2],
                        help="z thresholds for it: AOI-wide and watched (measured medians)")
    parser.add_argument("--unwrap-rate", type=float, default=0.05,
                        help="share of interferograms with an unwrapping error")
    parser.add_argument("--timing", nargs="*", default=[], help="settings to time at 1000x1000x150")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--merge", type=Path, nargs="*", help="run files to join into --out")
    parser.add_argument("--progress", type=Path, help="append a JSON line per trial here")
    parser.add_argument("--assemble", type=Path, help="print the figures of a progress file")
    args = parser.parse_args(argv)
    global PROGRESS
    PROGRESS = args.progress
    if args.assemble:
        print(json.dumps(assemble(args.assemble, args.unwrap_rate), indent=2))
        return 0
    if args.merge:
        merge(args.merge, args.out)
        return 0
    rng = np.random.default_rng(args.seed)
    table = settings(args.unwrap_rate)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "command": "python bench/anomaly.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "goal": {"mountain": "smallest 90 % <= 12 mm, 30 mm >= 98 %, false alarms <= 5 %, "
                             "measured within +-1 pp of nominal",
                 "unwrap": "<= 2 % of cycles report an unwrapping error as deformation",
                 "winter": "false alarms <= mountain's event-free rate + 1 pp",
                 "flat_12mm": "no worse than 94 % / 4.7 %", "timing": "<= 60 s"},
        "setup": {"dates": 40, "repeat_days": 12, "pixels": "200x200", "pixel_m": 80,
                  "event": {"amplitude_mm": EVENT_MM, "sigma_m": 400}, "match_km": MATCH_KM,
                  "unwrap_rate": args.unwrap_rate, "seed": args.seed,
                  "detector": AlertConfig().model_dump(), "machine": platform.platform()},
        "settings": {},
    }
    def save() -> None:  # after every stage: a long run leaves what it measured
        results["bench_seconds"] = round(time.perf_counter() - started, 1)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")

    for name in args.settings:
        results["settings"][name] = run_setting(name, table[name], rng, args.stacks,
                                                args.free_stacks)
        save()
    if args.sweep:
        results["sweep"] = {args.sweep_setting: sweep(args.sweep_setting,
                                                       table[args.sweep_setting], rng,
                                                       args.sweep_stacks, args.sweep)}
        save()
    if args.bound:
        names = ["aoi_wide", "watched"][:len(args.bound_z)]
        results["ideal_observer"] = ideal_bound(rng, args.bound, dict(zip(names, args.bound_z,
                                                                          strict=True)))
        print(f"bound: {json.dumps(results['ideal_observer'])}", flush=True)
        save()
    for name in args.timing:
        results.setdefault("timing", {})[name] = timing(name, table[name])
        print(f"timing: {results['timing'][name]}", flush=True)
        save()
    save()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
