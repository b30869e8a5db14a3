"""The server hands freed memory back: pyarrow on the system allocator, glibc's heaps trimmed.

The soak (``tests/reliability/test_load_soak.py``) measures what this does to a busy server's
memory; these tests check each part on its own.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from omnivec.server.memory_release import MemoryRelease, glibc, use_system_arrow_pool

needs_glibc = pytest.mark.skipif(glibc() is None, reason="malloc_trim is glibc's")


@pytest.fixture
def arrow_pool() -> Iterator[None]:
    """Puts pyarrow's default pool back afterwards."""
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def _rss_anon_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


def test_pyarrow_allocates_from_the_system_pool(arrow_pool: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    assert use_system_arrow_pool()
    assert pa.default_memory_pool().backend_name == "system"
    before = pa.system_memory_pool().bytes_allocated()
    column = pa.array(range(100_000), type=pa.int64())
    assert pa.system_memory_pool().bytes_allocated() - before >= column.nbytes


@pytest.mark.parametrize(("named", "expected"), [(None, "system"), ("mimalloc", "mimalloc")])
def test_the_command_line_chooses_the_pool_before_pyarrow_loads(
    named: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if named is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = named
    backend = subprocess.run(
        [sys.executable, "-c",
         "import omnivec.cli.main, pyarrow; print(pyarrow.default_memory_pool().backend_name)"],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    ).stdout.strip()
    assert backend == expected


def test_a_pool_named_in_the_environment_is_kept(arrow_pool: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    assert not use_system_arrow_pool()
    assert pa.default_memory_pool().backend_name == "mimalloc"


@needs_glibc
def test_trim_returns_free_memory_between_live_blocks() -> None:
    """64 MiB in 8 KiB blocks (under glibc's mmap threshold: they come from the heap), one in
    eight kept: the freed ones lie between live blocks, where glibc's free() never returns them;
    malloc_trim(0) does."""
    libc = glibc()
    assert libc is not None
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    block = 8 * 1024
    blocks = [libc.malloc(block) for _ in range(8 * 1024)]
    for address in blocks:
        ctypes.memset(address, 1, block)  # touched: resident
    kept = set(blocks[::8]) | {blocks[-1]}  # the last one too: the freed blocks are never on top
    for address in blocks:
        if address not in kept:
            libc.free(address)
    try:
        before = _rss_anon_kib()
        MemoryRelease(1.0).trim()
        after = _rss_anon_kib()
        # 56 MiB were freed; whole pages inside the 56 KiB gaps go back (48 KiB of each at least).
        assert before - after > 32 * 1024, (before, after)
    finally:
        for address in kept:
            libc.free(address)


def test_the_server_releases_memory_until_it_stops(
    settings: Any, tmp_path: Any, arrow_pool: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnivec.server.app import create_server

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    cfg = settings.model_copy(update={
        "data_dir": tmp_path / "data",
        "server": settings.server.model_copy(update={"memory_trim_seconds": 0.05}),
    })
    server, _port = create_server(cfg, address="127.0.0.1:0", batching=False)
    server.start(warm=False)
    try:
        assert pa.default_memory_pool().backend_name == "system"
        if glibc() is not None:
            deadline = time.monotonic() + 30
            while server.memory_release.trims < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.memory_release.trims >= 2
            assert server.memory_release.active
    finally:
        server.stop(grace=0)
    assert not server.memory_release.active


def test_zero_turns_it_off(arrow_pool: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    release = MemoryRelease(0.0)
    release.start()
    assert not release.active
    assert pa.default_memory_pool().backend_name == "mimalloc"
