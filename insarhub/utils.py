"""Notebook helpers: `plot_pair_network(pair_stacks, B, scene_bperp)`.

The figure is drawn without a GUI (Agg canvas) unless pyplot is already running an
interactive backend, in which case it is made through pyplot; ``fig.show()`` works in
every case (window, notebook, or headless) as the seed shows.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from insarhub.errors import ConfigError
from insarhub.network.baselines import date_from_name

__all__ = ["NetworkFigure", "plot_pair_network"]

log = logging.getLogger(__name__)

_FILE_BACKENDS = {"agg", "pdf", "ps", "svg", "pgf", "cairo", "template"}


class NetworkFigure(Figure):
    """A figure whose ``show()`` works everywhere, as the seed calls it.

    Managed by pyplot (an interactive backend) it shows in a window; in a notebook it is
    displayed inline; headless (a script, a worker, CI) ``show()`` logs where to save it
    instead of raising matplotlib's "works only for figures managed by pyplot".
    """

    def show(self, warn: bool = True) -> None:  # noqa: ARG002 - matplotlib's signature
        if self.canvas.manager is not None:
            super().show(warn=False)
            return
        shell = _ipython_shell()
        if shell is not None:
            from IPython.display import display

            display(self)
            return
        log.info("no display here (headless): save the figure with fig.savefig('network.png') "
                 "or plot_pair_network(..., save_path='network.png')")


def _ipython_shell() -> Any:
    """The running IPython kernel shell (a notebook), or None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell if shell is not None and hasattr(shell, "kernel") else None


def _new_figure(width: float, height: float) -> Figure:
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib
        import matplotlib.pyplot as plt

        if matplotlib.get_backend().lower() not in _FILE_BACKENDS:
            return plt.figure(figsize=(width, height), layout="constrained",
                              FigureClass=NetworkFigure)
    figure = NetworkFigure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _per_stack(pair_stacks: Any, baselines: Any, scene_bperp: Any
               ) -> list[tuple[Hashable | None, list[tuple[str, str]], Mapping[Any, Any],
                               Mapping[str, float]]]:
    """Accept the per-stack dicts of `select_pairs`, or one stack's list and dicts."""
    if isinstance(pair_stacks, Mapping):
        out = []
        for key, pairs in pair_stacks.items():
            b = baselines.get(key, baselines) if isinstance(baselines, Mapping) else {}
            s = scene_bperp.get(key, scene_bperp) if isinstance(scene_bperp, Mapping) else {}
            out.append((key, [(str(p[0]), str(p[1])) for p in pairs], b, s))
        return out
    if isinstance(pair_stacks, Sequence) and not isinstance(pair_stacks, str):
        return [(None, [(str(p[0]), str(p[1])) for p in pair_stacks], baselines or {},
                 scene_bperp or {})]
    raise ConfigError(f"pair_stacks must be {{stack: [(reference, secondary), ...]}} or a list of "
                      f"pairs, got {type(pair_stacks).__name__}")


def _label(key: Hashable | None) -> str:
    if isinstance(key, tuple) and len(key) == 2:
        return f"path {key[0]} frame {key[1]}"
    return "stack" if key is None else f"burst {key}" if "_IW" in str(key) else str(key)


def plot_pair_network(pair_stacks: Any, B: Any, scene_bperp: Any,
                      save_path: str | Path | None = None, *, title: str | None = None,
                      cmap: str = "viridis") -> Figure:
    """Interferogram network: date on x, perpendicular baseline on y, one panel per stack.

    Pairs are lines coloured by temporal baseline (colour bar in days); scenes are dots.
    ``save_path`` writes a PNG. Arguments are `select_pairs`' three results.
    """
    stacks = _per_stack(pair_stacks, B, scene_bperp)
    if not stacks:
        raise ConfigError("pair_stacks is empty: there is no network to plot")
    figure = _new_figure(11.0, 3.2 * len(stacks) + 0.6)
    axes = figure.subplots(len(stacks), 1, squeeze=False)[:, 0]
    spans = [_temporal(b, p) for _, p, b, _ in stacks]
    vmax = max([s.max() for s in spans if len(s)] + [1.0])
    norm = Normalize(vmin=0.0, vmax=float(vmax))
    lines = [_draw(ax, key, pairs, bperp, norm, cmap)
             for ax, (key, pairs, _, bperp) in zip(axes, stacks, strict=True)]
    mappable = lines[0]
    if any(len(pairs) for _, pairs, _, _ in stacks):
        colorbar = figure.colorbar(mappable, ax=list(axes), fraction=0.03, pad=0.01, aspect=40)
        colorbar.set_label("temporal baseline (days)")
    if title:
        figure.suptitle(title)
    if save_path is not None:
        path = Path(save_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=120, format="png")
    return figure


def _temporal(baselines: Mapping[Any, Any], pairs: list[tuple[str, str]]) -> np.ndarray:
    days = []
    for ref, sec in pairs:
        value = baselines.get((ref, sec)) if isinstance(baselines, Mapping) else None
        if value is None:
            value = (abs(int((date_from_name(sec) - date_from_name(ref)).astype(int))), 0)
        days.append(float(value[0]))
    return np.asarray(days)


def _draw(ax: Any, key: Hashable | None, pairs: list[tuple[str, str]],
          bperp: Mapping[str, float], norm: Normalize, cmap: str) -> LineCollection:
    names = sorted(set(bperp) | {n for p in pairs for n in p}, key=date_from_name)
    x = {n: date_from_name(n).astype("datetime64[D]").astype(float) for n in names}
    y = {n: float(bperp.get(n, 0.0)) for n in names}
    segments = [[(x[a], y[a]), (x[b], y[b])] for a, b in pairs]
    days = [x[b] - x[a] for a, b in pairs]
    lines = LineCollection(segments, cmap=cmap, norm=norm, linewidths=0.9, alpha=0.85)
    lines.set_array(np.asarray(days, dtype=float))
    ax.add_collection(lines)
    ax.scatter([x[n] for n in names], [y[n] for n in names], s=14, color="black", zorder=3)
    if names:
        pad_x = max((max(x.values()) - min(x.values())) * 0.02, 5.0)
        pad_y = max((max(y.values()) - min(y.values())) * 0.08, 5.0)
        ax.set_xlim(min(x.values()) - pad_x, max(x.values()) + pad_x)
        ax.set_ylim(min(y.values()) - pad_y, max(y.values()) + pad_y)
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel("perpendicular baseline (m)")
    ax.set_title(f"{_label(key)}: {len(names)} dates, {len(pairs)} pairs", fontsize=10)
    ax.grid(alpha=0.3)
    return lines
