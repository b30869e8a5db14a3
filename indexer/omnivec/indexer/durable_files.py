"""Files replaced atomically and durably: after a crash at any point the old or the new file is
there, complete, never a mix or a torn write."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from omnivec.indexer.errors import ResourceExhaustedError

__all__ = ["fsync_dir", "replace_file"]


def replace_file(path: Path, parts: Iterable[bytes | memoryview]) -> None:
    """Write ``parts`` to a temp file next to ``path``, fsync it, rename it over ``path`` and
    fsync the folder. A full disk (ENOSPC, EDQUOT) raises ResourceExhaustedError; the temp file
    never outlives a failure."""
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            for part in parts:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(directory)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ResourceExhaustedError(f"no space left to write {path}") from e
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fsync_dir(directory: Path) -> None:
    # A rename is only durable once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
