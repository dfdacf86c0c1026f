"""`BaseAnalyzer`: prepare interferograms for MintPy and run smallbaselineApp step by step.

Processor-agnostic: a subclass says how to find and clip its interferograms
(`prepare_inputs`) and which MintPy options suit them (`default_options`); the base chooses the
reference point, writes a template with only valid keys and runs MintPy headless.

Layout: `<workdir>/mintpy/` is MintPy's work directory (`insarhub.cfg` template,
`velocity.h5`, `timeseries*.h5`, `temporalCoherence.h5`, ...), with `insarhub_mintpy.log` (all
of MintPy's output) and `insarhub_prep.json` (what prep chose).
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from insarhub.analyzer.append import append_dates, stack_pairs
from insarhub.analyzer.grid import Grid
from insarhub.analyzer.journal import STACK, AppendJournal
from insarhub.analyzer.process import run_steps
from insarhub.analyzer.reference import ReferencePoint, check_latlon, choose_reference
from insarhub.analyzer.template import (
    STEPS,
    OptionValue,
    cds_configured,
    check_options,
    check_steps,
    read_template,
    write_template,
)
from insarhub.analyzer.update_plan import (
    STATE_NAME,
    UpdatePlan,
    plan_update,
    read_state,
    state_record,
    write_state,
)
from insarhub.aoi import optional_aoi
from insarhub.errors import ConfigError, MintPyError

log = logging.getLogger(__name__)

LOG_NAME = "insarhub_mintpy.log"
PREP_NAME = "insarhub_prep.json"
TEMPLATE_NAME = "insarhub.cfg"  # MintPy names the project after it: "insarhub"
OUTPUT_NAMES = ("velocity.h5", "timeseries.h5", "temporalCoherence.h5", "avgSpatialCoh.h5",
                "maskTempCoh.h5", "inputs/ifgramStack.h5", "inputs/geometryGeo.h5")


@dataclass
class PreparedInputs:
    """Interferograms ready for MintPy's load_data, on one common grid."""

    grid: Grid
    unw_files: list[Path]
    cor_files: list[Path]
    water_mask: Path | None
    load_options: dict[str, str]  # the mintpy.load.* keys
    pairs: list[str] = field(default_factory=list)  # "YYYYMMDD_YYYYMMDD"


@dataclass
class RunReport:
    """What `run` did: mode (append|full|steps) and why, seconds per step, wall time, peak memory."""

    steps: dict[str, float]
    wall_s: float
    peak_rss_mb: float | None
    log_file: Path
    mode: str = "full"  # append | full | steps
    reason: str = ""


def _same_latlon(record: Mapping[str, Any], point: tuple[float, float]) -> bool:
    try:
        return abs(float(record["lat"]) - point[0]) < 1e-9 and abs(float(record["lon"]) - point[1]) < 1e-9
    except (KeyError, TypeError, ValueError):
        return False


def series_chain(options: Mapping[str, str]) -> list[str]:
    """The corrected time-series files an append must extend besides timeseries.h5."""
    topography = options.get("mintpy.topographicResidual", "auto").strip().lower()
    return ["timeseries_demErr.h5"] if topography in ("yes", "auto", "true") else []


def check_network_size(pairs: list[str]) -> None:
    """A time series needs at least 3 dates and 2 interferograms (MintPy crashes below)."""
    dates = {date for pair in pairs for date in pair.split("_")}
    if len(dates) < 3 or len(pairs) < 2:
        raise MintPyError(
            f"a time series needs at least 3 dates and 2 interferograms; this stack has "
            f"{len(dates)} dates and {len(pairs)} interferograms: add acquisitions or pairs first"
        )


class BaseAnalyzer(ABC):
    """MintPy small-baseline time series of one stack working directory."""

    processor: ClassVar[str] = ""  # MintPy's mintpy.load.processor

    def __init__(self, workdir: str | Path, aoi: object = None,
                 reference_point: tuple[float, float] | None = None,
                 mintpy_options: Mapping[str, OptionValue] | None = None, *,
                 mintpy_dir: str | Path | None = None, full_inversion_every: int | None = None) -> None:
        if full_inversion_every is not None and full_inversion_every < 1:
            raise ConfigError(f"full_inversion_every = {full_inversion_every}: give a number of runs >= 1 "
                              "(1: every run is a full inversion) or None (only when needed)")
        self.full_inversion_every = full_inversion_every
        self.workdir = Path(workdir).expanduser().absolute()  # MintPy changes directory
        self.aoi = optional_aoi(aoi)
        self.reference_point = check_latlon(reference_point) if reference_point is not None else None
        self.mintpy_options = check_options(mintpy_options)
        self.mintpy_dir = Path(mintpy_dir).expanduser().absolute() if mintpy_dir else self.workdir / "mintpy"
        self.template_file = self.mintpy_dir / TEMPLATE_NAME
        self.log_file = self.mintpy_dir / LOG_NAME
        self.inputs: PreparedInputs | None = None
        self.reference: ReferencePoint | None = None
        self.last_run: RunReport | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workdir={str(self.workdir)!r})"

    # -- processor-specific hooks ---------------------------------------------------------
    @abstractmethod
    def prepare_inputs(self) -> PreparedInputs:
        """Find, check and clip the interferograms; return what MintPy should load."""

    def default_options(self, inputs: PreparedInputs) -> dict[str, str]:
        """MintPy options that suit this processor's products (before the user's own)."""
        return {}

    def check_user_options(self, options: Mapping[str, str]) -> None:
        """Refuse user options that cannot work with this processor's products."""
        processor = options.get("mintpy.load.processor", self.processor)
        if processor != self.processor:
            raise ConfigError(f"mintpy.load.processor = {processor} does not match {type(self).__name__}, "
                              f"whose inputs are prepared for {self.processor!r}")

    def choose_reference(self, inputs: PreparedInputs) -> ReferencePoint:
        """The user's reference point checked against the data, else an automatic one.

        An automatic point chosen by an earlier prep is kept while it stays valid, so that
        reruns with new interferograms keep the same reference. A point an earlier prep checked
        is checked again only against the interferograms that are new since.
        """
        previous = self.summary().get("reference_point") or {}
        unw, cor = self.unchecked_files(inputs)
        same_user_point = (self.reference_point is not None and not previous.get("automatic", True)
                           and _same_latlon(previous, self.reference_point))
        if self.reference_point is None and previous.get("automatic") or same_user_point:
            if not unw:
                try:
                    return ReferencePoint(**previous)
                except TypeError:
                    pass
            try:
                kept = choose_reference(inputs.grid, unw or inputs.unw_files, cor or inputs.cor_files,
                                        inputs.water_mask, (previous["lat"], previous["lon"]))
            except (ConfigError, KeyError, TypeError) as exc:
                if same_user_point:
                    raise
                log.info("the earlier automatic reference point is no longer usable (%s); choosing again",
                         exc)
            else:
                log.info("keeping the reference point of the earlier prep")
                coherence = previous.get("coherence", kept.coherence) if unw else kept.coherence
                return replace(kept, automatic=bool(previous.get("automatic")), coherence=coherence)
        return choose_reference(inputs.grid, inputs.unw_files, inputs.cor_files, inputs.water_mask,
                                self.reference_point)

    def unchecked_files(self, inputs: PreparedInputs) -> tuple[list[Path], list[Path]]:
        """The (unw, cor) files of pairs new since the earlier prep, when every pair of that prep
        is still here; else all of them."""
        earlier = set(self.summary().get("pairs") or [])
        if not earlier or not earlier <= set(inputs.pairs):
            return list(inputs.unw_files), list(inputs.cor_files)
        new = [i for i, pair in enumerate(inputs.pairs) if pair not in earlier]
        return [inputs.unw_files[i] for i in new], [inputs.cor_files[i] for i in new]

    # -- prep -------------------------------------------------------------------------------
    def prep_data(self) -> Path:
        """Prepare the interferograms, choose the reference point, write the template."""
        if not self.workdir.is_dir():
            raise ConfigError(f"workdir {self.workdir} does not exist; give a stack working directory")
        started = time.perf_counter()
        self.inputs = inputs = self.prepare_inputs()
        check_network_size(inputs.pairs)
        self.reference = self.choose_reference(inputs)
        options = self.template_options(inputs, self.reference)
        header = (f"MintPy smallbaselineApp template written by insarhub ({type(self).__name__})\n"
                  f"{len(inputs.unw_files)} interferograms; reference point lat {self.reference.lat:.6f} "
                  f"lon {self.reference.lon:.6f} ({'automatic' if self.reference.automatic else 'user'})")
        write_template(self.template_file, options, header=header)
        record = {
            "analyzer": type(self).__name__,
            "prepared_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "interferograms": len(inputs.unw_files),
            "pairs": inputs.pairs,
            "grid": asdict(inputs.grid),
            "reference_point": asdict(self.reference),
            "seconds": round(time.perf_counter() - started, 2),
        }
        (self.mintpy_dir / PREP_NAME).write_text(json.dumps(record, indent=1))
        log.info("prepared %d interferograms on a %d x %d grid in %.1f s; template %s",
                 len(inputs.unw_files), inputs.grid.width, inputs.grid.length, record["seconds"],
                 self.template_file)
        return self.template_file

    def template_options(self, inputs: PreparedInputs, reference: ReferencePoint) -> dict[str, str]:
        """Base defaults < processor defaults < user options (all valid MintPy keys)."""
        tropo = "pyaps" if cds_configured() else "no"
        options = {
            "mintpy.load.processor": self.processor,
            **inputs.load_options,
            "mintpy.reference.yx": reference.yx,
            "mintpy.troposphericDelay.method": tropo,
            "mintpy.topographicResidual": "yes",
            "mintpy.deramp": "no",
            "mintpy.plot": "no",
            "mintpy.save.kmz": "no",
            **self.default_options(inputs),
        }
        user = dict(self.mintpy_options)
        if user.get("mintpy.troposphericDelay.method", tropo).lower() == "pyaps" and not cds_configured():
            raise ConfigError("mintpy.troposphericDelay.method = pyaps needs ERA5 (CDS) credentials in "
                              "~/.cdsapirc or CDSAPI_URL/CDSAPI_KEY; configure them or use 'no'")
        if "mintpy.reference.lalo" in user:
            options.pop("mintpy.reference.yx")
        self.check_user_options(user)
        options.update(user)
        return options

    # -- run ----------------------------------------------------------------------------------
    def run(self, steps: Iterable[str] | str | None = None, *, full: bool = False) -> dict[str, Path]:
        """Bring the time series up to date; returns MintPy's outputs.

        With new interferograms for a stack that has a time series, only the new dates are
        estimated and appended (`insarhub.analyzer.append`); a full smallbaselineApp run is made
        when asked (`full=True`), when there is no series yet, when pairs between old dates
        changed, the reference point moved, the options changed, or every
        `full_inversion_every` runs. `steps` runs just those smallbaselineApp steps. The mode
        and its reason are in `last_run` and in `insarhub_timeseries.json`.

        Runs `prep_data()` first unless this analyzer has prepared already, so that new
        interferograms and options are always taken in.
        """
        wanted = check_steps(steps) if steps is not None else None
        if self.inputs is None or not self.template_file.is_file():
            self.prep_data()
        assert self.inputs is not None and self.reference is not None
        recovered = AppendJournal(self.mintpy_dir).recover()
        if recovered:
            log.warning("%s: %s", self.mintpy_dir, recovered)
        options = read_template(self.template_file)
        plot = options.get("mintpy.plot", "no").lower() in ("yes", "true")
        if wanted is not None:
            plan = UpdatePlan("steps", f"steps requested: {' '.join(wanted)}")
        else:
            plan = plan_update(self.mintpy_dir, self.inputs.pairs, (self.reference.row, self.reference.col),
                               options, series_chain(options), full=full,
                               full_every=self.full_inversion_every, replaced=self.replaced_pairs(),
                               size=(self.inputs.grid.length, self.inputs.grid.width))
        if recovered:
            plan.reason += f" (after recovery: {recovered})"
        log.info("time series: %s run (%s)", plan.mode, plan.reason)
        started = time.perf_counter()
        if plan.up_to_date:
            self.last_run = RunReport({}, 0.0, None, self.log_file, plan.mode, plan.reason)
            return self.outputs()
        previous = read_state(self.mintpy_dir)
        if plan.mode == "append":
            record = state_record(previous, plan, options, self._date_count() + len(plan.new_dates),
                                  len(self.inputs.pairs), self.mintpy_dir)
            result = append_dates(self.mintpy_dir, self.template_file, self.log_file, plan,
                                  lambda folder: self.append_load_options(plan.new_pairs, folder), record,
                                  series_chain(options))
            durations, peak = result.steps, result.peak_rss_mb
        else:
            if plan.mode == "full":
                self._before_full(plan)
            done = run_steps(self.template_file, self.mintpy_dir, wanted or list(STEPS), self.log_file,
                             plot=plot, title=f"{plan.mode} ({plan.reason})")
            durations, peak = done.steps, done.peak_rss_mb
            if plan.mode == "full":
                write_state(self.mintpy_dir / STATE_NAME,
                            state_record(previous, plan, options, self._date_count(), len(self.inputs.pairs),
                                         self.mintpy_dir))
        wall = time.perf_counter() - started
        self.last_run = RunReport(durations, wall, peak, self.log_file, plan.mode, plan.reason)
        log.info("%s run of the time series in %.1f s (peak memory %s MB)", plan.mode, wall, peak)
        return self.outputs()

    def append_load_options(self, pairs: list[str], folder: Path) -> dict[str, str]:
        """mintpy.load.* keys that load only `pairs`: their folders linked into `folder`, and the
        interferogram file patterns of the template pointed there."""
        assert self.inputs is not None
        folder.mkdir(parents=True, exist_ok=True)
        wanted = set(pairs)
        for pair, unw_file in zip(self.inputs.pairs, self.inputs.unw_files, strict=True):
            if pair in wanted:
                (folder / unw_file.parent.name).symlink_to(unw_file.parent, target_is_directory=True)
        options = {}
        for key in ("mintpy.load.unwFile", "mintpy.load.corFile", "mintpy.load.connCompFile"):
            pattern = self.inputs.load_options.get(key, "no")
            if pattern.lower() not in ("no", "auto", ""):
                options[key] = str(folder / "*" / Path(pattern).name)
        return options

    def replaced_pairs(self) -> list[str]:
        """Pairs already in the interferogram stack whose input is newer than the stack."""
        stack = self.mintpy_dir / STACK
        if self.inputs is None or not stack.is_file():
            return []
        loaded, held = stack.stat().st_mtime, set(stack_pairs(stack))
        return [pair for pair, unw in zip(self.inputs.pairs, self.inputs.unw_files, strict=True)
                if pair in held and unw.is_file() and unw.stat().st_mtime > loaded]

    def _before_full(self, plan: UpdatePlan) -> None:
        """Make MintPy's update mode redo what a full inversion must redo."""
        stack = self.mintpy_dir / STACK
        if not stack.is_file():
            return
        if plan.reload_stack:
            log.info("removing %s so that MintPy loads every interferogram again", stack)
            stack.unlink()
        else:  # newer than every output: MintPy inverts and corrects everything again
            stack.touch()

    def _date_count(self) -> int:
        import h5py

        path = self.mintpy_dir / "timeseries.h5"
        if not path.is_file():
            return 0
        with h5py.File(path, "r") as h5:
            return int(h5["date"].shape[0])

    def outputs(self) -> dict[str, Path]:
        """MintPy's main outputs that exist, by name (velocity.h5, timeseries*.h5, ...)."""
        found = {name: self.mintpy_dir / name for name in OUTPUT_NAMES if (self.mintpy_dir / name).is_file()}
        for path in sorted(self.mintpy_dir.glob("timeseries*.h5")):
            found.setdefault(path.name, path)
        return found

    def summary(self) -> dict[str, Any]:
        """What prep chose (reference point, grid, interferograms), as saved beside the template."""
        path = self.mintpy_dir / PREP_NAME
        return json.loads(path.read_text()) if path.is_file() else {}
