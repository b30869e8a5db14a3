"""Where a data directory lives: a local folder, or an object-store URI with its options.

:func:`open_data_root` turns ``settings.data_dir`` and ``settings.storage`` into a
:class:`DataRoot`: the :class:`~omnivec.indexer.storage.objects.Objects` under it, and how to
open a LanceDB database there (URI, ``storage_options``, read consistency). A collection's root
is ``root.child(name)``; its table lives in the LanceDB database at that root.

Options follow LanceDB's names (``aws_endpoint``, ``aws_access_key_id``, ``allow_http``, ...):
first ``[storage]`` in the config file or ``OMNIVEC_STORAGE__*``, then the variables of the AWS
tools (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ALLOW_HTTP``). They hold secrets: a DataRoot's
repr leaves them out, and :attr:`DataRoot.uri` never contains them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from omnivec.indexer.config import StorageSettings
from omnivec.indexer.storage.lance_cache import LanceCache
from omnivec.indexer.storage.objects import LocalObjects, Objects

__all__ = ["DEFAULT_REMOTE_CONSISTENCY_SECONDS", "DataRoot", "lance_options", "open_data_root"]

# How stale a replica may read by default on an object store (settings.storage.read_consistency).
DEFAULT_REMOTE_CONSISTENCY_SECONDS = 1.0

# (option, environment variables in order of preference) for S3 URIs.
_AWS_ENV = (
    ("aws_endpoint", ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")),
    ("aws_region", ("AWS_REGION", "AWS_DEFAULT_REGION")),
    ("aws_access_key_id", ("AWS_ACCESS_KEY_ID",)),
    ("aws_secret_access_key", ("AWS_SECRET_ACCESS_KEY",)),
    ("aws_session_token", ("AWS_SESSION_TOKEN",)),
    ("allow_http", ("AWS_ALLOW_HTTP",)),
)


@dataclass(frozen=True)
class DataRoot:
    """A data directory (or a collection's part of one): its objects and its LanceDB database."""

    uri: str  # a folder path or an object-store URI; never holds credentials
    objects: Objects = field(repr=False)
    storage_options: dict[str, str] = field(repr=False, default_factory=dict)
    read_consistency_seconds: float | None = None
    # LanceDB's bounded caches, shared with the root's children (its collections).
    lance_cache: LanceCache = field(repr=False, compare=False, default_factory=LanceCache)

    @property
    def local_path(self) -> Path | None:
        return self.objects.local_path

    @property
    def is_local(self) -> bool:
        return self.local_path is not None

    @property
    def follows_other_writers(self) -> bool:
        """Whether other processes may commit here and this one must notice (read consistency
        set): then derived state (ANN index, payload copy) is checked against the table version
        on every use, not only after this process's own writes."""
        return self.read_consistency_seconds is not None

    def child(self, name: str) -> DataRoot:
        uri = str(Path(self.uri) / name) if self.is_local else f"{self.uri.rstrip('/')}/{name}"
        return DataRoot(
            uri,
            self.objects.child(name),
            self.storage_options,
            self.read_consistency_seconds,
            self.lance_cache,
        )

    def connect(self) -> Any:
        """The LanceDB database at this root (tables are its children)."""
        from omnivec.indexer.storage.lancedb_import import import_lancedb

        lancedb = import_lancedb()
        interval = self.read_consistency_seconds
        return lancedb.connect(
            self.uri,
            storage_options=self.storage_options or None,
            read_consistency_interval=None if interval is None else timedelta(seconds=interval),
            session=self.lance_cache.session(),
        )


def _is_uri(data_dir: Path | str) -> bool:
    return isinstance(data_dir, str) and "://" in data_dir


def lance_options(uri: str, settings: StorageSettings) -> dict[str, str]:
    """LanceDB ``storage_options`` for ``uri``: ``[storage]`` settings, then AWS variables."""
    chosen: dict[str, str | None] = {
        "aws_endpoint": settings.endpoint,
        "aws_region": settings.region,
        "aws_access_key_id": settings.access_key_id,
        "aws_secret_access_key": (
            settings.secret_access_key.get_secret_value() if settings.secret_access_key else None
        ),
        "aws_session_token": (
            settings.session_token.get_secret_value() if settings.session_token else None
        ),
        "allow_http": None if settings.allow_http is None else str(settings.allow_http).lower(),
    }
    options: dict[str, str] = {}
    if uri.split("://", 1)[0] in ("s3", "s3a", "s3+ddb"):
        for key, names in _AWS_ENV:
            value = chosen[key]
            if value is None:
                value = next((os.environ[n] for n in names if os.environ.get(n)), None)
            if value is not None:
                options[key] = value
        if options.get("aws_endpoint", "").startswith("http://") and "allow_http" not in options:
            options["allow_http"] = "true"  # a plain-http endpoint was asked for explicitly
        options.setdefault("aws_region", "us-east-1")  # S3-compatible stores ignore it
    elif settings.allow_http is not None:
        options["allow_http"] = str(settings.allow_http).lower()
    options["client_max_retries"] = str(settings.max_retries)
    options["client_retry_timeout"] = str(int(max(1, settings.retry_timeout_seconds)))
    for key, secret in settings.options.items():
        options[key] = secret.get_secret_value()
    return options


def open_data_root(data_dir: Path | str, settings: StorageSettings | None = None) -> DataRoot:
    """The DataRoot for ``data_dir``: a local folder (today's layout and behaviour) or a URI."""
    settings = settings or StorageSettings()
    consistency = settings.read_consistency_seconds
    cache = LanceCache(settings.metadata_cache_mb, settings.index_cache_mb)
    if not _is_uri(data_dir):
        path = Path(data_dir)
        return DataRoot(str(path), LocalObjects(path), {}, consistency, cache)
    from omnivec.indexer.storage.object_store import open_object_store

    uri = str(data_dir).rstrip("/")
    options = lance_options(uri, settings)
    return DataRoot(
        uri,
        open_object_store(uri, options),
        options,
        DEFAULT_REMOTE_CONSISTENCY_SECONDS if consistency is None else consistency,
        cache,
    )
