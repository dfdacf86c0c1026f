"""Append or full inversion: what a run must do to bring a MintPy time series up to date.

An append estimates only the new dates against the existing series; it is sound while the
network under the old dates, the reference point, the grid and the MintPy options are those of
the series on disk, and while every correction in use can be applied to a new date alone.
Anything else (or a request, or the AOI's schedule of full inversions) needs a full inversion.

The record of the last finished run, `<mintpy_dir>/insarhub_timeseries.json`, says which mode
ran, why, when, with which options, and how many appends since the last full inversion.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

STATE_NAME = "insarhub_timeseries.json"
STACK = Path("inputs") / "ifgramStack.h5"
GEOMETRY_NAMES = ("geometryGeo.h5", "geometryRadar.h5")
RAW_SERIES = "timeseries.h5"
APPEND_OUTPUTS = ("temporalCoherence.h5", "numInvIfgram.h5", "velocity.h5")

# MintPy options whose effect an append reproduces only with these values ("auto" included)
_APPENDABLE = {
    "mintpy.troposphericDelay.method": ("no",),
    "mintpy.ionosphericDelay.method": ("no", "auto"),
    "mintpy.solidEarthTides": ("no", "auto"),
    "mintpy.deramp": ("no", "auto"),
    "mintpy.unwrapError.method": ("no", "auto"),
    "mintpy.networkInversion.maskDataset": ("no", "auto"),
    "mintpy.networkInversion.obsDatasetName": ("unwrapPhase", "auto"),
}

Mode = Literal["append", "full", "steps"]


@dataclass
class UpdatePlan:
    """The mode of a run and why; for an append, the pairs and dates it adds."""

    mode: Mode
    reason: str
    new_pairs: list[str] = field(default_factory=list)
    new_dates: list[str] = field(default_factory=list)
    reload_stack: bool = False  # a full run must load every interferogram again

    @property
    def up_to_date(self) -> bool:
        return self.mode == "append" and not self.new_pairs


def options_digest(options: Mapping[str, str], mintpy_dir: Path | None = None) -> str:
    """A short fingerprint of the template options (what a full inversion was made with);
    paths under the stack folder count relative to it, so that a moved folder still appends."""
    roots = [str(mintpy_dir), str(mintpy_dir.parent)] if mintpy_dir is not None else []

    def relative(value: str) -> str:
        for index, root in enumerate(roots):
            value = value.replace(root, f"<{index}>")
        return value

    text = json.dumps(sorted((key, relative(value)) for key, value in options.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_state(mintpy_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((mintpy_dir / STATE_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def state_record(previous: Mapping[str, Any], plan: UpdatePlan, options: Mapping[str, str],
                 dates: int, pairs: int, mintpy_dir: Path) -> dict[str, Any]:
    """The record of a finished run (written with `write_state`, or staged by an append)."""
    appends = 0 if plan.mode == "full" else int(previous.get("appends_since_full", 0)) + 1
    return {"mode": plan.mode, "reason": plan.reason,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "options": options_digest(options, mintpy_dir), "appends_since_full": appends,
            "dates": dates, "interferograms": pairs,
            "last_full_at": previous.get("last_full_at") if plan.mode != "full"
            else datetime.now(UTC).isoformat(timespec="seconds")}


def write_state(path: Path, record: Mapping[str, Any]) -> None:
    """Write the run record atomically (a reader sees the old or the new one)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)


def unappendable_options(options: Mapping[str, str]) -> list[str]:
    """The options (key = value) whose corrections an append cannot apply to a new date."""
    bad = []
    for key, allowed in _APPENDABLE.items():
        value = options.get(key, "auto").strip().lower()
        if value not in allowed:
            bad.append(f"{key} = {value}")
    for key, value in options.items():
        if key.startswith("mintpy.network.") and value.strip().lower() not in ("auto", "no"):
            bad.append(f"{key} = {value}")
    return bad


def _dates(pairs: Iterable[str]) -> set[str]:
    return {d for pair in pairs for d in pair.split("_")}


def connected_to_old(new_pairs: Sequence[str], old_dates: set[str]) -> bool:
    """Whether every new date is linked to an old date through the new pairs."""
    reached = set(old_dates)
    grew = True
    while grew:
        grew = False
        for pair in new_pairs:
            d1, d2 = pair.split("_")
            if (d1 in reached) != (d2 in reached):
                reached |= {d1, d2}
                grew = True
    return _dates(new_pairs) <= reached


@dataclass
class SeriesOnDisk:
    """What the MintPy work directory holds now (read from file headers, not the data)."""

    pairs: list[str]
    dates: list[str]
    ref_yx: tuple[int, int] | None
    size: tuple[int, int]  # (length, width)
    geometry_bperp: bool  # per-pixel baselines per date in the geometry file (ISCE)


def read_series(mintpy_dir: Path, series_files: Sequence[str]) -> SeriesOnDisk | None:
    """The stack's pairs and the series' dates, or None when an output is missing/unreadable."""
    import h5py

    names = [str(STACK), RAW_SERIES, *series_files, *APPEND_OUTPUTS]
    if not all((mintpy_dir / name).is_file() for name in names):
        return None
    try:
        with h5py.File(mintpy_dir / STACK, "r") as h5:
            pairs = ["_".join(d.decode() for d in row) for row in h5["date"][()]]
            attrs = h5.attrs
            ref = (int(attrs["REF_Y"]), int(attrs["REF_X"])) if "REF_Y" in attrs else None
            size = (int(attrs["LENGTH"]), int(attrs["WIDTH"]))
        with h5py.File(mintpy_dir / RAW_SERIES, "r") as h5:
            dates = [d.decode() for d in h5["date"][()]]
        geometry_bperp = False
        for name in GEOMETRY_NAMES:
            if (mintpy_dir / "inputs" / name).is_file():
                with h5py.File(mintpy_dir / "inputs" / name, "r") as h5:
                    geometry_bperp = "bperp" in h5
    except (OSError, KeyError, ValueError):
        return None
    return SeriesOnDisk(pairs, dates, ref, size, geometry_bperp)


def plan_update(mintpy_dir: Path, pairs: Sequence[str], reference_yx: tuple[int, int],
                options: Mapping[str, str], series_files: Sequence[str], *, full: bool = False,
                full_every: int | None = None, replaced: Sequence[str] = (),
                size: tuple[int, int] | None = None) -> UpdatePlan:
    """Decide append or full for the prepared `pairs`; `replaced`: old pairs whose product
    is newer than the interferogram stack (repaired or downloaded again); `size`: the
    (length, width) of the prepared grid."""
    if full:
        return UpdatePlan("full", "a full inversion was requested")
    on_disk = read_series(mintpy_dir, series_files)
    if on_disk is None:
        return UpdatePlan("full", "no time series yet")
    state = read_state(mintpy_dir)
    if not state:
        return UpdatePlan("full", f"no record ({STATE_NAME}) of the run that made the time series")
    if size is not None and on_disk.size != tuple(size):
        return UpdatePlan("full", f"the grid changed from {on_disk.size} to {tuple(size)} pixels (length, width)",
                          reload_stack=True)
    old = set(on_disk.pairs)
    if _dates(old) != set(on_disk.dates):
        return UpdatePlan("full", "the time series and the interferogram stack have different dates",
                          reload_stack=True)
    gone = sorted(old - set(pairs))
    if gone:
        return UpdatePlan("full", f"{len(gone)} pair(s) between old dates dropped ({', '.join(gone[:3])})",
                          reload_stack=True)
    if replaced:
        return UpdatePlan("full", f"{len(replaced)} product(s) of old pairs replaced "
                          f"({', '.join(sorted(replaced)[:3])})", reload_stack=True)
    new = sorted(set(pairs) - old)
    old_dates = set(on_disk.dates)
    between_old = [p for p in new if set(p.split("_")) <= old_dates]
    if between_old:
        return UpdatePlan("full", f"{len(between_old)} new pair(s) between old dates "
                          f"({', '.join(between_old[:3])})")
    if on_disk.ref_yx != tuple(reference_yx):
        return UpdatePlan("full", f"the reference point moved from {on_disk.ref_yx} to {tuple(reference_yx)}")
    if state.get("options") != options_digest(options, mintpy_dir):
        return UpdatePlan("full", "the MintPy options changed since the last run")
    bad = unappendable_options(options)
    if bad:
        return UpdatePlan("full", f"corrections that need every date: {'; '.join(bad)}")
    if on_disk.geometry_bperp:
        return UpdatePlan("full", "the geometry holds per-date 3D baselines (bperp), which an append "
                          "cannot extend")
    appends = int(state.get("appends_since_full", 0))
    if full_every and appends + 1 >= full_every and new:
        return UpdatePlan("full", f"scheduled: a full inversion every {full_every} runs "
                          f"({appends} appends since the last)")
    if not new:
        return UpdatePlan("append", "nothing new: the time series is up to date")
    new_dates = sorted(_dates(new) - old_dates)
    if min(new_dates) <= max(old_dates):
        return UpdatePlan("full", f"new date(s) {', '.join(d for d in new_dates if d <= max(old_dates))} "
                          "fall before the newest date of the series")
    if not connected_to_old(new, old_dates):
        return UpdatePlan("full", "the new dates are not connected to the old ones by the new pairs")
    return UpdatePlan("append", f"{len(new)} new pair(s) adding {len(new_dates)} date(s) "
                      f"({', '.join(new_dates)})", new_pairs=new, new_dates=new_dates)
