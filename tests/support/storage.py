"""Where a test's collections live: local disk or SeaweedFS, for suites parametrised over both.

The storage-dependent suites (collections, durability, congruence, crash loop) take the
module-scoped ``storage`` fixture (tests/conftest.py), parametrised ``local`` / ``s3``: the
same tests run against a temp folder and against a fresh prefix of the session's SeaweedFS.

    storage.data_dir(name)     a fresh folder or s3:// URI for one data directory
    storage.settings(base, d)  Settings over data dir ``d`` (S3 endpoint and keys in [storage])
    storage.env(d)             environment for a CLI or server subprocess over ``d``
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.seaweedfs import SeaweedFS

__all__ = ["STORAGES", "StorageTarget"]

STORAGES = ("local", "s3")


@dataclass
class StorageTarget:
    kind: str  # "local" or "s3"
    folder: Path  # a temp folder of the module (local data dirs go below it)
    s3: SeaweedFS | None = None

    def data_dir(self, name: str = "data") -> Path | str:
        if self.s3 is not None:
            return self.s3.uri(name)
        path = self.folder / name
        suffix = 0
        while path.exists():
            suffix += 1
            path = self.folder / f"{name}-{suffix}"
        path.mkdir(parents=True)
        return path

    def settings(self, base: Any, data_dir: Path | str) -> Any:
        """``base`` (a Settings) over ``data_dir``, with the store's endpoint and keys."""
        from omnivec.indexer.config import StorageSettings

        update: dict[str, Any] = {"data_dir": data_dir}
        if self.s3 is not None:
            update["storage"] = StorageSettings.model_validate({
                "endpoint": self.s3.endpoint, "access_key_id": self.s3.access_key,
                "secret_access_key": self.s3.secret_key, "region": "us-east-1",
                "allow_http": True,
            })
        return base.model_copy(update=update)

    def env(self, data_dir: Path | str) -> dict[str, str]:
        """OMNIVEC_DATA_DIR (and the AWS_* variables for S3) for a subprocess or the CLI."""
        extra = self.s3.env() if self.s3 is not None else {}
        return {**extra, "OMNIVEC_DATA_DIR": str(data_dir)}
