"""The footprint map of `Downloader.footprint()`: one outline per stack, the AOI, the counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import shapely
from asf_search import ASFProduct
from matplotlib.figure import Figure
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from insarhub.search.stacks import StackKey, stack_dirname

COLORS = {"ASCENDING": "tab:blue", "DESCENDING": "tab:orange"}


def _outlines(geometry: BaseGeometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry]
    if isinstance(geometry, MultiPolygon):
        return list(geometry.geoms)
    return [g for g in shapely.get_parts(geometry) if isinstance(g, Polygon)]


def footprint_figure(stacks: Mapping[StackKey, Sequence[ASFProduct]],
                     aoi: BaseGeometry | None) -> Figure:
    """A figure (no pyplot state) with the union footprint of each stack and the AOI."""
    figure = Figure(figsize=(9, 7))
    axes = figure.add_subplot()
    for key, products in stacks.items():
        if not products:
            continue
        direction = str(products[0].properties.get("flightDirection") or "").upper()
        color = COLORS.get(direction, "tab:gray")
        union = shapely.unary_union([shape(p.geometry) for p in products if p.geometry.get("coordinates")])
        for polygon in _outlines(union):
            xs, ys = polygon.exterior.xy
            axes.plot(xs, ys, color=color, linewidth=1.0, alpha=0.8)
        point = union.representative_point()
        days = len({str(p.properties.get("startTime"))[:10] for p in products})
        count = f"{days} dates" if days != len(products) else f"{len(products)}"
        axes.annotate(f"{stack_dirname(key)}\n{count}", (point.x, point.y), fontsize=7,
                      ha="center", color=color)
    if aoi is not None:
        for polygon in _outlines(aoi):
            xs, ys = polygon.exterior.xy
            axes.fill(xs, ys, color="tab:red", alpha=0.35, label="AOI")
            axes.plot(xs, ys, color="tab:red", linewidth=1.5)
    handles = [axes.plot([], [], color=c, label=d.lower())[0] for d, c in COLORS.items()]
    axes.legend(handles=handles + ([axes.patches[0]] if aoi is not None and axes.patches else []),
                loc="best", fontsize=8)
    total = sum(len(v) for v in stacks.values())
    axes.set_title(f"{total} scenes in {len(stacks)} stacks")
    axes.set_xlabel("longitude")
    axes.set_ylabel("latitude")
    axes.set_aspect("equal", adjustable="datalim")
    axes.grid(True, linewidth=0.3)
    return figure
