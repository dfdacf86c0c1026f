"""Handles on the real servers the tests start (shared by the conftests)."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insarhub_sandbox.admin import SandboxAdmin
from insarhub_sandbox.server import SANDBOX_TOKEN

from flows.server import free_port


@dataclass
class S3Server:
    """moto's S3 server (a subprocess on loopback)."""

    endpoint_url: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client("s3", endpoint_url=self.endpoint_url)


@dataclass
class SandboxProcess:
    """A sandbox served by `insarhub sandbox serve` in a subprocess."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    admin: SandboxAdmin

    @property
    def env(self) -> dict[str, str]:
        return {"INSARHUB_ASF_URL": self.url, "INSARHUB_HYP3_URL": self.url,
                "EARTHDATA_TOKEN": SANDBOX_TOKEN}


def start_sandbox(data_dir: Path, *extra: str) -> SandboxProcess:
    port = free_port()
    cmd = [sys.executable, "-m", "insarhub_sandbox", "serve", "--port", str(port),
           "--data-dir", str(data_dir), *extra]
    log = (data_dir.parent / f"sandbox-{port}.log").open("wb")
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    admin = SandboxAdmin(url)
    try:
        admin.wait_healthy(timeout=60)
    except Exception:
        process.kill()
        raise
    return SandboxProcess(url, data_dir, process, admin)


def stop_sandbox(proc: SandboxProcess) -> None:
    proc.process.send_signal(signal.SIGINT)
    try:
        proc.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.process.kill()
        proc.process.wait()
