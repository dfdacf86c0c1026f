"""Granule name -> acquisition time, read in one place."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from insarhub.errors import ConfigError
from insarhub.granules import acquisition_date, acquisition_day, acquisition_time

SLC = "S1A_IW_SLC__1SDV_20200102T133501_20200102T133528_030626_038260_1C8A"
BURST = "S1_136231_IW2_20200604T022312_VV_7C85-BURST"


def test_slc_burst_and_burst_set_names() -> None:
    assert acquisition_time(SLC) == datetime(2020, 1, 2, 13, 35, 1)
    assert acquisition_date(BURST) == date(2020, 6, 4)
    assert acquisition_day(f"{BURST}+S1_136232_IW2_20200604T022315_VV_7C85-BURST") == "20200604"


def test_names_without_a_time() -> None:
    assert acquisition_time("ifg_20200102_20200114") is None
    assert acquisition_day("nothing") == "x"
    with pytest.raises(ConfigError, match="no acquisition time"):
        acquisition_date("not-a-granule")
