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
import os
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from shapely.geometry.base import BaseGeometry

from insarhub.analyzer.grid import Grid
from insarhub.analyzer.reference import ReferencePoint, check_latlon, choose_reference
from insarhub.analyzer.runner import MARK
from insarhub.analyzer.template import (
    OptionValue,
    cds_configured,
    check_options,
    check_steps,
    read_template,
    write_template,
)
from insarhub.errors import ConfigError, MintPyError

log = logging.getLogger(__name__)

LOG_NAME = "insarhub_mintpy.log"
PREP_NAME = "insarhub_prep.json"
TEMPLATE_NAME = "insarhub.cfg"  # MintPy names the project after it: "insarhub"
SECRET_ENV = ("EARTHDATA_TOKEN", "EARTHDATA_PASSWORD", "AWS_SECRET_ACCESS_KEY")
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
    """What `run` did: seconds per step, wall time, MintPy's peak memory."""

    steps: dict[str, float]
    wall_s: float
    peak_rss_mb: float | None
    log_file: Path


def _load_aoi(aoi: object) -> BaseGeometry | None:
    if aoi is None or isinstance(aoi, BaseGeometry):
        return aoi
    from insarhub.aoi import load_aoi  # the project's AOI reader (bbox, WKT, GeoJSON, shapefile)

    return load_aoi(aoi)


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
                 mintpy_dir: str | Path | None = None) -> None:
        self.workdir = Path(workdir).expanduser().absolute()  # MintPy changes directory
        self.aoi = _load_aoi(aoi)
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
        reruns with new interferograms keep the same reference.
        """
        if self.reference_point is None:
            previous = self.summary().get("reference_point") or {}
            if previous.get("automatic"):
                try:
                    kept = choose_reference(inputs.grid, inputs.unw_files, inputs.cor_files,
                                            inputs.water_mask, (previous["lat"], previous["lon"]))
                except (ConfigError, KeyError, TypeError) as exc:
                    log.info("the earlier automatic reference point is no longer usable (%s); choosing again",
                             exc)
                else:
                    log.info("keeping the automatic reference point of the earlier prep")
                    return replace(kept, automatic=True)
        return choose_reference(inputs.grid, inputs.unw_files, inputs.cor_files, inputs.water_mask,
                                self.reference_point)

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
    def run(self, steps: Iterable[str] | str | None = None) -> dict[str, Path]:
        """Run smallbaselineApp steps (all for None), each logged; returns MintPy's outputs.

        Runs `prep_data()` first unless this analyzer has prepared already, so that new
        interferograms and options are always taken in; clipped layers and MintPy's files that
        are still up to date are kept (MintPy's own update mode).
        """
        wanted = check_steps(steps)
        if self.inputs is None or not self.template_file.is_file():
            self.prep_data()
        plot = read_template(self.template_file).get("mintpy.plot", "no").lower() in ("yes", "true")
        command = [sys.executable, "-m", "insarhub.analyzer.runner", str(self.template_file),
                   str(self.mintpy_dir), *wanted]
        if plot and len(wanted) > 1:
            command.append("--plot")
        env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
        env.update(MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
        self.mintpy_dir.mkdir(parents=True, exist_ok=True)
        durations: dict[str, float] = {}
        failed: tuple[str, str] | None = None
        peak: float | None = None
        tail: deque[str] = deque(maxlen=40)
        started = time.perf_counter()
        with self.log_file.open("a") as log_out:
            log_out.write(f"\n===== insarhub run {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} "
                          f"steps: {' '.join(wanted)}\n")
            log_out.flush()
            with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env=env, cwd=self.mintpy_dir, bufsize=1) as proc:
                assert proc.stdout is not None
                for line in proc.stdout:
                    log_out.write(line)
                    if not line.startswith(MARK):
                        tail.append(line.rstrip("\n"))
                        continue
                    words = line.split()
                    if words[1:3] == ["step", "start"]:
                        log.info("MintPy step %s ...", words[3])
                    elif words[1:3] == ["step", "done"]:
                        durations[words[3]] = float(words[4])
                        log.info("MintPy step %s done in %.1f s", words[3], float(words[4]))
                    elif words[1:3] == ["step", "failed"]:
                        failed = (words[3], " ".join(words[4:]))
                    elif words[1] == "warning":
                        log.warning("MintPy %s", line[len(MARK) + 9:].strip())
                    elif words[1] == "peak_rss_mb":
                        peak = float(words[2])
                code = proc.wait()
        wall = time.perf_counter() - started
        self.last_run = RunReport(durations, wall, peak, self.log_file)
        if failed or code:
            step, reason = failed or ("(unknown)", f"exit status {code}")
            last = "\n".join(tail)
            raise MintPyError(f"MintPy step {step!r} failed: {reason}\n"
                              f"full log: {self.log_file}\nlast lines of MintPy's output:\n{last}")
        log.info("MintPy ran %d steps in %.1f s (peak memory %s MB)", len(wanted), wall, peak)
        return self.outputs()

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
