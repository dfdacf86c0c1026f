"""'S1_DISP' search, filter and download against the sandbox catalog, through asf_search."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import requests
from asf_search import OPERAS1Product
from disp_helpers import AOI, END, FRAME, START

from insarhub import Downloader
from insarhub.disp.errors import DispCoverageError, DispFileError
from insarhub.disp.files import check_netcdf
from insarhub.errors import ConfigError
from insarhub.search.disp import dates_of
from insarhub.search.disp_coverage import require_coverage


def test_search_groups_products_by_frame_and_secondary_date(disp_sandbox, tmp_path) -> None:
    d = Downloader.create("S1_DISP", intersectsWith=AOI, start=START, end=END)
    stacks = d.search()
    assert set(stacks) == {"F31118", "F31466"}  # the ascending and descending sandbox frames
    for key, products in stacks.items():
        assert all(isinstance(p, OPERAS1Product) for p in products)
        assert {p.properties["frameNumber"] for p in products} == {int(key[1:])}
        assert {p.properties["OperaDispStackID"] for p in products} == {
            f"OPERA_L3_DISP-S1_IW_{key}_VV"}
        seconds = [dates_of(p)[1] for p in products]
        assert seconds == sorted(seconds)
        assert all(date(2020, 1, 1) <= s <= date(2020, 3, 31) for s in seconds)
    references = {dates_of(p)[0] for p in stacks["F31466"]}
    assert references == {date(2019, 8, 23), date(2020, 2, 19)}  # a moving ministack reference
    table = d.summary(show=False)
    assert set(table["frame"]) == {31118, 31466}
    assert d.footprint(save_path=tmp_path / "fp.png") is not None and (tmp_path / "fp.png").is_file()
    kept = d.filter(frame="F31466", start="2020-02-01")
    assert list(kept) == ["F31466"]
    assert all(dates_of(p)[1] >= date(2020, 2, 1) for p in kept["F31466"])
    with pytest.raises(ConfigError, match="F31118"):
        d.filter(frame=31118)  # filters narrow: 31118 is gone now


def test_aoi_outside_every_frame_names_the_nearest_and_suggests_auto(disp_sandbox) -> None:
    fairbanks = [-147.9, 64.7, -147.6, 64.9]  # in the sandbox world, with no DISP-S1
    with pytest.raises(DispCoverageError) as err:
        require_coverage(fairbanks, START, END)
    text = str(err.value)
    assert "nearest frame is F3" in text and "km" in text and "product='auto'" in text


def test_aoi_inside_a_frame_is_covered(disp_sandbox) -> None:
    coverage = require_coverage(AOI, START, END)
    assert coverage.covered and coverage.best in {"F31118", "F31466"}
    assert "0 HyP3 credits" in coverage.line()


def test_download_is_verified_and_a_corrupt_file_is_fetched_again(built_frame, disp_sandbox) -> None:
    target = built_frame.files[0]
    good = target.read_bytes()
    target.write_bytes(good[: len(good) // 2])  # truncated on disk
    assert check_netcdf(target) is not None
    built_frame.downloader.download(workdir=built_frame.workdir, progress=False)
    assert target.read_bytes() == good and check_netcdf(target) is None


def test_a_file_still_corrupt_after_a_second_download_is_named(disp_sandbox, tmp_path) -> None:
    d = Downloader.create("S1_DISP", intersectsWith=AOI, start="2020-03-01", end=END)
    d.search()
    d.filter(frame=FRAME)
    name = d.stacks[f"F{FRAME}"][0].properties["fileID"] + ".nc"
    served = Path(disp_sandbox.data_dir) / "disp" / "files" / name
    original = served.read_bytes()
    try:
        served.write_bytes(original[:1000] + b"\0" * (len(original) - 1000))  # ASF serves junk
        d.search()
        d.filter(frame=FRAME)
        with pytest.raises(DispFileError, match=name):
            d.download(workdir=tmp_path, progress=False)
        others = [p for p in (tmp_path / f"F{FRAME}" / "disp").glob("*.nc") if p.name != name]
        assert others and all(check_netcdf(p) is None for p in others)  # the good ones stay
    finally:
        served.write_bytes(original)
    assert requests.head(f"{disp_sandbox.url}/_sandbox/health", timeout=10).status_code in (200, 405)
