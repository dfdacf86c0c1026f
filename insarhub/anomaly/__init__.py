"""Deformation anomalies in a displacement time series, told apart from atmosphere.

`detect_anomaly` (arrays) and `anomaly_from_mintpy` (MintPy's outputs) judge the newest date;
`AnnouncementMemory` says which regions are news for a stack; `residual_figure` draws them.
Names load on first use (PEP 562): the detector pulls in scipy.stats, the figure matplotlib,
and a command that only reads an `AlertConfig` should not pay for them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from insarhub.anomaly.config import AlertConfig, WatchSite

if TYPE_CHECKING:
    from insarhub.anomaly.detector import detect_anomaly
    from insarhub.anomaly.figure import residual_figure
    from insarhub.anomaly.memory import AnnouncementMemory, announce
    from insarhub.anomaly.mintpy import anomaly_from_mintpy, timeseries_file
    from insarhub.anomaly.report import AnomalyRegion, AnomalyReport

_LAZY = {"detect_anomaly": "detector", "residual_figure": "figure",
         "AnnouncementMemory": "memory", "announce": "memory",
         "anomaly_from_mintpy": "mintpy", "timeseries_file": "mintpy",
         "AnomalyRegion": "report", "AnomalyReport": "report"}

__all__ = ["AlertConfig", "AnnouncementMemory", "AnomalyRegion", "AnomalyReport", "announce",
           "anomaly_from_mintpy", "detect_anomaly", "residual_figure", "timeseries_file",
           "WatchSite"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
