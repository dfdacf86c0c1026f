"""What a pair network looks like before anything is spent on it.

Dates, pairs, connected components, degree range, redundancy, an expected-coherence proxy and
the HyP3 credit estimate, plus what the selection had to do (bridges, degree exceptions, dates
left out, same-date scenes collapsed).

Expected coherence (a proxy, MintPy's ``simulate_coherence_v2`` model): a geometric term
``1 - |bperp| / B_crit`` (Sentinel-1 IW critical baseline ~6 km) times a temporal term
``(coh_thermal - coh_resid) * exp(-dt / decor_days) + coh_resid`` with MintPy's defaults
(decorrelation 200 days, residual coherence 0.2, SNR 22 dB).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from insarhub.credits import MONTHLY_CREDITS, bundled_costs, job_cost
from insarhub.errors import ConfigError
from insarhub.network.baselines import date_from_name
from insarhub.network.selection import Pair, StackNetwork, component_labels
from insarhub.search.multiburst import split_name

S1_CRITICAL_BPERP_M = 6000.0
DECOR_DAYS = 200.0
COH_RESIDUAL = 0.2
COH_THERMAL = 1.0 / (1.0 + 1.0 / 10 ** (22 / 10))



def expected_coherence(dt_days: np.ndarray, bperp_m: np.ndarray) -> np.ndarray:
    """Coherence proxy of pairs from their temporal (days) and perpendicular (m) baselines."""
    geometric = np.clip(1.0 - np.abs(bperp_m) / S1_CRITICAL_BPERP_M, 0.0, 1.0)
    temporal = (COH_THERMAL - COH_RESIDUAL) * np.exp(-np.abs(dt_days) / DECOR_DAYS) + COH_RESIDUAL
    return np.asarray(geometric * temporal)


def job_type_for(names: list[str]) -> str:
    """INSAR_ISCE_MULTI_BURST for burst dates (one or more bursts), INSAR_GAMMA for SLCs."""
    return "INSAR_ISCE_MULTI_BURST" if names and all(n.endswith("-BURST") for n in names) \
        else "INSAR_GAMMA"


def credit_cost(n_pairs: int, job_type: str, looks: str = "20x4", bursts: int = 1) -> int:
    """HyP3 credits for n pairs (ASF's job-spec tables, `insarhub.credits`): INSAR_GAMMA
    20x4 = 10, 10x2 = 15; a single-burst pair = 1; a multi-burst pair by its burst count."""
    table = bundled_costs()
    if job_type in table and "cost_table" in table[job_type]:
        allowed = list(table[job_type]["cost_table"])
        if looks not in allowed:
            raise ConfigError(f"looks={looks!r} is not a {job_type} option; choose one of "
                              f"{', '.join(allowed)}")
    params: dict[str, Any] = {"looks": looks, "reference": ["burst"] * bursts}
    return int(round(n_pairs * job_cost({"job_type": job_type, "job_parameters": params})))


@dataclass
class NetworkReport:
    """Figures of one stack's network; ``text()`` for people, ``to_dict()`` for files."""

    stack: str
    dates: int
    first_date: str | None
    last_date: str | None
    pairs: int
    components: int
    degree_min: int
    degree_max: int
    redundancy: float          # pairs per pair of a spanning tree: pairs / (dates - 1)
    temporal_days: tuple[int, int]
    bperp_m: tuple[float, float]
    coherence_mean: float
    coherence_min: float
    job_type: str
    looks: str
    credits: int
    bursts: int = 0            # bursts per date (multi-burst stacks)
    baseline_source: str = ""
    kinds: dict[str, int] = field(default_factory=dict)
    bridges: list[tuple[str, str, int, float, str]] = field(default_factory=list)
    degree_exceptions: dict[str, int] = field(default_factory=dict)
    below_min_degree: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return data

    def text(self) -> str:
        period = f"{self.first_date} -> {self.last_date}" if self.first_date else "-"
        lines = [
            f"stack {self.stack}: {self.dates} dates ({period}), {self.pairs} pairs, "
            f"{self.components} component(s)",
            f"  degree {self.degree_min}..{self.degree_max}, redundancy {self.redundancy:.2f}, "
            f"temporal {self.temporal_days[0]}..{self.temporal_days[1]} d, "
            f"|bperp| {self.bperp_m[0]:.0f}..{self.bperp_m[1]:.0f} m",
            f"  expected coherence mean {self.coherence_mean:.2f}, min {self.coherence_min:.2f}; "
            f"HyP3 {self.job_type} {self.looks}"
            + (f", {self.bursts} bursts" if self.bursts > 1 else "")
            + f": {self.credits} credits ({100 * self.credits / MONTHLY_CREDITS:.1f}% of a "
            f"month's {MONTHLY_CREDITS:,})",
        ]
        if self.kinds:
            lines.append("  pairs by kind: " + ", ".join(f"{k} {v}" for k, v in self.kinds.items()))
        for ref, sec, dt, bp, kind in self.bridges:
            lines.append(f"  beyond thresholds ({kind}): {short_name(ref)} -> {short_name(sec)}"
                         f"  {dt} d, {bp:.0f} m")
        if self.degree_exceptions:
            lines.append("  above max_degree for connectivity: " + ", ".join(
                f"{short_name(n)} ({d})" for n, d in self.degree_exceptions.items()))
        if self.below_min_degree:
            lines.append(f"  below min_degree (no pair within thresholds): "
                         f"{len(self.below_min_degree)} date(s)")
        if self.left_out:
            lines.append("  LEFT OUT (cannot be connected): "
                         + ", ".join(short_name(n) for n in self.left_out))
        if self.duplicates:
            lines.append(f"  same-date scenes collapsed: {len(self.duplicates)}")
        lines.extend(f"  note: {note}" for note in self.notes if "left out" not in note)
        return "\n".join(lines)


def short_name(name: str) -> str:
    """A node name as people read it: a multi-burst date as 'YYYY-MM-DD (6 bursts)'."""
    parts = split_name(name)
    if len(parts) < 2:
        return name
    return f"{date_from_name(parts[0])} ({len(parts)} bursts)"


def stack_label(key: Hashable | None) -> str:
    """(100, 466) -> 'p100_f466'; burst IDs and other keys as they are."""
    if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, int) for k in key):
        return f"p{key[0]}_f{key[1]}"
    return str(key)


def report_from_pairs(key: Hashable | None, pairs: list[Pair],
                      baselines: Mapping[Pair, tuple[float, float]],
                      scene_bperp: Mapping[str, float], looks: str = "20x4",
                      network: StackNetwork | None = None) -> NetworkReport:
    """Report of a network given as the seed's (pairs, B, scene_bperp) of one stack."""
    names = sorted(scene_bperp, key=lambda n: (date_from_name(n), n))
    if not names:
        names = sorted({n for p in pairs for n in p}, key=lambda n: (date_from_name(n), n))
    index = {n: i for i, n in enumerate(names)}
    dt = np.array([baselines[p][0] for p in pairs], dtype=np.float64)
    bp = np.array([baselines[p][1] for p in pairs], dtype=np.float64)
    deg = np.zeros(len(names), dtype=np.int64)
    for ref, sec in pairs:
        deg[index[ref]] += 1
        deg[index[sec]] += 1
    edges = [(index[a], index[b]) for a, b in pairs]
    components = int(component_labels(len(names), edges).max(initial=-1) + 1) if names else 0
    coherence = expected_coherence(dt, bp)
    job_type = job_type_for(names)
    bursts = len(split_name(names[0])) if names and job_type != "INSAR_GAMMA" else 0
    dates = [str(date_from_name(n)) for n in (names[0], names[-1])] if names else [None, None]
    report = NetworkReport(
        stack=stack_label(key), dates=len(names), first_date=dates[0], last_date=dates[-1],
        pairs=len(pairs), components=components,
        degree_min=_int(deg.min()) if len(deg) else 0,
        degree_max=_int(deg.max()) if len(deg) else 0,
        redundancy=round(len(pairs) / (len(names) - 1), 3) if len(names) > 1 else 0.0,
        temporal_days=(_int(dt.min()), _int(dt.max())) if len(dt) else (0, 0),
        bperp_m=(round(float(bp.min()), 1), round(float(bp.max()), 1)) if len(bp) else (0.0, 0.0),
        coherence_mean=round(float(coherence.mean()), 3) if len(pairs) else 0.0,
        coherence_min=round(float(coherence.min()), 3) if len(pairs) else 0.0,
        job_type=job_type, looks=looks,
        credits=credit_cost(len(pairs), job_type, looks, max(bursts, 1)), bursts=bursts,
    )
    if network is not None:
        report.baseline_source = network.baselines.source
        counts: dict[str, int] = {}
        for kind in network.kinds.values():
            counts[kind] = counts.get(kind, 0) + 1
        report.kinds = counts
        report.bridges = [(a, b, int(baselines[(a, b)][0]), round(float(baselines[(a, b)][1]), 1),
                           network.kinds[(a, b)]) for a, b in network.bridges]
        report.degree_exceptions = dict(network.degree_exceptions)
        report.below_min_degree = list(network.below_min_degree)
        report.left_out = list(network.left_out)
        report.duplicates = dict(network.baselines.duplicates)
        report.notes = list(network.notes)
    return report


def _int(value: Any) -> int:
    return int(round(float(value)))


def network_report(network: StackNetwork, looks: str = "20x4") -> NetworkReport:
    """Report of one selected stack network."""
    return report_from_pairs(network.key, network.pairs, network.pair_baselines,
                             network.scene_bperp, looks=looks, network=network)


def format_reports(reports: Mapping[Hashable, NetworkReport]) -> str:
    """All stacks' reports, then the credit total."""
    blocks = [r.text() for r in reports.values()]
    total = sum(r.credits for r in reports.values())
    pairs = sum(r.pairs for r in reports.values())
    blocks.append(f"total: {pairs} pairs, {total} HyP3 credits (a month has "
                  f"{MONTHLY_CREDITS:,})")
    return "\n".join(blocks)
