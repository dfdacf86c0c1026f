"""Credits before submission: HyP3's cost rule, the bundled tables, the ceiling, the choice."""

from __future__ import annotations

import pytest
from insarhub_sandbox.hyp3.validate import costs_table, job_specs

from insarhub.credits import (
    CreditCeilingError,
    bundled_costs,
    cheapest_product,
    check_ceiling,
    combine,
    estimate_jobs,
    job_cost,
    multi_burst_pair_cost,
)
from insarhub.errors import ConfigError
from insarhub.processor.hyp3_jobs import (
    BurstOptions,
    GammaOptions,
    prepare_insar_gamma_job,
    prepare_insar_isce_multi_burst_job,
)

SLC_A = "S1A_IW_SLC__1SDV_20200102T133500_20200102T133527_030626_038260_1C8A"
SLC_B = "S1A_IW_SLC__1SDV_20200114T133459_20200114T133527_030801_038861_2D3F"


def bursts(n: int, day: str) -> list[str]:
    return [f"S1_{136231 + i:06d}_IW2_{day}T022312_VV_7C85-BURST" for i in range(n)]


def test_the_bundled_tables_are_what_hyp3_answers_at_get_costs() -> None:
    served = costs_table()  # the sandbox's /costs, from ASF's job specs
    for job_type, entry in bundled_costs().items():
        assert served[job_type] == entry


@pytest.mark.parametrize(("n", "looks", "cost"), [
    (1, "20x4", 1), (4, "20x4", 1), (5, "20x4", 5), (12, "20x4", 5), (13, "20x4", 10),
    (15, "20x4", 10), (3, "10x2", 1), (4, "10x2", 5), (10, "10x2", 10), (2, "5x1", 5)])
def test_a_multi_burst_pair_costs_by_its_burst_count(n: int, looks: str, cost: float) -> None:
    job = prepare_insar_isce_multi_burst_job(bursts(n, "20200604"), bursts(n, "20200616"),
                                             BurstOptions(looks=looks))
    assert job_cost(job) == cost == multi_burst_pair_cost(n, looks)
    spec = job_specs()["INSAR_ISCE_MULTI_BURST"]  # the sandbox's own charge for it
    assert float(spec.credit_cost(job["job_parameters"])) == cost


def test_an_estimate_says_what_it_costs_and_the_ceiling_refuses_above_it() -> None:
    jobs = [prepare_insar_gamma_job(SLC_A, SLC_B, GammaOptions()) for _ in range(54)]
    estimate = estimate_jobs(jobs, stack="p100_f466")
    assert estimate.line() == "54 pairs x 10 = 540 credits (INSAR_GAMMA 20x4)"
    with pytest.raises(CreditCeilingError) as caught:
        check_ceiling(estimate, 300)
    assert str(caught.value) == (
        "p100_f466: this network needs 540 credits (54 pairs x 10, INSAR_GAMMA 20x4), above "
        "max_credits=300: lower max_degree, fewer dates (start/end), a smaller AOI, or "
        "product='S1_Burst'; nothing was submitted")
    check_ceiling(estimate, 540)
    check_ceiling(estimate, None)
    with pytest.raises(ConfigError, match="max_credits=-1"):
        check_ceiling(estimate, -1)
    mixed = combine([estimate, estimate_jobs([prepare_insar_isce_multi_burst_job(
        bursts(6, "20200604"), bursts(6, "20200616"), BurstOptions())])])
    assert (mixed.jobs, mixed.credits) == (55, 545)
    assert "54 x 10" in mixed.line() and "1 x 5" in mixed.line()


def test_auto_takes_the_product_cheapest_per_new_date() -> None:
    costs = {"S1_SLC": {"stacks": 1, "credits_per_new_date": 30.0},
             "S1_Burst": {"stacks": 1, "credits_per_new_date": 15.0}}
    assert cheapest_product(costs) == "S1_Burst"
    costs["S1_Burst"]["credits_per_new_date"] = 30.0
    assert cheapest_product(costs) == "S1_Burst"  # a tie: ASF's preferred path
    costs["S1_Burst"]["stacks"] = 0
    assert cheapest_product(costs) == "S1_SLC"
