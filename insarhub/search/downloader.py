"""`Downloader`: search ASF for Sentinel-1 scenes over an AOI, group them into stacks, filter,
summarise, draw, save and download them.

    s1 = Downloader.create('S1_SLC', intersectsWith=[-113.05, 37.74, -112.68, 38.00])
    s1.search(); s1.summary(); s1.footprint(save_path='footprints.png')
    stacks = s1.filter(path_frame=(100, 466), start='2020-01-01', end='2020-12-31')
    s1.download()                       # ./p100_f466/slc/*.zip (or workdir=...), verified
    s1.reset()                          # the whole search again

Extra keyword arguments are asf_search keywords (start, end, relativeOrbit, frame,
flightDirection, ...). The catalog is ASF's, or `INSARHUB_ASF_URL` (e.g. the sandbox).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import asf_search
import pandas as pd
import shapely
from asf_search import ASFProduct
from matplotlib.figure import Figure
from shapely.geometry import shape

from insarhub import console, settings
from insarhub.aoi import load_aoi
from insarhub.errors import CatalogUnavailableError, ConfigError, SearchError, StackError
from insarhub.search import filters, persist
from insarhub.search.asf import search_options
from insarhub.search.multiburst import (
    MultiBurstGroups,
    complete_dates,
    group_bursts,
    is_multi_key,
    stack_cells,
)
from insarhub.search.stacks import (
    StackKey,
    Stacks,
    acquisition_date,
    count_scenes,
    describe,
    group_products,
    scene_name,
    stack_dirname,
)
from insarhub.transfer import FileSpec, default_session, download_files, require_credentials

log = logging.getLogger(__name__)

# keywords that are enough to bound a search without an AOI
_BOUNDING_KEYWORDS = ("granule_list", "product_list", "fullBurstID", "relativeBurstID",
                      "absoluteBurstID", "groupID")


class Downloader:
    """Base for Sentinel-1 downloaders; subclasses fix the product type."""

    defaults: ClassVar[dict[str, Any]] = {}
    product_label: ClassVar[str] = "scenes"
    data_folder: ClassVar[str] = "slc"

    def __init__(self, intersectsWith: Any = None, *, workdir: str | Path | None = None,  # noqa: N803
                 aoi: Any = None, **keywords: Any) -> None:
        value = intersectsWith if intersectsWith is not None else aoi
        self.aoi = load_aoi(value) if value is not None else None
        self.workdir = Path(workdir) if workdir is not None else None
        self.keywords = {**self.defaults, **keywords}
        if self.aoi is None and not any(k in self.keywords for k in _BOUNDING_KEYWORDS):
            raise ConfigError(f"{type(self).__name__} needs intersectsWith= (an AOI) or one of "
                              f"{', '.join(_BOUNDING_KEYWORDS)}")
        self._check_keywords()
        self.results: Stacks = {}
        self._stacks: Stacks = {}
        self.searched_at: datetime | None = None

    # -- search ----------------------------------------------------------------------------------
    def _check_keywords(self) -> None:
        try:
            asf_search.ASFSearchOptions(**self.keywords)
        except KeyError as exc:
            raise ConfigError(f"unknown search keyword {exc.args[0] if exc.args else exc}; extra "
                              "keywords are asf_search's (start, end, relativeOrbit, frame, "
                              "flightDirection, polarization, ...)") from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"bad search keyword value: {exc}") from None

    def query(self) -> dict[str, Any]:
        """The search as asf_search keywords (the AOI as WKT)."""
        query = dict(self.keywords)
        if self.aoi is not None:
            query["intersectsWith"] = self.aoi.wkt
        return query

    def search(self, allow_empty: bool = False) -> Stacks:
        """Search the catalog, group into stacks, print the count and how to pick a stack."""
        try:
            options = search_options(**self.query())
            results = asf_search.search(opts=options)
        except asf_search.ASFSearchError as exc:
            raise SearchError(f"catalog search failed: {settings.redact(str(exc))}") from None
        except Exception as exc:  # requests/urllib3 errors after retries, bad catalog answers
            where = settings.asf_url() or f"https://{settings.ASF_DEFAULT_HOST}"
            raise CatalogUnavailableError(f"catalog search at {where} failed ({type(exc).__name__}: "
                              f"{settings.redact(str(exc))[:300]})") from None
        self.results = self.group(results)
        self._stacks = dict(self.results)
        self.searched_at = datetime.now(UTC)
        if not self.results and not allow_empty:
            raise SearchError(f"no {self.product_label} found for {self._query_text()}; widen the "
                              "dates or the AOI, or check INSARHUB_ASF_URL")
        console.show(self._found_line())
        return self.stacks

    def group(self, products: Iterable[ASFProduct]) -> Stacks:
        """Search results grouped into stacks (SLCs: by (path, frame))."""
        return group_products(products)

    def _query_text(self) -> str:
        parts = [f"{k}={v!r}" for k, v in self.keywords.items() if k not in self.defaults]
        if self.aoi is not None:
            parts.insert(0, f"AOI {[round(v, 4) for v in self.aoi.bounds]}")
        return ", ".join(parts) or "the query"

    def _found_line(self) -> str:
        stacks = self._stacks
        line = f"Found {count_scenes(stacks)} {self.product_label} in {len(stacks)} stacks"
        if stacks:
            biggest = max(stacks, key=lambda k: len(stacks[k]))
            line += (f"\nPick stacks with .filter(path_frame={describe(biggest)}) "
                     "(see .summary() or .footprint() for all of them); .download() with no "
                     f"workdir makes one subfolder per stack under {self._workdir(None)}")
        return line

    @property
    def stacks(self) -> Stacks:
        """The current (filtered) stacks: {key: [products in time order]}."""
        return dict(self._stacks)

    def _require_results(self) -> None:
        if not self.results:
            raise SearchError("no search results yet: call .search() first")

    # -- filter ----------------------------------------------------------------------------------
    def filter(self, path_frame: Any = None, start: Any = None, end: Any = None,
               season: Any = None, polarization: Any = None, flight_direction: str | None = None,
               min_aoi_coverage: float | None = None, latest_n: int | None = None,
               platform: Any = None, min_scenes: int | None = None,
               exclude: Iterable[Any] | None = None) -> Stacks:
        """Narrow the current stacks and return them, as `search()` does.

        Filters apply to the current stacks, so calling `filter` again narrows further;
        `.reset()` restores the whole search.
        """
        self._require_results()
        stacks = self.stacks
        if path_frame is not None:
            stacks = filters.by_stacks(stacks, path_frame)
        if start is not None or end is not None:
            stacks = filters.by_dates(stacks, start, end)
        if season is not None:
            stacks = filters.by_season(stacks, season)
        if polarization is not None:
            stacks = filters.by_values(stacks, "polarization", "polarization", polarization)
        if flight_direction is not None:
            stacks = filters.by_direction(stacks, flight_direction)
        if platform is not None:
            stacks = filters.by_values(stacks, "platform", "platform", platform,
                                       normalise=lambda v: v.upper().replace("SENTINEL-", "S"))
        if exclude is not None:
            stacks = filters.exclude(stacks, exclude)
        if min_aoi_coverage is not None:
            stacks = filters.by_coverage(stacks, self.aoi, min_aoi_coverage)
        if latest_n is not None:
            stacks = filters.latest(stacks, latest_n)
        stacks = self._whole_dates(stacks)
        if min_scenes is not None:
            stacks = filters.min_scenes(stacks, min_scenes)
        self._stacks = stacks
        console.show(self._found_line().splitlines()[0].replace("Found", "Kept"))
        return self.stacks

    def _whole_dates(self, stacks: Stacks) -> Stacks:
        """After a filter: what a stack still holds is processable (multi-burst: whole dates)."""
        return stacks

    def reset(self) -> Stacks:
        """Back to the full search results (returned, as `search()` returns them)."""
        self._require_results()
        self._stacks = dict(self.results)
        console.show(self._found_line().splitlines()[0].replace("Found", "Back to"))
        return self.stacks

    # -- look ------------------------------------------------------------------------------------
    def summary(self, show: bool = True) -> pd.DataFrame:
        """The stack table (direction, path, frame or bursts, dates, first and last date),
        printed."""
        self._require_results()
        rows = [self._summary_row(key, products) for key, products in self._stacks.items()]
        table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
        if show:
            console.show(format_summary(table))
        return table

    def _summary_row(self, key: StackKey, products: Sequence[ASFProduct]) -> dict[str, Any]:
        props = products[0].properties
        days = sorted({acquisition_date(p).isoformat() for p in products})
        footprint = shapely.unary_union([shape(p.geometry) for p in products
                                         if p.geometry and p.geometry.get("coordinates")])
        return {
            "flight_direction": str(props.get("flightDirection") or "").upper(),
            "path": int(props["pathNumber"]),
            "frame": None if isinstance(key, str) else key[1],
            "stack": stack_dirname(key),
            "count": len(products),
            "dates": len(days),
            "bursts": None, "swaths": None, "left_out": 0,
            "first": days[0],
            "last": days[-1],
            "footprint": [round(v, 3) for v in footprint.bounds] if not footprint.is_empty
            else None,
        }

    def footprint(self, save_path: str | Path | None = None) -> Figure:
        """Map of each stack's footprint with the AOI and scene counts; `save_path` writes a PNG."""
        self._require_results()
        from insarhub.search.plot import footprint_figure

        figure = footprint_figure(self._stacks, self.aoi)
        if save_path is not None:
            Path(save_path).parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(save_path, dpi=120, bbox_inches="tight")
        return figure

    # -- persist ---------------------------------------------------------------------------------
    def save(self, workdir: str | Path | None = None) -> dict[StackKey, Path]:
        """Write each current stack to `<workdir>/<stack>/scenes.json` (UMM + meta)."""
        self._require_results()
        return persist.save_stacks(self._stacks, self._workdir(workdir), self._record())

    def _record(self) -> dict[str, Any]:
        """What `search.json` says about this search (no secrets: keywords and the host only)."""
        return {"type": type(self).__name__, "query": self.query(),
                "catalog": settings.asf_url() or settings.ASF_DEFAULT_HOST,
                "searched_at": self.searched_at.isoformat() if self.searched_at else None}

    @classmethod
    def load(cls, workdir: str | Path, stacks: Iterable[Any] | None = None,
             **keywords: Any) -> Downloader:
        """A downloader holding the results saved under `workdir` (no new search)."""
        loaded = persist.load_stacks(workdir, stacks)
        aoi = keywords.pop("intersectsWith", None)
        if aoi is None:
            saved = persist.read_search(workdir)
            aoi = (saved.get("query") or {}).get("intersectsWith") if saved else None
        names = [scene_name(p) for products in loaded.values() for p in products]
        self = cls(aoi, workdir=workdir, **({"granule_list": names} if aoi is None else {}),
                   **keywords)
        self.results = loaded
        self._stacks = dict(loaded)
        return self

    def _workdir(self, workdir: str | Path | None) -> Path:
        """`workdir`, else the downloader's, else the current directory (as the seed does)."""
        root = Path(workdir) if workdir is not None else self.workdir
        return root if root is not None else Path.cwd()

    # -- download --------------------------------------------------------------------------------
    def download(self, scenes: Iterable[Any] | None = None, workdir: str | Path | None = None,
                 max_workers: int = 4, progress: bool = True,
                 retries: int = 5) -> dict[StackKey, list[Path]]:
        """Download the current stacks (or `scenes`: products or scene names) into
        `<workdir>/<stack>/slc/` (bursts: `bursts/`), verified, resumable; saves scenes.json."""
        self._require_results()
        root = self._workdir(workdir)
        chosen = self._chosen(scenes)
        specs: list[FileSpec] = []
        owners: list[StackKey] = []
        for key, products in chosen.items():
            folder = root / stack_dirname(key) / self.data_folder
            for product in products:
                specs.append(file_spec(product, folder))
                owners.append(key)
        require_credentials(s.url for s in specs)
        persist.save_stacks(chosen, root, self._record())
        session = default_session(max_workers)
        try:
            paths = download_files(specs, session=session, max_workers=max_workers,
                                   progress=progress, retries=retries)
        finally:
            session.close()
        done: dict[StackKey, list[Path]] = {}
        for key, path in zip(owners, paths, strict=True):
            done.setdefault(key, []).append(path)
        console.show(f"Downloaded {len(paths)} file(s) into {root}")
        return done

    def _chosen(self, scenes: Iterable[Any] | None) -> Stacks:
        if scenes is None:
            return self.stacks
        wanted = {s if isinstance(s, str) else scene_name(s) for s in scenes}
        chosen = filters._keep(self._stacks, lambda p: scene_name(p) in wanted
                               or p.properties.get("fileID") in wanted)
        found = {scene_name(p) for ps in chosen.values() for p in ps} | {
            str(p.properties.get("fileID")) for ps in chosen.values() for p in ps}
        missing = sorted(wanted - found)
        if missing:
            raise StackError(f"scenes not in the current results: {', '.join(missing[:5])}"
                             f"{' ...' if len(missing) > 5 else ''}")
        return chosen


def file_spec(product: ASFProduct, folder: Path) -> FileSpec:
    """What to fetch for a product, and how to check it (size, MD5 when ASF lists one)."""
    props = product.properties
    url = props.get("url")
    if not url:
        raise SearchError(f"{scene_name(product)} has no download URL in its metadata")
    size = props.get("bytes")
    md5 = props.get("md5sum")
    filename = props.get("fileName") or url.rsplit("/", 1)[-1]
    return FileSpec(url=url, path=folder / filename,
                    size=int(float(size)) if size not in (None, "", "NA") else None,
                    md5=str(md5) if md5 and str(md5) not in ("NA", "None") else None)


SUMMARY_COLUMNS = ["flight_direction", "path", "frame", "stack", "count", "dates", "bursts",
                   "swaths", "left_out", "first", "last", "footprint"]


def format_summary(table: pd.DataFrame) -> str:
    """The stack table as printed by `summary()`: one block per flight direction."""
    if table.empty:
        return "No stacks."
    bursts = bool(table["frame"].isna().all())
    lines = []
    for direction, block in table.groupby("flight_direction", sort=True):
        lines.append(f"{direction}:")
        if bursts:
            lines.append(f"  {'stack':<26} {'bursts':>6} {'swaths':>7} {'dates':>6} "
                         f"{'left out':>8}   first      -> last        footprint")
        else:
            lines.append(f"  {'path':>5} {'frame':>6} {'count':>6}   first      -> last")
        for row in block.itertuples():
            if bursts:
                lines.append(f"  {row.stack:<26} {_dash(row.bursts):>6} {_dash(row.swaths):>7} "
                             f"{row.dates:>6} {row.left_out:>8}   {row.first} -> {row.last}  "
                             f"{row.footprint}")
            else:
                lines.append(f"  {row.path:>5} {int(row.frame):>6} {row.count:>6}   "
                             f"{row.first} -> {row.last}")
    if bursts:
        lines.append(f"{int(table['count'].sum())} bursts on {int(table['dates'].sum())} "
                     f"stack dates in {len(table)} stacks")
    else:
        lines.append(f"{int(table['count'].sum())} scenes in {len(table)} stacks")
    return "\n".join(lines)


def _dash(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and value != value) else str(value)


class S1SLCSearch(Downloader):
    """Sentinel-1 IW SLCs, stacks by (relative orbit, frame)."""

    defaults: ClassVar[dict[str, Any]] = {
        "dataset": "SENTINEL-1", "processingLevel": "SLC", "beamMode": "IW",
        "polarization": ["VV", "VV+VH"],
    }
    product_label = "scenes"
    data_folder = "slc"


class S1BurstSearch(Downloader):
    """Sentinel-1 IW bursts (SLC-BURST), grouped per relative orbit into multi-burst stacks.

    The bursts over the AOI of each relative orbit form one stack (at most 15 burst-swaths,
    contiguous, as HyP3's INSAR_ISCE_MULTI_BURST takes them; more are split and said, the
    stack covering most of the AOI first), keyed
    like "p100_IW1-3_213524-213530"; a date missing a burst of the set is left out and
    reported (`left_out`). See `insarhub.search.multiburst`.
    """

    defaults: ClassVar[dict[str, Any]] = {
        "dataset": "SLC-BURST", "processingLevel": "BURST", "polarization": ["VV"],
    }
    product_label = "bursts"
    data_folder = "bursts"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grouping = MultiBurstGroups()

    @property
    def left_out(self) -> dict[str, dict[str, list[str]]]:
        """Per stack, the dates left out and the bursts of the set each one lacks."""
        return {k: dict(v) for k, v in self.grouping.left_out.items() if v}

    def group(self, products: Iterable[ASFProduct]) -> Stacks:
        self.grouping = group_bursts(products)
        if self.grouping.text():
            console.show(self.grouping.text())
        stacks: Stacks = {k: v for k, v in self.grouping.stacks.items()}
        order = {k: _burst_order(k, stacks[k], self.aoi) for k in stacks}
        return {k: stacks[k] for k in sorted(stacks, key=order.__getitem__)}

    def _whole_dates(self, stacks: Stacks) -> Stacks:
        out: Stacks = {}
        for key, products in stacks.items():
            if not isinstance(key, str) or not is_multi_key(key):
                out[key] = products
                continue
            kept, missing = complete_dates(key, products, self.grouping.bursts.get(key, ()))
            if missing:
                console.show(f"{key}: {len(missing)} date(s) no longer hold every burst of the "
                             f"set and are left out: {', '.join(list(missing)[:5])}")
                self.grouping.left_out.setdefault(key, {}).update(missing)
            if kept:
                out[key] = kept
        return out

    def _summary_row(self, key: StackKey, products: Sequence[ASFProduct]) -> dict[str, Any]:
        row = super()._summary_row(key, products)
        if isinstance(key, str) and is_multi_key(key):
            cells = stack_cells(products)
            swaths = sorted({s for _, s in cells})
            row.update(bursts=len(cells), swaths=",".join(f"IW{s}" for s in swaths),
                       left_out=len(self.grouping.left_out.get(key, {})))
        return row


def _burst_order(key: StackKey, products: Sequence[ASFProduct], aoi: Any
                 ) -> tuple[int, str, float, str]:
    """Ascending orbits first, then by orbit; the stacks an orbit was split into (an AOI of
    more than 15 burst-swaths), the one covering most of the AOI first: "the stack of an orbit"
    (a monitoring config's `stack: <orbit>`) is then the one that sees most of the AOI."""
    direction = str(products[0].properties.get("flightDirection") or "")
    covered = 0.0
    if aoi is not None and aoi.area > 0:
        union = shapely.union_all([filters.footprint(p) for p in products])
        covered = float(union.intersection(aoi).area / aoi.area)
    return (0 if direction.upper().startswith("A") else 1, str(key).split("_", 1)[0],
            -round(covered, 6), str(key))
