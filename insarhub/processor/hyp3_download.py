"""Downloading HyP3 products: parallel, resumable, size-verified, unzipped atomically.

`Hyp3Downloads` is the download half of `Hyp3Processor` (insarhub.processor.hyp3): products
of succeeded jobs go to `<workdir>/hyp3/<product_name>/`; a product that expired on HyP3
(404/410) is marked so that retry() resubmits its pair.
"""

from __future__ import annotations

import logging
import shutil
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tqdm.auto import tqdm

from insarhub.errors import DownloadError
from insarhub.ledger import JobRecord
from insarhub.processor.base import SUCCEEDED
from insarhub.processor.hyp3_part import Hyp3Part

log = logging.getLogger(__name__)

PRODUCTS_DIR = "hyp3"
DOWNLOAD_RETRIES = 8  # per product; each retry resumes where the last attempt stopped


class Hyp3Downloads(Hyp3Part):
    """Download methods of a HyP3 processor (needs its ledger, workdir and status helpers)."""

    max_workers: int

    @property
    def products_dir(self) -> Path:
        return self.workdir / PRODUCTS_DIR

    def download(self, max_workers: int | None = None, progress: bool = True,
                 keep_zip: bool = False) -> list[Path]:
        """Fetch every succeeded product into `<workdir>/hyp3/<product_name>/`.

        Parallel, resumable (HTTP Range), size-verified; products already there are skipped.
        Returns the product folders. Raises DownloadError naming what failed (run again to
        resume).
        """
        workers = max_workers or self.max_workers
        return self._run("download", lambda: self._download(workers, progress, keep_zip),
                         lock="download")

    def _download(self, workers: int, progress: bool, keep_zip: bool) -> list[Path]:
        self._update()
        latest: dict[int, JobRecord] = {}
        for r in self.ledger.jobs(current_only=False):
            if r.status == SUCCEEDED:
                latest[r.pair_id] = r  # rows come by attempt: the last success wins
        products: list[Path] = []
        todo: list[tuple[JobRecord, dict[str, Any]]] = []
        for r in latest.values():
            if self.has_product(r):
                products.append(self.workdir / str(r.downloaded))
            elif not self.is_expired(r):
                todo += [(r, f) for f in r.files if f.get("filename")]
        if not todo:
            return products
        self.products_dir.mkdir(parents=True, exist_ok=True)
        failed: list[str] = []
        gone: list[str] = []
        with _plain_session(workers) as session, \
                ThreadPoolExecutor(max_workers=workers) as pool, \
                tqdm(total=len(todo), unit="product", desc="HyP3 products",
                     disable=not progress) as bar:
            # each worker fetches one product (insarhub.transfer: resumable, size-verified)
            # and unzips it at once, so that unzipping overlaps the other transfers
            futures = {pool.submit(self._fetch_product, session, file, keep_zip): (record, file)
                       for record, file in todo}
            for future in as_completed(futures):
                record, file = futures[future]
                bar.update(1)
                try:
                    folder = future.result()
                except DownloadError as exc:
                    if _is_gone(session, file["url"]):
                        gone.append(str(record.job_id))
                    else:
                        failed.append(str(exc))
                    continue
                except (zipfile.BadZipFile, OSError) as exc:
                    failed.append(f"{file['filename']} ({type(exc).__name__}: {exc})")
                    continue
                self.ledger.record_download(str(record.job_id), str(file["filename"]),
                                            file["url"], file.get("size"),
                                            str(folder.relative_to(self.workdir)))
                products.append(folder)
        if gone:
            self.ledger.mark_expired(gone)
            log.warning("%d products expired on HyP3 before download: retry() resubmits them",
                        len(gone))
        if failed:
            raise DownloadError(
                f"{len(failed)} of {len(todo)} HyP3 products did not download: "
                f"{'; '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}; "
                "run download() again to resume")
        return products

    def _fetch_product(self, session: requests.Session, file: Mapping[str, Any],
                       keep_zip: bool) -> Path:
        from insarhub.transfer import FileSpec, download_files

        path = self.products_dir / Path(str(file["filename"])).name
        download_files([FileSpec(url=str(file["url"]), path=path, size=file.get("size"))],
                       session=session, max_workers=1, progress=False, retries=DOWNLOAD_RETRIES,
                       backoff=0.25)
        try:
            folder = extract_product(path, self.products_dir)
        except zipfile.BadZipFile:
            path.unlink(missing_ok=True)  # damaged despite its size: fetch it again next time
            raise
        if not keep_zip:
            path.unlink(missing_ok=True)
        return folder


def _plain_session(workers: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=workers, pool_maxsize=workers)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _is_gone(session: requests.Session, url: str) -> bool:
    """True when the product host says the file no longer exists (expired: 404/410)."""
    try:
        return session.head(url, timeout=(10, 30)).status_code in (404, 410)
    except requests.RequestException:
        return False


def extract_product(zip_path: Path, products_dir: Path) -> Path:
    """Unzip a HyP3 product into `products_dir/<product_name>/` (atomically: temp + rename)."""
    product = zip_path.name.removesuffix(".zip")
    target = products_dir / product
    tmp = products_dir / f".{product}.extracting"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.namelist():
            if member.startswith("/") or ".." in Path(member).parts:
                raise zipfile.BadZipFile(f"unsafe path {member!r} in {zip_path.name}")
        archive.extractall(tmp)  # CRC-checked while reading
    inner = tmp / product
    source = inner if inner.is_dir() else tmp
    if target.exists():
        shutil.rmtree(target)
    source.rename(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target

