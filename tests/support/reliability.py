"""Helpers shared by the reliability tests: short/long bounds, figures, server environments
(the server subprocess itself is ``tests.support.processes.ServerProcess``).

Bounds: every loop in this suite is bounded in count *and* in time. ``bound(short, long)`` picks
the value for the current mode (``OMNIVEC_RELIABILITY=long`` selects the long one).

Figures: ``record(section, **figures)`` prints one line per figure set and, when
``OMNIVEC_RELIABILITY_REPORT`` names a file, appends it there as a JSON line;
``scripts/reliability_report.py`` turns those lines into the README's Markdown table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc

LONG = os.environ.get("OMNIVEC_RELIABILITY", "").strip().lower() == "long"
MODE = "long" if LONG else "short"
REPORT_ENV = "OMNIVEC_RELIABILITY_REPORT"

# The statuses omnivec documents for a bad or impossible request; anything else (UNKNOWN,
# INTERNAL, UNIMPLEMENTED, ...) is a bug. DEADLINE_EXCEEDED is documented too, but the tests
# give generous deadlines, so reaching one means the server hung: each test decides.
DOCUMENTED_CODES = frozenset({
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
})


def bound(short: Any, long: Any) -> Any:
    """The short value by default, the long one under OMNIVEC_RELIABILITY=long."""
    return long if LONG else short


def record(section: str, **figures: Any) -> None:
    """Print the figures of one test and append them to the report file, if one is set."""
    line = {"section": section, "mode": MODE, **figures}
    print(f"\n[reliability] {json.dumps(line, sort_keys=True)}")
    target = os.environ.get(REPORT_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (peak RSS) of a process in KiB, from /proc/PID/status."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def server_env(settings_env: Mapping[str, str], data_dir: Path | str, **extra: str) -> dict[str, str]:
    """Environment for an `omnivec serve` subprocess with the text space only (MiniLM: fast)."""
    env = {
        **os.environ,
        **settings_env,
        "OMNIVEC_DATA_DIR": str(data_dir),
        "OMNIVEC_CLIP__ENABLED": "false",
        "OMNIVEC_SPEECH__ENABLED": "false",
        "OMNIVEC_SERVER__GRACE_SECONDS": "5",
        "HF_HUB_OFFLINE": "1",
    }
    env.update(extra)
    return env


@contextmanager
def in_process_server(
    settings: Any, models: Any, data_dir: Path, **server: Any
) -> Iterator[tuple[Any, str]]:
    """A real gRPC server on 127.0.0.1:0 over an engine with its own data dir and the session's
    already-loaded models (no batching wrapper: the hub is shared with other tests)."""
    from omnivec.indexer.config import ServerSettings
    from omnivec.indexer.engine import Engine
    from omnivec.server.app import create_server

    cfg = settings.model_copy(update={
        "data_dir": data_dir,
        "server": ServerSettings(host="127.0.0.1", port=0, **server),
    })
    engine = Engine(cfg, models)
    srv, port = create_server(cfg, engine, address="127.0.0.1:0", batching=False)
    srv.start(warm=False)
    try:
        yield srv, f"127.0.0.1:{port}"
    finally:
        srv.stop(grace=1)
        engine.store.close()


def rpc_code(exc: BaseException) -> grpc.StatusCode:
    """The status code of a grpc.RpcError or an SDK error."""
    code = getattr(exc, "code", None)
    if callable(code):
        code = code()
    if isinstance(code, grpc.StatusCode):
        return code
    return grpc.StatusCode.UNKNOWN


def omnivec_methods() -> list[Any]:
    """Every method of every service the server registers (from the proto descriptors)."""
    from google.protobuf import descriptor_pool

    from omnivec.server.app import OMNIVEC_SERVICES

    pool = descriptor_pool.Default()
    methods = []
    for service in OMNIVEC_SERVICES:
        methods.extend(pool.FindServiceByName(service).methods)
    return methods


def raw_call(channel: grpc.Channel, method: Any, payload: bytes, **kwargs: Any) -> Any:
    """Call ``method`` (a MethodDescriptor) with raw request bytes; returns the raw responses.
    Streaming requests send the payload as their one message."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    identity = {"request_serializer": lambda b: b, "response_deserializer": lambda b: b}
    if method.client_streaming and method.server_streaming:
        return list(channel.stream_stream(path, **identity)(iter([payload]), **kwargs))
    if method.client_streaming:
        return channel.stream_unary(path, **identity)(iter([payload]), **kwargs)
    if method.server_streaming:
        return list(channel.unary_stream(path, **identity)(payload, **kwargs))
    return channel.unary_unary(path, **identity)(payload, **kwargs)
