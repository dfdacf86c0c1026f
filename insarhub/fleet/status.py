"""The fleet at a glance: per AOI, its last cycle, newest date, pending dates, credits, alerts.

Read from what the runs leave in each AOI's folder (`fleet_status.json`, the MintPy time
series, the anomaly memory) and the fleet budget; no network call.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from insarhub.fleet.budget import FleetBudget
from insarhub.fleet.model import Fleet

STATUS_FILE = "fleet_status.json"
HISTORY_FILE = "fleet_cycles.jsonl"
ALERT_OPEN_DAYS = 36  # an announced region stays open this long after it was last seen
COLUMNS = ("aoi", "priority", "product", "last_cycle", "status", "newest_date",
           "dates_pending", "credits_month", "open_alerts", "problem")


def record_cycle(workdir: str | Path, data: dict[str, Any]) -> Path:
    """Write the AOI's last cycle (`fleet_status.json`, atomically) and append it to the
    AOI's history (`fleet_cycles.jsonl`)."""
    path = Path(workdir) / STATUS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / HISTORY_FILE).open("a") as history:
        history.write(json.dumps(data, default=str) + "\n")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)
    return path


def cycle_history(workdir: str | Path) -> list[dict[str, Any]]:
    """Every cycle the AOI's runs recorded, oldest first."""
    path = Path(workdir) / HISTORY_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def last_cycle(workdir: str | Path) -> dict[str, Any]:
    try:
        return dict(json.loads((Path(workdir) / STATUS_FILE).read_text()))
    except (OSError, ValueError):
        return {}


def timeseries_dates(workdir: str | Path) -> list[str]:
    """The dates (YYYYMMDD) of the AOI's MintPy time series, oldest first (empty if none)."""
    import h5py

    dates: list[str] = []
    for path in sorted(Path(workdir).glob("*/mintpy/timeseries.h5")):
        try:
            with h5py.File(path, "r") as h5:
                dates = sorted({*dates, *(d.decode() for d in h5["date"][()])})
        except (OSError, KeyError):
            continue
    return dates


def open_alerts(workdir: str | Path, newest: str | None) -> list[dict[str, Any]]:
    """Announced regions seen within `ALERT_OPEN_DAYS` of the newest date."""
    if newest is None:
        return []
    cutoff = (date.fromisoformat(_iso(newest)) - timedelta(days=ALERT_OPEN_DAYS)).isoformat()
    out = []
    for path in sorted(Path(workdir).glob("*/anomaly_announcements.json")):
        try:
            regions = json.loads(path.read_text()).get("regions", [])
        except (OSError, ValueError):
            continue
        out += [r for r in regions if r.get("announced")
                and _iso(str(r.get("last_date", ""))) >= cutoff]
    return out


def _iso(text: str) -> str:
    """YYYYMMDD or YYYY-MM-DD -> YYYY-MM-DD."""
    text = text.strip()
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text[:10]


def fleet_status(fleet: Fleet, month: str) -> list[dict[str, Any]]:
    """One row per AOI (bad entries too, with their problem)."""
    rows: list[dict[str, Any]] = []
    with FleetBudget.for_workdir(fleet.workdir, fleet.top.budget.monthly_credits) as budget:
        for entry in fleet.entries:
            folder = fleet.workdir / entry.name
            cycle = last_cycle(folder)
            dates = timeseries_dates(folder)
            newest = _iso(dates[-1]) if dates else None
            catalog = [str(d) for d in cycle.get("catalog_dates", [])]
            pending = [d for d in catalog if d not in {_iso(x) for x in dates}]
            rows.append({"aoi": entry.name, "priority": entry.priority,
                         "product": entry.product, "last_cycle": cycle.get("finished"),
                         "status": cycle.get("status") or ("disabled" if not entry.enabled
                                                           else "never run"),
                         "newest_date": newest, "dates_pending": len(pending),
                         "credits_month": budget.spent(month, entry.name),
                         "open_alerts": len(open_alerts(folder, newest)),
                         "problem": cycle.get("problem", "")})
    valid = {e.name for e in fleet.entries}
    rows += [{"aoi": p.name if p.name not in valid else f"{p.name} (entry #{p.index + 1})",
              "priority": None, "product": None, "last_cycle": None,
              "status": "invalid", "newest_date": None, "dates_pending": None,
              "credits_month": 0.0, "open_alerts": 0, "problem": p.message}
             for p in fleet.problems]
    return rows


def status_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a plain-text table (the command's output)."""
    cells = [[str(c) for c in COLUMNS]]
    cells += [["" if r.get(c) is None else str(r.get(c)) for c in COLUMNS] for r in rows]
    widths = [min(max(len(row[i]) for row in cells), 60) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(v[:60].ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)
