"""Synthetic Sentinel-1 stacks made of real asf_search products, for tests and benchmarks.

Each scene is a copy of a real template product's UMM (e.g. one of ASF's recorded search
results) with every time shifted by whole days, a unique granule name, and the orbit state
vectors moved along the template's "up-beam" direction so that the perpendicular baseline
takes a chosen value. Rebuilt with asf_search's own `as_ASFProduct`, so they are the same
`S1Product` / `S1BurstProduct` objects a search returns.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from asf_search import ASFSession
from asf_search.search.search_generator import as_ASFProduct

from insarhub.network.baselines import OrbitState, _ellipsoid_positions

_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}:\d{2})")
_COMPACT = re.compile(r"(\d{8})(T\d{6})")
_SV_POSITIONS = ("SV_POSITION_PRE", "SV_POSITION_POST")


def _up_beam(template: Any) -> np.ndarray:
    orbits = OrbitState.from_products([template])
    if not orbits.valid[0]:
        raise ValueError("the template product has no state vectors")
    t = orbits.t_pre[:1]
    first = np.zeros(1, dtype=np.int64)
    pos, vel = orbits.position(t, first), orbits.velocity(t, first)
    granule = _ellipsoid_positions(orbits.center_lat[:1], orbits.center_lon[:1])
    along = (pos - granule)[0]
    along /= np.linalg.norm(along)
    up = np.cross(vel[0], along)
    return np.asarray(up / np.linalg.norm(up))


def synthetic_stack(template: Any, days: Sequence[int] | np.ndarray,
                    bperp_m: Sequence[float] | np.ndarray | None = None,
                    *, drop_state_vectors: Iterable[int] = (), name_tag: int = 0) -> list[Any]:
    """Products acquired ``days[k]`` days after the template, at ``bperp_m[k]`` (m, relative to
    the template's orbit). ``drop_state_vectors``: indices whose UMM loses its state vectors.
    ``name_tag`` makes names of different calls distinct (two scenes on one date)."""
    days = [int(d) for d in days]
    offsets = np.zeros(len(days)) if bperp_m is None else np.asarray(bperp_m, dtype=float)
    if len(offsets) != len(days):
        raise ValueError("days and bperp_m must have the same length")
    drop = set(drop_state_vectors)
    up = _up_beam(template)
    text = json.dumps({"umm": template.umm, "meta": template.meta})
    session = ASFSession()
    products = []
    for k, shift in enumerate(days):
        item = json.loads(_shift_text(text, shift, f"{(k + name_tag * 7919) % 65536:04X}"))
        attributes = item["umm"]["AdditionalAttributes"]
        if k in drop:
            attributes[:] = [a for a in attributes
                             if not a["Name"].startswith("SV_") and a["Name"] != "ASC_NODE_TIME"]
        else:
            for attribute in attributes:
                if attribute["Name"] in _SV_POSITIONS:
                    x, y, z, when = attribute["Values"][0].split(",")
                    moved = np.array([float(x), float(y), float(z)]) + offsets[k] * up
                    attribute["Values"] = [",".join(f"{v:.6f}" for v in moved) + f",{when}"]
        products.append(as_ASFProduct(item, session))
    return products


def _shift_text(text: str, shift: int, suffix: str) -> str:
    step = np.timedelta64(shift, "D")

    def iso(match: re.Match[str]) -> str:
        return f"{np.datetime64(match.group(1), 'D') + step}{match.group(2)}"

    def compact(match: re.Match[str]) -> str:
        d = match.group(1)
        moved = str(np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}", "D") + step).replace("-", "")
        return moved + match.group(2)

    text = _COMPACT.sub(compact, _ISO.sub(iso, text))
    # the 4-hex product ID that ends every granule name (…_C081, …_VV_6BD3-BURST)
    return re.sub(r"_[0-9A-F]{4}(-BURST|-SLC|\")", lambda m: f"_{suffix}{m.group(1)}", text)


def copy_without_state_vectors(product: Any, recorded_bperp: float | None = None) -> Any:
    """A copy of ``product`` whose UMM has no state vectors (optionally with ASF's recorded
    ``perpendicularBaseline`` kept in its properties, as ``product.stack()`` leaves it)."""
    item = {"umm": copy.deepcopy(product.umm), "meta": copy.deepcopy(product.meta)}
    item["umm"]["AdditionalAttributes"] = [
        a for a in item["umm"]["AdditionalAttributes"]
        if not a["Name"].startswith("SV_") and a["Name"] != "ASC_NODE_TIME"]
    out = as_ASFProduct(item, ASFSession())
    if recorded_bperp is not None:
        out.properties["perpendicularBaseline"] = recorded_bperp
    return out
