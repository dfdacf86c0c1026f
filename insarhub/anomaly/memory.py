"""What a stack has already announced, so that a region is announced once when it appears and
once when it is confirmed, not on every cycle (`<stack dir>/anomaly_announcements.json`).
A region that comes back new at a known place after a cycle without it (a slope that moves
again) is a new episode, announced again."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from insarhub.anomaly.report import AnomalyReport

FILE_NAME = "anomaly_announcements.json"
SAME_PLACE_M = 1500.0  # a region this close (same sign) to an announced one is that one


class AnnouncementMemory:
    """The regions announced for one stack, kept in a small JSON file in its folder."""

    def __init__(self, stack_dir: str | Path) -> None:
        self.path = Path(stack_dir) / FILE_NAME
        self.regions: list[dict[str, Any]] = []
        if self.path.is_file():
            self.regions = list(json.loads(self.path.read_text()).get("regions", []))

    def news(self, report: AnomalyReport) -> list[dict[str, Any]]:
        """The regions of `report` to announce now (each a dict with `status`), remembered."""
        out = []
        pixel_m = report.pixel_size_m or 80.0
        for region in report.regions:
            sign = 1 if region.magnitude_mm > 0 else -1
            known = self._match(region.row, region.col, sign, pixel_m)
            if (known is not None and region.status == "new" and report.previous_date
                    and str(known.get("last_date", "")) < report.previous_date):
                known.update(status=None, first_date=region.first_date)  # a new episode
            if known is None:
                known = {"id": len(self.regions) + 1, "sign": sign,
                         "first_date": region.first_date, "status": None, "announced": []}
                self.regions.append(known)
            known.update(row=region.row, col=region.col, lat=region.lat, lon=region.lon,
                         last_date=report.date)
            if known["status"] == region.status or known["status"] == "confirmed":
                continue
            known["status"] = region.status
            known["announced"].append({"date": report.date, "status": region.status})
            out.append({**region.to_dict(), "region_id": known["id"],
                        "first_date": known["first_date"], "date": report.date})
        self._save()
        return out

    def _match(self, row: int, col: int, sign: int, pixel_m: float) -> dict[str, Any] | None:
        best, best_distance = None, SAME_PLACE_M
        for known in self.regions:
            distance = math.hypot(known["row"] - row, known["col"] - col) * pixel_m
            if known["sign"] == sign and distance <= best_distance:
                best, best_distance = known, distance
        return best

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps({"regions": self.regions}, indent=1))
        os.replace(temporary, self.path)


def announce(report: AnomalyReport, stack_dir: str | Path) -> list[dict[str, Any]]:
    """The regions of `report` that are news for the stack in `stack_dir` (remembered there)."""
    return AnnouncementMemory(stack_dir).news(report)
