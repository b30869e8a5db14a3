"""Objects on an object store (S3 and S3-compatible stores, GCS, Azure) through ``obstore``.

obstore is the Python face of the Rust ``object_store`` crate, the same library LanceDB writes
its tables with, so one set of options (endpoint, credentials, ``allow_http``, retries) means
the same thing to both, and its conditional PUT (``mode="create"``: ``If-None-Match: *`` on S3)
is the one Lance commits rely on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from omnivec.indexer.storage.faults import storage_fault
from omnivec.indexer.storage.objects import Objects, join_key

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["StoreObjects", "open_object_store"]

# Keys of obstore's HTTP client options; every other option is the store's own configuration.
_CLIENT_OPTIONS = frozenset({
    "allow_http", "allow_invalid_certificates", "connect_timeout", "default_content_type",
    "http1_only", "http2_only", "pool_idle_timeout", "pool_max_idle_per_host", "proxy_url",
    "timeout", "user_agent",
})
# LanceDB's names for its retry options; obstore takes them as a retry config instead.
_RETRY_OPTIONS = frozenset({"client_max_retries", "client_retry_timeout"})


def open_object_store(uri: str, options: Mapping[str, str]) -> StoreObjects:
    """Objects under ``uri`` (``s3://bucket/prefix``), configured with the LanceDB-style
    ``options`` (``aws_endpoint``, ``aws_access_key_id``, ``allow_http``, ...)."""
    from obstore import store as obstore_stores

    # Typed loosely on purpose: the options are checked by obstore itself, per kind of store.
    from_url: Any = obstore_stores.from_url
    config: dict[str, Any] = {}
    client: dict[str, Any] = {}
    for key, value in options.items():
        if key in _RETRY_OPTIONS:
            continue
        if key in _CLIENT_OPTIONS:
            client[key] = value.lower() == "true" if key == "allow_http" else value
        else:
            config[key] = value
    retry = {
        "max_retries": int(options.get("client_max_retries", "3")),
        "retry_timeout": timedelta(seconds=float(options.get("client_retry_timeout", "10"))),
        "backoff": {
            "init_backoff": timedelta(milliseconds=100),
            "max_backoff": timedelta(seconds=2),
            "base": 2.0,
        },
    }
    store = from_url(uri, config=config, client_options=client, retry_config=retry)
    return StoreObjects(store, uri.rstrip("/"), "")


def _faults_named(method: F) -> F:
    """Store failures (unreachable, refused credentials, missing bucket) leave a method as the
    omnivec error that carries their status, naming the bucket (see storage.faults)."""

    @functools.wraps(method)
    def wrapper(self: StoreObjects, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except FileNotFoundError:
            raise
        except Exception as exc:
            fault = storage_fault(exc, self.uri)
            if fault is not None:
                raise fault from exc
            raise

    return wrapper  # type: ignore[return-value]


class StoreObjects(Objects):
    """Objects under a prefix of one object store. Thread-safe (obstore stores are)."""

    def __init__(self, store: Any, base_uri: str, prefix: str) -> None:
        self._store = store
        self._base_uri = base_uri
        self._prefix = prefix

    @property
    def uri(self) -> str:
        return join_key(self._base_uri, self._prefix) if self._prefix else self._base_uri

    def _key(self, key: str) -> str:
        return join_key(self._prefix, key)

    def child(self, prefix: str) -> StoreObjects:
        return StoreObjects(self._store, self._base_uri, self._key(prefix))

    @_faults_named
    def read(self, key: str) -> bytes:
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            return bytes(obstore.get(self._store, self._key(key)).bytes())
        except (NotFoundError, FileNotFoundError):
            raise FileNotFoundError(f"{self.uri}/{key} does not exist") from None

    @_faults_named
    def write(self, key: str, parts: Iterable[bytes | memoryview]) -> None:
        import obstore

        data = b"".join(bytes(p) if isinstance(p, memoryview) else p for p in parts)
        obstore.put(self._store, self._key(key), data)  # one PUT: visible whole or not at all

    @_faults_named
    def create(self, key: str, data: bytes) -> bool:
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            obstore.put(self._store, self._key(key), data, mode="create")
        except (AlreadyExistsError, PreconditionError):
            return False
        return True

    @_faults_named
    def exists(self, key: str) -> bool:
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            obstore.head(self._store, self._key(key))
        except (NotFoundError, FileNotFoundError):
            return False
        return True

    @_faults_named
    def list(self, prefix: str = "") -> list[str]:
        import obstore

        folder = self._key(prefix)
        listing = obstore.list_with_delimiter(self._store, folder + "/" if folder else None)
        names = {p.rstrip("/").rsplit("/", 1)[-1] for p in listing["common_prefixes"]}
        names.update(o["path"].rsplit("/", 1)[-1] for o in listing["objects"])
        return sorted(names)

    @_faults_named
    def sizes(self, prefix: str = "") -> dict[str, int]:
        import obstore

        folder = self._key(prefix)
        out: dict[str, int] = {}
        cut = len(self._prefix) + 1 if self._prefix else 0
        for batch in obstore.list(self._store, folder + "/" if folder else None):
            for meta in batch:
                out[meta["path"][cut:]] = int(meta["size"])
        return out

    @_faults_named
    def delete(self, key: str) -> None:
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            obstore.delete(self._store, self._key(key))
        except (NotFoundError, FileNotFoundError):
            pass

    @_faults_named
    def delete_tree(self, prefix: str = "") -> None:
        import obstore

        keys = [self._key(k) for k in self.sizes(prefix)]
        for start in range(0, len(keys), 1000):  # S3 deletes at most 1000 keys per request
            obstore.delete(self._store, keys[start : start + 1000])
