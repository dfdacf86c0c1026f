"""The fleet's monthly budget: what fits is bought newest first and by priority, never more."""

from __future__ import annotations

from pathlib import Path

from insarhub.fleet import FleetBudget, Need, plan


def test_newest_dates_of_every_aoi_before_any_backfill() -> None:
    needs = [Need("low", 0, (10.0, 10.0, 10.0)), Need("high", 5, (30.0, 30.0)),
             Need("mid", 2, (10.0,))]
    result = plan(needs, 65.0, "2023-01")
    # rank 0 of all (high 30, mid 10, low 10) = 50; then high's second date (30) does not
    # fit, low's second (10) does; low's third would make 70 > 65
    assert result.grants == {"high": 30.0, "mid": 10.0, "low": 20.0}
    assert result.deferred == {"high": 30.0, "low": 10.0}
    assert result.granted <= 65.0


def test_high_priority_first_when_the_newest_dates_do_not_all_fit() -> None:
    result = plan([Need("a", 1, (40.0,)), Need("b", 3, (40.0,)), Need("c", 2, (40.0,))],
                  90.0, "2023-01")
    assert result.grants == {"b": 40.0, "c": 40.0, "a": 0.0}
    assert result.deferred == {"a": 40.0}


def test_the_month_survives_a_restart_and_follows_hyp3(tmp_path: Path) -> None:
    with FleetBudget.for_workdir(tmp_path, 100.0) as budget:
        first, ids = budget.grant([Need("a", 0, (30.0, 30.0))], "2023-01", hyp3_remaining=None)
        assert first.grants == {"a": 60.0}
        assert budget.count_jobs([("job-1", 10.0), ("job-2", 10.0)], "a", "2023-01", ids["a"]) == 20
        assert budget.count_jobs([("job-1", 10.0)], "a", "2023-01", ids["a"]) == 0  # once only
    with FleetBudget.for_workdir(tmp_path, 100.0) as budget:  # a new process
        assert budget.committed("2023-01") == 60.0  # open grant counts whole until settled
        assert budget.settle(ids["a"]) == 20.0
        assert budget.committed("2023-01") == 20.0
        # HyP3 says fewer credits remain than the budget: the plan follows HyP3
        second, _ = budget.grant([Need("a", 0, (30.0, 30.0, 30.0))], "2023-01",
                                 hyp3_remaining=35.0)
        assert second.available == 35.0 and second.grants == {"a": 30.0}
        assert budget.available("2023-02") == 100.0  # a new month starts afresh
        assert budget.spent("2023-01", "a") == 20.0
        assert budget.open_grants("a")[0][1] == "2023-01"


def test_a_new_aoi_needs_its_whole_first_network_priced_per_date(tmp_path: Path) -> None:
    from insarhub.fleet.needs import estimate_need, pick_stack
    from insarhub.monitoring import MonitorConfig

    def stack(name: str, days: list[str]) -> dict:
        return {"name": name, "scenes": [{"umm": {"TemporalExtent": {"RangeDateTime": {
            "BeginningDateTime": f"{d}T13:35:03Z"}}}} for d in days]}

    found = [stack("p20_f118", ["2020-01-06"]),
             stack("p100_f466", ["2020-01-02", "2020-01-14", "2020-01-26", "2020-02-07"])]
    assert pick_stack(found, None, tmp_path)["name"] == "p100_f466"  # the most dates
    assert pick_stack(found, 20, tmp_path)["name"] == "p20_f118"
    assert pick_stack(found, 93, tmp_path) is None  # no coverage on that orbit
    split = [stack("p71_IW1-3_150350-150355", ["2020-01-02"]),  # the search's first
             stack("p71_IW1-2_150359", ["2020-01-02"])]
    assert pick_stack(split, 71, tmp_path)["name"] == "p71_IW1-3_150350-150355"
    (tmp_path / "p71_IW1-2_150359").mkdir()
    (tmp_path / "p71_IW1-2_150359" / "insarhub.db").touch()  # the AOI's series is there
    assert pick_stack(split, 71, tmp_path)["name"] == "p71_IW1-2_150359"  # never switches
    config = MonitorConfig.from_dict({"name": "cedar", "aoi": [-113.05, 37.74, -112.68, 38.0],
                                      "stack": 100, "start": "2020-01-01",
                                      "workdir": str(tmp_path), "new_date_pairs": 3})
    need = estimate_need(config, found[1], priority=4)
    # INSAR_GAMMA 20x4 costs 10 a pair; the first date pairs with nothing before it
    assert need.per_date == (30.0, 30.0, 30.0) and need.priority == 4 and need.total == 90.0
