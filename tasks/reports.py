"""The monitoring summary a user reads first: the verdict, then the numbers behind it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ANOMALY_EVENT = "insarhub.deformation.anomaly"


def _day(text: str) -> str:
    """YYYYMMDD -> YYYY-MM-DD (anything else as it is)."""
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


def date_span(scene_names: Sequence[str]) -> str:
    """'N new dates (first .. last)' from granule names; 'no new date' for none."""
    from insarhub.errors import ConfigError
    from insarhub.granules import acquisition_date

    days = []
    for name in scene_names:
        try:
            days.append(acquisition_date(name))
        except ConfigError:
            continue
    unique = sorted(set(days))
    if not unique:
        return "no new date"
    if len(unique) == 1:
        return f"1 new date ({unique[0].isoformat()})"
    return f"{len(unique)} new dates ({unique[0].isoformat()} .. {unique[-1].isoformat()})"


def verdict(result: Mapping[str, Any]) -> str:
    """One line: what this cycle concluded."""
    status = result.get("status", "")
    anomaly = result.get("anomaly") or {}
    if status == "updated" and anomaly:
        regions = anomaly.get("regions") or []
        if anomaly.get("anomalous") and regions:
            top = regions[0]
            return (f"ANOMALY on {_day(str(anomaly.get('date')))}: {len(regions)} region(s), the "
                    f"strongest {top['magnitude_mm']:+.1f} mm over {top['extent_km2']} km2 at "
                    f"lat {top['lat']}, lon {top['lon']} ({top['status']}); news go out as "
                    f"event {ANOMALY_EVENT}")
        if anomaly.get("z_threshold") is None and anomaly.get("reason"):
            return f"No verdict yet: {anomaly['reason']}"
        return (f"No anomaly on {_day(str(anomaly.get('date')))}: "
                f"{anomaly.get('reason') or 'no region beyond its noise'}")
    if status == "waiting":
        line = (result.get("interferograms") or {}).get("line", "")
        return f"Waiting for interferograms{f' ({line})' if line else ''}; the next run goes on"
    if status == "up to date":
        return "Up to date: no new acquisition to process"
    if status == "too few dates":
        return "Too few dates for a time series yet; it starts when there are more"
    if status == "no scenes":
        return "No scenes in the stack for these dates"
    if status == "skipped":
        return f"Skipped: {result.get('reason', 'another run holds the AOI')}"
    return status or "unknown"


def _payload_rows(anomaly: Mapping[str, Any]) -> list[str]:
    rows = ["| field | value |", "|---|---|"]
    for key, value in anomaly.items():
        if isinstance(value, Mapping | list | tuple):
            continue  # nested parts are in the event itself
        rows.append(f"| {key} | {value} |")
    return rows


def monitoring_markdown(result: Mapping[str, Any]) -> str:
    """The summary artifact of one monitoring cycle, verdict first."""
    ts = result.get("timeseries") or {}
    anomaly = result.get("anomaly") or {}
    dates = [str(d) for d in ts.get("dates", [])]
    velocity = ts.get("velocity_mm_yr")
    lines = [f"# {result.get('aoi')}: {verdict(result)}", ""]
    lines += [f"- stack: {result.get('stack', '-')}, {result.get('scenes', '-')} scenes",
              f"- acquisitions: {date_span(result.get('new_dates') or [])} since the last "
              "processed date",
              f"- pairs submitted this run: {result.get('pairs_submitted', 0)}"]
    if dates:
        lines.append(f"- time series: {len(dates)} dates, {_day(dates[0])} .. "
                     f"{_day(dates[-1])}; velocity (2-98 %) "
                     f"{f'{velocity[0]} .. {velocity[1]} mm/yr' if velocity else '-'}")
    run = ts.get("run") or {}
    if run:
        lines.append(f"- MintPy: {run.get('mode', '?')} run ({run.get('reason', '')})")
    if result.get("overrides"):
        lines.append("- this run's overrides of the AOI config: " + ", ".join(
            f"{k}={v}" for k, v in result["overrides"].items()))
    if anomaly:
        lines += ["", f"## Anomaly check{' (event payload)' if anomaly.get('anomalous') else ''}",
                  "", *_payload_rows(anomaly)]
    return "\n".join(lines) + "\n"
