"""Pair-network benchmark: time and peak memory of `select_pairs`, and baseline accuracy.

    .venv/bin/python bench/network.py

- Stacks of 100, 1,000 and 5,000 dates (12-day repeat, a few long gaps, perpendicular
  baselines ~N(0, 50 m)) made of real asf_search products (`insarhub.network.synthetic`);
  `select_pairs(max_degree=5)` timed (best of 3) and its peak traced memory measured
  (tracemalloc, separate run). Aim: 1,000 dates < 0.5 s; memory growing with pairs, not dates².
- Perpendicular baselines from the UMM state vectors against ASF's recorded values on the
  166-burst stack and the Fairbanks stack: median and max error (aim < 1 m and < 5 m).

Writes bench/results/network.json.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from asf_search import ASFSession
from asf_search.search.search_generator import as_ASFProduct

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from insarhub.network import select_pairs  # noqa: E402
from insarhub.network.baselines import OrbitState, perpendicular_baselines  # noqa: E402
from insarhub.network.synthetic import synthetic_stack  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures"  # recorded ASF data, see tests/fixtures/SOURCES.md
SIZES = (100, 1000, 5000)


def _items(name: str) -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with (FIXTURES / "asf_search" / f"{name}.yml").open() as handle:
        data = yaml.load(handle, Loader=loader)  # noqa: S506 (a safe loader)
    return data if isinstance(data, list) else [data]


def _products(items: list[dict[str, Any]]) -> list[Any]:
    session = ASFSession()
    return [as_ASFProduct({"umm": i["umm"], "meta": i["meta"]}, session) for i in items]


def baseline_accuracy() -> dict[str, Any]:
    out = {}
    for name in ("SLC_BURST_stack", "Fairbanks_S1_stack"):
        items = _items(name)
        products = _products(items)
        reference = next(i for i, it in enumerate(items)
                         if it["properties"]["temporalBaseline"] == 0)
        recorded = np.array([it["properties"]["perpendicularBaseline"] for it in items], float)
        start = time.perf_counter()
        ours = perpendicular_baselines(OrbitState.from_products(products), reference)
        seconds = time.perf_counter() - start
        error = np.abs(ours - recorded)
        out[name] = {"scenes": len(items), "median_error_m": round(float(np.median(error)), 3),
                     "max_error_m": round(float(error.max()), 3),
                     "seconds": round(seconds, 4)}
    return out


def _days(n: int, rng: np.random.Generator) -> np.ndarray:
    steps = np.full(n - 1, 12)
    for k in rng.choice(n - 1, size=max(1, n // 200), replace=False):
        steps[k] = int(rng.integers(60, 400))          # acquisition gaps of 60-400 days
    return np.concatenate([[0], np.cumsum(steps)])


def network_scaling(template: Any) -> list[dict[str, Any]]:
    rows = []
    rng = np.random.default_rng(0)
    for n in SIZES:
        products = synthetic_stack(template, _days(n, rng), rng.normal(0, 50, n))
        stacks = {(1, 2): products}
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            result = select_pairs(stacks, max_degree=5)
            timings.append(time.perf_counter() - start)
        tracemalloc.start()
        select_pairs(stacks, max_degree=5)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        report = result.reports()[(1, 2)]
        rows.append({
            "dates": n, "pairs": report.pairs, "components": report.components,
            "bridges": len(report.bridges), "degree_range": [report.degree_min,
                                                             report.degree_max],
            "seconds_best_of_3": round(min(timings), 4),
            "peak_memory_mb": round(peak / 1e6, 2),
            "peak_bytes_per_pair": round(peak / max(report.pairs, 1)),
            "dates_squared_matrix_mb": round(n * n * 8 / 1e6, 1),
        })
        print(f"{n:>5} dates: {report.pairs:>6} pairs, {report.components} component, "
              f"{min(timings):.3f} s, peak {peak / 1e6:.1f} MB "
              f"({peak / max(report.pairs, 1):.0f} B/pair; an n x n float matrix would be "
              f"{n * n * 8 / 1e6:.0f} MB)")
    return rows


def main() -> int:
    accuracy = baseline_accuracy()
    for name, row in accuracy.items():
        print(f"bperp vs ASF recorded, {name} ({row['scenes']} scenes): median "
              f"{row['median_error_m']} m, max {row['max_error_m']} m")
    template = _products(_items("Fairbanks_SLC"))[0]
    scaling = network_scaling(template)
    results = {"baseline_accuracy": accuracy, "select_pairs": scaling,
               "aims": {"1000_dates_seconds": 0.5, "bperp_median_m": 1.0, "bperp_max_m": 5.0}}
    out = REPO / "bench" / "results" / "network.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
