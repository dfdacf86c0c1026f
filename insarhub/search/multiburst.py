"""Multi-burst stacks: the bursts that cover an AOI, per relative orbit, as HyP3 takes them.

HyP3's INSAR_ISCE_MULTI_BURST job takes one set of bursts per date (reference and secondary
lists with the same burst IDs), at most 15 burst-swaths, contiguous along track in each swath
and across adjacent swaths (asf_search's `S1MultiBurstGroup` rules). A burst search is grouped
here into such sets:

- per relative orbit, the burst IDs seen over the AOI form the set; an AOI that needs more than
  15 burst-swaths (or a set that is not contiguous) is split into the fewest valid groups,
  along track, and the split is reported;
- a group's stack holds, for every date that has *all* its bursts, those bursts; a date that
  lacks one is left out and reported (never mixed in);
- the stack key (and folder) reads like ``p100_IW1-3_213524-213530``: path, swaths, first and
  last relative burst ID.

In a pair network a date is one node, a `MultiBurstScene`: its name is the date's burst granule
names joined by ``+`` (swath, then burst order), so pairs stay ``(reference, secondary)``
strings that the ledger, the CLI and Prefect carry as they are, and `split_name` gives HyP3's
lists back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import shapely
from shapely.geometry import mapping, shape

from insarhub.errors import StackError
from insarhub.search.stacks import acquisition_date

log = logging.getLogger(__name__)

MAX_BURST_SWATHS = 15  # HyP3: at most 15 burst-swaths per multi-burst job
SEPARATOR = "+"
MULTI_KEY = re.compile(r"^p(\d{1,3})_IW([123])(?:-([123]))?_(\d{1,7})(?:-(\d{1,7}))?$")
BURST_NAME = re.compile(r"^S1_(\d{6})_IW([123])_(\d{8})T\d{6}_[VH]{2}_[0-9A-F]{4}-BURST$")
# a date whose bursts are fewer than this share of the path's dates is a rare burst: left out
RARE_SHARE = 0.5

Cell = tuple[int, int]  # (relative burst number, swath 1..3)


def is_burst(product: Any) -> bool:
    return isinstance(getattr(product, "properties", {}).get("burst"), dict)


def burst_cell(product: Any) -> tuple[int, Cell]:
    """(path, (relative burst number, swath)) of a burst product."""
    burst = product.properties["burst"]
    swath = int(str(burst.get("subswath") or burst["fullBurstID"].split("_")[-1])[-1])
    return int(product.properties["pathNumber"]), (int(burst["relativeBurstID"]), swath)


def burst_date(product: Any) -> date:
    return acquisition_date(product)


def is_multi_key(key: Any) -> bool:
    return isinstance(key, str) and bool(MULTI_KEY.match(key))


def group_key(path: int, cells: Iterable[Cell]) -> str:
    """``p100_IW1-3_213524-213530`` (one swath: ``IW2``; one burst: ``_213524``)."""
    cells = list(cells)
    swaths = sorted({s for _, s in cells})
    numbers = sorted({n for n, _ in cells})
    swath_text = f"IW{swaths[0]}" + (f"-{swaths[-1]}" if len(swaths) > 1 else "")
    burst_text = f"{numbers[0]}" + (f"-{numbers[-1]}" if len(numbers) > 1 else "")
    return f"p{path}_{swath_text}_{burst_text}"


def full_burst_id(path: int, cell: Cell) -> str:
    return f"{path:03d}_{cell[0]:06d}_IW{cell[1]}"


def join_names(names: Iterable[str]) -> str:
    """One node name for a date's bursts: names in (swath, burst) order joined by '+'."""
    return SEPARATOR.join(sorted(names, key=_burst_order))


def split_name(name: str) -> list[str]:
    """The burst granule names of a node name (a single burst name gives itself)."""
    return [part for part in name.split(SEPARATOR) if part]


def _burst_order(name: str) -> tuple[int, int, str]:
    found = BURST_NAME.match(name)
    return (int(found.group(2)), int(found.group(1)), name) if found else (9, 0, name)


def check_group(cells: Sequence[Cell], path: int = 0) -> None:
    """Raise ValueError when `cells` is not one valid HyP3 multi-burst set."""
    if not cells:
        raise ValueError("an empty burst set")
    if len(cells) > MAX_BURST_SWATHS:
        raise ValueError(f"{len(cells)} burst-swaths, HyP3 takes at most {MAX_BURST_SWATHS}")
    swaths = sorted({s for _, s in cells})
    if swaths != list(range(swaths[0], swaths[-1] + 1)):
        raise ValueError(f"swaths {swaths} are not adjacent")
    by_burst: dict[int, list[str]] = {}
    for number, swath in cells:
        by_burst.setdefault(number, []).append(f"IW{swath}")
    from asf_search import S1MultiBurst, S1MultiBurstGroup  # asf_search costs ~1 s to import

    S1MultiBurstGroup([S1MultiBurst(f"{path}_{n:06d}", tuple(sorted(s)))
                       for n, s in sorted(by_burst.items())])


def _components(cells: set[Cell]) -> list[list[Cell]]:
    """Pieces of a burst set that touch: same swath +-1 burst, adjacent swath +-1 burst."""
    left = set(cells)
    pieces = []
    while left:
        todo = [left.pop()]
        piece = []
        while todo:
            n, s = todo.pop()
            piece.append((n, s))
            for dn in (-1, 0, 1):
                for ds in (-1, 0, 1):
                    near = (n + dn, s + ds)
                    if (dn, ds) != (0, 0) and (ds != 0 or abs(dn) == 1) and near in left:
                        left.remove(near)
                        todo.append(near)
        pieces.append(sorted(piece))
    return sorted(pieces)


def split_cells(cells: Iterable[Cell], path: int = 0) -> list[list[Cell]]:
    """The burst set in the fewest valid groups: contiguous pieces, cut along track."""
    groups: list[list[Cell]] = []
    for piece in _components(set(cells)):
        try:
            check_group(piece, path)
            groups.append(piece)
            continue
        except ValueError:
            pass
        groups += _cut_along_track(piece, path)
    return groups


def _cut_along_track(piece: list[Cell], path: int) -> list[list[Cell]]:
    """Greedy runs of whole burst rows (each row: the swaths of one burst number) of at most
    15 burst-swaths; a row that cannot join a valid group is cut per swath."""
    rows: dict[int, list[Cell]] = {}
    for cell in piece:
        rows.setdefault(cell[0], []).append(cell)
    groups: list[list[Cell]] = []
    current: list[Cell] = []
    for number in sorted(rows):
        candidate = current + rows[number]
        try:
            check_group(candidate, path)
            current = candidate
        except ValueError:
            if current:
                groups.append(current)
            current = rows[number]
    if current:
        groups.append(current)
    out: list[list[Cell]] = []
    for group in groups:
        try:
            check_group(group, path)
            out.append(group)
        except ValueError:  # irregular shapes: one swath at a time
            for swath in sorted({s for _, s in group}):
                column = sorted(c for c in group if c[1] == swath)
                out += [column[i:i + MAX_BURST_SWATHS]
                        for i in range(0, len(column), MAX_BURST_SWATHS)]
    return out


@dataclass
class MultiBurstGroups:
    """What grouping did: the stacks, the dates left out (and which bursts they lack), notes."""

    stacks: dict[str, list[Any]] = field(default_factory=dict)
    bursts: dict[str, list[str]] = field(default_factory=dict)   # key -> full burst IDs
    left_out: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # key -> date -> missing
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = list(self.notes)
        for key, dates in self.left_out.items():
            if dates:
                shown = ", ".join(f"{d} (lacks {', '.join(m)})" for d, m in list(dates.items())[:5])
                lines.append(f"{key}: {len(dates)} date(s) left out, a burst of the set is "
                             f"missing: {shown}{' ...' if len(dates) > 5 else ''}")
        return "\n".join(lines)


def group_bursts(products: Iterable[Any]) -> MultiBurstGroups:
    """Burst products grouped per relative orbit into multi-burst stacks (see module doc)."""
    by_path: dict[int, list[Any]] = {}
    seen: set[str] = set()
    for product in products:
        name = str(product.properties["sceneName"])
        if name in seen or not is_burst(product):
            continue
        seen.add(name)
        by_path.setdefault(burst_cell(product)[0], []).append(product)
    result = MultiBurstGroups()
    for path in sorted(by_path):
        _group_path(path, by_path[path], result)
    return result


def _group_path(path: int, products: list[Any], result: MultiBurstGroups) -> None:
    per_date: dict[date, dict[Cell, Any]] = {}
    for product in sorted(products, key=_preference):
        cells = per_date.setdefault(burst_date(product), {})
        cells.setdefault(burst_cell(product)[1], product)  # one granule per burst and date
    counts: dict[Cell, int] = {}
    for cells in per_date.values():
        for cell in cells:
            counts[cell] = counts.get(cell, 0) + 1
    n_dates = len(per_date)
    rare = sorted(c for c, n in counts.items() if n < RARE_SHARE * n_dates)
    if rare:
        result.notes.append(
            f"path {path}: burst(s) {', '.join(full_burst_id(path, c) for c in rare)} appear on "
            f"fewer than half of the {n_dates} dates: left out of the burst set")
    wanted = sorted(set(counts) - set(rare))
    groups = split_cells(wanted, path)
    if len(groups) > 1:
        result.notes.append(
            f"path {path}: the AOI needs {len(wanted)} burst-swaths, not one valid HyP3 "
            f"multi-burst set (at most {MAX_BURST_SWATHS}, contiguous): split into "
            f"{len(groups)} stacks " + ", ".join(group_key(path, g) for g in groups))
    for group in groups:
        key = group_key(path, group)
        chosen: list[Any] = []
        missing: dict[str, list[str]] = {}
        for day in sorted(per_date):
            have = per_date[day]
            lacks = [full_burst_id(path, c) for c in group if c not in have]
            if lacks:
                missing[day.isoformat()] = lacks
                continue
            chosen += sorted((have[c] for c in group), key=lambda p: _burst_order(
                str(p.properties["sceneName"])))
        result.bursts[key] = [full_burst_id(path, c) for c in sorted(group, key=lambda c: (c[1], c[0]))]
        result.left_out[key] = missing
        if chosen:
            result.stacks[key] = chosen
        if missing:
            log.warning("%s: %d date(s) lack a burst of the set and are left out: %s", key,
                        len(missing), ", ".join(list(missing)[:5]))


def _preference(product: Any) -> tuple[bool, str]:
    """Which granule of a burst and date to use: co-polarised (VV/HH) first, then by name."""
    polarization = str(product.properties.get("polarization") or "")[:2].upper()
    return polarization not in ("VV", "HH"), str(product.properties["sceneName"])


def complete_dates(key: str, products: Sequence[Any], burst_ids: Iterable[str] = ()
                   ) -> tuple[list[Any], dict[str, list[str]]]:
    """Keep the dates of a multi-burst stack that still hold every burst of its set (after a
    filter dropped some bursts); the others are returned with what they lack. The set is
    `burst_ids` (full burst IDs, as grouping chose them), else every burst the stack holds on
    some date: never the key's outline, which a split group need not fill (15 of the 18
    burst-swaths of ``IW1-3`` x 6 bursts)."""
    per_date: dict[date, list[Any]] = {}
    for product in products:
        per_date.setdefault(burst_date(product), []).append(product)
    path = key_cells(key)[0]
    wanted = {(int(i.split("_")[1]), int(i.split("_")[2][-1])) for i in burst_ids}
    wanted = wanted or set(stack_cells(products))
    kept: list[Any] = []
    missing: dict[str, list[str]] = {}
    for day in sorted(per_date):
        present = {burst_cell(p)[1] for p in per_date[day]}
        lacks = sorted(wanted - present)
        if lacks:
            missing[day.isoformat()] = [full_burst_id(path, c) for c in lacks]
        else:
            kept += per_date[day]
    return kept, missing


def key_cells(key: str) -> tuple[int, list[Cell]]:
    """(path, cells) a key names: every burst in its range on every swath in its range.

    Along-track ranges of adjacent swaths may differ by one burst; the stack's own bursts are
    what counts (`stack_cells`), this is the key's outline.
    """
    found = MULTI_KEY.match(key)
    if not found:
        raise StackError(f"{key!r} is not a multi-burst stack key like 'p100_IW1-3_213524-213530'")
    path = int(found.group(1))
    s0 = int(found.group(2))
    s1 = int(found.group(3) or s0)
    b0 = int(found.group(4))
    b1 = int(found.group(5) or b0)
    return path, [(n, s) for s in range(s0, s1 + 1) for n in range(b0, b1 + 1)]


def stack_cells(products: Sequence[Any]) -> list[Cell]:
    return sorted({burst_cell(p)[1] for p in products})


class MultiBurstScene:
    """One date of a multi-burst stack: its bursts, seen by the pair network as one scene.

    `properties` are the first burst's with `sceneName`/`fileID` set to the joined name;
    `umm`/`meta` are the first burst's (its orbit state vectors give the date's baseline:
    bursts of one pass share the orbit).
    """

    def __init__(self, bursts: Sequence[Any], key: str | None = None) -> None:
        if not bursts:
            raise StackError("a multi-burst date needs at least one burst")
        self.bursts = sorted(bursts, key=lambda p: _burst_order(str(p.properties["sceneName"])))
        self.names = [str(p.properties["sceneName"]) for p in self.bursts]
        self.name = SEPARATOR.join(self.names)
        first = self.bursts[0]
        self.key = key
        self.umm = first.umm
        self.meta = first.meta
        union = shapely.unary_union([shape(p.geometry) for p in self.bursts
                                     if p.geometry and p.geometry.get("coordinates")])
        self.geometry = mapping(union) if not union.is_empty else first.geometry
        burst = dict(first.properties["burst"])
        burst["fullBurstID"] = key or SEPARATOR.join(
            str(p.properties["burst"]["fullBurstID"]) for p in self.bursts)
        self.properties: dict[str, Any] = {
            **first.properties, "sceneName": self.name, "fileID": self.name,
            "burst": burst, "bursts": list(self.names),
            "stopTime": max(str(p.properties.get("stopTime")) for p in self.bursts),
        }

    def __len__(self) -> int:
        return len(self.bursts)

    def __repr__(self) -> str:
        return f"MultiBurstScene({self.key or ''} {self.properties['startTime'][:10]}, " \
               f"{len(self.bursts)} bursts)"


def date_scenes(products: Sequence[Any], key: str | None = None) -> list[Any]:
    """Burst products of a multi-burst stack as one `MultiBurstScene` per date (time order).

    Anything else (SLC scenes, a single-burst stack, nodes already) is returned as it is.
    """
    products = list(products)
    if not products or not all(is_burst(p) and not isinstance(p, MultiBurstScene)
                               for p in products):
        return products
    ids = {p.properties["burst"]["fullBurstID"] for p in products}
    if len(ids) == 1 and not is_multi_key(key):
        return products
    per_date: dict[date, list[Any]] = {}
    for product in products:
        per_date.setdefault(burst_date(product), []).append(product)
    return [MultiBurstScene(per_date[d], key) for d in sorted(per_date)]
