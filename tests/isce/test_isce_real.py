"""The real ISCE2 topsStack, where it is installed (`-m isce`; skipped otherwise).

The stand-in in tests/isce/bin shows the processor's logic; this checks that the real
stackSentinel.py accepts every option we give it, and, with real data named by
INSARHUB_ISCE_DATA (a folder with slc/*.zip, orbits/, aux/, a DEM `dem.wgs84` and
`pairs.txt`), that a dry run writes run files for exactly the pairs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from insarhub.cli.isce import read_pairs
from insarhub.processor.isce import ISCE_S1_Config, IsceS1Processor
from insarhub.processor.isce_runfiles import date_pairs, stack_sentinel_args


def _real_stack_sentinel() -> Path | None:
    found = shutil.which("stackSentinel.py")
    if not found or "insarhub-topsstack-standin" in Path(found).read_text(errors="ignore"):
        return None
    return Path(found)


REAL = _real_stack_sentinel()
pytestmark = [pytest.mark.isce,
              pytest.mark.skipif(REAL is None, reason="stackSentinel.py on PATH is not ISCE2's")]


def test_real_stacksentinel_knows_every_option_we_pass(tmp_path: Path) -> None:
    assert REAL is not None
    result = subprocess.run([str(REAL), "-h"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    cfg = ISCE_S1_Config(workdir=tmp_path, slc_dir=tmp_path, dem=tmp_path / "dem.wgs84",
                         bbox=[37.7, 38.0, -113.1, -112.6], reference_date="20200102")
    flags = [a for a in stack_sentinel_args(cfg, tmp_path, 3) if re.fullmatch(r"-[A-Za-z]+", a)]
    assert flags and all(f in result.stdout for f in flags), flags


@pytest.mark.skipif(not os.environ.get("INSARHUB_ISCE_DATA"), reason="set INSARHUB_ISCE_DATA")
def test_real_dry_run_writes_exactly_the_pairs(tmp_path: Path) -> None:
    data = Path(os.environ["INSARHUB_ISCE_DATA"])
    pairs = read_pairs(data / "pairs.txt")
    cfg = ISCE_S1_Config(workdir=tmp_path / "stack", slc_dir=data / "slc", orbit_dir=data / "orbits",
                         aux_dir=data / "aux", dem=data / "dem.wgs84", dry_run=True)
    processor = IsceS1Processor(pairs=pairs, config=cfg)
    processor.submit()
    unwrap = processor.steps[-1]
    assert unwrap.name.endswith("_unwrap") and len(unwrap.commands) == len(pairs)
    wanted = {f"{a}_{b}" for a, b in date_pairs(pairs)}
    assert {m for c in unwrap.commands for m in re.findall(r"\d{8}_\d{8}", c)} == wanted
