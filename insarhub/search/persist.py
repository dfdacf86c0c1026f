"""Search results on disk: the exact CMR `{"umm", "meta"}` of each product, rebuilt on load.

`results.geojson()` would lose the UMM (and with it the state vectors for baselines), so each
stack's `scenes.json` keeps the raw items and `load_products` rebuilds the very same asf_search
product classes (S1Product, S1BurstProduct) from them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from asf_search import ASFProduct, ASFSession
from asf_search.search.search_generator import as_ASFProduct

from insarhub.errors import SearchError, StackError
from insarhub.search.multiburst import is_multi_key
from insarhub.search.stacks import StackKey, Stacks, group_products, parse_stack, stack_dirname

SCENES_FILE = "scenes.json"
SEARCH_FILE = "search.json"


def product_item(product: ASFProduct) -> dict[str, Any]:
    """A product as its exact CMR record (`{"umm", "meta"}`): what is saved and passed on."""
    return {"umm": product.umm, "meta": product.meta}


def products_from_items(items: Iterable[Mapping[str, Any]],
                        session: ASFSession | None = None) -> list[ASFProduct]:
    """The asf_search products of CMR records, as the same classes (baselines usable)."""
    session = session or ASFSession()
    return [as_ASFProduct(dict(item), session) for item in items]


def write_json(path: Path, data: Any) -> Path:
    """Write JSON atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=1, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_products(products: Iterable[ASFProduct], path: Path | str) -> Path:
    """Save products as a JSON list of `{"umm": ..., "meta": ...}`."""
    return write_json(Path(path), [product_item(p) for p in products])


def load_products(path: Path | str, session: ASFSession | None = None) -> list[ASFProduct]:
    """Products saved by `save_products`, rebuilt as the same asf_search classes."""
    path = Path(path)
    try:
        items = json.loads(path.read_text())
    except FileNotFoundError:
        raise SearchError(f"no saved search results at {path}; run the search first") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise SearchError(f"saved search results {path} are unreadable ({exc})") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) and "umm" in i for i in items):
        raise SearchError(f"{path} is not a list of {{'umm', 'meta'}} search results")
    return products_from_items(items, session)


def save_stacks(stacks: Mapping[StackKey, Sequence[ASFProduct]], workdir: Path | str,
                query: dict[str, Any] | None = None) -> dict[StackKey, Path]:
    """Write `<workdir>/<stack>/scenes.json` per stack and `<workdir>/search.json` (the query)."""
    workdir = Path(workdir)
    written = {key: save_products(products, workdir / stack_dirname(key) / SCENES_FILE)
               for key, products in stacks.items()}
    summary = {"stacks": {stack_dirname(k): len(v) for k, v in stacks.items()}, **(query or {})}
    write_json(workdir / SEARCH_FILE, summary)
    return written


def stack_dirs(workdir: Path | str) -> list[Path]:
    """Stack folders under `workdir` that hold saved search results."""
    return sorted(p.parent for p in Path(workdir).glob(f"*/{SCENES_FILE}"))


def load_stack(stack_dir: Path | str, session: ASFSession | None = None) -> list[ASFProduct]:
    """The saved scenes of one stack folder (e.g. `work/p100_f466`)."""
    return load_products(Path(stack_dir) / SCENES_FILE, session)


def load_stacks(workdir: Path | str, stacks: Iterable[str | Sequence[int]] | None = None,
                session: ASFSession | None = None) -> Stacks:
    """Saved stacks under `workdir` (all, or the ones named), grouped like a fresh search."""
    workdir = Path(workdir)
    if stacks is None:
        dirs = stack_dirs(workdir)
        if not dirs:
            raise SearchError(f"no saved search results under {workdir}; search and save first")
    else:
        dirs = [workdir / stack_dirname(parse_stack(s)) for s in stacks]
        missing = [d.name for d in dirs if not (d / SCENES_FILE).is_file()]
        if missing:
            known = ", ".join(d.name for d in stack_dirs(workdir)) or "none"
            raise StackError(f"no saved stack {', '.join(missing)} under {workdir}; saved: {known}")
    out: Stacks = {}
    singles = []
    for folder in dirs:
        products = load_stack(folder, session)
        if is_multi_key(folder.name):  # a multi-burst stack keeps its folder's key
            out[folder.name] = products
        else:
            singles += products
    return {**group_products(singles), **out}


def read_search(workdir: Path | str) -> dict[str, Any] | None:
    """The saved query of `workdir` (`search.json`), if any."""
    path = Path(workdir) / SEARCH_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
