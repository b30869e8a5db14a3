"""Storage figures: search latency with the table on SeaweedFS vs local disk, replica
read-after-write delay, and object-store requests per search (for the capacity model).

    .venv/bin/python scripts/bench_storage.py [--rows 20000] [--queries 300]

Starts its own SeaweedFS (`weed mini`, tests/support/seaweedfs.py) on free loopback ports and
writes benchmarks/results/storage.md and storage.json. Everything is measured side by side in
one run (local and S3 queries alternate), because absolute times on shared machines are noisy.

1. Search latency: one collection of ``--rows`` synthetic 384-d rows on local disk and one on
   S3, opened by the engine's Store; the timed call is what a search does after encoding the
   query: ANN search + fetching the hits' display columns. Three cases: the default (hits from
   the in-memory payload copy), ``payload_cache_mb = 0`` (hits fetched from LanceDB every time),
   and a metadata filter (pre-filter: a LanceDB scan every time).
2. Replica read-after-write: two Stores over one s3:// data dir, each with its own LanceDB
   connection (all two replicas share is the store); a row added through one, then timed until a
   search on the other returns it, for read-consistency intervals of 1 s (the default) and 0.25 s.
3. Requests per search: the same searches through a counting HTTP proxy in front of SeaweedFS.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from omnivec.bench.served import synth_table  # noqa: E402
from omnivec.indexer.config import IndexSettings, StorageSettings  # noqa: E402
from omnivec.indexer.encoders.base import EncoderSpec  # noqa: E402
from omnivec.indexer.store import Store  # noqa: E402
from tests.support.seaweedfs import SeaweedFS  # noqa: E402

DIM = 384
SPEC = {"text": EncoderSpec("text", "synthetic", "none", DIM)}
NAME = "bench"


class CountingProxy:
    """A loopback HTTP proxy in front of the S3 gateway that counts requests by kind."""

    def __init__(self, upstream_port: int) -> None:
        counts: Counter[str] = Counter()
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port)
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                answer = upstream.getresponse()
                data = answer.read()
                kind = "LIST" if self.command == "GET" and "list-type=" in self.path else self.command
                with lock:
                    counts[kind] += 1
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.counts = counts
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> Counter[str]:
        snapshot = Counter(self.counts)
        self.counts.clear()
        return snapshot


def storage_for(endpoint: str, s3: SeaweedFS, consistency: float | None = None) -> StorageSettings:
    return StorageSettings.model_validate({
        "endpoint": endpoint, "access_key_id": s3.access_key, "secret_access_key": s3.secret_key,
        "allow_http": True, "read_consistency_seconds": consistency,
    })


def build(store: Store, rows: int) -> None:
    collection = store.create(NAME, SPEC)
    for start in range(0, rows, 10_000):
        collection.add_rows(synth_table(start, min(10_000, rows - start), {"text": DIM}, seed=start + 1))
    collection.flush_ann()


def one_search(collection: Any, query: np.ndarray, where: str | None) -> None:
    from omnivec.indexer.filters import translate_filter

    hits = collection.search("text", query, 10, translate_filter(where) if where else None)
    collection.fetch_rows([rowid for rowid, _ in hits])


def percentiles(values: list[float]) -> dict[str, float]:
    ms = np.asarray(values) * 1000
    return {"median_ms": round(float(np.median(ms)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def latency(local: Store, remote: Store, queries: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    cases = {"payload copy (default)": (None, True), "payload_cache_mb = 0": (None, False),
             "with a filter (n < 5000)": ("n < 5000", True)}
    for label, (where, cached) in cases.items():
        times: dict[str, list[float]] = {"local": [], "s3": []}
        for store in (local, remote):
            store.settings = IndexSettings(payload_cache_mb=256 if cached else 0)
            store.close()
            one_search(store.open(NAME), rng.standard_normal(DIM).astype(np.float32), where)  # warm
        for _ in range(queries):
            query = rng.standard_normal(DIM).astype(np.float32)
            for kind, store in (("local", local), ("s3", remote)):  # alternate, side by side
                collection = store.open(NAME)
                started = time.perf_counter()
                one_search(collection, query, where)
                times[kind].append(time.perf_counter() - started)
        local_p, s3_p = percentiles(times["local"]), percentiles(times["s3"])
        out[label] = {"local": local_p, "s3": s3_p,
                      "ratio_median": round(s3_p["median_ms"] / max(local_p["median_ms"], 1e-9), 2)}
    return out


def read_after_write(s3: SeaweedFS, consistency: float, trials: int) -> dict[str, Any]:
    uri = s3.uri("raw")
    storage = storage_for(s3.endpoint, s3, consistency)
    writer, reader = Store(uri, storage=storage), Store(uri, storage=storage)
    collection = writer.create(NAME, SPEC)
    collection.add_rows(synth_table(0, 1000, {"text": DIM}, seed=5))
    other = reader.open(NAME)
    delays = []
    for trial in range(trials):
        row = synth_table(100_000 + trial, 1, {"text": DIM}, seed=1000 + trial)
        vector = np.asarray(row.column("vec_text").to_pylist()[0], dtype=np.float32)
        collection.add_rows(row)
        acked = time.perf_counter()
        while True:
            hits = other.search("text", vector, 1)
            found = other.fetch_rows([hits[0][0]]) if hits else {}
            if any(r["item_id"] == f"item{100_000 + trial:08d}" for r in found.values()):
                delays.append(time.perf_counter() - acked)
                break
            time.sleep(0.005)
        time.sleep(0.3 + consistency * float(np.random.default_rng(trial).random()))  # vary phase
    writer.close()
    reader.close()
    ms = np.asarray(delays) * 1000
    return {"consistency_s": consistency, "trials": trials, "median_ms": round(float(np.median(ms)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1), "max_ms": round(float(ms.max()), 1)}


def requests_per_search(s3: SeaweedFS, rows: int, queries: int) -> dict[str, Any]:
    proxy = CountingProxy(int(s3.endpoint.rsplit(":", 1)[1]))
    uri = s3.uri("requests")
    store = Store(uri, storage=storage_for(proxy.endpoint, s3))
    build(store, rows)
    rng = np.random.default_rng(1)
    out: dict[str, Any] = {}
    for label, where, cached, consistency in (
        ("payload copy (default), 1 s consistency", None, True, 1.0),
        ("payload_cache_mb = 0", None, False, 1.0),
        ("with a filter", "n < 5000", True, 1.0),
        ("read consistency 0 (check every read)", None, True, 0.0),
    ):
        store.close()
        store = Store(uri, IndexSettings(payload_cache_mb=256 if cached else 0),
                      storage_for(proxy.endpoint, s3, consistency))
        one_search(store.open(NAME), rng.standard_normal(DIM).astype(np.float32), where)  # warm
        proxy.take()
        started = time.perf_counter()
        for _ in range(queries):
            one_search(store.open(NAME), rng.standard_normal(DIM).astype(np.float32), where)
        seconds = time.perf_counter() - started
        counts = proxy.take()
        out[label] = {kind: round(n / queries, 2) for kind, n in sorted(counts.items())}
        out[label]["per_search"] = round(sum(counts.values()) / queries, 2)
        out[label]["window_s"] = round(seconds, 1)
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SeaweedFS(Path(tmp) / "seaweedfs") as s3:
        local = Store(Path(tmp) / "local")
        remote = Store(s3.uri("latency"), storage=storage_for(s3.endpoint, s3))
        build(local, args.rows)
        build(remote, args.rows)
        results: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
            "rows": args.rows, "dim": DIM, "queries": args.queries,
            "latency": latency(local, remote, args.queries),
            "read_after_write": [read_after_write(s3, c, args.trials) for c in (1.0, 0.25)],
            "requests_per_search": requests_per_search(s3, args.rows, min(args.queries, 100)),
        }
        local.close()
        remote.close()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "storage.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"# Storage figures ({results['date']}, {results['machine']}; {args.rows} rows x {DIM}-d, "
             f"{args.queries} queries per case, local and S3 alternating)", "",
             "## Search latency (ANN search + hits' display columns), SeaweedFS vs local disk", "",
             "| case | local median | local p99 | S3 median | S3 p99 | S3 / local (median) |",
             "|---|---|---|---|---|---|"]
    for label, r in results["latency"].items():
        lines.append(f"| {label} | {r['local']['median_ms']} ms | {r['local']['p99_ms']} ms | "
                     f"{r['s3']['median_ms']} ms | {r['s3']['p99_ms']} ms | {r['ratio_median']}x |")
    lines += ["", "## Replica read-after-write delay (write acknowledged -> visible in the other's search)", "",
              "| read consistency | trials | median | p99 | max |", "|---|---|---|---|---|"]
    for r in results["read_after_write"]:
        lines.append(f"| {r['consistency_s']} s | {r['trials']} | {r['median_ms']} ms | {r['p99_ms']} ms | {r['max_ms']} ms |")
    lines += ["", "## Object-store requests per search (counted at a proxy)", "",
              "| case | requests per search | by kind |", "|---|---|---|"]
    for label, r in results["requests_per_search"].items():
        kinds = ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("per_search", "window_s"))
        lines.append(f"| {label} | {r['per_search']} | {kinds or 'none'} |")
    (args.out / "storage.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
