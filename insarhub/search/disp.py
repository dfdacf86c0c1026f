"""`S1DispDownloader` ('S1_DISP'): OPERA DISP-S1 displacement products, grouped by frame.

    d = Downloader.create('S1_DISP', intersectsWith=AOI, start='2020-01-01', end='2020-12-31')
    d.search(); d.summary(); d.footprint()
    d.filter(frame=31466)            # or 'F31466'; start/end/latest_n as well
    d.download()                     # ./F31466/disp/*.nc and ./F31466/static/*.tif, verified

asf_search's own DISP-S1 support does the search (dataset OPERA-S1, processingLevel DISP-S1:
`OPERAS1Product` with `frameNumber` and `OperaDispStackID`; static layers DISP-S1-STATIC).
CMR matches a product when its reference-to-secondary span overlaps the dates asked, so
products are kept by their secondary date only, as opera-utils does. Each frame is one
"stack", keyed "F<frame>" (e.g. "F31466"), holding the products in secondary-date order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

import asf_search
import shapely
from asf_search import ASFProduct
from shapely.geometry import shape

from insarhub import settings
from insarhub.console import show
from insarhub.disp import files as disp_files
from insarhub.errors import ConfigError
from insarhub.search.asf import search_options
from insarhub.search.downloader import Downloader
from insarhub.search.stacks import StackKey, Stacks
from insarhub.transfer import FileSpec, require_credentials

log = logging.getLogger(__name__)


def frame_key(frame: int | str) -> str:
    """'F31466' from 31466, '31466' or 'F31466'."""
    text = str(frame).strip().upper().removeprefix("F")
    if not text.isdigit():
        raise ConfigError(f"frame={frame!r} is not an OPERA frame number (e.g. 31466 or 'F31466')")
    return f"F{int(text):05d}"


def dates_of(product: ASFProduct) -> tuple[date, date]:
    """(reference, secondary) acquisition dates, from the product's file name."""
    ref, sec = disp_files.parse_name(str(product.properties["fileID"]))[1:3]
    return ref.date(), sec.date()


def _day(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ConfigError(f"date {value!r} is not YYYY-MM-DD") from None


class S1DispDownloader(Downloader):
    """OPERA L3 DISP-S1 products (0 HyP3 credits), one stack per OPERA frame."""

    defaults: ClassVar[dict[str, Any]] = {"dataset": "OPERA-S1", "processingLevel": "DISP-S1"}
    product_label = "DISP-S1 products"
    data_folder = "disp"

    def __init__(self, intersectsWith: Any = None, **kwargs: Any) -> None:  # noqa: N803
        self.start = _day(kwargs.get("start"))
        self.end = _day(kwargs.get("end"))
        super().__init__(intersectsWith, **kwargs)
        self.statics: dict[str, ASFProduct] = {}

    # -- search ------------------------------------------------------------------------------
    def group(self, products: Iterable[ASFProduct]) -> Stacks:
        groups: dict[str, dict[str, ASFProduct]] = {}
        for product in products:
            if product.properties.get("processingLevel") != "DISP-S1":
                continue
            sec = dates_of(product)[1]
            if (self.start and sec < self.start) or (self.end and sec > self.end):
                continue
            key = frame_key(product.properties["frameNumber"])
            groups.setdefault(key, {})[str(product.properties["fileID"])] = product
        stacks: Stacks = {}
        for key in sorted(groups):
            stacks[key] = sorted(disp_files.latest_versions(groups[key].values()),
                                 key=lambda p: dates_of(p)[::-1])
        return stacks

    def search(self, allow_empty: bool = False) -> Stacks:
        stacks = super().search(allow_empty=allow_empty)
        if stacks:
            self.statics = self._search_statics(list(stacks))
        return stacks

    def _search_statics(self, keys: Sequence[StackKey]) -> dict[str, ASFProduct]:
        """The DISP-S1-STATIC granule (LOS, DEM, layover/shadow) of each frame."""
        query: dict[str, Any] = {"dataset": "OPERA-S1", "processingLevel": "DISP-S1-STATIC"}
        if self.aoi is not None:
            query["intersectsWith"] = self.aoi.wkt
        try:
            found = asf_search.search(opts=search_options(**query))
        except Exception as exc:  # a missing static layer only loses the geometry file
            log.warning("DISP-S1-STATIC search failed (%s); no geometry layers",
                        settings.redact(str(exc))[:200])
            return {}
        statics = {frame_key(p.properties["frameNumber"]): p for p in found}
        return {str(k): statics[str(k)] for k in keys if str(k) in statics}

    # -- filter ------------------------------------------------------------------------------
    def filter(self, frame: Any = None, start: Any = None, end: Any = None,  # type: ignore[override]
               latest_n: int | None = None, min_aoi_coverage: float | None = None,
               **unsupported: Any) -> Stacks:
        """Narrow the current frames (`frame=` one or several), by secondary date, or to the
        `latest_n` newest products; returns the stacks, as `search()` does."""
        if unsupported:
            raise ConfigError(f"DISP-S1 filter takes frame, start, end, latest_n and "
                              f"min_aoi_coverage; not {', '.join(sorted(unsupported))}")
        self._require_results()
        stacks = self.stacks
        if frame is not None:
            wanted = {frame_key(f) for f in (frame if isinstance(frame, list | tuple | set)
                                             else [frame])}
            unknown = sorted(wanted - set(map(str, stacks)))
            if unknown:
                raise ConfigError(f"frame {', '.join(unknown)} is not in the results; frames: "
                                  f"{', '.join(map(str, stacks)) or 'none'}")
            stacks = {k: v for k, v in stacks.items() if k in wanted}
        first, last = _day(start), _day(end)
        if first or last:
            stacks = {k: [p for p in v if (not first or dates_of(p)[1] >= first)
                          and (not last or dates_of(p)[1] <= last)] for k, v in stacks.items()}
        if latest_n is not None:
            stacks = {k: v[-int(latest_n):] for k, v in stacks.items()}
        if min_aoi_coverage is not None:
            stacks = {k: v for k, v in stacks.items()
                      if self.coverage(k) >= float(min_aoi_coverage)}
        self._stacks = {k: v for k, v in stacks.items() if v}
        show(self._found_line().splitlines()[0].replace("Found", "Kept"))
        return self.stacks

    def coverage(self, key: StackKey) -> float:
        """Share of the AOI inside the frame's footprint (1.0 without an AOI)."""
        if self.aoi is None:
            return 1.0
        products = self._stacks.get(key) or self.results.get(key) or []
        shapes = [shape(p.geometry) for p in products[:1] if p.geometry]
        if not shapes or self.aoi.area == 0:
            return 0.0
        return float(shapes[0].intersection(self.aoi).area / self.aoi.area)

    def _found_line(self) -> str:
        stacks = self._stacks
        line = (f"Found {sum(len(v) for v in stacks.values())} {self.product_label} in "
                f"{len(stacks)} OPERA frames")
        if stacks:
            biggest = max(stacks, key=lambda k: len(stacks[k]))
            line += (f"\nPick a frame with .filter(frame={str(biggest)[1:].lstrip('0')}) (see "
                     ".summary() or .footprint()); .download() fetches the NetCDF products and "
                     "the frame's static layers (0 HyP3 credits)")
        return line

    def _summary_row(self, key: StackKey, products: Sequence[ASFProduct]) -> dict[str, Any]:
        props = products[0].properties
        secondaries = sorted({dates_of(p)[1].isoformat() for p in products})
        references = sorted({dates_of(p)[0].isoformat() for p in products})
        footprint = shapely.unary_union([shape(p.geometry) for p in products if p.geometry])
        return {
            "flight_direction": str(props.get("flightDirection") or "").upper(),
            "path": int(props.get("pathNumber") or 0), "frame": int(str(key)[1:]),
            "stack": str(key), "count": len(products), "dates": len(secondaries) + 1,
            "bursts": None, "swaths": None, "left_out": 0,
            "first": references[0], "last": secondaries[-1],
            "footprint": [round(v, 3) for v in footprint.bounds] if not footprint.is_empty else None,
        }

    # -- download ----------------------------------------------------------------------------
    def download(self, scenes: Iterable[Any] | None = None, workdir: str | Path | None = None,
                 max_workers: int = 4, progress: bool = True,
                 retries: int = 5) -> dict[StackKey, list[Path]]:
        """Fetch each frame's NetCDF products into `<workdir>/F<frame>/disp/` and its static
        layers into `.../static/`; every file is checked (size, MD5, opened), a bad one is
        fetched once more, and a file still bad is named in a `DispFileError`."""
        from insarhub.search import persist

        self._require_results()
        root = self._workdir(workdir)
        chosen = self._chosen(scenes)
        specs: dict[StackKey, list[FileSpec]] = {}
        for key, products in chosen.items():
            folder = root / str(key)
            specs[key] = [disp_files.file_spec(p, folder / self.data_folder) for p in products]
            static = self.statics.get(str(key))
            if static is not None:
                specs[key] += disp_files.static_specs(static, folder / "static")
        require_credentials(s.url for ss in specs.values() for s in ss)
        persist.save_stacks(chosen, root, self._record())
        done = {key: disp_files.fetch_checked(s, max_workers=max_workers, progress=progress,
                                              retries=retries) for key, s in specs.items()}
        show(f"Downloaded {sum(len(v) for v in done.values())} file(s) into {root}")
        return done

    def select_pairs(self, **options: Any) -> Any:
        raise ConfigError("DISP-S1 products are time series already: there are no "
                          "interferogram pairs to select (use insarhub.disp.stack)")

