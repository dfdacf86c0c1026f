"""A picture of the newest residual with the anomaly regions outlined (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from insarhub.anomaly.report import AnomalyReport


def residual_figure(report: AnomalyReport, path: str | Path) -> Path:
    """Draw the newest date's departure from the trend (mm) and outline each region."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if report.residual_map is None:
        raise ValueError("the report holds no residual map (too few dates or pixels)")
    residual = report.residual_map * 1000.0
    limit = float(np.nanpercentile(np.abs(residual), 99)) or 1.0
    figure, axes = plt.subplots(figsize=(6.4, 5.2), dpi=90)
    image = axes.imshow(residual, cmap="RdBu", vmin=-limit, vmax=limit, interpolation="nearest")
    figure.colorbar(image, ax=axes, label="newest - trend (mm, LOS)")
    if report.region_labels is not None and report.region_labels.any():
        axes.contour(report.region_labels > 0, levels=[0.5], colors="k", linewidths=1.2)
    for number, region in enumerate(report.regions, start=1):
        axes.plot(region.col, region.row, "k+", markersize=12)
        axes.annotate(f"{number}: {region.magnitude_mm:+.0f} mm, {region.status}",
                      (region.col, region.row), xytext=(6, 6), textcoords="offset points",
                      fontsize=8, color="k")
    verdict = f"{len(report.regions)} region(s)" if report.regions else "no anomaly"
    axes.set_title(f"{report.date}: {verdict}")
    axes.set_xlabel("column")
    axes.set_ylabel("row")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, bbox_inches="tight")
    plt.close(figure)
    return out
