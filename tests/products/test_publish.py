"""publish_s3 against moto's S3 server on loopback: only what changed is uploaded."""

from __future__ import annotations

import hashlib
import logging
import shutil
import socket

import pytest

from insarhub.errors import ProductError
from insarhub.products import publish_s3


@pytest.fixture
def bucket(s3, request) -> str:
    name = f"products-{request.node.name.replace('_', '-')[:40].lower().strip('-')}"
    s3.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def out_dir(products, tmp_path):
    """A private copy of the session's products, free to change."""
    return shutil.copytree(products.out_dir, tmp_path / "products")


def remote_objects(s3, bucket: str) -> dict[str, bytes]:
    client = s3.client()
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing}


def test_publish_uploads_everything_then_nothing_then_only_the_change(s3, bucket, out_dir) -> None:
    local = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file())

    first = publish_s3(out_dir, bucket, "utah/p100_f466/", endpoint_url=s3.endpoint_url)
    assert sorted(first.uploaded) == [f"utah/p100_f466/{name}" for name in local]
    assert first.skipped == []
    objects = remote_objects(s3, bucket)
    for name in local:
        assert objects[f"utah/p100_f466/{name}"] == (out_dir / name).read_bytes()

    second = publish_s3(out_dir, bucket, "utah/p100_f466", endpoint_url=s3.endpoint_url)
    assert second.uploaded == []
    assert sorted(second.skipped) == sorted(first.uploaded)

    csv = out_dir / "timeseries_points.csv"
    csv.write_text(csv.read_text() + "\n")
    third = publish_s3(out_dir, bucket, "utah/p100_f466", endpoint_url=s3.endpoint_url)
    assert third.uploaded == ["utah/p100_f466/timeseries_points.csv"]
    assert len(third.skipped) == len(local) - 1
    assert remote_objects(s3, bucket)["utah/p100_f466/timeseries_points.csv"] == csv.read_bytes()


def test_objects_carry_content_type_and_md5(s3, bucket, out_dir) -> None:
    publish_s3(out_dir, bucket, "", endpoint_url=s3.endpoint_url)
    head = s3.client().head_object(Bucket=bucket, Key="velocity.tif")
    assert head["ContentType"] == "image/tiff; application=geotiff; profile=cloud-optimized"
    assert head["Metadata"]["md5"] == hashlib.md5((out_dir / "velocity.tif").read_bytes()).hexdigest()
    assert s3.client().head_object(Bucket=bucket, Key="item.json")["ContentType"] == "application/json"


def test_multipart_objects_are_compared_by_their_md5_metadata(s3, bucket, tmp_path) -> None:
    """Files above boto3's 8 MB multipart threshold get a non-MD5 ETag; they are still skipped."""
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "large.bin").write_bytes(bytes(range(256)) * (9 * 4096))  # 9 MiB
    first = publish_s3(folder, bucket, "x", endpoint_url=s3.endpoint_url)
    etag = s3.client().head_object(Bucket=bucket, Key="x/large.bin")["ETag"]
    assert "-" in etag  # multipart
    assert first.uploaded == ["x/large.bin"]
    again = publish_s3(folder, bucket, "x", endpoint_url=s3.endpoint_url)
    assert (again.uploaded, again.skipped) == ([], ["x/large.bin"])


def test_a_missing_bucket_is_a_clear_error(s3, out_dir) -> None:
    with pytest.raises(ProductError, match="bucket='no-such-bucket' does not exist at http://127"):
        publish_s3(out_dir, "no-such-bucket", "p", endpoint_url=s3.endpoint_url)


def test_an_invalid_bucket_name_is_a_clear_error(s3, out_dir) -> None:
    with pytest.raises(ProductError, match="bucket='My_Bucket' is not a valid S3 bucket name"):
        publish_s3(out_dir, "My_Bucket", "p", endpoint_url=s3.endpoint_url)


def test_an_empty_folder_is_a_clear_error(s3, bucket, tmp_path) -> None:
    with pytest.raises(ProductError, match="holds no files"):
        publish_s3(tmp_path, bucket, "p", endpoint_url=s3.endpoint_url)


def test_an_unreachable_endpoint_is_a_clear_error_without_secrets(s3, out_dir, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(ProductError, match="publishing .* failed after 0 upload") as error:
        publish_s3(out_dir, "some-bucket", "p", endpoint_url=endpoint)
    assert "testing-secret-key-value" not in str(error.value)
    assert "testing-secret-key-value" not in caplog.text


def test_credentials_are_never_logged(s3, bucket, out_dir, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    publish_s3(out_dir, bucket, "p", endpoint_url=s3.endpoint_url)
    assert "testing-secret-key-value" not in caplog.text
    assert "uploaded s3://" in caplog.text


def test_presigned_links_open_without_credentials(s3, bucket, out_dir, monkeypatch) -> None:
    import requests

    from insarhub.products import presigned_urls

    result = publish_s3(out_dir, bucket, "utah/p100_f466", endpoint_url=s3.endpoint_url)
    links = presigned_urls(bucket, result.object_keys(), s3.endpoint_url, expires_s=600)
    assert set(links) == set(result.object_keys())
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # a browser has none
        monkeypatch.delenv(name)
    png = links["utah/p100_f466/velocity.png"]
    assert "X-Amz-Expires=600" in png and "testing-secret-key-value" not in png
    response = requests.get(png, timeout=30)
    assert response.status_code == 200
    assert response.content == (out_dir / "velocity.png").read_bytes()
    with pytest.raises(ProductError, match="7 days"):
        presigned_urls(bucket, ["x"], s3.endpoint_url, expires_s=8 * 24 * 3600)
