"""Shared values of the DISP-S1 tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import requests

AOI = [-113.05, 37.74, -112.68, 38.00]
START, END = "2020-01-01", "2020-03-31"  # crosses the ministack reference change of 2020-02-19
FRAME = 31466


@dataclass
class BuiltFrame:
    workdir: Path
    files: list[Path]
    mintpy_dir: Path
    result: Any
    downloader: Any


def disp_environment(server: Any) -> dict[str, str]:
    return {**server.env, "OPERA_UTILS_DATA_DIR": str(server.data_dir / "opera_utils")}


def truth(server: Any, name: str, tmp: Path) -> np.ndarray:
    """A truth raster of the sandbox frame (velocity or signal_<YYYYMMDD>)."""
    answer = requests.get(f"{server.url}/_sandbox/disp/truth/{FRAME}/{name}.tif", timeout=60)
    answer.raise_for_status()
    path = tmp / f"{name}.tif"
    path.write_bytes(answer.content)
    with rasterio.open(path) as src:
        return np.asarray(src.read(1), dtype=np.float64)
