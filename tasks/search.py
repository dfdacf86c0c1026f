"""Catalog search: AOI + dates -> the stack(s) to process, their scenes persisted per stack.

The search task is cached on its inputs (and the catalog it asks) for `SEARCH_CACHE_TTL`,
with its result persisted: a rerun within that time, even after a crash, asks ASF nothing.
Monitoring runs refresh it (`refresh_cache=True`) since they look for what is new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from insarhub import Downloader
from insarhub.errors import StackError
from insarhub.search.persist import SCENES_FILE, product_item, products_from_items, save_products
from insarhub.search.stacks import stack_dirname
from tasks import artifacts
from tasks.common import (
    ASF_TAG,
    NETWORK_RETRIES,
    PURE_CACHE,
    SEARCH_CACHE_TTL,
    SIDE_EFFECTS,
    artifact_key,
)


def stack_key(value: Any) -> tuple[int, int] | str:
    """A stack key from its JSON form: [path, frame] -> (path, frame); a burst ID as is."""
    if isinstance(value, list | tuple):
        return (int(value[0]), int(value[1]))
    return str(value)


@task(name="search-scenes", tags=[ASF_TAG], cache_policy=PURE_CACHE,
      cache_expiration=SEARCH_CACHE_TTL, persist_result=True, **NETWORK_RETRIES)
def search_scenes(aoi: Any, start: str, end: str | None = None, product: str = "S1_SLC",
                  path_frame: Sequence[int] | str | None = None,
                  filters: Mapping[str, Any] | None = None,
                  catalog: str | None = None) -> list[dict[str, Any]]:
    """Search the catalog for the AOI between `start` and `end`, keep the stack(s) asked for.

    Returns one record per stack: {"key", "name" (its folder), "scenes": [UMM + meta]}.
    `catalog` (INSARHUB_ASF_URL) is part of the cache key only: the same question to another
    catalog is another search.
    """
    logger = get_run_logger()
    dates = {k: v for k, v in (("start", start), ("end", end)) if v}
    downloader = Downloader.create(product, intersectsWith=aoi, **dates)
    if not downloader.search(allow_empty=True):
        return []
    selection: dict[str, Any] = {**dates, **(filters or {})}
    if path_frame is not None:
        selection["path_frame"] = (stack_key(path_frame) if isinstance(path_frame, list | tuple)
                                   else path_frame)
    try:
        downloader.filter(**{k: v for k, v in selection.items() if v is not None})
    except StackError as exc:  # the stack asked for has no scene in this window (yet)
        logger.warning("%s", exc)
        return []
    stacks = [{"key": list(key) if isinstance(key, tuple) else key,
               "name": stack_dirname(key), "scenes": [product_item(p) for p in products]}
              for key, products in downloader.stacks.items() if products]
    logger.info("%d stack(s) with %d scenes for %s .. %s", len(stacks),
                sum(len(s["scenes"]) for s in stacks), start, end or "now")
    return stacks


@task(name="save-stacks", **SIDE_EFFECTS)
def save_stacks(stacks: Sequence[Mapping[str, Any]], workdir: str,
                label: str | None = None) -> dict[str, str]:
    """Write each stack's scenes to `<workdir>/<stack>/scenes.json`; the stack folders.

    Also publishes the stack summary table artifact (`<label>-stack-summary`).
    """
    folders: dict[str, str] = {}
    rows = []
    for stack in stacks:
        folder = Path(workdir) / stack["name"]
        folder.mkdir(parents=True, exist_ok=True)
        products = products_from_items(stack["scenes"])
        save_products(products, folder / SCENES_FILE)
        folders[stack["name"]] = str(folder.resolve())
        dates = sorted(str(p.properties["startTime"])[:10] for p in products)
        first = products[0].properties
        rows.append({"stack": stack["name"], "direction": first.get("flightDirection"),
                     "path": first.get("pathNumber"), "frame": first.get("frameNumber"),
                     "scenes": len(products), "first": dates[0], "last": dates[-1],
                     "folder": folders[stack["name"]]})
    artifacts.table(rows, key=artifact_key(label, "stack-summary"),
                    description=f"Stacks selected for processing{f' ({label})' if label else ''}")
    return folders


def choose_product(aoi: Any, start: str, end: str | None = None, looks: str = "20x4",
                   pairs_per_date: int = 3, catalog: str | None = None) -> str:
    """`product="auto"`: OPERA DISP-S1 (0 credits) where one of its frames covers the AOI for
    the dates; else search SLC frames and bursts over the AOI and take the product whose
    stacks cost fewest HyP3 credits per new date (INSAR_GAMMA frames vs multi-burst groups);
    the comparison is logged and published as the `product-choice` artifact."""
    from insarhub.credits import cheapest_product, product_costs

    logger = get_run_logger()
    disp = _disp_choice(aoi, start, end)
    if disp is not None:
        return disp
    found = {product: search_scenes(aoi, start, end, product, None, catalog=catalog)
             for product in ("S1_SLC", "S1_Burst")}
    stacks = {product: {s["name"]: products_from_items(s["scenes"]) for s in records}
              for product, records in found.items()}
    costs = product_costs(stacks, looks=looks, pairs_per_date=pairs_per_date)
    chosen = cheapest_product(costs)
    rows = [{"product": p, "stacks": c["stacks"], "credits per pair": c["credits_per_pair"],
             f"credits per new date ({pairs_per_date} pairs)": c["credits_per_new_date"],
             "chosen": p == chosen} for p, c in costs.items()]
    artifacts.table(rows, key="product-choice",
                    description=f"product='auto': HyP3 credits per new date at {looks}")
    logger.info("product='auto': %s (%s)", chosen, "; ".join(
        f"{p}: {c['stacks']} stack(s), {c['credits_per_new_date']} credits per new date"
        for p, c in costs.items()))
    return chosen


def _disp_choice(aoi: Any, start: str, end: str | None) -> str | None:
    """"S1_DISP" when a DISP-S1 frame covers the AOI and DISP-S1 can be read here (opera-utils'
    frame database in OPERA_UTILS_DATA_DIR), said and shown; else None (and why, logged)."""
    from insarhub.disp import framedb
    from insarhub.errors import InsarHubError
    from insarhub.search.disp_coverage import find_coverage

    logger = get_run_logger()
    try:
        framedb.configure()  # DISP-S1 is read with opera-utils' frame database, offline
        coverage = find_coverage(aoi, start, end)
    except InsarHubError as exc:  # DISP-S1 unavailable here: the HyP3 products decide
        logger.info("product='auto': DISP-S1 not considered (%s)", exc)
        return None
    if not coverage.covered:
        logger.info("product='auto': %s; choosing among HyP3 products", coverage.line())
        return None
    artifacts.table([{"product": "S1_DISP", "frame": coverage.best,
                      "AOI covered": f"{coverage.frames[coverage.best or '']:.0%}",
                      "products": coverage.products[coverage.best or ""],
                      "credits per new date": 0, "chosen": True}],
                    key="product-choice", description="product='auto': OPERA DISP-S1 covers the AOI")
    logger.info("product='auto': S1_DISP (%s)", coverage.line())
    return "S1_DISP"
