"""`insarhub isce submit|status|watch|retry|cancel` with the stand-in topsStack."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from isce_helpers import PAIRS, runs

from flows.cli import main  # the `insarhub` command
from insarhub.cli.isce import read_pairs
from insarhub.processor.isce import ISCE_S1_Config


def test_submit_watch_status_from_the_command_line(standin: Path, tmp_path: Path,
                                                   make_config: Callable[..., ISCE_S1_Config],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_config()
    config_file = tmp_path / "isce.yaml"
    cfg.to_yaml(config_file)
    pairs_file = tmp_path / "pairs.txt"
    pairs_file.write_text("# reference secondary\n" + "".join(f"{a} {b}\n" for a, b in PAIRS[:3]))
    assert main(["isce", "submit", "--config", str(config_file), "--pairs", str(pairs_file)]) == 0
    assert "runner" in capsys.readouterr().out
    job = cfg.workdir / "isce_job.yaml"
    assert main(["isce", "watch", "--config", str(job), "--interval", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "Succeeded : 11  Running : 0  Pending : 0  Failed : 0" in out
    assert main(["isce", "status", "--config", str(config_file)]) == 0  # pairs from the plan
    assert "run_11_unwrap" in capsys.readouterr().out
    assert main(["isce", "cancel", "--config", str(job)]) == 0
    assert set(runs(cfg.isce_dir).values()) == {1}


def test_command_line_errors_are_one_clear_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["isce", "status", "--config", str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.yaml" in err and "Traceback" not in err
    bad = tmp_path / "pairs.txt"
    bad.write_text("only-one-name\n")
    cfg = tmp_path / "isce.yaml"
    ISCE_S1_Config(workdir=tmp_path / "w", slc_dir=tmp_path).to_yaml(cfg)
    assert main(["isce", "submit", "--config", str(cfg), "--pairs", str(bad)]) == 1
    assert "is not 'REFERENCE SECONDARY'" in capsys.readouterr().err


def test_pairs_files_json_and_select_pairs_dict(tmp_path: Path) -> None:
    listed = tmp_path / "pairs.json"
    listed.write_text(json.dumps([list(p) for p in PAIRS]))
    assert read_pairs(listed) == PAIRS
    stacked = tmp_path / "pairs.yaml"
    stacked.write_text(json.dumps({"p100_f466": [list(p) for p in PAIRS[:2]]}))
    assert read_pairs(stacked) == PAIRS[:2]
