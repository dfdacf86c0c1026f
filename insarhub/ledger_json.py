"""`hyp3_jobs.json`: the ledger exported as a document, and merged back (also the seed's file).

`hyp3_jobs.json` is an export of the ledger (`insarhub.ledger`; format below, no secrets); `import_json` merges
one back in, so the seed's `saved_job_path` keeps working, including the seed's own
`{"job_ids": {user: [ids]}, "out_dir": ...}` files (their jobs are then looked up on HyP3).

hyp3_jobs.json (format "insarhub-hyp3-jobs", version 1)::

    {"format": "insarhub-hyp3-jobs", "version": 1, "exported_at": ISO-8601 UTC,
     "processor": "Hyp3_S1", "job_type": "INSAR_GAMMA", "name_prefix": "ifg",
     "options": {job parameters other than granules},
     "out_dir": "<workdir>/hyp3",
     "counts": {"QUEUED": n, "PENDING": n, ...},
     "job_ids": {user_id: [job_id, ...]},          # the seed's key, current and past jobs
     "pairs": [{"reference": granule, "secondary": granule, "name": base job name,
                "request": {"job_type": ..., "job_parameters": {...}},
                "dropped": false,                  # true: replaced when the network was repaired
                "jobs": [{"name", "attempt", "reason", "state", "job_id", "user_id",
                          "status_code", "request_time", "expiration_time", "credit_cost",
                          "files": [{"url", "filename", "size"}], "expired",
                          "downloaded": "<product dir relative to workdir>" | null}]}]}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from insarhub.errors import LedgerError
from insarhub.ledger import (
    EXPORT_NAME,
    JOB_STATES,
    QUEUED,
    SUBMITTED,
    JobRecord,
    Ledger,
    _clean_files,
    utc_now,
)

EXPORT_FORMAT = "insarhub-hyp3-jobs"
EXPORT_VERSION = 1


@dataclass
class ImportResult:
    pairs_added: int = 0
    jobs_added: int = 0
    unresolved_job_ids: list[str] = field(default_factory=list)  # seed files: look up on HyP3
    meta: dict[str, Any] = field(default_factory=dict)



def export_dict(ledger: Ledger) -> dict[str, Any]:
    """The ledger as the hyp3_jobs.json document (one consistent snapshot)."""
    with ledger.snapshot():
        meta = ledger.meta()
        records = ledger.jobs(current_only=False, include_dropped=True)
        pair_rows = ledger._query("SELECT pair_id, reference, secondary, request, base_name, "
                                "dropped_at FROM pairs ORDER BY pair_id")
        counts = ledger.counts()
    by_pair: dict[int, list[JobRecord]] = {}
    for record in records:
        by_pair.setdefault(record.pair_id, []).append(record)
    job_ids: dict[str, list[str]] = {}
    pairs = []
    for pair_id, reference, secondary, request, base_name, dropped_at in pair_rows:
        jobs = []
        for r in by_pair.get(pair_id, []):
            if r.job_id:
                job_ids.setdefault(r.user_id or "unknown", []).append(r.job_id)
            jobs.append({
                "name": r.name, "attempt": r.attempt, "reason": r.reason, "state": r.state,
                "job_id": r.job_id, "user_id": r.user_id, "status_code": r.status_code,
                "request_time": r.request_time, "expiration_time": r.expiration_time,
                "credit_cost": r.credit_cost, "files": r.files, "expired": r.expired,
                "downloaded": r.downloaded,
            })
        pairs.append({"reference": reference, "secondary": secondary, "name": base_name,
                      "request": json.loads(request), "dropped": dropped_at is not None,
                      "jobs": jobs})
    return {
        "format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported_at": utc_now(),
        "processor": meta.get("processor"), "job_type": meta.get("job_type"),
        "name_prefix": meta.get("name_prefix"), "options": meta.get("options", {}),
        "out_dir": str(ledger.workdir / "hyp3"), "counts": counts,
        "job_ids": job_ids, "pairs": pairs,
    }


def export_json(ledger: Ledger, path: str | Path | None = None) -> Path:
    """Write `hyp3_jobs.json` atomically (temporary file + rename); returns its path."""
    target = Path(path) if path is not None else ledger.workdir / EXPORT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(export_dict(ledger), indent=1, default=str))
    os.replace(tmp, target)
    return target


def import_json(ledger: Ledger, path: str | Path) -> ImportResult:
    """Merge a `hyp3_jobs.json` into this ledger (what is known already is kept)."""
    source = Path(path)
    try:
        data = json.loads(source.read_text())
    except (OSError, ValueError) as exc:
        raise LedgerError(f"saved_job_path {source} cannot be read as JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise LedgerError(f"saved_job_path {source}: expected a JSON object, got "
                          f"{type(data).__name__}")
    result = ImportResult()
    if data.get("format") == EXPORT_FORMAT:
        if int(data.get("version", 0)) > EXPORT_VERSION:
            raise LedgerError(f"{source} has format version {data.get('version')}; this "
                              f"insarhub reads up to {EXPORT_VERSION}: upgrade insarhub")
        result.meta = {k: data[k] for k in ("processor", "job_type", "name_prefix", "options")
                       if data.get(k) is not None}
        _import_pairs(ledger, data.get("pairs") or [], result)
    elif isinstance(data.get("job_ids"), dict):  # the seed's file: ids only
        known = ledger.known_job_ids()
        for ids in data["job_ids"].values():
            result.unresolved_job_ids.extend(i for i in ids if i not in known)
    else:
        raise LedgerError(f"{source} is not a hyp3_jobs.json file (no 'format': "
                          f"{EXPORT_FORMAT!r} and no 'job_ids')")
    return result


def _import_pairs(ledger: Ledger, pairs: list[dict[str, Any]], result: ImportResult) -> None:
    now = utc_now()
    with ledger.transaction() as con:
        for item in pairs:
            request = item["request"]
            job_type = request["job_type"]
            row = con.execute(
                "SELECT pair_id FROM pairs WHERE reference = ? AND secondary = ? AND job_type = ?",
                (item["reference"], item["secondary"], job_type)).fetchone()
            if row is None:
                cursor = con.execute(
                    "INSERT INTO pairs (reference, secondary, job_type, request, base_name, "
                    "added_at, dropped_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (item["reference"], item["secondary"], job_type,
                     json.dumps(request, sort_keys=True), item["name"], now,
                     now if item.get("dropped") else None))
                pair_id = int(cursor.lastrowid or 0)
                result.pairs_added += 1
            else:
                pair_id = int(row[0])
            for job in item.get("jobs") or []:
                if con.execute("SELECT 1 FROM jobs WHERE name = ?", (job["name"],)).fetchone():
                    continue
                if job.get("job_id") and con.execute(
                        "SELECT 1 FROM jobs WHERE job_id = ?", (job["job_id"],)).fetchone():
                    continue
                state = job.get("state") or QUEUED
                if state not in JOB_STATES or (state == SUBMITTED and not job.get("job_id")):
                    state = QUEUED
                con.execute(
                    "INSERT INTO jobs (name, pair_id, attempt, reason, state, job_id, user_id, "
                    "status_code, request_time, expiration_time, credit_cost, files, expired, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (job["name"], pair_id, int(job.get("attempt", 0)), job.get("reason", "new"),
                     state, job.get("job_id"), job.get("user_id"), job.get("status_code"),
                     job.get("request_time"), job.get("expiration_time"),
                     job.get("credit_cost"), json.dumps(_clean_files(job.get("files"))),
                     int(bool(job.get("expired"))), now))
                result.jobs_added += 1
                if job.get("downloaded") and job.get("job_id"):
                    for f in _clean_files(job.get("files")):
                        con.execute(
                            "INSERT OR IGNORE INTO downloads (job_id, filename, url, size, "
                            "product_dir, completed_at) VALUES (?, ?, ?, ?, ?, ?)",
                            (job["job_id"], f["filename"], f["url"], f.get("size"),
                             job["downloaded"], now))
