"""Parallel, resumable, verified downloads against the sandbox's file server."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
import requests
from insarhub_sandbox.catalog.service import CatalogServer
from insarhub_sandbox.http import Faults
from insarhub_sandbox.records import SceneRecord
from insarhub_sandbox.server import SANDBOX_TOKEN

from insarhub.errors import CredentialsError, DownloadError
from insarhub.transfer import FileSpec, download_files, require_credentials


def records(server: CatalogServer, n: int, offset: int = 0) -> list[SceneRecord]:
    stack = [r for r in server.catalog.records if r.stack_key == "p100_f469"]
    return stack[offset:offset + n]


def spec(record: SceneRecord, folder: Path, **changes: object) -> FileSpec:
    values: dict[str, object] = {"url": record.file_url, "path": folder / f"{record.name}.zip",
                    "size": record.file_size, "md5": record.md5, **changes}
    return FileSpec(**values)  # type: ignore[arg-type]


def served(server: CatalogServer, record: SceneRecord) -> list[dict]:
    log = requests.get(f"{server.url}/_sandbox/files/log", timeout=10).json()
    return [entry for entry in log if entry["path"].endswith(f"/{record.name}.zip")]


def test_interrupted_download_resumes_from_the_part_file(catalog_env: CatalogServer,
                                                         tmp_path: Path) -> None:
    record = records(catalog_env, 1)[0]
    target = spec(record, tmp_path)
    catalog_env.set_faults(files=Faults(drop_rate=1.0))  # every body is cut halfway
    with pytest.raises(DownloadError, match="connection dropped"):
        download_files([target], retries=0, progress=False)
    part = target.path.with_name(target.path.name + ".part")
    kept = part.stat().st_size
    assert 0 < kept < record.file_size and not target.path.exists()
    catalog_env.set_faults()
    assert record.file_url is not None
    expected = requests.get(record.file_url, headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
                            timeout=10).content
    assert part.read_bytes() == expected[:kept]  # the half we have is the true first half

    before = len(served(catalog_env, record))
    download_files([target], progress=False)
    resumed = served(catalog_env, record)[before:]
    assert [entry["range"] for entry in resumed] == [f"bytes={kept}-"]  # no byte fetched twice
    assert hashlib.md5(target.path.read_bytes()).hexdigest() == record.md5
    assert not part.exists()


def test_flaky_server_still_delivers_verified_files(catalog_env: CatalogServer, tmp_path: Path) -> None:
    chosen = records(catalog_env, 8)
    catalog_env.set_faults(files=Faults(error_rate=0.3, drop_rate=0.4))
    paths = download_files([spec(r, tmp_path) for r in chosen], max_workers=4, progress=False,
                           retries=12, backoff=0.01)
    assert [p.name for p in paths] == [f"{r.name}.zip" for r in chosen]
    for record, path in zip(chosen, paths, strict=True):
        assert hashlib.md5(path.read_bytes()).hexdigest() == record.md5


def test_complete_files_are_skipped(catalog_env: CatalogServer, tmp_path: Path) -> None:
    record = records(catalog_env, 1, offset=10)[0]
    download_files([spec(record, tmp_path)], progress=False)
    count = len(served(catalog_env, record))
    download_files([spec(record, tmp_path)], progress=False)
    assert len(served(catalog_env, record)) == count


def test_damaged_file_is_fetched_again(catalog_env: CatalogServer, tmp_path: Path) -> None:
    record = records(catalog_env, 1, offset=11)[0]
    target = spec(record, tmp_path)
    target.path.write_bytes(b"x" * record.file_size)  # right size, wrong bytes
    download_files([target], progress=False)
    assert hashlib.md5(target.path.read_bytes()).hexdigest() == record.md5


def test_checksum_mismatch_fails_clearly(catalog_env: CatalogServer, tmp_path: Path) -> None:
    good, bad = records(catalog_env, 2, offset=12)
    specs = [spec(good, tmp_path), spec(bad, tmp_path, md5="0" * 32)]
    with pytest.raises(DownloadError, match=rf"1 of 2 .*{bad.name}.zip.*MD5"):
        download_files(specs, retries=1, backoff=0.01, progress=False)
    assert specs[0].path.is_file() and not specs[1].path.exists()


def test_unknown_file_is_not_retried(catalog_env: CatalogServer, tmp_path: Path) -> None:
    url = f"{catalog_env.url}/files/SLC/S1A_IW_SLC__1SDV_nothing.zip"
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_files([FileSpec(url, tmp_path / "x.zip")], progress=False)


def test_refused_credentials_raise_without_the_secret(catalog_env: CatalogServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("EARTHDATA_TOKEN", "wrong-secret-token-123")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialsError, match="HTTP 401") as raised:
        download_files([spec(records(catalog_env, 1, offset=13)[0], tmp_path)], progress=False)
    assert "wrong-secret-token-123" not in str(raised.value)
    assert "wrong-secret-token-123" not in caplog.text


def test_real_asf_urls_need_credentials_before_any_transfer(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://datapool.asf.alaska.edu/SLC/SA/S1A_IW_SLC__1SDV_20200102T133501.zip"
    with pytest.raises(CredentialsError, match="EARTHDATA_TOKEN.*netrc"):
        require_credentials([url])
    require_credentials(["http://127.0.0.1:8765/files/SLC/x.zip"])  # the sandbox: no check
    monkeypatch.setenv("EARTHDATA_TOKEN", "a-token")
    require_credentials([url])


def test_netrc_login_counts_as_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine urs.earthdata.nasa.gov login someone password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    require_credentials(["https://datapool.asf.alaska.edu/SLC/SA/x.zip"])


def test_two_files_with_one_target_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="share one target"):
        download_files([FileSpec("http://127.0.0.1:1/a", tmp_path / "a"),
                        FileSpec("http://127.0.0.1:1/b", tmp_path / "a")], progress=False)
