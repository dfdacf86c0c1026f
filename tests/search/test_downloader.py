"""Downloader set-up and errors, bursts, and where the catalog is."""

from __future__ import annotations

from pathlib import Path

import pytest

from insarhub import Downloader
from insarhub.errors import AOIError, ConfigError, CredentialsError, SearchError
from insarhub.search.asf import catalog_host, catalog_session
from insarhub.search.stacks import stack_dirname

SEED_AOI = [-113.05, 37.74, -112.68, 38.00]


def test_catalog_defaults_to_asf_and_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert catalog_host() == "cmr.earthdata.nasa.gov"
    monkeypatch.setenv("INSARHUB_ASF_URL", "http://127.0.0.1:8765/")
    assert catalog_host() == "127.0.0.1:8765"
    session = catalog_session()
    assert type(session.get_adapter("https://127.0.0.1:8765/search")).__name__ == "PlainHTTPAdapter"


def test_bad_setup_is_refused_with_clear_errors() -> None:
    with pytest.raises(ConfigError, match="needs intersectsWith"):
        Downloader.create("S1_SLC")
    with pytest.raises(ConfigError, match="unknown search keyword.*relativOrbit"):
        Downloader.create("S1_SLC", intersectsWith=SEED_AOI, relativOrbit=100)
    with pytest.raises(AOIError, match="min_lat 38.0 > max_lat 37.74"):
        Downloader.create("S1_SLC", intersectsWith=[-113.05, 38.0, -112.68, 37.74])
    with pytest.raises(ConfigError, match="choose one of S1_Burst, S1_DISP, S1_SLC"):
        Downloader.create("S1_GRD", intersectsWith=SEED_AOI)
    s1 = Downloader.create("S1_SLC", intersectsWith=SEED_AOI)
    with pytest.raises(SearchError, match=r"call \.search\(\) first"):
        s1.summary()


def test_empty_search_is_an_error_unless_allowed(catalog_env, capsys: pytest.CaptureFixture[str]) -> None:
    s1 = Downloader.create("S1_SLC", intersectsWith=SEED_AOI, start="2010-01-01", end="2010-12-31")
    with pytest.raises(SearchError, match="no scenes found for AOI .*start='2010-01-01'"):
        s1.search()
    assert s1.search(allow_empty=True) == {}
    assert "Found 0 scenes in 0 stacks" in capsys.readouterr().out


def test_burst_stack_search_and_download(catalog_env, tmp_path: Path) -> None:
    bursts = Downloader.create("S1_Burst", fullBurstID="174_372326_IW3")
    stacks = bursts.search()
    # one burst is a one-burst multi-burst stack: path 174, IW3, burst 372326
    assert list(stacks) == ["p174_IW3_372326"] and len(stacks["p174_IW3_372326"]) == 166
    table = bursts.summary(show=False)
    assert table.iloc[0]["stack"] == "p174_IW3_372326" and table.iloc[0]["count"] == 166
    assert (table.iloc[0]["bursts"], table.iloc[0]["swaths"]) == (1, "IW3")
    bursts.filter(path_frame="174_372326_IW3", start="2021-12-01")  # a burst ID names its stack
    files = bursts.download(workdir=tmp_path, progress=False)["p174_IW3_372326"]
    assert [f.parent for f in files] == [tmp_path / "p174_IW3_372326" / "bursts"] * len(files)
    products = bursts.stacks["p174_IW3_372326"]
    assert [f.stat().st_size for f in files] == [int(p.properties["bytes"]) for p in products]


def test_download_of_real_asf_urls_needs_credentials(catalog_env, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    s1 = Downloader.create("S1_SLC", intersectsWith=SEED_AOI, relativeOrbit=100, frame=466,
                           start="2020-01-01", end="2020-01-31")
    s1.search()
    for product in s1.stacks[(100, 466)]:  # as if the catalog were ASF's
        product.properties["url"] = product.properties["url"].replace(
            catalog_env.url, "https://datapool.asf.alaska.edu")
    monkeypatch.delenv("EARTHDATA_TOKEN")
    with pytest.raises(CredentialsError, match="datapool.asf.alaska.edu needs Earthdata credentials"):
        s1.download(workdir=tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.zip*"))


def test_sandbox_download_without_token_is_refused(catalog_env, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    s1 = Downloader.create("S1_SLC", intersectsWith=SEED_AOI, relativeOrbit=100, frame=466,
                           start="2020-01-01", end="2020-01-15")
    s1.search()
    monkeypatch.delenv("EARTHDATA_TOKEN")
    with pytest.raises(CredentialsError, match="HTTP 401"):
        s1.download(workdir=tmp_path, progress=False)


def test_download_named_scenes_only(catalog_env, tmp_path: Path) -> None:
    s1 = Downloader.create("S1_SLC", intersectsWith=SEED_AOI, relativeOrbit=100, frame=466,
                           start="2020-01-01", end="2020-03-31")
    s1.search()
    names = [p.properties["sceneName"] for p in s1.stacks[(100, 466)][:2]]
    files = s1.download(scenes=names, workdir=tmp_path, progress=False)
    assert [f.stem for f in files[(100, 466)]] == names
    with pytest.raises(Exception, match="not in the current results"):
        s1.download(scenes=["S1A_nothing"], workdir=tmp_path, progress=False)


def test_stack_dirnames() -> None:
    assert stack_dirname((100, 466)) == "p100_f466"
    assert stack_dirname("174_372326_IW3") == "174_372326_IW3"
