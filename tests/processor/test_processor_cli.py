"""`insarhub submit | status | download | retry` against the sandbox HyP3."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hyp3_helpers import Hyp3User

from flows.cli import main  # the `insarhub` command


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_submit_status_download_retry(hyp3_user: Hyp3User, tmp_path: Path,
                                          slc_pairs_2020: list[Any],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    hyp3_user.configure(job_seconds=0.3, fail_pairs=[list(slc_pairs_2020[2])])
    stack = tmp_path / "p100_f466"
    stack.mkdir()
    # what `insarhub pairs` writes into the stack folder
    (stack / "pairs.json").write_text(json.dumps(
        {"stack": "p100_f466", "key": [100, 466], "pairs": [list(p) for p in slc_pairs_2020[:3]]}))
    code, out, _ = run(capsys, "submit", "--workdir", str(stack), "--looks", "20x4",
                       "--no-include-wrapped-phase")
    assert code == 0 and "3 jobs submitted" in out
    code, out, _ = run(capsys, "submit", "--workdir", str(stack))
    assert code == 0 and "0 jobs submitted" in out  # idempotent
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        code, out, _ = run(capsys, "status", "--workdir", str(stack))
        if "pending" not in out and "running" not in out:
            break
        time.sleep(0.3)
    assert code == 0 and "3 jobs: 2 succeeded, 1 failed" in out
    code, out, _ = run(capsys, "download", "--workdir", str(stack), "--no-progress")
    assert code == 0 and "2 products in" in out
    assert len([p for p in (stack / "hyp3").iterdir() if p.is_dir()]) == 2
    code, out, _ = run(capsys, "retry", "--workdir", str(stack), "--max-retries", "0")
    assert code == 0 and "0 jobs resubmitted" in out and "1 pairs keep failing" in out
    assert slc_pairs_2020[2][0] in out and "--repair" in out
    code, out, _ = run(capsys, "status", "--workdir", str(stack), "--offline")
    assert code == 0 and "3 jobs: 2 succeeded, 1 failed; 0 expired, 2 downloaded" in out


def test_cli_errors_are_one_clear_line(hyp3_user: Hyp3User, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "submit", "--workdir", str(tmp_path / "empty"))
    assert code == 1 and err.startswith("error: no pairs: give --pairs FILE")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    code, _, err = run(capsys, "submit", "--workdir", str(tmp_path / "x"), "--pairs", str(bad))
    assert code == 1 and "needs 'reference' and 'secondary' columns" in err
    code, _, err = run(capsys, "status", "--workdir", str(tmp_path / "nothing"))
    assert code == 1 and "has no HyP3 ledger" in err
    assert hyp3_user.token not in err


def test_cli_submit_prints_the_credits_and_refuses_above_max_credits(
        hyp3_user: Hyp3User, tmp_path: Path, slc_pairs_2020: list[Any],
        capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "p100_f466"
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([list(p) for p in slc_pairs_2020[:3]]))
    code, out, _ = run(capsys, "submit", "--workdir", str(stack), "--pairs", str(pairs),
                       "--estimate")
    assert code == 0 and "HyP3 credits: 3 pairs x 10 = 30 credits (INSAR_GAMMA 20x4)" in out
    code, out, err = run(capsys, "submit", "--workdir", str(stack), "--pairs", str(pairs),
                         "--max-credits", "25")
    assert code == 1 and "needs 30 credits (3 pairs x 10, INSAR_GAMMA 20x4)" in err
    assert "above max_credits=25" in err and "product='S1_Burst'" in err
    assert hyp3_user.server_jobs() == []
    code, out, _ = run(capsys, "submit", "--workdir", str(stack), "--pairs", str(pairs),
                       "--max-credits", "30")
    assert code == 0 and "3 jobs submitted" in out and len(hyp3_user.server_jobs()) == 3
