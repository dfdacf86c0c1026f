"""DISP-S1 files: names, what to fetch, and checks that a NetCDF is whole.

A download is checked three ways: size and MD5 from the catalog (by `insarhub.transfer`), then
the NetCDF is opened and its `displacement` read. A file failing the open check is removed and
fetched once more; one failing again is named in a `DispFileError`. Files already good stay.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from asf_search import ASFProduct

from insarhub.disp.errors import DispFileError
from insarhub.errors import DownloadError
from insarhub.transfer import FileSpec, download_files

log = logging.getLogger(__name__)


def parse_name(name: str) -> tuple[int, datetime, datetime, str, datetime]:
    """(frame, reference, secondary, version, generation) of a DISP-S1 name (opera-utils)."""
    from opera_utils.disp import DispProduct

    try:
        p = DispProduct.from_filename(Path(name).name if name.endswith(".nc") else f"{name}.nc")
    except ValueError:
        raise DispFileError(f"{name!r} is not an OPERA DISP-S1 product name") from None
    return (p.frame_id, p.reference_datetime, p.secondary_datetime, p.version,
            p.generation_datetime)


def latest_versions(products: Iterable[ASFProduct]) -> list[ASFProduct]:
    """One product per (reference, secondary): the newest version, then generation."""
    best: dict[tuple[datetime, datetime], tuple[tuple[str, datetime], ASFProduct]] = {}
    for product in products:
        _, ref, sec, version, generated = parse_name(str(product.properties["fileID"]))
        rank = (version, generated)
        if (ref, sec) not in best or rank > best[(ref, sec)][0]:
            best[(ref, sec)] = (rank, product)
    return [v[1] for v in best.values()]


def _archive(product: ASFProduct) -> dict[str, dict[str, Any]]:
    entries = product.umm.get("DataGranule", {}).get("ArchiveAndDistributionInformation", [])
    return {str(e.get("Name")): e for e in entries}


def _spec(url: str, folder: Path, archive: dict[str, dict[str, Any]]) -> FileSpec:
    filename = url.rsplit("/", 1)[-1]
    entry = archive.get(filename, {})
    checksum = entry.get("Checksum") or {}
    md5 = checksum.get("Value") if str(checksum.get("Algorithm", "")).upper() == "MD5" else None
    size = entry.get("SizeInBytes")
    return FileSpec(url=url, path=folder / filename, size=int(size) if size else None, md5=md5)


def file_spec(product: ASFProduct, folder: Path) -> FileSpec:
    """The NetCDF of one DISP-S1 product."""
    url = str(product.properties.get("url") or "")
    if not url.endswith(".nc"):
        raise DownloadError(f"{product.properties.get('fileID')} lists no NetCDF download URL")
    return _spec(url, folder, _archive(product))


def static_specs(product: ASFProduct, folder: Path) -> list[FileSpec]:
    """The GeoTIFFs of a DISP-S1-STATIC granule (los_enu, dem, layover_shadow_mask)."""
    urls = [u for u in [product.properties.get("url"), *product.properties.get("additionalUrls", [])]
            if u and str(u).endswith(".tif")]
    return [_spec(str(u), folder, _archive(product)) for u in sorted(set(urls))]


def check_netcdf(path: Path) -> str | None:
    """None when `path` opens as a DISP-S1 NetCDF with a readable displacement, else why not."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            data = f["displacement"]
            if data.ndim != 2 or min(data.shape) < 1:
                return f"displacement has shape {data.shape}"
            data[data.shape[0] - 1, :]  # reads the last chunk row: a truncated file fails here
            for name in ("recommended_mask", "temporal_coherence", "corrections/solid_earth_tide"):
                if name not in f:
                    return f"no /{name}"
    except (OSError, KeyError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _bad(specs: Sequence[FileSpec]) -> dict[Path, str]:
    bad = {}
    for spec in specs:
        if spec.path.suffix == ".nc":
            reason = check_netcdf(spec.path)
            if reason:
                bad[spec.path] = reason
    return bad


def fetch_checked(specs: Sequence[FileSpec], *, max_workers: int = 4, progress: bool = True,
                  retries: int = 5) -> list[Path]:
    """Download `specs`, check each NetCDF opens, fetch a bad one once more, else raise
    `DispFileError` naming it (the good files stay on disk)."""
    for spec in specs:  # a corrupt file left from before: fetch it again
        if spec.path.is_file() and spec.path.suffix == ".nc" and check_netcdf(spec.path):
            log.warning("%s is unreadable; fetching it again", spec.path.name)
            spec.path.unlink()
    paths = download_files(specs, max_workers=max_workers, progress=progress, retries=retries)
    bad = _bad(specs)
    if bad:
        log.warning("%d DISP-S1 file(s) unreadable after download (%s); fetching them once more",
                    len(bad), ", ".join(p.name for p in bad))
        again = [s for s in specs if s.path in bad]
        for spec in again:
            spec.path.unlink(missing_ok=True)
        download_files([FileSpec(s.url, s.path) for s in again], max_workers=max_workers,
                       progress=progress, retries=retries)
        bad = _bad(again)
        if bad:
            raise DispFileError("DISP-S1 file(s) still unreadable after a second download: "
                                + "; ".join(f"{p.name} ({why})" for p, why in bad.items()))
    return paths
