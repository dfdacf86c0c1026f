"""Small deterministic stand-ins for SLC and burst files, with their size and MD5.

A stand-in SLC is a real (stored) zip holding `<name>.SAFE/manifest.safe` and a
pseudo-random measurement blob, so that it unzips like the real thing but weighs tens of KiB.
The same name always gives the same bytes; size and MD5 are cached per process.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from functools import cache
from pathlib import Path

import numpy as np

MIN_SIZE = 24 * 1024
SPREAD = 40 * 1024
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_write_lock = threading.Lock()


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def standin_bytes(name: str, kind: str = "SLC") -> bytes:
    """The stand-in file content for granule `name` (`kind` "SLC" -> zip, "BURST" -> tiff-like)."""
    seed = _seed(name)
    blob = np.random.default_rng(seed).integers(0, 256, MIN_SIZE + seed % SPREAD,
                                                dtype=np.uint8).tobytes()
    if kind == "BURST":
        return b"II*\x00" + f"insarhub sandbox burst stand-in {name}\n".encode() + blob
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        manifest = (f'<?xml version="1.0"?>\n<!-- insarhub sandbox stand-in for {name} -->\n'
                    f"<xfdu:XFDU><metadataSection><name>{name}</name></metadataSection></xfdu:XFDU>\n")
        for member, data in ((f"{name}.SAFE/manifest.safe", manifest.encode()),
                             (f"{name}.SAFE/measurement/s1-iw-slc.bin", blob)):
            info = zipfile.ZipInfo(member, date_time=_ZIP_TIME)
            archive.writestr(info, data)
    return buffer.getvalue()


@cache
def standin_info(name: str, kind: str = "SLC") -> tuple[int, str]:
    """(size in bytes, md5 hex) of the stand-in for `name`."""
    data = standin_bytes(name, kind)
    return len(data), hashlib.md5(data).hexdigest()


def ensure_standin(directory: Path, filename: str, name: str, kind: str = "SLC") -> Path:
    """Write the stand-in for `name` as `directory/filename` once (atomically) and return its path."""
    path = directory / filename
    if path.is_file():
        return path
    with _write_lock:
        if not path.is_file():
            directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(standin_bytes(name, kind))
            tmp.replace(path)
    return path
