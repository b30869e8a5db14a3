"""The keyword (BM25) ranking of a collection: LanceDB's own full-text index on the text column.

Texts and transcripts share one column (``text``: a text chunk, or a transcript's time window),
so one inverted index serves both; images have no text and are never keyword hits. The index is
LanceDB's native one (tokenised, lower-cased, stemmed, English stop words dropped, ascii-folded;
BM25 scores), stored in the table's versions, so snapshots, restores and object storage carry it
with the data.

Staying in step with appends and deletes, like the ANN indexes: LanceDB answers a keyword search
over the rows added since the index was built with a flat scan, and skips deleted rows, so a
search is never stale; but the flat part costs about 0.1 ms per row on two cores, and deleted rows
still count in the BM25 statistics. LanceDB 0.40 updates an inverted index by rewriting it (as
long as building it: ~7 s for 20k rows here), so the index is rebuilt when the rows it does not
cover (new ones, and deleted ones it still holds) pass a share of the table, after each write and
at each flush: a 20k-row collection is searched with at most 256 rows scanned flat, and a bulk
load pays one rebuild at its end. The collection calls these methods under its write lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from omnivec.indexer.errors import InvalidInputError

__all__ = ["INDEX_NAME", "KeywordIndex", "MAX_QUERY_CHARS"]

log = logging.getLogger("omnivec.store")

COLUMN = "text"
INDEX_NAME = f"{COLUMN}_idx"
# Rows the index may leave to the flat scan: this many, or this share of the table if larger.
TAIL_ROWS = 256
TAIL_SHARE = 0.01
# BM25 over a query longer than a page adds nothing: the encoders read a few hundred tokens too.
MAX_QUERY_CHARS = 4096


class KeywordIndex:
    """The full-text index of one collection's table.

    ``with_writer`` runs a function as the collection's one writer (its write lock and the
    cross-process writer lock held): building the index is a commit.
    """

    def __init__(self, table: Any, name: str, with_writer: Callable[[Callable[[], None]], None]):
        self._table = table
        self._name = name
        self._with_writer = with_writer
        self._known = False  # the index exists (checked once, then kept up to date by us)
        self._lock = threading.Lock()

    def exists(self) -> bool:
        if not self._known:
            self._known = any(i.name == INDEX_NAME for i in self._table.list_indices())
        return self._known

    def uncovered_rows(self) -> int:
        """Rows the index does not answer for: added since its build, or deleted since."""
        stats = self._table.index_stats(INDEX_NAME)
        if stats is None:
            return int(self._table.count_rows())
        live = int(self._table.count_rows())
        unindexed = int(stats.num_unindexed_rows)
        deleted = max(0, int(stats.num_indexed_rows) - (live - unindexed))
        return unindexed + deleted

    def refresh(self, *, force: bool = False) -> bool:
        """Build the index if missing, rebuild it when it leaves too many rows uncovered (or
        ``force``); returns whether it was (re)built. The caller holds the write lock."""
        with self._lock:
            if self.exists() and not force:
                uncovered = self.uncovered_rows()
                total = int(self._table.count_rows())
                if uncovered <= max(TAIL_ROWS, int(TAIL_SHARE * total)):
                    return False
            self._build()
            return True

    def _build_if_missing(self) -> None:
        with self._lock:
            self._known = False  # another process may have built it meanwhile
            if not self.exists():
                self._build()

    def forget(self) -> None:
        """After a restore the index is whatever the restored version holds: look again."""
        self._known = False

    def _build(self) -> None:
        from lancedb.index import FTS

        try:
            self._table.create_index(COLUMN, config=FTS(), replace=True)
        except Exception as exc:
            # Another process (a replica on the same store) committed the index first: Lance
            # refuses ours as a retryable conflict, and theirs serves as well as ours would.
            if "conflict" not in str(exc).lower():
                raise
            self._table.checkout_latest()
            if not any(i.name == INDEX_NAME for i in self._table.list_indices()):
                raise
            self._known = True
            log.info("%s: keyword index built by another process", self._name)
            return
        self._known = True
        log.info("%s: keyword index built over %d rows", self._name, self._table.count_rows())

    def search(self, words: str, k: int, predicate: str | None) -> list[tuple[int, float]]:
        """Top-k (rowid, BM25 score) for ``words``, pre-filtered by ``predicate``."""
        if not self.exists():
            # A collection written before keyword search existed: build the index once.
            self._with_writer(self._build_if_missing)
        words = words[:MAX_QUERY_CHARS]
        query = self._table.search(words, query_type="fts", fts_columns=COLUMN)
        if predicate:
            query = query.where(predicate, prefilter=True)
        try:
            data = query.select(["rowid", "_score"]).limit(k).to_arrow()
        except Exception as exc:
            message = str(exc)
            if "filter" in message.lower() or "predicate" in message.lower():
                raise InvalidInputError(f"filter cannot be applied: {message}") from exc
            raise
        return list(
            zip(data.column("rowid").to_pylist(), (float(s) for s in data.column("_score").to_pylist()))
        )
