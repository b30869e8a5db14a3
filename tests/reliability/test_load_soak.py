"""Promise 5: under load (concurrent clients searching and upserting for a bounded time) the server
keeps answering, memory stays bounded, and no request gets UNKNOWN or hangs past its deadline.

A real `omnivec serve` subprocess (text space) gets N client threads, each with its own channel:
most search (random queries, random k, some with a metadata filter), some upsert small batches.
Every call has a deadline. The test reports throughput, p50/p99 latency, error counts and the
server's peak RSS (VmHWM from /proc/PID/status), and asserts: zero errors of any kind, every
upsert acknowledged is stored, and RSS growth over the second half of the run stays under a
generous bound (a leak grows linearly; warm-up growth happens in the first half).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from omnivec.client import Client, Media, UpsertItem
from tests.support.reliability import (
    ServerProcess,
    bound,
    percentile,
    proc_status,
    record,
    rpc_code,
    server_env,
)

pytestmark = pytest.mark.reliability

DURATION_S = bound(20.0, 180.0)
SEARCHERS = bound(4, 6)
UPSERTERS = 2
DEADLINE_S = 30.0  # per call; a hang shows up as DEADLINE_EXCEEDED, which counts as an error
RSS_GROWTH_BOUND_KIB = 256 * 1024
WORDS = ["river", "mountain", "violin", "volcano", "bicycle", "glacier", "orchid", "comet",
         "harbour", "desert", "forest", "lighthouse", "espresso", "thunder", "meadow", "canyon"]


def _text(rng: random.Random, n: int) -> str:
    return f"note {n}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))


def test_concurrent_clients_get_answers_bounded_memory_no_errors(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    server = ServerProcess(server_env(settings_env, tmp_path / "data"), tmp_path / "server.log")
    server.start()
    try:
        server.wait_serving()
        setup_rng = random.Random(1)
        with Client(server.target, retries=0, timeout=120) as client:
            client.create_collection("load", ["text"])
            for start in range(0, 200, 50):
                results = client.upsert("load", [
                    UpsertItem(Media(text=_text(setup_rng, n)), id=f"pre-{n}",
                               metadata={"n": n, "even": n % 2 == 0})
                    for n in range(start, start + 50)
                ])
                assert all(r.status == "ok" for r in results)

        lock = threading.Lock()
        latencies: dict[str, list[float]] = {"search": [], "upsert": []}
        errors: Counter[str] = Counter()
        acked: set[str] = set()
        stop_at = time.monotonic() + DURATION_S

        def searcher(seed: int) -> None:
            rng = random.Random(seed)
            with Client(server.target, retries=0, timeout=DEADLINE_S) as c:
                while time.monotonic() < stop_at:
                    query = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
                    where = rng.choice([None, None, "n >= 100", "even = true"])
                    began = time.perf_counter()
                    try:
                        c.search("load", text=query, k=rng.randint(1, 20), where=where)
                    except Exception as exc:  # noqa: BLE001 - counted
                        with lock:
                            errors[f"search:{rpc_code(exc).name}"] += 1
                        continue
                    with lock:
                        latencies["search"].append(time.perf_counter() - began)

        def upserter(seed: int) -> None:
            rng = random.Random(seed)
            n = 0
            with Client(server.target, retries=0, timeout=DEADLINE_S, stream_timeout=DEADLINE_S) as c:
                while time.monotonic() < stop_at:
                    batch = [
                        UpsertItem(Media(text=_text(rng, n + i)), id=f"w{seed}-{n + i}",
                                   metadata={"n": 1000 + n + i, "even": (n + i) % 2 == 0})
                        for i in range(rng.randint(1, 4))
                    ]
                    n += len(batch)
                    began = time.perf_counter()
                    try:
                        results = c.upsert("load", batch)
                    except Exception as exc:  # noqa: BLE001 - counted
                        with lock:
                            errors[f"upsert:{rpc_code(exc).name}"] += 1
                        continue
                    with lock:
                        latencies["upsert"].append(time.perf_counter() - began)
                        for r in results:
                            if r.status == "ok":
                                acked.add(r.id)
                            else:
                                errors[f"upsert-item:{r.status}"] += 1

        threads = [threading.Thread(target=searcher, args=(100 + i,), daemon=True)
                   for i in range(SEARCHERS)]
        threads += [threading.Thread(target=upserter, args=(200 + i,), daemon=True)
                    for i in range(UPSERTERS)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        samples: list[tuple[float, int]] = []
        while any(t.is_alive() for t in threads) and time.monotonic() < stop_at + DEADLINE_S + 30:
            rss = proc_status(server.pid).get("VmRSS")
            if rss:
                samples.append((time.monotonic() - started, rss))
            time.sleep(0.5)
        for thread in threads:
            thread.join(DEADLINE_S + 30)
        assert not any(t.is_alive() for t in threads), "a client thread hung"
        elapsed = time.monotonic() - started
        peak_kib = proc_status(server.pid).get("VmHWM", 0)

        with Client(server.target, retries=0, timeout=120) as client:
            assert client.health() == "SERVING"
            info = client.get_collection("load")
            assert info.item_count == 200 + len(acked), "an acknowledged upsert is missing"
            assert info.spaces[0].vector_count == info.row_count
        assert server.terminate() == 0, server.log_tail()
    finally:
        server.kill()

    all_latencies = latencies["search"] + latencies["upsert"]
    half = elapsed / 2
    first = [r for t, r in samples if t <= half]
    second = [r for t, r in samples if t > half]
    growth_kib = (max(second) - max(first)) if first and second else 0
    figures: dict[str, Any] = {
        "seconds": round(elapsed, 1),
        "clients": SEARCHERS + UPSERTERS,
        "requests": len(all_latencies),
        "throughput_rps": round(len(all_latencies) / elapsed, 1),
        "search_p50_ms": round(1000 * percentile(latencies["search"], 50), 1),
        "search_p99_ms": round(1000 * percentile(latencies["search"], 99), 1),
        "upsert_p50_ms": round(1000 * percentile(latencies["upsert"], 50), 1),
        "upsert_p99_ms": round(1000 * percentile(latencies["upsert"], 99), 1),
        "p50_ms": round(1000 * percentile(all_latencies, 50), 1),
        "p99_ms": round(1000 * percentile(all_latencies, 99), 1),
        "max_ms": round(1000 * max(all_latencies), 1) if all_latencies else None,
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "upserts_acknowledged": len(acked),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "rss_growth_second_half_mib": round(growth_kib / 1024, 1),
    }
    record("load_soak", **figures)
    assert not errors, f"errors under load: {dict(errors)}"
    assert latencies["search"] and latencies["upsert"]
    assert growth_kib < RSS_GROWTH_BOUND_KIB, f"RSS grew {growth_kib} KiB in the second half"
