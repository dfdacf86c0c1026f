"""Publish a products folder to S3, uploading only the files that changed.

Credentials come from boto3's standard chain (AWS_* environment variables, ~/.aws config,
instance roles) and are never logged. A file is unchanged when the object under the same key
has the file's MD5: as its ETag (single-part uploads) or in the ``md5`` metadata that every
upload carries (multipart uploads, whose ETag is not an MD5). Objects under the prefix that
have no local file are left alone (nothing is deleted).
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from insarhub.errors import ProductError
from insarhub.products.stac import MEDIA_TYPES
from insarhub.settings import redact

log = logging.getLogger(__name__)

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MD5_METADATA_KEY = "md5"


@dataclass
class PublishResult:
    """What one publish did: object keys uploaded and keys left alone because unchanged."""

    bucket: str
    prefix: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def urls(self) -> list[str]:
        return [f"s3://{self.bucket}/{key}" for key in self.uploaded + self.skipped]

    def object_keys(self) -> list[str]:
        """Every object key of the products (uploaded now or already there)."""
        return self.uploaded + self.skipped


def presigned_urls(bucket: str, keys: list[str], endpoint_url: str | None = None,
                   expires_s: int = 7 * 24 * 3600, *, region_name: str | None = None,
                   client: Any = None) -> dict[str, str]:
    """HTTPS GET links to `keys` that work without credentials for `expires_s` seconds (at
    most 7 days with SigV4), by key. Signing is local: no request is made."""
    if not 1 <= int(expires_s) <= 7 * 24 * 3600:
        raise ProductError(f"expires_s={expires_s} must be 1 s to 7 days (604800 s), the "
                           "longest a presigned S3 URL lives")
    s3 = client or _client(endpoint_url, region_name, signature_version="s3v4")
    return {key: str(s3.generate_presigned_url("get_object",
                                               Params={"Bucket": bucket, "Key": key},
                                               ExpiresIn=int(expires_s)))
            for key in keys}


def publish_s3(
    out_dir: Path | str,
    bucket: str,
    prefix: str = "",
    endpoint_url: str | None = None,
    *,
    region_name: str | None = None,
    client: Any = None,
) -> PublishResult:
    """Upload every file under ``out_dir`` to ``s3://bucket/prefix/<relative path>``.

    Files whose object already holds the same bytes are skipped. ``endpoint_url`` points at
    an S3-compatible server (MinIO, moto, ...); ``client`` may be a ready boto3 S3 client.
    """
    directory = Path(out_dir)
    files = _local_files(directory)
    if not BUCKET_NAME.match(bucket or ""):
        raise ProductError(
            f"bucket={bucket!r} is not a valid S3 bucket name: 3-63 lowercase letters, digits, "
            "dots or hyphens, starting and ending with a letter or digit"
        )
    key_prefix = prefix.strip("/")
    s3 = client or _client(endpoint_url, region_name)
    where = endpoint_url or "AWS S3"
    result = PublishResult(bucket=bucket, prefix=key_prefix)
    try:
        _check_bucket(s3, bucket, where)
        remote = _remote_etags(s3, bucket, key_prefix)
        for path in files:
            key = "/".join(filter(None, [key_prefix, path.relative_to(directory).as_posix()]))
            digest = _md5(path)
            if _unchanged(s3, bucket, key, digest, remote.get(key)):
                result.skipped.append(key)
                continue
            s3.upload_file(
                str(path), bucket, key,
                ExtraArgs={"ContentType": _content_type(path),
                           "Metadata": {MD5_METADATA_KEY: digest}},
            )
            result.uploaded.append(key)
            log.info("uploaded s3://%s/%s", bucket, key)
    except ProductError:
        raise
    except Exception as exc:  # botocore errors: credentials, connection, access
        message = redact(str(exc), _credential_values(s3))
        raise ProductError(
            f"publishing {directory} to s3://{bucket}/{key_prefix} at {where} failed after "
            f"{len(result.uploaded)} upload(s): {type(exc).__name__}: {message}"
        ) from None
    log.info("published %s to s3://%s/%s: %d uploaded, %d unchanged",
             directory, bucket, key_prefix, len(result.uploaded), len(result.skipped))
    return result


def _local_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ProductError(f"out_dir={str(directory)!r} is not a directory of products")
    files = sorted(
        path for path in directory.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )
    if not files:
        raise ProductError(f"out_dir={str(directory)!r} holds no files to publish")
    return files


def _client(endpoint_url: str | None, region_name: str | None,
            signature_version: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(signature_version=signature_version) if signature_version else None
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url,
                                          region_name=region_name, config=config)


def _check_bucket(s3: Any, bucket: str, where: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise ProductError(
                f"bucket={bucket!r} does not exist at {where}: create it first "
                f"(aws s3 mb s3://{bucket}) or name an existing bucket"
            ) from None
        if code in ("403", "AccessDenied", "Forbidden"):
            raise ProductError(
                f"access to bucket={bucket!r} at {where} is denied: check the AWS credentials "
                "(AWS_PROFILE / AWS_ACCESS_KEY_ID) and the bucket policy"
            ) from None
        raise


def _remote_etags(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    etags: dict[str, str] = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
        for item in page.get("Contents", []):
            etags[item["Key"]] = str(item.get("ETag", "")).strip('"')
    return etags


def _unchanged(s3: Any, bucket: str, key: str, digest: str, etag: str | None) -> bool:
    if etag is None:
        return False
    if etag == digest:
        return True
    if "-" not in etag:  # a single-part object with other bytes
        return False
    metadata = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {})
    return bool(metadata.get(MD5_METADATA_KEY) == digest)


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _content_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _credential_values(s3: Any) -> list[str]:
    try:
        credentials = s3._request_signer._credentials
        return [value for value in (credentials.secret_key, credentials.token) if value]
    except AttributeError:
        return []
