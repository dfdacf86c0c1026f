"""Search benchmark: search + grouping + filter + summary for 1,000 and 10,000 sandbox scenes.

Runs an in-process sandbox catalog holding exactly N generated scenes (6-day stacks over the
Utah paths), searches it through asf_search with the real Downloader, then times the local
stages on the results. Prints the figures and writes bench/results/search.json.

    .venv/bin/python bench/search.py [--sizes 1000 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

from insarhub_sandbox.catalog.service import CatalogServer
from insarhub_sandbox.catalog.stacks import dense_stacks

from insarhub.aoi import AOIWarning
from insarhub.downloaders import S1SLCDownloader
from insarhub.search.stacks import group_products

RESULTS = Path(__file__).resolve().parent / "results" / "search.json"
BENCH_AOI = [-116.5, 35.0, -109.0, 41.0]  # covers every generated frame of the three paths


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(func: Any) -> tuple[Any, float, float]:
    """(result, seconds, peak MiB allocated by Python during the call)."""
    tracemalloc.start()
    began = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def run(size: int, data_dir: Path) -> dict[str, Any]:
    began = time.perf_counter()
    server = CatalogServer(data_dir, stacks=dense_stacks(size), include_fixtures=False).start()
    build_s = time.perf_counter() - began
    os.environ["INSARHUB_ASF_URL"] = server.url
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AOIWarning)
            downloader = S1SLCDownloader(BENCH_AOI)
        began = time.perf_counter()
        downloader.search()
        search_s = time.perf_counter() - began
        products = [p for stack in downloader.results.values() for p in stack]
        assert len(products) == size, (len(products), size)

        _, group_s, group_mb = timed(lambda: group_products(products))
        busiest = max(downloader.results, key=lambda k: len(downloader.results[k]))

        def filter_chain() -> None:
            downloader.filter(path_frame=busiest, start="2018-01-01", end="2024-12-31",
                              season=[5, 6, 7, 8, 9], latest_n=100)
            downloader.reset()

        _, filter_s, filter_mb = timed(filter_chain)
        table, summary_s, summary_mb = timed(lambda: downloader.summary(show=False))
    finally:
        server.stop()
    local_s = group_s + filter_s + summary_s
    return {
        "scenes": size, "stacks": len(table),
        "catalog_build_s": round(build_s, 3),
        "search_s": round(search_s, 3),
        "search_scenes_per_s": round(size / search_s, 1),
        "group_s": round(group_s, 4), "filter_s": round(filter_s, 4),
        "summary_s": round(summary_s, 4),
        "group_filter_summary_s": round(local_s, 4),
        "group_filter_summary_under_1s": local_s < 1.0,
        "group_peak_mib": round(group_mb, 2), "filter_peak_mib": round(filter_mb, 2),
        "summary_peak_mib": round(summary_mb, 2),
        "process_max_rss_mib": round(rss_mb(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10000])
    args = parser.parse_args(argv)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            result = run(size, Path(tmp) / str(size))
            figures.append(result)
            print(json.dumps(result), flush=True)
    report = {"benchmark": "search", "python": sys.version.split()[0],
              "machine": platform.machine(), "cpus": os.cpu_count(), "runs": figures}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
