"""HyP3 credits as a first-class quantity: what a network costs before anything is sent.

    est = estimate_jobs(requests)                # HyP3's /costs table when given, else bundled
    est.line()   # '54 pairs x 10 = 540 credits (INSAR_GAMMA 20x4)'
    check_ceiling(est, max_credits=300)          # CreditCeilingError: nothing is submitted

Costs follow HyP3's own rule (hyp3 `dynamo/jobs.py`): a job type has a fixed `cost`, or a
`cost_table` looked up by the values of its `cost_parameters`, a list parameter counting by its
length (a multi-burst job: by its number of reference bursts). HyP3's `GET /costs` gives the
tables; `insarhub/data/hyp3_costs.yml` (ASF's job specs) stands in where it cannot be asked.

Figures: HyP3 gives 8,000 credits a month; INSAR_GAMMA costs 10 (20x4) or 15 (10x2) a pair;
INSAR_ISCE_MULTI_BURST at 20x4 costs 1 for 1-4 bursts, 5 for 5-12, 10 for 13-15.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from insarhub.errors import CreditError

MONTHLY_CREDITS = 8000
COSTS_FILE = Path(__file__).parent / "data" / "hyp3_costs.yml"
BUNDLED = "job spec table"
FROM_HYP3 = "HyP3 /costs"
DEFAULT_COST = 1.0  # HyP3's DEFAULT cost profile


class CreditCeilingError(CreditError):
    """A network costs more than `max_credits`: nothing was submitted."""

    def __init__(self, message: str, *, needed: float, max_credits: float) -> None:
        super().__init__(message)
        self.needed = needed
        self.max_credits = max_credits


@functools.cache
def bundled_costs() -> dict[str, Any]:
    """The cost tables of ASF's job specs, shaped as HyP3's `GET /costs` answers."""
    data = yaml.safe_load(COSTS_FILE.read_text())
    return dict(data)


def job_cost(job: Mapping[str, Any], costs: Mapping[str, Any] | None = None,
             default: float = DEFAULT_COST) -> float:
    """Credits one job dict costs per a `/costs` table (bundled when `costs` is None)."""
    table_of = bundled_costs() if costs is None else costs
    entry = table_of.get(str(job.get("job_type")))
    if not isinstance(entry, Mapping):
        return default
    if "cost" in entry:
        return float(entry["cost"])
    lookup: Any = entry.get("cost_table", {})
    params = job.get("job_parameters", {})
    for parameter in entry.get("cost_parameters", []):
        value = params.get(parameter)
        key = str(len(value)) if isinstance(value, list | tuple) else str(value)
        if not isinstance(lookup, Mapping) or key not in lookup:
            return default
        lookup = lookup[key]
    return float(lookup) if isinstance(lookup, int | float) else default


def _looks(job: Mapping[str, Any]) -> str | None:
    value = job.get("job_parameters", {}).get("looks")
    return str(value) if value is not None else None


def _bursts(job: Mapping[str, Any]) -> int | None:
    params = job.get("job_parameters", {})
    reference = params.get("reference")
    if isinstance(reference, list | tuple):
        return len(reference)
    return 1 if job.get("job_type") == "INSAR_ISCE_BURST" else None


@dataclass
class CreditEstimate:
    """The credits a set of HyP3 jobs will cost, and how that figure was reached."""

    job_type: str
    jobs: int
    credits: float
    looks: str | None = None
    bursts: int | None = None          # burst-swaths per job (multi-burst)
    prices: dict[float, int] = field(default_factory=dict)  # cost per job -> number of jobs
    source: str = BUNDLED
    stack: str | None = None

    @property
    def per_job(self) -> float:
        return self.credits / self.jobs if self.jobs else 0.0

    def describe_type(self) -> str:
        parts = [self.job_type or "no jobs"]
        if self.looks:
            parts.append(self.looks)
        text = " ".join(parts)
        if self.bursts:
            text += f", {self.bursts} burst{'s' if self.bursts > 1 else ''}"
        return text

    def line(self) -> str:
        """'54 pairs x 10 = 540 credits (INSAR_GAMMA 20x4)'."""
        if len(self.prices) <= 1:
            each = f"{self.per_job:g}"
            return (f"{self.jobs} pairs x {each} = {self.credits:g} credits "
                    f"({self.describe_type()})")
        mix = " + ".join(f"{n} x {p:g}" for p, n in sorted(self.prices.items()))
        return f"{self.jobs} pairs: {mix} = {self.credits:g} credits ({self.describe_type()})"

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "job_type": self.job_type, "looks": self.looks,
                "bursts": self.bursts, "jobs": self.jobs, "credits": self.credits,
                "per_job": self.per_job, "source": self.source,
                "prices": {f"{p:g}": n for p, n in self.prices.items()}}

    def markdown(self, remaining: float | None = None, max_credits: float | None = None) -> str:
        """The Prefect artifact body: estimate, allowance, ceiling."""
        rows = [("stack", self.stack or "-"), ("job type", self.describe_type()),
                ("pairs to submit", str(self.jobs)), ("credits per pair", f"{self.per_job:g}"),
                ("credits needed", f"**{self.credits:g}**"),
                ("monthly allowance", f"{MONTHLY_CREDITS:,}"),
                ("remaining this month", "unknown" if remaining is None else f"{remaining:g}"),
                ("max_credits", "none" if max_credits is None else f"{max_credits:g}"),
                ("cost table", self.source)]
        lines = ["# HyP3 credits before submission", "", "| | |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in rows]
        return "\n".join(lines) + "\n"


def estimate_jobs(jobs: Iterable[Mapping[str, Any]], costs: Mapping[str, Any] | None = None,
                  stack: str | None = None) -> CreditEstimate:
    """The estimate of HyP3 job dicts (`prepare_*` output or ledger requests)."""
    jobs = list(jobs)
    prices = [job_cost(j, costs) for j in jobs]
    types = Counter(str(j.get("job_type")) for j in jobs)
    looks = Counter(_looks(j) for j in jobs)
    bursts = Counter(_bursts(j) for j in jobs)
    return CreditEstimate(
        job_type=types.most_common(1)[0][0] if types else "",
        jobs=len(jobs), credits=float(sum(prices)),
        looks=looks.most_common(1)[0][0] if looks else None,
        bursts=bursts.most_common(1)[0][0] if bursts else None,
        prices=dict(Counter(prices)), source=BUNDLED if costs is None else FROM_HYP3,
        stack=stack)


def ceiling_advice(estimate: CreditEstimate) -> str:
    advice = "lower max_degree, fewer dates (start/end), a smaller AOI"
    if estimate.job_type == "INSAR_GAMMA":
        advice += ", or product='S1_Burst'"
    elif estimate.bursts and estimate.bursts > 4:
        advice += " (4 bursts or fewer cost 1 credit a pair at 20x4)"
    return advice


def check_ceiling(estimate: CreditEstimate, max_credits: float | None) -> None:
    """Raise `CreditCeilingError` when the estimate is above `max_credits` (None: no ceiling)."""
    if max_credits is None:
        return
    if isinstance(max_credits, bool) or not isinstance(max_credits, int | float) \
            or max_credits < 0:
        from insarhub.errors import ConfigError

        raise ConfigError(f"max_credits={max_credits!r} must be a number of credits >= 0, "
                          "or None for no ceiling")
    if estimate.credits > float(max_credits) + 1e-9:
        where = f"{estimate.stack}: " if estimate.stack else ""
        raise CreditCeilingError(
            f"{where}this network needs {estimate.credits:g} credits ({estimate.jobs} pairs x "
            f"{estimate.per_job:g}, {estimate.describe_type()}), above "
            f"max_credits={max_credits:g}: {ceiling_advice(estimate)}; nothing was submitted",
            needed=estimate.credits, max_credits=float(max_credits))


def multi_burst_pair_cost(bursts: int, looks: str = "20x4",
                          costs: Mapping[str, Any] | None = None) -> float:
    """Credits of one INSAR_ISCE_MULTI_BURST pair of `bursts` burst-swaths."""
    job = {"job_type": "INSAR_ISCE_MULTI_BURST",
           "job_parameters": {"looks": looks, "reference": ["x"] * bursts}}
    return job_cost(job, costs)


def gamma_pair_cost(looks: str = "20x4", costs: Mapping[str, Any] | None = None) -> float:
    """Credits of one INSAR_GAMMA pair."""
    return job_cost({"job_type": "INSAR_GAMMA", "job_parameters": {"looks": looks}}, costs)


def combine(estimates: Iterable[CreditEstimate], stack: str | None = None) -> CreditEstimate:
    """One estimate for several stacks' jobs (what a pipeline run submits in all)."""
    parts = list(estimates)
    prices: Counter[float] = Counter()
    for part in parts:
        prices.update(part.prices)
    types = Counter(p.job_type for p in parts if p.jobs)
    looks = Counter(p.looks for p in parts if p.jobs)
    bursts = Counter(p.bursts for p in parts if p.jobs)
    return CreditEstimate(
        job_type=types.most_common(1)[0][0] if types else "",
        jobs=sum(p.jobs for p in parts), credits=float(sum(p.credits for p in parts)),
        looks=looks.most_common(1)[0][0] if looks else None,
        bursts=bursts.most_common(1)[0][0] if bursts else None, prices=dict(prices),
        source=FROM_HYP3 if parts and all(p.source == FROM_HYP3 for p in parts) else BUNDLED,
        stack=stack or ", ".join(str(p.stack) for p in parts if p.jobs) or None)


def estimate_from_dict(data: Mapping[str, Any]) -> CreditEstimate:
    """A `CreditEstimate` back from its `to_dict()` (what a Prefect task returns)."""
    return CreditEstimate(job_type=str(data.get("job_type") or ""), jobs=int(data["jobs"]),
                          credits=float(data["credits"]), looks=data.get("looks"),
                          bursts=data.get("bursts"),
                          prices={float(k): int(v) for k, v in (data.get("prices") or {}).items()},
                          source=str(data.get("source") or BUNDLED), stack=data.get("stack"))


def product_costs(stacks_by_product: Mapping[str, Mapping[Any, Sequence[Any]]],
                  looks: str = "20x4", pairs_per_date: int = 3,
                  costs: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Credits per pair and per new date (`pairs_per_date` pairs each) of the stacks each
    product finds over an AOI: "S1_SLC" stacks are INSAR_GAMMA frames, "S1_Burst" stacks
    multi-burst groups (priced by their bursts per date). A product whose job type does not
    take `looks` (INSAR_GAMMA has no 5x1) gets None."""
    from insarhub.search.multiburst import is_burst, stack_cells

    out: dict[str, dict[str, Any]] = {}
    for product, stacks in stacks_by_product.items():
        per_stack: dict[str, float | None] = {}
        for key, products in stacks.items():
            if product == "S1_SLC":
                allowed = looks in (bundled_costs()["INSAR_GAMMA"].get("cost_table") or {})
                per_stack[str(key)] = gamma_pair_cost(looks, costs) if allowed else None
            else:
                bursts = len(stack_cells(products)) if products and is_burst(products[0]) else 1
                per_stack[str(key)] = multi_burst_pair_cost(bursts, looks, costs)
        known = [c for c in per_stack.values() if c is not None]
        per_pair = float(sum(known)) if known and len(known) == len(per_stack) else None
        out[product] = {"stacks": len(stacks), "credits_per_pair_by_stack": per_stack,
                        "credits_per_pair": per_pair,
                        "credits_per_new_date": None if per_pair is None
                        else per_pair * pairs_per_date}
    return out


def cheapest_product(costs_by_product: Mapping[str, Mapping[str, Any]]) -> str:
    """The product whose stacks cost least per new date (bursts on a tie: ASF's preferred
    path); products that found no stack are not candidates."""
    candidates = [(float(c["credits_per_new_date"]), 0 if p == "S1_Burst" else 1, p)
                  for p, c in costs_by_product.items()
                  if c.get("stacks") and c.get("credits_per_new_date") is not None]
    if not candidates:
        from insarhub.errors import SearchError

        raise SearchError("product='auto': neither SLC frames nor bursts cover the AOI in the "
                          "dates asked; widen the dates or the AOI")
    return min(candidates)[2]
