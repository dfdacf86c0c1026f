"""Temporal and perpendicular baselines of a Sentinel-1 stack, computed offline.

The perpendicular baseline follows ASF's own method (``asf_search.baseline.calc``): the pre/post
state vectors recorded in each product's UMM (``SV_POSITION_PRE/POST``, ``SV_VELOCITY_PRE/POST``,
times relative to ``ASC_NODE_TIME``) are interpolated to a time both orbits cover, and the
secondary position is projected on the reference's "up-beam" direction at the reference scene
centre. Here it runs for the whole stack at once with numpy instead of one scene at a time.

Scenes acquired on the same date collapse to one acquisition. A scene without state vectors
falls back to the ``perpendicularBaseline`` ASF recorded on it (e.g. from ``product.stack()``);
with neither, `PairNetworkError` names the scene.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from insarhub.errors import PairNetworkError
from insarhub.granules import acquisition_time

logger = logging.getLogger(__name__)

# WGS84, as in asf_search.baseline.calc (f there is (1 - flattening)^2)
_WGS84_A = 6378137.0
_WGS84_F = (1.0 - 1 / 298.257224) ** 2
_MAX_VALID_BPERP_M = 100_000.0  # ASF treats larger values as a failed calculation


def scene_name(product: Any) -> str:
    """The granule name HyP3 expects: ``sceneName`` (SLC) or the ``...-BURST`` name (bursts)."""
    props = getattr(product, "properties", None)
    if not isinstance(props, dict):
        raise PairNetworkError(
            f"expected asf_search ASFProduct objects, got {type(product).__name__}: {product!r:.80}"
        )
    name = props.get("sceneName") or props.get("fileID")
    if not name:
        raise PairNetworkError(f"product without sceneName/fileID: {props!r:.120}")
    return str(name)


def date_from_name(name: str) -> np.datetime64:
    """Acquisition date encoded in a Sentinel-1 SLC or burst granule name."""
    found = acquisition_time(name)
    if found is None:
        raise PairNetworkError(
            f"scene name {name!r} carries no acquisition time (expected ...YYYYMMDDTHHMMSS...)"
        )
    return np.datetime64(found.date(), "D")


def _seconds(values: Sequence[str | None]) -> np.ndarray:
    """ISO times (UTC, with or without 'Z') -> float seconds since 1970; NaN where missing."""
    cleaned = [v.replace("Z", "").replace("+00:00", "") if isinstance(v, str) and v else "NaT"
               for v in values]
    micro = np.array(cleaned, dtype="datetime64[us]")
    out = micro.astype("int64").astype("float64") / 1e6
    out[np.isnat(micro)] = np.nan
    return out


def _umm_attributes(product: Any, names: tuple[str, ...]) -> dict[str, str]:
    umm = getattr(product, "umm", None) or {}
    found: dict[str, str] = {}
    for attribute in umm.get("AdditionalAttributes") or []:
        name = attribute.get("Name")
        if name in names:
            values = attribute.get("Values") or []
            if values and values[0] not in (None, "", "None"):
                found[name] = str(values[0])
    return found


_SV_NAMES = ("ASC_NODE_TIME", "SV_POSITION_PRE", "SV_POSITION_POST",
             "SV_VELOCITY_PRE", "SV_VELOCITY_POST")


@dataclass
class OrbitState:
    """Pre/post state vectors of n scenes as arrays; ``valid[i]`` False where any is missing."""

    pre_pos: np.ndarray    # (n, 3) m, ECEF
    post_pos: np.ndarray
    pre_vel: np.ndarray    # (n, 3) m/s
    post_vel: np.ndarray
    t_pre: np.ndarray      # (n,) s relative to the ascending node
    t_post: np.ndarray
    center_lat: np.ndarray  # (n,) degrees
    center_lon: np.ndarray
    valid: np.ndarray      # (n,) bool

    @classmethod
    def from_products(cls, products: Sequence[Any]) -> OrbitState:
        n = len(products)
        vectors = {k: np.full((n, 3), np.nan) for k in _SV_NAMES[1:]}
        times: dict[str, list[str | None]] = {k: [None] * n for k in _SV_NAMES}
        lat = np.full(n, np.nan)
        lon = np.full(n, np.nan)
        for i, product in enumerate(products):
            attrs = _umm_attributes(product, _SV_NAMES)
            times["ASC_NODE_TIME"][i] = attrs.get("ASC_NODE_TIME")
            for key in _SV_NAMES[1:]:
                parts = attrs.get(key, "").split(",")
                if len(parts) == 4:
                    try:
                        vectors[key][i] = [float(p) for p in parts[:3]]
                    except ValueError:
                        continue
                    times[key][i] = parts[3]
            props = product.properties
            lat[i] = _float(props.get("centerLat"))
            lon[i] = _float(props.get("centerLon"))
        asc = _seconds(times["ASC_NODE_TIME"])
        t_pre = _seconds(times["SV_POSITION_PRE"]) - asc
        t_post = _seconds(times["SV_POSITION_POST"]) - asc
        valid = np.isfinite(t_pre) & np.isfinite(t_post) & (t_post != t_pre)
        for array in vectors.values():
            valid &= np.isfinite(array).all(axis=1)
        return cls(vectors["SV_POSITION_PRE"], vectors["SV_POSITION_POST"],
                   vectors["SV_VELOCITY_PRE"], vectors["SV_VELOCITY_POST"],
                   t_pre, t_post, lat, lon, valid)

    def position(self, t: np.ndarray, index: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Positions at relative times t: linear between the state vectors, radius interpolated."""
        pre, post = self.pre_pos[index], self.post_pos[index]
        factor = ((t - self.t_pre[index]) / (self.t_post[index] - self.t_pre[index]))[:, None]
        pos = pre * (1.0 - factor) + post * factor
        radius = (np.linalg.norm(pre, axis=1)[:, None] * (1.0 - factor)
                  + np.linalg.norm(post, axis=1)[:, None] * factor)
        return np.asarray(pos * radius / np.linalg.norm(pos, axis=1)[:, None])

    def velocity(self, t: np.ndarray, index: np.ndarray | slice = slice(None)) -> np.ndarray:
        factor = ((t - self.t_pre[index]) / (self.t_post[index] - self.t_pre[index]))[:, None]
        return np.asarray(self.pre_vel[index] * (1.0 - factor) + self.post_vel[index] * factor)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _ellipsoid_positions(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Scene centres on the WGS84 ellipsoid (ECEF, m), shape (n, 3)."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    c = 1.0 / np.sqrt(np.cos(lat) ** 2 + _WGS84_F * np.sin(lat) ** 2)
    s = _WGS84_F * c
    return np.stack([_WGS84_A * c * np.cos(lat) * np.cos(lon),
                     _WGS84_A * c * np.cos(lat) * np.sin(lon),
                     _WGS84_A * s * np.sin(lat)], axis=1)


def pair_perpendicular_baselines(orbits: OrbitState, ref: np.ndarray, sec: np.ndarray
                                 ) -> np.ndarray:
    """Perpendicular baseline (m) of scene ``sec[k]`` relative to scene ``ref[k]``, for all k.

    Signed as ASF signs it. NaN where either scene has no usable state vectors or reference
    centre, or where the result is absurd (ASF's own cut-off).
    """
    ref = np.asarray(ref, dtype=np.int64)
    sec = np.asarray(sec, dtype=np.int64)
    out = np.full(len(ref), np.nan)
    usable = (orbits.valid & np.isfinite(orbits.center_lat) & np.isfinite(orbits.center_lon))
    k = np.flatnonzero(usable[ref] & usable[sec])
    if not len(k):
        return out
    r, s = ref[k], sec[k]
    r_pre, r_post = orbits.t_pre[r], orbits.t_post[r]
    start = np.maximum(r_pre, orbits.t_pre[s])
    end = np.maximum(r_post, orbits.t_post[s])
    # ASF favours a time the reference has a state vector for (no interpolation on its side)
    shared = np.where(start == r_pre, start, np.where(end == r_post, end, start))
    ref_pos = orbits.position(shared, r)
    ref_vel = orbits.velocity(shared, r)
    sec_pos = orbits.position(shared, s)
    granule = _ellipsoid_positions(orbits.center_lat[r], orbits.center_lon[r])
    along = ref_pos - granule
    along /= np.linalg.norm(along, axis=1)[:, None]
    up = np.cross(ref_vel, along)
    up /= np.linalg.norm(up, axis=1)[:, None]
    values = np.einsum("ij,ij->i", up, sec_pos - granule)
    values[np.abs(values) > _MAX_VALID_BPERP_M] = np.nan
    out[k] = values
    return out


def perpendicular_baselines(orbits: OrbitState, reference: int) -> np.ndarray:
    """Perpendicular baseline (m) of every scene relative to scene ``reference`` (NaN: unknown)."""
    n = len(orbits.valid)
    return pair_perpendicular_baselines(orbits, np.full(n, reference), np.arange(n))


def _recorded_bperp(products: Sequence[Any]) -> np.ndarray:
    return np.array([_float(p.properties.get("perpendicularBaseline")) for p in products])


def _stack_label(key: Hashable | None) -> str:
    return "stack" if key is None else f"stack {key!r}"


@dataclass
class StackBaselines:
    """One acquisition per date of a stack, in time order, with its baselines.

    ``bperp`` is relative to the first date (MintPy's convention); a pair's perpendicular
    baseline is ``bperp[sec] - bperp[ref]`` and its temporal baseline ``days[sec] - days[ref]``.
    """

    key: Hashable | None
    names: list[str]
    products: list[Any]
    dates: np.ndarray          # datetime64[D]
    days: np.ndarray           # int64 days since the first date
    bperp: np.ndarray          # float64 m, relative to the first date
    source: str                # "state vectors", "recorded" or "state vectors + recorded"
    duplicates: dict[str, str] = field(default_factory=dict)  # dropped scene -> kept scene
    orbits: OrbitState | None = None

    def __len__(self) -> int:
        return len(self.names)

    def pair_bperp(self, ref: np.ndarray, sec: np.ndarray) -> np.ndarray:
        """Signed perpendicular baselines of pairs (index arrays), each from its own reference.

        Computed directly from both orbits where they exist (as ASF does for a stack built on
        that reference); otherwise the difference of the per-scene values.
        """
        ref = np.asarray(ref, dtype=np.int64)
        sec = np.asarray(sec, dtype=np.int64)
        difference = self.bperp[sec] - self.bperp[ref]
        if self.orbits is None:
            return np.asarray(difference)
        direct = pair_perpendicular_baselines(self.orbits, ref, sec)
        return np.where(np.isfinite(direct), direct, difference)

    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}


def _check_homogeneous(products: Sequence[Any], key: Hashable | None) -> None:
    """A stack must be one geometry: same product type, track, direction and co-polarisation."""
    fields = {
        "processingLevel": lambda p: str(p.properties.get("processingLevel") or "").upper(),
        "pathNumber": lambda p: p.properties.get("pathNumber"),
        "flightDirection": lambda p: str(p.properties.get("flightDirection") or "").upper(),
        "fullBurstID": lambda p: (p.properties.get("burst") or {}).get("fullBurstID"),
        "polarization": lambda p: str(p.properties.get("polarization") or "")[:2].upper(),
    }
    for field_name, getter in fields.items():
        values: dict[Any, str] = {}
        for product in products:
            values.setdefault(getter(product), scene_name(product))
        if len(values) > 1:
            shown = ", ".join(f"{v!r} (e.g. {n})" for v, n in list(values.items())[:3])
            raise PairNetworkError(
                f"{_stack_label(key)} mixes {field_name} values {shown}; a pair network needs one "
                "geometry per stack: group scenes by (path, frame) or burst ID first "
                "(Downloader.search() does)"
            )


def _acquisition_dates(products: Sequence[Any]) -> np.ndarray:
    dates: list[str] = []
    for product in products:
        start = product.properties.get("startTime")
        if isinstance(start, str) and len(start) >= 10:
            dates.append(start[:10])
        else:
            dates.append(str(date_from_name(scene_name(product))))
    return np.array(dates, dtype="datetime64[D]")


def _has_state_vectors(product: Any) -> bool:
    return len(_umm_attributes(product, _SV_NAMES)) == len(_SV_NAMES)


def _collapse_dates(products: Sequence[Any], dates: np.ndarray
                    ) -> tuple[list[int], dict[str, str]]:
    """Index of one scene per date (time order) and the same-date scenes dropped."""
    best: dict[np.datetime64, int] = {}
    for i, product in enumerate(products):
        day = dates[i]
        if day not in best:
            best[day] = i
            continue
        j = best[day]
        mine, theirs = _preference(product), _preference(products[j])
        if mine > theirs or (mine == theirs and scene_name(product) < scene_name(products[j])):
            best[day] = i
    keep = sorted(best.values(), key=lambda i: (dates[i], scene_name(products[i])))
    kept_by_date = {dates[i]: scene_name(products[i]) for i in keep}
    kept_set = set(keep)
    duplicates = {scene_name(p): kept_by_date[dates[i]]
                  for i, p in enumerate(products) if i not in kept_set}
    return keep, duplicates


def _preference(product: Any) -> tuple[bool, str]:
    """Same-date choice: state vectors first, then the latest processing, then the first name."""
    return _has_state_vectors(product), str(product.properties.get("processingDate") or "")


def stack_baselines(products: Sequence[Any], key: Hashable | None = None) -> StackBaselines:
    """Baselines of one stack: same-date scenes collapsed, bperp from orbits or recorded values."""
    products = list(products)
    names = [scene_name(p) for p in products]
    seen: set[str] = set()
    unique = []
    for product, name in zip(products, names, strict=True):  # the same granule twice
        if name not in seen:
            seen.add(name)
            unique.append(product)
    products = unique
    if products:
        _check_homogeneous(products, key)
    dates_all = _acquisition_dates(products)
    keep, duplicates = _collapse_dates(products, dates_all)
    if duplicates:
        logger.info("%s: %d same-date scene(s) collapsed into one acquisition each: %s",
                    _stack_label(key), len(duplicates),
                    ", ".join(f"{d} -> {k}" for d, k in list(duplicates.items())[:5]))
    kept = [products[i] for i in keep]
    dates = dates_all[keep]
    days = (dates - dates[0]).astype("int64") if len(dates) else np.zeros(0, dtype="int64")
    orbits = OrbitState.from_products(kept)
    bperp, source = _bperp_with_fallback(kept, orbits, key)
    return StackBaselines(key, [scene_name(p) for p in kept], kept, dates, days, bperp, source,
                          duplicates, orbits)


def _bperp_with_fallback(products: list[Any], orbits: OrbitState, key: Hashable | None
                         ) -> tuple[np.ndarray, str]:
    n = len(products)
    if n == 0:
        return np.zeros(0), "state vectors"
    computed = np.full(n, np.nan)
    valid = np.flatnonzero(orbits.valid & np.isfinite(orbits.center_lat)
                           & np.isfinite(orbits.center_lon))
    if len(valid):
        computed = perpendicular_baselines(orbits, int(valid[0]))
    have = np.isfinite(computed)
    if have.all():
        return computed - computed[0], "state vectors"
    recorded = _recorded_bperp(products)
    needs = ~have
    missing = needs & ~np.isfinite(recorded)
    if missing.any():
        bad = [scene_name(products[i]) for i in np.flatnonzero(missing)]
        raise PairNetworkError(
            f"{_stack_label(key)}: no perpendicular baseline for {len(bad)} scene(s), e.g. "
            f"{', '.join(bad[:3])}: their metadata has no state vectors (SV_POSITION_PRE/POST, "
            "SV_VELOCITY_PRE/POST, ASC_NODE_TIME) and no recorded perpendicularBaseline; "
            "search them again, or filter them out of the stack"
        )
    if not have.any():
        return recorded - recorded[0], "recorded"
    both = have & np.isfinite(recorded)
    if not both.any():
        bad = [scene_name(products[i]) for i in np.flatnonzero(needs)]
        raise PairNetworkError(
            f"{_stack_label(key)}: scenes {', '.join(bad[:3])} have only recorded baselines and "
            "no scene has both kinds, so the two cannot be put on one reference; "
            "rebuild the stack with product.stack() or drop these scenes"
        )
    offset = float(np.median(computed[both] - recorded[both]))
    merged = np.where(have, computed, recorded + offset)
    logger.warning("%s: %d scene(s) without state vectors use ASF's recorded perpendicular "
                   "baseline", _stack_label(key), int(needs.sum()))
    return merged - merged[0], "state vectors + recorded"
