"""Burst grids for multi-burst tests, made from the recorded burst stack the sandbox serves
(`sandbox/insarhub_sandbox/data/slc_burst_stack.json.gz`: 166 dates of 174_372326_IW3, real UMM with
state vectors). A grid burst is a recorded item with its burst number and swath rewritten in
the UMM (name, burst ID attributes), so it rebuilds as a real asf_search S1BurstProduct."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import insarhub_sandbox
from asf_search import ASFSession
from asf_search.search.search_generator import as_ASFProduct

DATA_DIR = Path(insarhub_sandbox.__file__).parent / "data"

RECORDED_BURST = 372326
RECORDED_SWATH = 3


@cache
def recorded_items() -> tuple[str, ...]:
    with gzip.open(DATA_DIR / "slc_burst_stack.json.gz") as handle:
        items = json.loads(handle.read())
    return tuple(json.dumps(i) for i in items)


def burst_item(date_index: int, number: int, swath: int) -> dict[str, Any]:
    """The recorded burst of date `date_index` as burst `number` of swath `swath`."""
    text = recorded_items()[date_index]
    text = text.replace(str(RECORDED_BURST), f"{number:06d}")
    text = text.replace(f"IW{RECORDED_SWATH}", f"IW{swath}")
    return dict(json.loads(text))


def burst_grid(cells: Iterable[tuple[int, int]], dates: Sequence[int],
               skip: Iterable[tuple[int, int, int]] = ()) -> list[Any]:
    """asf_search products: every (burst number, swath) cell on every recorded date index,
    except the (date index, number, swath) in `skip`."""
    session = ASFSession()
    gone = set(skip)
    return [as_ASFProduct(burst_item(d, n, s), session)
            for d in dates for n, s in cells if (d, n, s) not in gone]
