"""Named byte objects under one root: a local folder, or a prefix of an object store.

Everything a collection keeps besides its LanceDB table (``collection.json``, the ANN index
files, probes, writer claims) is read and written through :class:`Objects`, never through
``Path`` arithmetic or ``os.rename``, so the same code serves ``/var/lib/omnivec`` and
``s3://bucket/prefix``. Keys are ``/``-separated and relative to the root.

The guarantees both implementations give, and that callers rely on:

* :meth:`Objects.write` replaces an object atomically: a reader sees the old bytes or the new
  bytes, never a mix. Locally that is a temp file, fsync, ``rename`` and a folder fsync (a
  crash keeps the old or the new file); on an object store a single PUT, which the store makes
  visible whole or not at all.
* :meth:`Objects.create` makes an object only if none exists under that key, and says whether it
  did: locally a hard link of a synced temp file (``link(2)`` fails on an existing name); on an
  object store a conditional PUT (``If-None-Match: *``). Two processes racing for one key never
  both win. That is the one primitive multi-object writes build on: write the parts, then
  publish them by creating (or replacing) one small pointer object.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from omnivec.indexer.durable_files import fsync_dir, replace_file
from omnivec.indexer.errors import ResourceExhaustedError

__all__ = ["LocalObjects", "Objects", "join_key"]


def join_key(*parts: str) -> str:
    """``a/b/c`` from parts, ignoring empty ones and stray slashes."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


class Objects(ABC):
    """Byte objects under one root. Missing objects raise FileNotFoundError naming the key."""

    @property
    @abstractmethod
    def uri(self) -> str:
        """Where the root is, for messages: a folder path or a URI, never with credentials."""

    @property
    def local_path(self) -> Path | None:
        """The root as a local folder, or None on an object store."""
        return None

    @abstractmethod
    def child(self, prefix: str) -> Objects:
        """The objects under ``prefix``, as a root of their own."""

    @abstractmethod
    def read(self, key: str) -> bytes: ...

    def open_read(self, key: str) -> BinaryIO:
        """A binary reader over the object (a real file locally: large reads stay streamed)."""
        import io

        return io.BytesIO(self.read(key))

    @abstractmethod
    def write(self, key: str, parts: Iterable[bytes | memoryview]) -> None:
        """Replace the object atomically (and durably) with the concatenated ``parts``."""

    @abstractmethod
    def create(self, key: str, data: bytes) -> bool:
        """Create the object unless one exists; True when this call created it."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Names of the immediate children of ``prefix`` (objects and "folders"), sorted."""

    @abstractmethod
    def sizes(self, prefix: str = "") -> dict[str, int]:
        """Every object below ``prefix`` (recursively): key relative to the root -> bytes."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove one object; a missing one is not an error."""

    @abstractmethod
    def delete_tree(self, prefix: str = "") -> None:
        """Remove every object below ``prefix``."""


class LocalObjects(Objects):
    """Objects as files under a local folder: today's durable, fsync'd behaviour."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def uri(self) -> str:
        return str(self.root)

    @property
    def local_path(self) -> Path:
        return self.root

    def _path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def child(self, prefix: str) -> LocalObjects:
        return LocalObjects(self._path(join_key(prefix)))

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def open_read(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")  # noqa: SIM115 - the caller closes it

    def write(self, key: str, parts: Iterable[bytes | memoryview]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, parts)

    def create(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp_name, path)  # fails if the name exists: exclusive by the kernel
            except FileExistsError:
                return False
            fsync_dir(path.parent)
            return True
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ResourceExhaustedError(f"no space left to write {path}") from exc
            raise
        finally:
            Path(tmp_name).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir())

    def sizes(self, prefix: str = "") -> dict[str, int]:
        out: dict[str, int] = {}
        base = self._path(prefix)
        for root, _, files in os.walk(base):
            for name in files:
                path = Path(root) / name
                try:
                    out[path.relative_to(self.root).as_posix()] = path.stat().st_size
                except OSError:
                    pass  # removed while walking
        return out

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_tree(self, prefix: str = "") -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)
