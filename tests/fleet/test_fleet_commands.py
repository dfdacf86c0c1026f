"""`insarhub fleet add|list|remove|status`: the fleet file edited and read from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import main


def test_add_list_status_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = str(tmp_path / "fleet.yaml")
    assert main(["fleet", "--fleet", fleet, "add", "cedar", "--geometry=-113.05,37.74,-112.68,38.0",
                 "--product", "gamma", "--orbit", "100", "--priority", "5",
                 "--threshold-mm", "12"]) == 0
    assert main(["fleet", "--fleet", fleet, "add", "delta", "--geometry",
                 "POLYGON ((10 10, 10.1 10, 10.1 10.1, 10 10.1, 10 10))"]) == 0
    assert main(["fleet", "--fleet", fleet, "add", "cedar", "--geometry", "1,1,2,2"]) == 1
    assert "already has an AOI named 'cedar'" in capsys.readouterr().err
    assert main(["fleet", "--fleet", fleet, "add", "flat", "--geometry", "1,1,1,2"]) == 1
    assert "min_lon < max_lon" in capsys.readouterr().err
    assert main(["fleet", "--fleet", fleet, "list"]) == 0
    listing = capsys.readouterr().out
    assert "cedar" in listing and "gamma" in listing and "delta" in listing
    assert main(["fleet", "--fleet", fleet, "status", "--json", "--month", "2023-01"]) == 0
    rows = {r["aoi"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["cedar"]["status"] == "never run" and rows["cedar"]["priority"] == 5
    assert rows["cedar"]["credits_month"] == 0.0 and rows["cedar"]["newest_date"] is None
    assert main(["fleet", "--fleet", fleet, "remove", "cedar"]) == 0
    capsys.readouterr()
    assert main(["fleet", "--fleet", fleet, "status"]) == 0
    table = capsys.readouterr().out
    assert "delta" in table and "cedar" not in table and "dates_pending" in table
