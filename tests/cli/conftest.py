"""Fixtures of the CLI congruence tests: each module gets one real server and one local data
directory, so the same commands run against both (qdrant-client's congruence tests are the model).

Both live on the module's ``storage`` (local disk, then SeaweedFS): the congruence suite runs
on each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import serve_process
from tests.support.storage import StorageTarget


@pytest.fixture(scope="module")
def server_target(settings_env: dict[str, str], storage: StorageTarget) -> Iterator[str]:
    """A real `omnivec serve` subprocess for the module; HOST:PORT."""
    data_dir = storage.data_dir("server-data")
    with serve_process({**settings_env, **storage.env(data_dir)}, data_dir) as target:
        yield target


@pytest.fixture(scope="module")
def local_env(settings_env: dict[str, str], storage: StorageTarget) -> dict[str, str]:
    """One data dir for the module's in-process CLI, mirroring the one server's."""
    return {**settings_env, **storage.env(storage.data_dir("local-data"))}
