"""Pair networks: select one per stack, extend it with new dates, show it as an artifact.

Selection and extension are pure (scenes + options -> pairs): cached on their inputs and
source, results persisted, so a rerun never recomputes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from insarhub.network.options import DEFAULT_NEW_DATE_NEIGHBOURS
from insarhub.search.persist import products_from_items
from tasks import artifacts
from tasks.common import PURE_CACHE, SIDE_EFFECTS, artifact_key
from tasks.search import stack_key


@task(name="select-pairs", cache_policy=PURE_CACHE, persist_result=True)
def select_stack_pairs(stack: Mapping[str, Any], options: Mapping[str, Any] | None = None
                       ) -> dict[str, Any]:
    """The connected SBAS network of one stack: {"stack", "pairs", "B", "scene_bperp"}."""
    from insarhub.network import select_pairs

    logger = get_run_logger()
    key = stack_key(stack["key"])
    products = products_from_items(stack["scenes"])
    pair_stacks, baselines, scene_bperp = select_pairs({key: products}, **dict(options or {}))
    pairs = [list(p) for p in pair_stacks.get(key, [])]
    logger.info("%s: %d pairs over %d scenes", stack["name"], len(pairs), len(products))
    return {"stack": stack["name"], "key": stack["key"], "pairs": pairs, "B": baselines,
            "scene_bperp": scene_bperp}


@task(name="extend-pairs", cache_policy=PURE_CACHE, persist_result=True)
def extend_stack_pairs(stack: Mapping[str, Any], existing_pairs: Sequence[Sequence[str]],
                       new_scenes: Sequence[str], n_nearest: int = DEFAULT_NEW_DATE_NEIGHBOURS,
                       options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Pairs that join `new_scenes` to the existing network (nearest predecessors + bridges).

    Returns {"stack", "pairs" (only the new ones), "kinds", "network" (all pairs after)}.
    """
    from insarhub.network.baselines import scene_name
    from insarhub.network.update import extend_pairs
    from insarhub.search.multiburst import date_scenes

    logger = get_run_logger()
    products = date_scenes(products_from_items(stack["scenes"]), str(stack["name"]))
    wanted = set(new_scenes)
    old = [p for p in products if scene_name(p) not in wanted]
    new = [p for p in products if scene_name(p) in wanted]
    opts = {k: v for k, v in dict(options or {}).items() if k != "n_nearest"}
    update = extend_pairs([(p[0], p[1]) for p in existing_pairs], old, new, n_nearest=n_nearest,
                          **opts)
    pairs = [list(p) for p in update.pairs]
    logger.info("%s: %d new date(s) -> %d new pairs (%s)", stack["name"], len(new), len(pairs),
                ", ".join(sorted(set(update.kinds.values()))) or "none")
    return {"stack": stack["name"], "pairs": pairs,
            "kinds": {f"{a}|{b}": kind for (a, b), kind in update.kinds.items()},
            "network": [list(p) for p in update.network], "scene_bperp": update.scene_bperp,
            "left_out": list(update.left_out)}


@task(name="network-figure", **SIDE_EFFECTS)
def network_figure(networks: Sequence[Mapping[str, Any]], workdir: str,
                   label: str | None = None) -> str | None:
    """Draw the pair network(s) to `<workdir>/pair_network.png` and show it as an artifact
    (`<label>-pair-network`)."""
    from insarhub.utils import plot_pair_network

    selected = [n for n in networks if n["pairs"]]
    if not selected:
        return None
    pair_stacks = {stack_key(n["key"]): [(p[0], p[1]) for p in n["pairs"]] for n in selected}
    baselines = _merge([n["B"] for n in selected])
    scene_bperp = _merge([n["scene_bperp"] for n in selected])
    path = Path(workdir) / "pair_network.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = plot_pair_network(pair_stacks, baselines, scene_bperp, save_path=str(path))
    _close(figure)
    counts = ", ".join(f"{n['stack']}: {len(n['pairs'])} pairs" for n in selected)
    artifacts.figure(path, key=artifact_key(label, "pair-network"),
                     title=f"Interferogram pair network{f' of {label}' if label else ''}",
                     description=counts)
    return str(path.resolve())


def _merge(parts: Sequence[Any]) -> Any:
    """One mapping from per-stack mappings (a single part is returned as it is)."""
    if len(parts) == 1 or not all(isinstance(p, Mapping) for p in parts):
        return parts[0]
    merged: dict[Any, Any] = {}
    for part in parts:
        merged.update(part)
    return merged


def _close(figure: Any) -> None:
    """Forget the figure (pyplot keeps the ones it made)."""
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(figure)
