"""Run files for exactly the selected pairs, from a stackSentinel.py that pairs by neighbours."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from isce_helpers import DATES, PAIRS

from insarhub.errors import IsceError
from insarhub.processor.isce_config import ISCE_S1_Config
from insarhub.processor.isce_runfiles import (
    Step,
    connections_needed,
    date_pairs,
    find_slcs,
    generate_run_files,
    prune_steps,
    read_run_file,
)

PAIR_STEPS = ("generate_burst_igram", "merge_burst_igram", "filter_coherence", "unwrap")


def _pairs_in(step: Step) -> set[tuple[str, str]]:
    return {m.groups() for c in step.commands for m in re.finditer(r"(\d{8})_(\d{8})", c)}


def test_connections_cover_the_widest_gap() -> None:
    assert connections_needed(date_pairs(PAIRS)) == 2
    assert connections_needed([("20200102", "20200219"), ("20200102", "20200114")]) == 2
    assert connections_needed([("20200102", "20200114")]) == 1


def test_nesd_run_files_hold_exactly_the_pairs(standin: Path, make_config: Callable[...,
                                               ISCE_S1_Config], slc_dir: Path) -> None:
    cfg = make_config(coregistration="NESD")
    slcs = find_slcs(slc_dir, sorted({s for p in PAIRS for s in p}))
    steps = generate_run_files(cfg, PAIRS, slcs, cfg.isce_dir / ".insarhub" / "gen.log")
    names = [s.name for s in steps]
    assert names[0] == "run_01_unpack_topo_reference" and names[-1] == "run_16_unwrap"
    assert "-c 2" in (cfg.isce_dir / ".insarhub" / "gen.log").read_text()
    wanted = set(date_pairs(PAIRS))
    for step in steps:
        if step.name.split("_", 2)[2] in PAIR_STEPS:
            assert _pairs_in(step) == wanted, step.name  # 6 of the 7 generated, no extra
            assert len(step.commands) == len(PAIRS)
    misreg = next(s for s in steps if s.name.endswith("pairs_misreg"))
    assert len(misreg.commands) == 9  # the NESD overlap pairs (-O 3) are all kept
    # the files on disk were rewritten to match, the originals kept aside
    unwrap = cfg.isce_dir / "run_files" / "run_16_unwrap"
    assert read_run_file(unwrap) == steps[-1].commands
    original = cfg.isce_dir / ".insarhub" / "unpruned_run_files" / "run_16_unwrap"
    assert len(read_run_file(original)) == 7
    # only the pairs' SLCs were given to stackSentinel.py
    assert sorted(p.name[17:25] for p in (cfg.isce_dir / "input_slc").iterdir()) == DATES


def test_background_lines_and_text_cmd_are_read(standin: Path, make_config: Callable[...,
                                                ISCE_S1_Config], slc_dir: Path) -> None:
    cfg = make_config(extra_args=["--num_proc", "2", "-t", "umask 002; "])
    slcs = find_slcs(slc_dir, sorted({s for p in PAIRS[:3] for s in p}))
    steps = generate_run_files(cfg, PAIRS[:3], slcs, cfg.isce_dir / ".insarhub" / "gen.log")
    raw = (cfg.isce_dir / ".insarhub" / "unpruned_run_files" / "run_02_unpack_secondary_slc")
    assert "&\n" in raw.read_text() and "wait" in raw.read_text()
    secondary = steps[1].commands
    assert len(secondary) == 3
    assert all(c.startswith("umask 002; SentinelWrapper.py -c ") and not c.endswith("&")
               for c in secondary)


def test_prune_reports_a_pair_stacksentinel_did_not_write() -> None:
    steps = [Step("run_13_generate_burst_igram",
                  ["SentinelWrapper.py -c /w/configs/config_generate_igram_20200102_20200114"])]
    with pytest.raises(IsceError, match="20200102_20200126.*cover the bbox"):
        prune_steps(steps, [("20200102", "20200114"), ("20200102", "20200126")])


def test_missing_slcs_are_named(tmp_path: Path, slc_dir: Path) -> None:
    (slc_dir / f"{PAIRS[0][0]}.zip").unlink()
    with pytest.raises(IsceError) as info:
        find_slcs(slc_dir, sorted({s for p in PAIRS for s in p}))
    assert f"{PAIRS[0][0]}.zip" in str(info.value) and "1 SLC(s)" in str(info.value)
    assert str(slc_dir) in str(info.value)
