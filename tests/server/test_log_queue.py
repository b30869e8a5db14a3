"""The server's log records are written by a thread of their own (omnivec.server.log_queue):
same lines, same order, nothing lost at stop; a writer that stops reading costs dropped records,
counted and reported, never a blocked request thread."""

from __future__ import annotations

import io
import logging
import threading
import time

import pytest

from omnivec.server import log_queue
from omnivec.server.log_queue import log_off_the_request_path


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers[:] = [handler]
    return logger


def test_records_keep_their_format_and_order_and_stop_writes_what_is_queued() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(lambda record: "secret" not in record.getMessage())
    logger = _logger("omnivec.test.queued", handler)
    queued = log_off_the_request_path(logger)
    assert queued is not None
    assert log_off_the_request_path(logger) is None  # already behind a queue
    try:
        for n in range(500):
            logger.info("rpc %d of %s", n, "Search")
        logger.info("a secret line")  # the handler's own filter still applies
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        queued.stop()
    lines = out.getvalue().splitlines()
    assert lines[:500] == [f"INFO omnivec.test.queued: rpc {n} of Search" for n in range(500)]
    assert lines[500] == "ERROR omnivec.test.queued: failed"
    assert "ValueError: boom" in out.getvalue()  # the traceback travels with its record
    assert logger.handlers == [handler]  # put back at stop


def test_a_writer_that_blocks_costs_dropped_records_not_blocked_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(log_queue, "MAX_QUEUED", 20)
    release = threading.Event()
    written: list[str] = []

    class Stuck(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            release.wait(30)  # stderr nobody reads
            written.append(record.getMessage())

    logger = _logger("omnivec.test.stuck", Stuck())
    queued = log_off_the_request_path(logger)
    assert queued is not None
    try:
        began = time.monotonic()
        for n in range(200):
            logger.info("line %d", n)
        assert time.monotonic() - began < 10  # the callers never waited for the writer
        release.set()
        time.sleep(0.5)
        logger.info("after")  # the writer caught up: the next record reports the loss
    finally:
        release.set()
        queued.stop()
    assert written[0] == "line 0"
    assert "after" in written
    dropped = [w for w in written if "log records dropped" in w]
    assert len(dropped) == 1
    kept = sum(1 for w in written if w.startswith("line "))
    assert int(dropped[0].split()[0]) == 200 - kept
