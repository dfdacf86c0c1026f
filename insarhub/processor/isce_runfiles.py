"""Write topsStack run files for exactly the selected pairs.

`stackSentinel.py` (ISCE2 contrib/stack/topsStack) writes one `run_files/run_NN_<step>` per
processing step, each line an independent command. It has no option to take an explicit pair
list: it pairs every date with its `-c` next dates. So we

1. give it only the SLCs of the pairs (symlinks in `<isce>/input_slc`, passed as `-s`), so the
   stack holds exactly the pairs' dates;
2. ask for enough connections (`-c` = the widest date gap among the pairs) that every selected
   pair is generated;
3. prune the pair steps (`generate_burst_igram`, `merge_burst_igram`, `filter_coherence`,
   `unwrap`) to the selected pairs: a line naming a `YYYYMMDD_YYYYMMDD` pair is kept only if that
   pair was selected. The NESD `pairs_misreg` step keeps all its lines: those are the
   overlap pairs that estimate the azimuth misregistration of every date, not products;
4. check that every selected pair is present in every pair step (an error names any missing).

We do not pass `--num_proc` (older versions lack it): the runner runs a step's lines in
parallel itself (`max_workers`). Run files written with `--num_proc > 1` (`cmd &` ... `wait`,
e.g. through `extra_args`) are read too; the pruned files are written back one command per
line, the originals kept under `.insarhub/unpruned_run_files/`.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from insarhub.errors import ConfigError, IsceError
from insarhub.granules import acquisition_day
from insarhub.processor.isce_config import ISCE_S1_Config

log = logging.getLogger(__name__)

STACK_SENTINEL = "stackSentinel.py"
INSTALL_HINT = (
    "install ISCE2 (e.g. `conda install -c conda-forge isce2`) and put its topsStack scripts on "
    "PATH: export PATH=$PATH:$CONDA_PREFIX/share/isce2/topsStack (source builds: "
    "$ISCE_HOME/../contrib/stack/topsStack)"
)
SCENE_RE = re.compile(
    r"^(?P<platform>S1[ABCD])_IW_SLC__1S[SD][VH]_\d{8}T\d{6}_\d{8}T\d{6}"
    r"_\d{6}_[0-9A-F]{6}_[0-9A-F]{4}$"
)
PAIR_STEP_RE = re.compile(r"^run_\d+_(generate_burst_igram|merge_burst_igram|filter_coherence|unwrap)$")
DATE_PAIR_RE = re.compile(r"(?<!\d)(\d{8})_(\d{8})(?!\d)")
RUN_FILE_RE = re.compile(r"^run_\d+_\w+$")
INPUT_SLC_DIR = "input_slc"


@dataclass
class Step:
    """One topsStack run file: its name and its independent commands."""

    name: str
    commands: list[str] = field(default_factory=list)


def find_stack_sentinel() -> Path:
    """The `stackSentinel.py` on PATH, or IsceError saying how to install it."""
    found = shutil.which(STACK_SENTINEL)
    if not found:
        raise IsceError(f"{STACK_SENTINEL} was not found on PATH: {INSTALL_HINT}")
    return Path(found)


def scene_date(name: str) -> str:
    """YYYYMMDD of a Sentinel-1 IW SLC scene name (ConfigError if it is not one)."""
    match = SCENE_RE.match(name)
    if not match:
        raise ConfigError(
            f"pair scene {name!r} is not a Sentinel-1 IW SLC name such as "
            "S1A_IW_SLC__1SDV_20200102T133501_20200102T133528_030617_038217_ABCD"
        )
    return acquisition_day(name)


def date_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(reference date, secondary date) of each scene pair, in order."""
    return [(scene_date(ref), scene_date(sec)) for ref, sec in pairs]


def find_slcs(slc_dir: Path, scenes: list[str]) -> dict[str, Path]:
    """scene -> its `<scene>.zip` (or `.SAFE`) in slc_dir; IsceError naming the missing ones."""
    found: dict[str, Path] = {}
    missing = []
    for scene in scenes:
        for candidate in (slc_dir / f"{scene}.zip", slc_dir / f"{scene}.SAFE"):
            if candidate.exists():
                found[scene] = candidate
                break
        else:
            missing.append(scene)
    if missing:
        shown = ", ".join(f"{m}.zip" for m in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise IsceError(
            f"{len(missing)} SLC(s) of the pairs are missing from slc_dir={str(slc_dir)!r}: "
            f"{shown}{more}; download them first (e.g. Downloader.download())"
        )
    kinds = {p.suffix for p in found.values()}
    if len(kinds) > 1:
        raise IsceError(
            f"slc_dir={str(slc_dir)!r} mixes .zip and .SAFE SLCs: stackSentinel.py would ignore "
            "the .SAFE ones; keep one kind"
        )
    return found


def link_slcs(slcs: dict[str, Path], links_dir: Path) -> Path:
    """A folder holding only the pairs' SLCs (symlinks), for stackSentinel.py -s."""
    if links_dir.exists():
        shutil.rmtree(links_dir)
    links_dir.mkdir(parents=True)
    for path in slcs.values():
        (links_dir / path.name).symlink_to(path.absolute())
    return links_dir


def connections_needed(pairs: list[tuple[str, str]]) -> int:
    """The `-c` that makes stackSentinel.py generate every pair: the widest gap in dates."""
    dates = sorted({d for pair in pairs for d in pair})
    index = {d: i for i, d in enumerate(dates)}
    return max((index[sec] - index[ref] for ref, sec in pairs), default=1)


def stack_sentinel_args(config: ISCE_S1_Config, slc_links: Path, connections: int) -> list[str]:
    """The stackSentinel.py options for an interferogram stack of the config."""
    if config.dem is None:
        dem = config.isce_dir / "dem_not_given"  # dry run without a DEM: topo would fail later
    else:
        dem = Path(config.dem).expanduser().absolute()
    args = [
        "-s", str(slc_links),
        "-o", str(config.orbit_path),
        "-a", str(config.aux_path),
        "-d", str(dem),
        "-w", str(config.isce_dir),
        "-n", " ".join(str(s) for s in config.swaths),
        "-c", str(connections),
        "-z", str(config.looks_azimuth),
        "-r", str(config.looks_range),
        "-f", str(config.filter_strength),
        "-u", config.unwrap_method,
        "-p", config.polarization,
        "-C", config.coregistration,
        "-W", "interferogram",
    ]
    if config.bbox is not None:
        args += ["-b", " ".join(f"{v:g}" for v in config.bbox)]
    if config.reference_date:
        args += ["-m", config.reference_date]
    return args + list(config.extra_args)


def read_run_file(path: Path) -> list[str]:
    """The commands of one run file (comments, blank and `wait` lines dropped, `&` removed)."""
    commands = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line == "wait":
            continue
        if line.endswith("&") and not line.endswith("&&"):
            line = line[:-1].rstrip()
        commands.append(line)
    return commands


def read_run_files(run_dir: Path) -> list[Step]:
    """Every `run_NN_<step>` in run_dir, in order."""
    files = [p for p in run_dir.iterdir() if p.is_file() and RUN_FILE_RE.match(p.name)]
    files.sort(key=lambda p: int(p.name.split("_")[1]))
    return [Step(p.name, read_run_file(p)) for p in files]


def prune_steps(steps: list[Step], pairs: list[tuple[str, str]]) -> list[Step]:
    """Keep, in the pair steps, only the lines of the selected date pairs; check none is missing."""
    wanted = set(pairs)
    pruned = []
    for step in steps:
        if not PAIR_STEP_RE.match(step.name):
            pruned.append(step)
            continue
        kept, seen = [], set()
        for command in step.commands:
            found = {m.groups() for m in DATE_PAIR_RE.finditer(command)}
            if not found or found & wanted:
                kept.append(command)
                seen |= found & wanted
        missing = sorted(wanted - seen)
        if missing:
            names = ", ".join(f"{a}_{b}" for a, b in missing)
            raise IsceError(
                f"stackSentinel.py wrote no {step.name} command for {len(missing)} selected "
                f"pair(s): {names}; their SLCs may not cover the bbox"
            )
        pruned.append(Step(step.name, kept))
    return pruned


def write_run_file(path: Path, commands: list[str]) -> None:
    path.write_text("".join(f"{c}\n" for c in commands))


def generate_run_files(config: ISCE_S1_Config, pairs: list[tuple[str, str]],
                       slcs: dict[str, Path], log_path: Path) -> list[Step]:
    """Run stackSentinel.py into config.isce_dir and prune its run files to `pairs`."""
    exe = find_stack_sentinel()
    isce_dir = config.isce_dir
    isce_dir.mkdir(parents=True, exist_ok=True)
    for leftover in ("run_files", "configs"):  # stackSentinel.py refuses an existing run_files
        if (isce_dir / leftover).exists():
            shutil.rmtree(isce_dir / leftover)
    config.orbit_path.mkdir(parents=True, exist_ok=True)
    config.aux_path.mkdir(parents=True, exist_ok=True)
    links = link_slcs(slcs, isce_dir / INPUT_SLC_DIR)
    wanted = date_pairs(pairs)
    args = stack_sentinel_args(config, links, connections_needed(wanted))
    log.info("writing topsStack run files: %s %s", exe, " ".join(args))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as out:
        out.write(f"# {exe} {' '.join(args)}\n")
        out.flush()
        result = subprocess.run([str(exe), *args], cwd=isce_dir, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        tail = "\n".join(log_path.read_text().splitlines()[-15:])
        raise IsceError(f"{STACK_SENTINEL} failed (exit {result.returncode}); log {log_path}:\n{tail}")
    run_dir = isce_dir / "run_files"
    if not run_dir.is_dir():
        raise IsceError(f"{STACK_SENTINEL} wrote no run_files folder in {isce_dir}; log {log_path}")
    steps = prune_steps(read_run_files(run_dir), wanted)
    if not steps:
        raise IsceError(f"{STACK_SENTINEL} wrote no run files in {run_dir}; log {log_path}")
    originals = log_path.parent / "unpruned_run_files"
    if originals.exists():
        shutil.rmtree(originals)
    shutil.copytree(run_dir, originals)
    for step in steps:
        write_run_file(run_dir / step.name, step.commands)
    return steps
