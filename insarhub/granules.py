"""The acquisition time in a Sentinel-1 granule name, read in one place.

SLC (`S1A_IW_SLC__1SDV_20200102T133501_20200102T133528_...`), burst
(`S1_136231_IW2_20200604T022312_VV_7C85-BURST`) and '+'-joined burst-set names all carry
their start as the first `YYYYMMDDTHHMMSS`.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from insarhub.errors import ConfigError

_START = re.compile(r"(?<!\d)(\d{8}T\d{6})(?!\d)")


def acquisition_time(name: str) -> datetime | None:
    """The start time (UTC, naive) in a granule name; None if it holds none."""
    found = _START.search(str(name))
    if not found:
        return None
    try:
        return datetime.strptime(found.group(1), "%Y%m%dT%H%M%S")
    except ValueError:
        return None


def acquisition_date(name: str) -> date:
    """The acquisition date in a granule name; ConfigError if it holds none."""
    found = acquisition_time(name)
    if found is None:
        raise ConfigError(f"scene name {name!r} holds no acquisition time "
                          "(expected _YYYYMMDDTHHMMSS as in Sentinel-1 granule names)")
    return found.date()


def acquisition_day(name: str, missing: str = "x") -> str:
    """YYYYMMDD of a granule name's acquisition, or `missing` if it holds none."""
    found = acquisition_time(name)
    return found.strftime("%Y%m%d") if found else missing
