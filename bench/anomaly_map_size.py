"""How large an AOI the alert needs: detection and false alarms by map size.

Random flat-Earth stacks (`insarhub.anomaly.synthetic`, 80 m pixels, 14 dates, 6 mm of
turbulence) of each `--sizes` side, with a -40 mm, sigma 400 m bowl on the newest date (events)
or none (false alarms), judged by `detect_anomaly` with its defaults (min_dates 8). The fleet's
world AOIs were 2.4 km (28 px) when its injected events went unalerted; this says why.

    python bench/anomaly_map_size.py --stacks 20 --out bench/results/anomaly_map_size.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from insarhub.anomaly import detect_anomaly
from insarhub.anomaly.config import DEFAULT_SCALES_M
from insarhub.anomaly.synthetic import make_stack

PIXEL_M = 80.0


def rate(size: int, stacks: int, event_mm: float | None, seed0: int) -> float:
    """The share of `stacks` random stacks of `size` px that the detector calls anomalous."""
    hits = 0
    for i in range(stacks):
        rng = np.random.default_rng(seed0 + i)
        stack = make_stack(rng, atmosphere_mm=6.0, n_dates=14, size=size, pixel_m=PIXEL_M,
                           event_mm=event_mm, margin_m=min(800.0, size * PIXEL_M / 3))
        report = detect_anomaly(stack.dates, stack.displacement_m, 10.0, height=stack.height,
                                pixel_size_m=PIXEL_M, min_dates=8)
        hits += report.anomalous
    return hits / stacks


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 40, 48, 56, 64, 80])
    parser.add_argument("--stacks", type=int, default=20)
    parser.add_argument("--out", default="bench/results/anomaly_map_size.json")
    args = parser.parse_args()
    began = time.monotonic()
    rows = []
    for size in args.sizes:
        rows.append({"size_px": size, "side_km": round(size * PIXEL_M / 1000, 2),
                     "detected": rate(size, args.stacks, -40.0, 0),
                     "false_alarms": rate(size, args.stacks, None, 10_000)})
        print(rows[-1], flush=True)
    result = {"stacks_per_size": args.stacks, "event_mm": -40.0, "event_sigma_m": 400.0,
              "atmosphere_mm": 6.0, "dates": 14, "pixel_m": PIXEL_M,
              "widest_bowl_m": max(DEFAULT_SCALES_M), "rows": rows,
              "seconds": round(time.monotonic() - began, 1), "machine": platform.machine()}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
