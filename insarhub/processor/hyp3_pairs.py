"""The pairs a HyP3 processor takes, in every form users pass them, as (reference, secondary).

A multi-burst side is one date's bursts: a list of burst names, a `MultiBurstScene`, or the
'+'-joined node name the pair network gives; it is stored as the joined name (the ledger's key)
and sent to HyP3 as the list (`hyp3_jobs.prepare_job`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from insarhub.errors import ConfigError
from insarhub.processor.hyp3_jobs import (
    INSAR_ISCE_MULTI_BURST,
    check_granule,
    check_multi_burst_pair,
)
from insarhub.search.multiburst import join_names


def _granule_of(item: Any) -> Any:
    """A granule name from a string, an asf_search product (sceneName / fileID), a
    multi-burst date, or a list of burst names ('+'-joined)."""
    if isinstance(item, list) and item and all(isinstance(i, str) for i in item):
        return join_names(item)
    props = getattr(item, "properties", None)
    if isinstance(props, Mapping):
        if str(props.get("processingLevel", "")).upper() == "BURST" and props.get("fileID"):
            return props["fileID"]
        return props.get("sceneName") or props.get("fileID")
    return item


def stack_folder(key: Any) -> str:
    """The stack folder name (`insarhub.search.stacks.stack_dirname`)."""
    from insarhub.search.stacks import stack_dirname

    return str(stack_dirname(key))


def _one_side(value: Any) -> bool:
    return isinstance(_granule_of(value), str) and not isinstance(value, tuple)


def normalize_pairs(pairs: Any, job_type: str) -> tuple[list[tuple[str, str]], Any]:
    """(list of (reference, secondary), stack key or None) from the forms users pass.

    Accepted: a list of (reference, secondary); one (reference, secondary); the dict
    `select_pairs` returns with exactly one stack; or its whole (pair_stacks, B, bperp) tuple.
    """
    stack = None
    if isinstance(pairs, tuple) and len(pairs) == 3 and isinstance(pairs[0], Mapping):
        pairs = pairs[0]
    if isinstance(pairs, Mapping):
        keys = list(pairs)
        if len(keys) != 1:
            shown = ", ".join(repr(k) for k in keys[:6]) + (" ..." if len(keys) > 6 else "")
            raise ConfigError(
                f"pairs holds {len(keys)} stacks ({shown}); a processor works on one stack: "
                f"pass one of them, e.g. pairs=pair_stacks[{keys[0]!r}]" if keys else
                "pairs is an empty dict: select_pairs found no stack")
        stack = keys[0]
        pairs = pairs[stack]
    if isinstance(pairs, tuple) and len(pairs) == 2 and all(_one_side(p) for p in pairs):
        pairs = [pairs]
    if isinstance(pairs, str | bytes) or not isinstance(pairs, Iterable):
        raise ConfigError(f"pairs={pairs!r:.80} must be a list of (reference, secondary) granule "
                          "names or the dict select_pairs returns")
    out: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for i, pair in enumerate(pairs):
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ConfigError(f"pairs[{i}]={pair!r:.120} must be a (reference, secondary) pair")
        reference = check_granule(job_type, _granule_of(pair[0]), f"pairs[{i}][0]")
        secondary = check_granule(job_type, _granule_of(pair[1]), f"pairs[{i}][1]")
        if reference == secondary:
            raise ConfigError(f"pairs[{i}] uses {reference} twice; a pair needs two dates")
        if job_type == INSAR_ISCE_MULTI_BURST:
            check_multi_burst_pair(reference, secondary, f"pairs[{i}]")
        if (reference, secondary) not in seen:
            seen.add((reference, secondary))
            out.append((reference, secondary))
    return out, stack
