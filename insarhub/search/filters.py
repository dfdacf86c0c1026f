"""Filters over grouped search results: pure functions, never in place.

Every filter returns a new `{stack: [products]}` dict without empty stacks. Bad arguments raise
`ConfigError` (or `StackError` for stacks that are not in the results), naming the value and
what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import shapely
from asf_search import ASFProduct
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from insarhub.errors import ConfigError, StackError
from insarhub.search.stacks import StackKey, Stacks, acquisition_date, describe, parse_stack

DIRECTIONS = {"A": "ASCENDING", "ASC": "ASCENDING", "ASCENDING": "ASCENDING",
              "D": "DESCENDING", "DESC": "DESCENDING", "DESCENDING": "DESCENDING"}


def _keep(stacks: Mapping[StackKey, Sequence[ASFProduct]], wanted: Any) -> Stacks:
    out: Stacks = {}
    for key, products in stacks.items():
        kept = [p for p in products if wanted(p)]
        if kept:
            out[key] = kept
    return out


def as_date(value: str | date | datetime, field: str) -> date:
    """A date from 'YYYY-MM-DD' (or any ISO date-time), a date or a datetime."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value).strip().replace("Z", "+00:00")).date()
    except ValueError:
        raise ConfigError(f"{field}={value!r} is not a date; use 'YYYY-MM-DD'") from None


def stack_keys(value: Any, available: Iterable[StackKey]) -> list[StackKey]:
    """Normalise `path_frame` (one key or a list of them) and check each is a known stack."""
    known = list(available)
    if isinstance(value, str) or (isinstance(value, tuple) and len(value) == 2
                                  and all(isinstance(v, int) for v in value)):
        values: list[Any] = [value]
    elif isinstance(value, Iterable):
        values = list(value)
    else:
        raise ConfigError(f"path_frame={value!r}: give (path, frame), a burst ID or a list of them")
    keys = [parse_stack(v) for v in values]
    missing = [k for k in keys if k not in known]
    if missing:
        listing = ", ".join(describe(k) for k in known) or "none"
        raise StackError(f"path_frame {', '.join(describe(k) for k in missing)} is not among the "
                         f"stacks found: {listing}")
    return keys


def _burst_ids_to_stacks(value: Any, stacks: Stacks) -> Any:
    """A full burst ID ("174_372326_IW3") names the multi-burst stack that holds it."""
    holder = {str(p.properties["burst"]["fullBurstID"]): key for key, products in stacks.items()
              if isinstance(key, str) for p in products if isinstance(p.properties.get("burst"), dict)}
    if isinstance(value, str):
        return holder.get(value, value) if value not in stacks else value
    if isinstance(value, list):
        return [holder.get(v, v) if isinstance(v, str) and v not in stacks else v for v in value]
    return value


def by_stacks(stacks: Stacks, path_frame: Any) -> Stacks:
    keys = stack_keys(_burst_ids_to_stacks(path_frame, stacks), stacks)
    return {k: list(stacks[k]) for k in stacks if k in keys}


def by_dates(stacks: Stacks, start: Any = None, end: Any = None) -> Stacks:
    """Scenes acquired from `start` to `end`, both days included."""
    first = as_date(start, "start") if start is not None else date.min
    last = as_date(end, "end") if end is not None else date.max
    if first > last:
        raise ConfigError(f"start {first} is after end {last}")
    return _keep(stacks, lambda p: first <= acquisition_date(p) <= last)


def by_season(stacks: Stacks, months: Iterable[int] | int) -> Stacks:
    """Scenes acquired in the given months (1-12), e.g. `season=[6, 7, 8]` for summers."""
    wanted = {months} if isinstance(months, int) else set(months)
    bad = sorted(m for m in wanted if not isinstance(m, int) or not 1 <= m <= 12)
    if not wanted or bad:
        raise ConfigError(f"season={months!r}: give months as integers 1..12, e.g. [6, 7, 8]")
    return _keep(stacks, lambda p: acquisition_date(p).month in wanted)


def by_values(stacks: Stacks, field: str, prop: str, values: Any,
              normalise: Any = str.upper) -> Stacks:
    wanted_list = [values] if isinstance(values, str) else list(values)
    if not wanted_list:
        raise ConfigError(f"{field}={values!r}: give at least one value")
    wanted = {normalise(str(v)) for v in wanted_list}
    return _keep(stacks, lambda p: normalise(str(p.properties.get(prop))) in wanted)


def by_direction(stacks: Stacks, direction: str) -> Stacks:
    text = str(direction).strip().upper()
    if text not in DIRECTIONS:
        raise ConfigError(f"flight_direction={direction!r}: use 'ASCENDING' or 'DESCENDING'")
    return by_values(stacks, "flight_direction", "flightDirection", DIRECTIONS[text])


def footprint(product: ASFProduct) -> BaseGeometry:
    return shape(product.geometry)


def aoi_coverage(product: ASFProduct, aoi: BaseGeometry) -> float:
    """Percent of the AOI inside the product's footprint."""
    if aoi.area == 0:
        return 0.0
    return 100.0 * footprint(product).intersection(aoi).area / aoi.area


def by_coverage(stacks: Stacks, aoi: BaseGeometry | None, percent: float) -> Stacks:
    if aoi is None:
        raise ConfigError("min_aoi_coverage needs an AOI: create the Downloader with intersectsWith=")
    if not 0 <= float(percent) <= 100:
        raise ConfigError(f"min_aoi_coverage={percent!r}: give a percent between 0 and 100")
    shapely.prepare(aoi)
    return _keep(stacks, lambda p: aoi_coverage(p, aoi) >= float(percent) - 1e-9)


def latest(stacks: Stacks, n: int) -> Stacks:
    """The last `n` dates of each stack (a multi-burst date keeps all its bursts)."""
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"latest_n={n!r}: give a positive integer")
    out: Stacks = {}
    for key, products in stacks.items():
        days = sorted({acquisition_date(p) for p in products})[-n:]
        kept = [p for p in products if acquisition_date(p) >= days[0]] if days else []
        if kept:
            out[key] = kept
    return out


def min_scenes(stacks: Stacks, n: int) -> Stacks:
    """Only stacks with at least `n` dates."""
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"min_scenes={n!r}: give a positive integer")
    return {k: v for k, v in stacks.items() if len({acquisition_date(p) for p in v}) >= n}


def exclude(stacks: Stacks, items: Iterable[Any]) -> Stacks:
    """Drop scenes by name or by acquisition date ('YYYY-MM-DD')."""
    names: set[str] = set()
    days: set[date] = set()
    for item in [items] if isinstance(items, (str, date)) else items:
        text = str(item)
        if isinstance(item, date) or (len(text) == 10 and text[4] == "-"):
            days.add(as_date(item, "exclude"))
        else:
            names.add(text)
    return _keep(stacks, lambda p: p.properties["sceneName"] not in names
                 and p.properties.get("fileID") not in names and acquisition_date(p) not in days)
