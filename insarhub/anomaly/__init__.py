"""Deformation anomalies in a displacement time series, told apart from atmosphere.

`detect_anomaly` (arrays) and `anomaly_from_mintpy` (MintPy's outputs) judge the newest date;
`AnnouncementMemory` says which regions are news for a stack; `residual_figure` draws them.
"""

from insarhub.anomaly.config import AlertConfig
from insarhub.anomaly.detector import detect_anomaly
from insarhub.anomaly.figure import residual_figure
from insarhub.anomaly.memory import AnnouncementMemory, announce
from insarhub.anomaly.mintpy import anomaly_from_mintpy, timeseries_file
from insarhub.anomaly.report import AnomalyRegion, AnomalyReport

__all__ = ["AlertConfig", "AnnouncementMemory", "AnomalyRegion", "AnomalyReport", "announce",
           "anomaly_from_mintpy", "detect_anomaly", "residual_figure", "timeseries_file"]
