"""Handles on the real servers the tests start (shared by the conftests)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any


@dataclass
class S3Server:
    """moto's S3 server (a subprocess on loopback)."""

    endpoint_url: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client("s3", endpoint_url=self.endpoint_url)
