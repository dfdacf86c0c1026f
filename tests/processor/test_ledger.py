"""The SQLite job ledger on its own: schema, the submission protocol, export/import, locks."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from insarhub.errors import LedgerError
from insarhub.ledger import (
    QUEUED,
    SCHEMA_VERSION,
    SUBMITTED,
    SUBMITTING,
    Ledger,
    PairSpec,
    attempt_name,
)
from insarhub.ledger_json import EXPORT_FORMAT, export_json, import_json

REF = "S1A_IW_SLC__1SDV_20200102T133500_20200102T133527_030626_038260_0001"
SEC = "S1A_IW_SLC__1SDV_20200114T133459_20200114T133527_030801_038861_0002"


def spec(i: int, job_type: str = "INSAR_GAMMA") -> PairSpec:
    ref, sec = f"ref-{i:04d}", f"sec-{i:04d}"
    request = {"job_type": job_type, "job_parameters": {"granules": [ref, sec], "looks": "20x4"}}
    return PairSpec(ref, sec, job_type, request, f"ifg_{i:04d}")


def hyp3_job(name: str, job_id: str, status: str = "PENDING", **extra: object) -> dict[str, object]:
    return {"name": name, "job_id": job_id, "status_code": status, "user_id": "someone",
            "request_time": "2026-01-01T00:00:00+00:00", **extra}


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.for_workdir(tmp_path / "stack")


def test_new_ledger_has_versioned_schema_in_wal_mode(ledger: Ledger) -> None:
    assert ledger.path.name == "insarhub.db" and ledger.path.is_file()
    assert ledger.schema_version == SCHEMA_VERSION
    con = sqlite3.connect(ledger.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "pairs", "jobs", "downloads", "runs"} <= tables
    assert ledger.integrity_ok()


def test_adding_the_same_pairs_again_adds_nothing(ledger: Ledger) -> None:
    assert ledger.add_pairs([spec(i) for i in range(5)]) == 5
    assert ledger.add_pairs([spec(i) for i in range(7)]) == 2
    assert ledger.pair_count() == 7
    queued = ledger.jobs(state=QUEUED)
    assert [r.name for r in queued] == [f"ifg_{i:04d}" for i in range(7)]
    assert all(r.attempt == 0 and r.status == "QUEUED" for r in queued)


def test_intent_before_post_and_ids_after(ledger: Ledger) -> None:
    ledger.add_pairs([spec(i) for i in range(3)])
    claimed = ledger.mark_submitting(["ifg_0000", "ifg_0001"])
    assert claimed == ["ifg_0000", "ifg_0001"]
    assert ledger.mark_submitting(["ifg_0000"]) == []  # already claimed: never sent twice
    assert {r.name for r in ledger.jobs(state=SUBMITTING)} == {"ifg_0000", "ifg_0001"}
    assert ledger.record_submitted([hyp3_job("ifg_0000", "id-0")]) == 1
    ledger.requeue(["ifg_0001"])
    states = {r.name: (r.state, r.job_id) for r in ledger.jobs()}
    assert states == {"ifg_0000": (SUBMITTED, "id-0"), "ifg_0001": (QUEUED, None),
                      "ifg_0002": (QUEUED, None)}
    # a second id for a recorded name is refused (one job per name)
    ledger.record_submitted([hyp3_job("ifg_0000", "id-other")])
    assert ledger.job("ifg_0000").job_id == "id-0"  # type: ignore[union-attr]


def test_a_submitted_job_without_id_cannot_be_written(ledger: Ledger) -> None:
    ledger.add_pairs([spec(0)])
    with pytest.raises(sqlite3.IntegrityError), ledger.transaction() as con:
        con.execute("UPDATE jobs SET state = 'submitted' WHERE name = 'ifg_0000'")
    assert ledger.job("ifg_0000").state == QUEUED  # type: ignore[union-attr]


def test_a_failing_transaction_writes_nothing(ledger: Ledger) -> None:
    with pytest.raises(RuntimeError), ledger.transaction() as con:
        con.execute("INSERT INTO meta (key, value) VALUES ('x', '1')")
        raise RuntimeError("crash in the middle")
    assert ledger.get_meta("x") is None


def test_status_updates_and_retries_make_new_attempts(ledger: Ledger) -> None:
    ledger.add_pairs([spec(0)])
    ledger.mark_submitting(["ifg_0000"])
    ledger.record_submitted([hyp3_job("ifg_0000", "id-0")])
    files = [{"url": "http://h/p.zip", "filename": "p.zip", "size": 10,
              "s3": {"bucket": "b", "key": "k"}}]
    ledger.update_status([hyp3_job("ifg_0000", "id-0", "FAILED", files=files,
                                   expiration_time="2026-01-15T00:00:00+00:00")])
    record = ledger.job("ifg_0000")
    assert record is not None and record.status == "FAILED"
    assert record.files == [{"url": "http://h/p.zip", "filename": "p.zip", "size": 10}]
    name = ledger.queue_retry(record.pair_id, "failed")
    assert name == attempt_name("ifg_0000", 1) == "ifg_0000_r1"
    assert ledger.queue_retry(record.pair_id, "failed") is None  # one waiting attempt at most
    current = ledger.jobs()
    assert [(r.name, r.attempt, r.reason, r.state) for r in current] == [
        ("ifg_0000_r1", 1, "failed", QUEUED)]
    assert len(ledger.jobs(current_only=False)) == 2
    assert ledger.attempts(record.pair_id) == 1


def test_export_then_import_rebuilds_the_same_ledger(tmp_path: Path, ledger: Ledger,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARTHDATA_TOKEN", "secret-token-that-must-not-leak")
    ledger.set_meta({"processor": "Hyp3_S1", "job_type": "INSAR_GAMMA", "name_prefix": "ifg",
                     "options": {"looks": "20x4"}})
    ledger.add_pairs([spec(i) for i in range(4)])
    ledger.mark_submitting(["ifg_0000", "ifg_0001"])
    ledger.record_submitted([hyp3_job("ifg_0000", "id-0"), hyp3_job("ifg_0001", "id-1")])
    ledger.update_status([hyp3_job("ifg_0000", "id-0", "SUCCEEDED", files=[
        {"url": "http://h/p0.zip", "filename": "p0.zip", "size": 5}])])
    ledger.record_download("id-0", "p0.zip", "http://h/p0.zip", 5, "hyp3/p0")
    ledger.drop_pairs([("ref-0003", "sec-0003")], "INSAR_GAMMA")
    path = export_json(ledger)
    assert path == ledger.workdir / "hyp3_jobs.json"
    text = path.read_text()
    assert "secret-token-that-must-not-leak" not in text
    data = json.loads(text)
    assert data["format"] == EXPORT_FORMAT and data["job_type"] == "INSAR_GAMMA"
    assert data["job_ids"] == {"someone": ["id-0", "id-1"]}
    assert data["counts"] == {"SUCCEEDED": 1, "PENDING": 1, "QUEUED": 1}

    other = Ledger.for_workdir(tmp_path / "copy")
    result = import_json(other, path)
    assert (result.pairs_added, result.jobs_added) == (4, 3)  # the dropped pair had no job
    assert result.meta["processor"] == "Hyp3_S1"

    def view(led: Ledger) -> list[tuple[object, ...]]:
        return [(r.name, r.state, r.job_id, r.status, r.downloaded, tuple(map(str, r.files)))
                for r in led.jobs(current_only=False, include_dropped=True)]

    assert view(other) == view(ledger)
    assert other.pairs() == ledger.pairs() and len(other.pairs(include_dropped=True)) == 4
    again = import_json(other, path)  # merging twice adds nothing
    assert (again.pairs_added, again.jobs_added) == (0, 0)


def test_seed_job_file_gives_ids_to_look_up(tmp_path: Path, ledger: Ledger) -> None:
    seed = tmp_path / "seed_hyp3_jobs.json"
    seed.write_text(json.dumps({"job_ids": {"alice": ["a-1", "a-2"]}, "out_dir": str(tmp_path)}))
    assert import_json(ledger, seed).unresolved_job_ids == ["a-1", "a-2"]


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken" / "insarhub.db"
    broken.parent.mkdir()
    broken.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match="cannot be opened.*hyp3_jobs.json"):
        Ledger(broken)
    newer = tmp_path / "newer" / "insarhub.db"
    newer.parent.mkdir()
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(LedgerError, match="newer than this insarhub"):
        Ledger(newer)
    ledger = Ledger.for_workdir(tmp_path / "ok")
    not_jobs = tmp_path / "other.json"
    not_jobs.write_text(json.dumps({"hello": 1}))
    with pytest.raises(LedgerError, match="not a hyp3_jobs.json"):
        import_json(ledger, not_jobs)
    with pytest.raises(LedgerError, match="cannot be read as JSON"):
        import_json(ledger, tmp_path / "missing.json")


# -- across processes ----------------------------------------------------------------------
WRITER = textwrap.dedent("""
    import sys
    from insarhub.ledger import Ledger, PairSpec
    ledger = Ledger.for_workdir(sys.argv[1])
    prefix = sys.argv[2]
    i = 0
    while True:
        ref, sec = f"{prefix}-r{i}", f"{prefix}-s{i}"
        name = f"{prefix}_{i:06d}"
        request = {"job_type": "INSAR_GAMMA", "job_parameters": {"granules": [ref, sec]}}
        ledger.add_pairs([PairSpec(ref, sec, "INSAR_GAMMA", request, name)])
        ledger.mark_submitting([name])
        ledger.record_submitted([{"name": name, "job_id": f"{prefix}-id-{i}",
                                  "status_code": "PENDING"}])
        i += 1
        if i == 1:
            print("ready", flush=True)  # one pair written: a kill from now on finds some
        if len(sys.argv) > 3 and i >= int(sys.argv[3]):
            break
""")


def run_writer(workdir: Path, prefix: str, count: int | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", WRITER, str(workdir), prefix] + ([str(count)] if count else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def check_consistent(ledger: Ledger) -> None:
    assert ledger.integrity_ok()
    records = ledger.jobs(current_only=False)
    pairs = ledger.pairs()
    assert len(records) == len(pairs)  # a pair never exists without its job row
    for r in records:
        assert r.state in (QUEUED, SUBMITTING, SUBMITTED)
        assert (r.state == SUBMITTED) == (r.job_id is not None)
        if r.job_id is not None:
            assert r.job_id.endswith(f"-id-{int(r.name.rsplit('_', 1)[1])}")


@pytest.mark.parametrize("pause", [0.3, 0.7, 1.1])
def test_sigkill_in_the_middle_of_writes_leaves_a_consistent_ledger(tmp_path: Path,
                                                                     pause: float) -> None:
    import time

    workdir = tmp_path / "stack"
    proc = run_writer(workdir, "k")
    time.sleep(pause)
    proc.kill()  # SIGKILL: no cleanup, no atexit
    proc.wait()
    ledger = Ledger.for_workdir(workdir)
    before = ledger.pair_count()
    assert before > 0
    check_consistent(ledger)
    # the ledger is usable at once: no stale lock, writes go on
    ledger.add_pairs([spec(0)])
    assert ledger.pair_count() == before + 1


def test_two_processes_write_at_once_without_losing_anything(tmp_path: Path) -> None:
    workdir = tmp_path / "stack"
    Ledger.for_workdir(workdir).close()
    procs = [run_writer(workdir, prefix, 150) for prefix in ("a", "b")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    ledger = Ledger.for_workdir(workdir)
    check_consistent(ledger)
    assert ledger.pair_count() == 300
    assert len(ledger.known_job_ids()) == 300


def test_submit_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    ledger = Ledger.for_workdir(tmp_path / "stack")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys, time
            from insarhub.ledger import Ledger
            with Ledger.for_workdir(sys.argv[1]).lock("submit"):
                print("held", flush=True)
                time.sleep(30)
        """), str(ledger.workdir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with ledger.lock("submit", timeout_s=0) as free:
            assert free is False
        with pytest.raises(LedgerError, match="another process holds the submit lock"), \
                ledger.lock("submit", timeout_s=0.2):
            pass
        with ledger.lock("download", timeout_s=0) as free:
            assert free is True  # other purposes are independent
    finally:
        holder.kill()
        holder.wait()
    with ledger.lock("submit", timeout_s=5) as free:  # the OS released it with the process
        assert free is True


def test_runs_are_logged(ledger: Ledger) -> None:
    run = ledger.start_run("submit")
    ledger.finish_run(run, "ok", {"submitted": 3})
    unfinished = ledger.start_run("download")
    runs = ledger.runs()
    assert [(r["action"], r["outcome"]) for r in runs] == [("submit", "ok"), ("download", None)]
    assert runs[0]["detail"] == {"submitted": 3} and runs[1]["run_id"] == unfinished
