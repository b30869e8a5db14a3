"""Fixtures of the CLI congruence tests: each module gets one real server and one local data
directory, so the same commands run against both (qdrant-client's congruence tests are the model)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import serve_process


@pytest.fixture(scope="module")
def server_target(settings_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `omnivec serve` subprocess for the module; HOST:PORT."""
    with serve_process(settings_env, tmp_path_factory.mktemp("server-data")) as target:
        yield target


@pytest.fixture(scope="module")
def local_env(settings_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One local data dir for the module, mirroring the one server's."""
    return {**settings_env, "OMNIVEC_DATA_DIR": str(tmp_path_factory.mktemp("local-data"))}
