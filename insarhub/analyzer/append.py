"""Append new dates to a MintPy time series without rereading the old interferograms.

1. MintPy's own `load_data` loads only the new pairs into a staging stack, whose slices are
   appended to `inputs/ifgramStack.h5` (resizable datasets);
2. the new dates are estimated against the existing series (`incremental`), weighted as MintPy
   weights, and the new files are staged: the series (raw and DEM-error corrected, the
   existing DEM-error estimate applied to the new dates), the fit residual, temporal coherence,
   the number of pairs per pixel and the mean spatial coherence;
3. MintPy's own steps make the temporal-coherence mask, the residual RMS and reference date,
   re-reference the series in time if that date changed, and estimate the velocity (+ std);
4. the staged files are swapped in (`journal`): a kill at any instant leaves the old series.

All of it runs in one subprocess (`python -m insarhub.analyzer.append MINTPY_DIR`, MintPy is
imported once), whose output goes to MintPy's log with the runner's step markers.

The outputs keep MintPy's names, datasets and attributes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from insarhub.analyzer.incremental import (
    fit_residual,
    pair_index,
    pair_residual,
    solve_new_dates,
    update_temporal_coherence,
)
from insarhub.analyzer.journal import STACK, AppendJournal
from insarhub.analyzer.process import run_marked
from insarhub.analyzer.runner import MARK, MASK_STEP, report_failure, report_peak_memory
from insarhub.analyzer.template import read_template, write_template
from insarhub.analyzer.update_plan import STATE_NAME, UpdatePlan, write_state
from insarhub.errors import MintPyError

log = logging.getLogger(__name__)

KILL_ENV = "INSARHUB_APPEND_KILL_AT"  # test hook: SIGKILL the append process at a named point
JOB_NAME = "append_job.json"
STAGED = ("timeseries.h5", "timeseries_demErr.h5", "timeseriesResidual.h5", "timeseriesResidual_ramp.h5",
          "temporalCoherence.h5", "numInvIfgram.h5", "avgSpatialCoh.h5", "avgPhaseVelocity.h5", "maskTempCoh.h5",
          "velocity.h5",          "reference_date.txt", "rms_timeseriesResidual_ramp.txt", "rms_timeseriesResidual_ramp.pdf",
          STATE_NAME)
FINISH_STEPS = (MASK_STEP, "residual_RMS", "reference_date", "velocity")


@dataclass
class AppendResult:
    """Seconds per stage of the append and the peak memory of its subprocess."""

    steps: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float | None = None


def checkpoint(name: str) -> None:
    """Die here if the test hook asks for it (crash-safety tests kill the update mid-way)."""
    if os.environ.get(KILL_ENV) == name:
        log.warning("%s=%s: killing this process", KILL_ENV, name)
        os.kill(os.getpid(), signal.SIGKILL)


def append_dates(mintpy_dir: Path, template_file: Path, log_file: Path, plan: UpdatePlan,
                 load_options: Callable[[Path], dict[str, str]], state: Mapping[str, object],
                 series_chain: Sequence[str]) -> AppendResult:
    """Append `plan.new_pairs` / `plan.new_dates` (in a subprocess: MintPy is imported once
    there); `load_options(folder)` gives the mintpy.load.* keys that load only the new pairs
    (links made in `folder`)."""
    journal = AppendJournal(mintpy_dir)
    staging = journal.begin(len(stack_pairs(mintpy_dir / STACK)))
    load_dir = staging / "load"
    options = {**read_template(template_file), **load_options(load_dir / "new")}
    write_template(load_dir / template_file.name, options, header="insarhub append: the new pairs only")
    job = {"template": str(template_file), "new_pairs": plan.new_pairs, "new_dates": plan.new_dates,
           "series_chain": list(series_chain), "state": dict(state)}
    (staging / JOB_NAME).write_text(json.dumps(job))
    done = run_marked([sys.executable, "-m", "insarhub.analyzer.append", str(mintpy_dir)], mintpy_dir, log_file,
                      f"append ({plan.reason})")
    return AppendResult(done.steps, done.peak_rss_mb)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m insarhub.analyzer.append MINTPY_DIR`: the staged append `append_dates` set up."""
    mintpy_dir = Path((argv if argv is not None else sys.argv[1:])[0])
    os.environ.setdefault("MPLBACKEND", "Agg")
    journal = AppendJournal(mintpy_dir, on_move=lambda name: checkpoint(f"moved {name}"))
    staging = journal.staging
    job = json.loads((staging / JOB_NAME).read_text())
    template_file = Path(job["template"])
    plan = UpdatePlan("append", "", new_pairs=job["new_pairs"], new_dates=job["new_dates"])
    step = "load_new_pairs"
    try:
        from mintpy.smallbaselineApp import TimeSeriesAnalysis

        with _marked(step):
            load_dir = staging / "load"
            app = TimeSeriesAnalysis(str(load_dir / template_file.name), str(load_dir))
            app.open()
            app.run(steps=["load_data"])
            got = stack_pairs(load_dir / STACK)
            if got != plan.new_pairs:
                raise MintPyError(f"MintPy loaded the pairs {got} for the append, expected {plan.new_pairs}; "
                                  "run with full=True")
        checkpoint("loaded")
        step = "append_to_stack"
        with _marked(step):
            _grow_stack(mintpy_dir / STACK, load_dir / STACK)
        checkpoint("stack")
        step = "estimate_new_dates"
        with _marked(step):
            _stage_series(mintpy_dir, staging, load_dir / STACK, plan, job["series_chain"], template_file)
        checkpoint("estimated")
        _mintpy_dir_for(staging, mintpy_dir, template_file)
        app = TimeSeriesAnalysis(str(staging / template_file.name), str(staging))
        app.open()
        for step in FINISH_STEPS:
            with _marked(step):
                if step == MASK_STEP:
                    app.generate_temporal_coherence_mask()
                else:
                    app.run(steps=[step])
        checkpoint("finished")
        step = "commit"
        with _marked(step):
            write_state(staging / STATE_NAME, job["state"])
            files = [name for name in STAGED if (staging / name).exists()]
            journal.mark_commit(files)
            journal.move(files)
        status = 0
    except BaseException as exc:  # MintPy raises anything, SystemExit included
        report_failure(step, exc)
        status = 1
    report_peak_memory()
    return status


@contextmanager
def _marked(step: str) -> Iterator[None]:
    print(f"{MARK} step start {step}", flush=True)
    started = time.perf_counter()
    yield
    print(f"{MARK} step done {step} {time.perf_counter() - started:.2f}", flush=True)


def stack_pairs(stack: Path) -> list[str]:
    import h5py

    with h5py.File(stack, "r") as h5:
        return ["_".join(d.decode() for d in row) for row in h5["date"][()]]


def _grow_stack(stack: Path, new_stack: Path) -> None:
    """Append every per-pair dataset of `new_stack` to `stack` (resizing in place)."""
    import h5py

    with h5py.File(new_stack, "r") as new, h5py.File(stack, "r+") as h5:
        total = int(h5["date"].shape[0])
        added = int(new["date"].shape[0])
        for name, dataset in list(h5.items()):
            if dataset.ndim == 0 or dataset.shape[0] != total:
                continue
            if name not in new:
                raise MintPyError(f"the new pairs lack the dataset {name} of {stack}; run with full=True")
            values = np.ones(added, dtype=bool) if name == "dropIfgram" else new[name][()]
            if dataset.maxshape[0] is None:
                dataset.resize(total + added, axis=0)
                dataset[total:] = values
            else:  # small 1D datasets MintPy writes without maxshape: rewrite them whole
                data = np.concatenate([dataset[()], values])
                del h5[name]
                h5.create_dataset(name, data=data)


def _read_h5(path: Path, name: str) -> tuple[np.ndarray, dict[str, str]]:
    from mintpy.utils import readfile

    data, attrs = readfile.read(str(path), datasetName=name)
    return np.asarray(data), attrs


def _weights(coherence: np.ndarray, attrs: Mapping[str, str], template: Mapping[str, str]) -> np.ndarray:
    """MintPy's inversion weights (`calc_weight_sqrt` squared) from the new pairs' coherence."""
    from mintpy.simulation import decorrelation

    func = template.get("mintpy.networkInversion.weightFunc", "auto").lower()
    func = "var" if func == "auto" else func
    if "NCORRLOOKS" in attrs:
        looks = float(attrs["NCORRLOOKS"])
    else:
        looks = int(attrs["ALOOKS"]) * int(attrs["RLOOKS"]) / 1.94
    looks = max(int(np.rint(looks)), 1)
    coh = np.nan_to_num(coherence, nan=0.0)
    weight = decorrelation.coherence2weight(coh, func, L=looks, epsilon=5e-2, print_msg=False)
    return np.ones_like(coh) if weight is None else np.asarray(weight, dtype=np.float64)


def _append_dates(path: Path, dates: Sequence[str], bperp: np.ndarray, values: np.ndarray) -> None:
    """Grow a staged copy of a MintPy timeseries file by new dates (resizable datasets)."""
    import h5py

    with h5py.File(path, "r+") as h5:
        total = int(h5["date"].shape[0])
        added = len(dates)
        for name, data in (("date", np.array(dates, dtype=np.bytes_)), ("bperp", bperp.astype(np.float32)),
                           ("timeseries", values.astype(np.float32))):
            dataset = h5[name]
            if dataset.maxshape[0] is None:
                dataset.resize(total + added, axis=0)
                dataset[total:] = data
            else:
                joined = np.concatenate([dataset[()], data])
                del h5[name]
                h5.create_dataset(name, data=joined)
        h5.attrs["END_DATE"] = dates[-1]
        h5.attrs["FILE_PATH"] = str(path)


def _stage_series(mintpy_dir: Path, staging: Path, new_stack: Path, plan: UpdatePlan,
                  series_chain: Sequence[str], template_file: Path) -> None:
    """Estimate the new dates and write the staged series, coherence and count files."""
    import h5py
    from mintpy.utils import readfile, writefile

    template = read_template(template_file)
    with h5py.File(new_stack, "r") as h5:
        unw = h5["unwrapPhase"][()].astype(np.float64)
        coherence = h5["coherence"][()]
        pair_bperp = h5["bperp"][()].astype(np.float64)
    stack_attrs = readfile.read_attribute(str(mintpy_dir / STACK))
    num_pair, length, width = unw.shape
    ref_y, ref_x = int(stack_attrs["REF_Y"]), int(stack_attrs["REF_X"])
    phase2range = -float(stack_attrs["WAVELENGTH"]) / (4 * np.pi)
    span_years = np.array([(_day(b) - _day(a)).days / 365.25 for a, b in
                           (pair.split("_") for pair in plan.new_pairs)])
    referenced = (unw - unw[:, ref_y:ref_y + 1, ref_x:ref_x + 1]) * phase2range
    sums = {"coherence": np.nan_to_num(coherence).sum(axis=0),  # as MintPy's quick overview: no-data kept
            "velocity": np.nansum(referenced / span_years[:, None, None], axis=0)}
    unw[unw == 0] = np.nan  # MintPy's inversion: zero phase is no data
    obs = ((unw - unw[:, ref_y:ref_y + 1, ref_x:ref_x + 1]) * phase2range).reshape(num_pair, -1)
    del referenced
    weight = _weights(coherence.reshape(num_pair, -1), stack_attrs, template)
    del unw, coherence

    with h5py.File(mintpy_dir / "timeseries.h5", "r") as h5:
        old_dates = [d.decode() for d in h5["date"][()]]
        old_bperp = h5["bperp"][()].astype(np.float64)
        num_old, num_new = len(old_dates), len(plan.new_dates)
        index = pair_index(plan.new_pairs, old_dates + plan.new_dates)
        used = sorted({int(i) for i in index.ravel() if i < num_old})  # read only these old dates
        raw = dict(zip(used, h5["timeseries"][used].reshape(len(used), -1).astype(np.float64), strict=True))
    count_file = mintpy_dir / "numInvIfgram.h5"
    old_count, _ = _read_h5(count_file, "mask")
    inverted = old_count.reshape(-1) > 0

    new = solve_new_dates(index, num_old, num_new, obs, weight, raw)
    # MintPy drops a pixel whose new date has no valid pair (a date without observation): so do we
    unsolved = np.isnan(new).any(axis=0)
    new[:, ~inverted | unsolved] = 0.0
    bperp = solve_new_dates(index, num_old, num_new, pair_bperp[:, None], np.ones((num_pair, 1)),
                            {i: old_bperp[i:i + 1] for i in used})[:, 0]
    series = {**raw, **{num_old + k: np.nan_to_num(new[k]) for k in range(num_new)}}
    residual = pair_residual(index, series, obs) / phase2range
    residual[:, ~inverted | unsolved] = np.nan
    old_coh, coh_attrs = _read_h5(mintpy_dir / "temporalCoherence.h5", "temporalCoherence")
    tcoh, count = update_temporal_coherence(old_coh.reshape(-1), old_count.reshape(-1).astype(np.int64),
                                            residual)
    tcoh[unsolved], count[unsolved] = 0.0, 0
    new = new.reshape(num_new, length, width)

    staged_raw = staging / "timeseries.h5"
    shutil.copyfile(mintpy_dir / "timeseries.h5", staged_raw)
    _append_dates(staged_raw, plan.new_dates, bperp, new)
    _, count_attrs = _read_h5(count_file, "mask")
    writefile.write({"temporalCoherence": tcoh.reshape(length, width)}, str(staging / "temporalCoherence.h5"),
                    metadata=coh_attrs, print_msg=False)
    writefile.write({"mask": count.reshape(length, width).astype(old_count.dtype)},
                    str(staging / "numInvIfgram.h5"), metadata=count_attrs, print_msg=False)
    _stage_means(mintpy_dir, staging, sums, num_pair)
    if "timeseries_demErr.h5" in series_chain:
        _stage_dem_error(mintpy_dir, staging, plan, new, template_file, template)


def _stage_means(mintpy_dir: Path, staging: Path, sums: Mapping[str, np.ndarray], added: int) -> None:
    """avgSpatialCoh.h5 and avgPhaseVelocity.h5: MintPy's means over the kept pairs (coherence,
    and referenced phase over time span), with the `added` new pairs' `sums` taken in."""
    import h5py
    from mintpy.utils import writefile

    with h5py.File(mintpy_dir / STACK, "r") as h5:
        kept_total = int(np.count_nonzero(h5["dropIfgram"][()]))
    kept_old = kept_total - added
    for name, dataset in (("avgSpatialCoh.h5", "coherence"), ("avgPhaseVelocity.h5", "velocity")):
        path = mintpy_dir / name
        if not path.is_file():
            continue
        mean, attrs = _read_h5(path, dataset)
        total = sums[dataset].reshape(mean.shape)
        mean = (mean.astype(np.float64) * kept_old + total) / max(kept_total, 1)
        writefile.write({dataset: mean.astype(np.float32)}, str(staging / name), metadata=attrs, print_msg=False)


def _stage_dem_error(mintpy_dir: Path, staging: Path, plan: UpdatePlan, raw_new: np.ndarray,
                     template_file: Path, template: Mapping[str, str]) -> None:
    """timeseries_demErr.h5 and timeseriesResidual.h5 with the new dates, DEM error as estimated.

    MintPy removes `bperp / (range * sin(inc)) * dz` from the series; referenced in time to
    REF_DATE that term is taken relative to the reference date's baseline, as `read_geometry`
    gives it for the staged series.
    """
    import h5py
    from mintpy import dem_error
    from mintpy.utils import readfile, time_func, utils

    geometry = next(p for p in (mintpy_dir / "inputs").glob("geometry*.h5"))
    pixelwise = template.get("mintpy.topographicResidual.pixelwiseGeometry", "auto").lower() != "no"
    staged_raw = staging / "timeseries.h5"
    sin_inc, distance, pbase = dem_error.read_geometry(str(staged_raw), str(geometry) if pixelwise else None)
    dz, _ = _read_h5(mintpy_dir / "demErr.h5", "dem")
    num_new = len(plan.new_dates)
    factor = np.asarray(pbase, dtype=np.float64)[-num_new:] / (np.asarray(distance) * np.asarray(sin_inc))
    correction = np.nan_to_num(factor * dz.reshape(1, -1).astype(np.float64))
    corrected_new = raw_new.reshape(num_new, -1) - correction
    staged = staging / "timeseries_demErr.h5"
    shutil.copyfile(mintpy_dir / "timeseries_demErr.h5", staged)
    with h5py.File(staged_raw) as h5:
        bperp = h5["bperp"][-num_new:]
    _append_dates(staged, plan.new_dates, bperp, corrected_new.reshape(raw_new.shape))

    # the residual of MintPy's deformation model, the DEM error held (timeseries_rms reads it)
    if not (mintpy_dir / "timeseriesResidual.h5").is_file():
        return
    settings = utils.check_template_auto_value(readfile.read_template(str(template_file)))
    order = int(settings.get("mintpy.topographicResidual.polyOrder") or 2)
    steps = settings.get("mintpy.topographicResidual.stepDate") or []
    excluded = settings.get("mintpy.topographicResidual.excludeDate") or []
    with h5py.File(staged, "r") as h5:
        dates = [d.decode() for d in h5["date"][()]]
        seconds = h5.attrs.get("CENTER_LINE_UTC", 0)
    model = {"polynomial": order, "stepDate": _date_list(steps), "periodic": []}
    design = time_func.get_design_matrix4time_func(dates, model, seconds=seconds)
    used = np.array([d not in _date_list(excluded) for d in dates])
    inverted = _read_h5(mintpy_dir / "numInvIfgram.h5", "mask")[0] > 0
    staged_res = staging / "timeseriesResidual.h5"
    shutil.copyfile(mintpy_dir / "timeseriesResidual.h5", staged_res)
    length, width = inverted.shape
    _append_dates(staged_res, plan.new_dates, bperp, np.zeros((num_new, length, width), dtype=np.float32))
    rows = max(1, 50_000 // max(width, 1))  # blocks of ~50k pixels: memory stays small
    with h5py.File(staged, "r") as series_h5, h5py.File(staged_res, "r+") as out:
        for row0 in range(0, length, rows):
            block = series_h5["timeseries"][:, row0:row0 + rows, :]
            shape = block.shape
            residual = fit_residual(block.reshape(shape[0], -1).astype(np.float64), design, used)
            residual[:, ~inverted[row0:row0 + rows].reshape(-1)] = 0.0
            out["timeseries"][:, row0:row0 + rows, :] = residual.reshape(shape)


def _day(yyyymmdd: str) -> datetime:
    return datetime.strptime(yyyymmdd, "%Y%m%d")


def _date_list(value: object) -> list[str]:
    if not value or value in ("no", "auto"):
        return []
    from mintpy.utils import ptime

    items = value if isinstance(value, list) else str(value).replace(",", " ").split()
    return list(ptime.yyyymmdd(items))


def _mintpy_dir_for(staging: Path, mintpy_dir: Path, template_file: Path) -> None:
    """Make the staging folder a MintPy work directory: links to the inputs, the template."""
    inputs = staging / "inputs"
    inputs.mkdir(exist_ok=True)
    for source in (mintpy_dir / "inputs").glob("*.h5"):
        target = inputs / source.name
        try:
            os.link(source, target)
        except OSError:
            target.symlink_to(source)
    for name in ("demErr.h5", "waterMask.h5", "maskConnComp.h5"):
        if (mintpy_dir / name).is_file() and not (staging / name).exists():
            os.link(mintpy_dir / name, staging / name)
    shutil.copy2(template_file, staging / template_file.name)


if __name__ == "__main__":
    raise SystemExit(main())
