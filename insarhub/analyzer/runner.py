"""Run smallbaselineApp step by step in its own process (used by `BaseAnalyzer.run`).

`python -m insarhub.analyzer.runner TEMPLATE WORK_DIR STEP [STEP ...] [--plot]`

MintPy changes the working directory, prints to stdout and may exit the interpreter, so it runs
apart from the caller. Markers on stdout tell the caller which step starts, ends or fails:
`##insarhub step start <name>`, `##insarhub step done <name> <seconds>`,
`##insarhub step failed <name>`; the last line `##insarhub peak_rss_mb <n>` gives peak memory.
Besides smallbaselineApp's steps, `mask_temporal_coherence` makes maskTempCoh.h5 from
temporalCoherence.h5 the way invert_network does (an append needs it without the inversion).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import traceback

MARK = "##insarhub"


def report_failure(step: str, exc: BaseException) -> None:
    """The traceback and the marker line the parent reads (Ctrl-C is raised again)."""
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    traceback.print_exc(file=sys.stdout)
    first = str(exc).splitlines()[0] if str(exc) else ""
    print(f"{MARK} step failed {step} {type(exc).__name__}: {first}", flush=True)


def report_peak_memory() -> None:
    """This process's peak resident memory, as a marker line."""
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{MARK} peak_rss_mb {peak_kb / 1024:.1f}", flush=True)
MASK_STEP = "mask_temporal_coherence"


def _closure_plot_bug(step: str, exc: ValueError, work_dir: str) -> bool:
    """MintPy 1.6.4's quick_overview crashes plotting a histogram with zero bins.

    That happens when no triplet of interferograms has an unwrapping ambiguity (clean data): the
    data file is already written, only the figure fails, so the step has done its work.
    """
    written = os.path.isfile(os.path.join(work_dir, "numTriNonzeroIntAmbiguity.h5"))
    return step == "quick_overview" and "bins" in str(exc) and written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m insarhub.analyzer.runner")
    parser.add_argument("template")
    parser.add_argument("work_dir")
    parser.add_argument("steps", nargs="+")
    parser.add_argument("--plot", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")

    from mintpy.smallbaselineApp import TimeSeriesAnalysis

    status = 0
    step = "open"
    try:
        app = TimeSeriesAnalysis(args.template, args.work_dir)
        app.open()
        for step in args.steps:
            print(f"{MARK} step start {step}", flush=True)
            started = time.perf_counter()
            try:
                if step == MASK_STEP:
                    app.generate_temporal_coherence_mask()
                else:
                    app.run(steps=[step])
            except ValueError as exc:
                if not _closure_plot_bug(step, exc, args.work_dir):
                    raise
                print(f"{MARK} warning {step}: MintPy's closure histogram plot failed because no "
                      "triplet has a non-zero integer ambiguity (MintPy 1.6.4 bug); its data file "
                      "numTriNonzeroIntAmbiguity.h5 was written, continuing", flush=True)
            print(f"{MARK} step done {step} {time.perf_counter() - started:.2f}", flush=True)
        if args.plot:
            step = "plot"
            print(f"{MARK} step start plot", flush=True)
            started = time.perf_counter()
            app.plot_result()
            print(f"{MARK} step done plot {time.perf_counter() - started:.2f}", flush=True)
        app.close()
    except BaseException as exc:  # MintPy raises anything, SystemExit included
        report_failure(step, exc)
        status = 1
    report_peak_memory()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
