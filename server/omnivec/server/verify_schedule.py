"""``server.verify_interval``: the server runs ``collections verify`` on every collection on a
schedule (off by default), so damage that no read has touched yet (a byte flipped in a data file
nobody searched since) is found and logged with its recovery command before anyone relies on it.

One daemon thread; one collection at a time, each verify a full read of that collection, so the
interval should be long (hours) for large data directories. A verify never blocks a writer: it
reads through the same table handle as searches do.
"""

from __future__ import annotations

import logging
import threading

from omnivec.client.types import VerifyReport
from omnivec.indexer.engine import Engine
from omnivec.indexer.errors import OmnivecError

__all__ = ["VerifySchedule"]

log = logging.getLogger("omnivec.server")


class VerifySchedule:
    """Verifies every collection each ``interval`` seconds until :meth:`stop`."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self._engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="verify-schedule", daemon=True)
        self.rounds = 0
        # name -> the latest report (for diagnostics and tests); replaced each round.
        self.last_reports: dict[str, VerifyReport] = {}

    def start(self) -> None:
        log.info("scheduled verify: every %g s", self.interval)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.verify_all()

    def verify_all(self) -> dict[str, VerifyReport]:
        """One round: verify every collection, log what is found; returns the reports."""
        reports: dict[str, VerifyReport] = {}
        try:
            names = self._engine.list_collections()
        except OmnivecError as exc:
            log.warning("scheduled verify: cannot list collections: %s", exc)
            return reports
        for name in names:
            if self._stop.is_set():
                break
            try:
                report = self._engine.verify_collection(name)
            except OmnivecError as exc:  # deleted meanwhile, store unreachable, ...
                log.warning("scheduled verify of %r failed: %s", name, exc)
                continue
            except Exception:  # noqa: BLE001 - the schedule must outlive one bad collection
                log.exception("scheduled verify of %r failed", name)
                continue
            reports[name] = report
            if report.ok:
                log.info("scheduled verify of %r: intact at version %d (%d rows)",
                         name, report.lance_version, report.rows_read)
            else:
                log.error(
                    "scheduled verify of %r: DAMAGED at version %d: %s; recovery: %s", name,
                    report.lance_version, "; ".join(p.message for p in report.problems),
                    report.recovery,
                )
        self.last_reports = reports
        self.rounds += 1
        return reports
