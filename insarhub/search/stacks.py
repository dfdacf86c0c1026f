"""Stacks: scenes grouped by (relative orbit, frame) for SLCs, by full burst ID for bursts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from insarhub.errors import StackError

if TYPE_CHECKING:  # asf_search costs ~1 s to import; a command that only parses names skips it
    from asf_search import ASFProduct

StackKey = tuple[int, int] | str
Stacks = dict[StackKey, list["ASFProduct"]]

_SLC_DIR = re.compile(r"^p(\d+)_f(\d+)$")
_BURST_ID = re.compile(r"^\d{3}_\d{6}_IW[123]$")
_DISP_FRAME = re.compile(r"^F\d{5}$")  # an OPERA DISP-S1 frame, e.g. "F31466" (search.disp)
_MULTI = re.compile(r"^p\d{1,3}_IW[123](-[123])?_\d{1,7}(-\d{1,7})?$")  # see search.multiburst


def is_burst(product: ASFProduct) -> bool:
    return isinstance(product.properties.get("burst"), dict)


def stack_key(product: ASFProduct) -> StackKey:
    """(path, frame) for an SLC, the full burst ID (e.g. "174_372326_IW3") for a burst."""
    properties = product.properties
    if is_burst(product):
        return str(properties["burst"]["fullBurstID"])
    return int(properties["pathNumber"]), int(properties["frameNumber"])


def stack_dirname(key: StackKey) -> str:
    """The working-directory name of a stack: "p100_f466", a multi-burst stack
    "p100_IW1-3_213524-213530" or a single burst ID "174_372326_IW3"."""
    if isinstance(key, str):
        if not (_BURST_ID.match(key) or _MULTI.match(key) or _DISP_FRAME.match(key)):
            raise StackError(f"stack {key!r} is neither a multi-burst stack like "
                             "'p100_IW1-3_213524-213530' nor a full burst ID like '174_372326_IW3'")
        return key
    path, frame = key
    return f"p{int(path)}_f{int(frame)}"


def parse_stack(value: str | Sequence[int]) -> StackKey:
    """A stack key from "p100_f466", (100, 466), a multi-burst stack key or a burst ID."""
    if isinstance(value, str):
        text = value.strip()
        found = _SLC_DIR.match(text)
        if found:
            return int(found.group(1)), int(found.group(2))
        if _BURST_ID.match(text) or _MULTI.match(text) or _DISP_FRAME.match(text):
            return text
        raise StackError(f"stack {value!r} is neither 'p<path>_f<frame>', a multi-burst stack "
                         "like 'p100_IW1-3_213524-213530' nor a burst ID like '174_372326_IW3'")
    try:
        path, frame = value
        return int(path), int(frame)
    except (TypeError, ValueError):
        raise StackError(f"stack {value!r} must be a (path, frame) pair, 'p<path>_f<frame>' "
                         "or a burst ID") from None


def scene_name(product: ASFProduct) -> str:
    """The name HyP3 and the ledger use: SLC scene name, or the burst granule name."""
    return str(product.properties["sceneName"])


def start_time(product: ASFProduct) -> datetime:
    return datetime.fromisoformat(str(product.properties["startTime"]).replace("Z", "+00:00"))


def acquisition_date(product: ASFProduct) -> date:
    return start_time(product).date()


def _order(key: StackKey, products: Sequence[ASFProduct]) -> tuple[int, str]:
    direction = str(products[0].properties.get("flightDirection") or "")
    return (0 if direction.upper().startswith("A") else 1, stack_dirname(key))


def group_products(products: Iterable[ASFProduct]) -> Stacks:
    """Products grouped into stacks, each in time order; ascending stacks first, then by name."""
    groups: Stacks = {}
    seen: set[str] = set()
    for product in products:
        name = scene_name(product)
        if name in seen:  # the same granule from two sub-queries (e.g. VV and VV+VH)
            continue
        seen.add(name)
        groups.setdefault(stack_key(product), []).append(product)
    for members in groups.values():
        members.sort(key=lambda p: (str(p.properties["startTime"]), scene_name(p)))
    return {k: groups[k] for k in sorted(groups, key=lambda k: _order(k, groups[k]))}


def count_scenes(stacks: Mapping[StackKey, Sequence[ASFProduct]]) -> int:
    return sum(len(v) for v in stacks.values())


def describe(key: StackKey) -> str:
    """Human form of a key, as `filter(path_frame=...)` takes it."""
    return repr(key) if isinstance(key, str) else f"({key[0]}, {key[1]})"
