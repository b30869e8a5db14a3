"""Figure 3: queries per second with 16 concurrent clients vs one sequential client.

Both sides run against the same ``omnivec serve`` subprocess and collection as figure 2. Sixteen
client threads (one channel each, as sixteen programs would have) search for a fixed time; the
sequential side is one client doing the same. Target: >= 3x (issue 13; it was 2x), which on 2
cores can only come from the server batching concurrent queries into shared encoder forward
passes (dynamic batching).
The raw library's sequential rate (encode + FAISS search in-process, no RPC) is shown beside it.

The server's CPU time per query is read from ``/proc`` on both sides. On a machine this small it
bounds the figure: with C cores no concurrency can exceed ``C / (CPU seconds per query)`` queries
per second, and that ceiling over the sequential rate is reported as ``cpu_bound_ceiling_x``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from omnivec.bench.common import BenchContext, FigureResult, Measure, make_texts, paired, stats

CLIENTS = 16
K = 10


def _qps(address: str, collection: str, clients: int, seconds: float, texts: list[str]) -> float:
    from omnivec.client import Client

    conns = [Client(address, timeout=60) for _ in range(clients)]
    try:
        for c in conns:  # connect outside the timed window
            c.health(timeout=30)
        counts = [0] * clients
        errors: list[BaseException] = []
        start = threading.Barrier(clients + 1)
        stop_at = [0.0]

        def worker(i: int) -> None:
            c = conns[i]
            start.wait()
            j = i * 7919
            while time.perf_counter() < stop_at[0]:
                try:
                    c.search(collection, text=texts[j % len(texts)], k=K)
                except BaseException as exc:  # noqa: BLE001
                    errors.append(exc)
                    return
                counts[i] += 1
                j += 1

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        stop_at[0] = time.perf_counter() + seconds
        t0 = time.perf_counter()
        start.wait()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise RuntimeError(f"{len(errors)} client errors, first: {errors[0]}")
        return sum(counts) / elapsed
    finally:
        for c in conns:
            c.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(ctx: BenchContext) -> list[FigureResult]:
    from omnivec.bench.fig2_latency import RawSearch, on_worker, pending, server_available

    title = f"Throughput: {CLIENTS} concurrent clients vs sequential (gRPC)"
    missing = server_available()
    if missing is not None:
        return [pending("fig3", "fig3.concurrency", title, missing)]
    from omnivec.bench.served import COLLECTION, served_collection, wait_serving
    from omnivec.client import Client

    served = served_collection(ctx)
    with Client(served.server.address, timeout=60) as probe:
        wait_serving(probe)
    seconds = 3.0 if ctx.quick else 10.0
    texts = make_texts(4096, seed=11, min_words=4, max_words=10)
    address = served.server.address
    _qps(address, COLLECTION, CLIENTS, 1.0, texts)  # warm the batcher and the channels

    pid = served.server.proc.pid
    cpu_ms: dict[int, list[float]] = {CLIENTS: [], 1: []}  # server CPU ms per query, per side

    def measured(clients: int) -> float:
        cpu = _cpu_seconds(pid)
        t0 = time.perf_counter()
        qps = _qps(address, COLLECTION, clients, seconds, texts)
        queries = qps * (time.perf_counter() - t0)  # close enough: the window is most of it
        cpu_ms[clients].append((_cpu_seconds(pid) - cpu) * 1e3 / max(queries, 1.0))
        return qps

    a, b = paired(lambda r: measured(CLIENTS), lambda r: measured(1), ctx.repeats)
    raw = RawSearch(served.settings)

    def raw_rate() -> float:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 2:
            raw(texts[n % len(texts)])
            n += 1
        return n / (time.perf_counter() - t0)

    raw_rates = [on_worker(raw_rate) for _ in range(ctx.repeats)]
    speedup = stats([x / y for x, y in zip(a, b)])
    cores = os.cpu_count() or 1
    per_query = stats(cpu_ms[CLIENTS])
    ceiling = cores * 1000.0 / per_query.median / stats(b).median
    return [FigureResult(
        "fig3", "fig3.concurrency", title,
        f"queries/s of {CLIENTS} client threads (one gRPC channel each) searching text (k={K}) for "
        f"{seconds:.0f} s vs one sequential client, same server and {served.n:,}-row collection",
        omnivec=Measure(f"{CLIENTS} concurrent clients", "QPS", stats(a)),
        raw=Measure("1 sequential client", "QPS", stats(b)),
        ratio=Measure("concurrent QPS / sequential QPS", "x", speedup),
        target=">= 3x", status="PASS" if speedup.median >= 3 else "GAP",
        extra={
            "seconds_per_run": seconds, "clients": CLIENTS,
            "raw_inprocess_sequential_qps": stats(raw_rates).to_dict(),
            "server_cpu_ms_per_query_concurrent": per_query.to_dict(),
            "server_cpu_ms_per_query_sequential": stats(cpu_ms[1]).to_dict(),
            "cpu_bound_ceiling_x": round(ceiling, 2),
            "search_mode": "hybrid (the default)",
            "server_batching": {"max_batch_size": served.settings.server.max_batch_size,
                                "batch_wait_ms": served.settings.server.batch_wait_ms},
        },
        notes=["server and clients share the machine's cores (clients in the benchmark process)",
               f"cpu_bound_ceiling_x: {cores} cores / the server's CPU per query under load, over "
               "the sequential rate; no batching or threading can pass it on this machine"],
    )]

