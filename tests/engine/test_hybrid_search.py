"""Hybrid search on real MiniLM embeddings and LanceDB's own full-text index: the keyword ranking,
the modes, per-query weights, the document rows of long texts, and the keyword index kept in
step with appends and deletes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnivec.client import Fusion, SearchQuery
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.keyword_index import TAIL_ROWS
from omnivec.indexer.table_schema import DOCUMENT_CHUNK
from tests.support.topics import TOPICS

MODES = ("vector", "keyword", "hybrid")
# Two error codes a sentence encoder can hardly tell apart; BM25 matches the exact token.
CODES = {
    "e4021": "Printer error E4021 means the fuser unit is overheating; let it cool down.",
    "e4012": "Printer error E4012 means the paper tray is empty; load more paper.",
}
LONG_TEXT = " ".join(
    [*TOPICS["cooking"], *TOPICS["football"], *TOPICS["programming"], *TOPICS["astronomy"]] * 2
)


@pytest.fixture(scope="module")
def hybrid(engine, tmp_path_factory: pytest.TempPathFactory) -> str:  # type: ignore[no-untyped-def]
    """A text collection: the topic sentences (metadata topic), two error codes, a long text."""
    rows = [
        {"id": f"{topic}-{i}", "text": text, "topic": topic}
        for topic in ("astronomy", "cooking", "football", "programming")
        for i, text in enumerate(TOPICS[topic])
    ]
    rows += [{"id": key, "text": text, "topic": "printers"} for key, text in CODES.items()]
    rows.append({"id": "long", "text": LONG_TEXT, "topic": "mixed"})
    manifest = tmp_path_factory.mktemp("hybrid") / "docs.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    engine.create_collection("hybrid", ["text"])
    report = engine.index_paths("hybrid", [manifest])
    assert report.indexed == len(rows) and not report.failed
    return "hybrid"


def _ids(engine, query: SearchQuery) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.id for h in engine.search("hybrid", query).hits]


def test_keyword_search_matches_the_exact_token_and_hits_say_who_found_them(engine, hybrid) -> None:  # type: ignore[no-untyped-def]
    keyword = engine.search(hybrid, SearchQuery(text="E4021", k=3, mode="keyword")).hits
    assert keyword[0].id == "e4021" and keyword[0].space == "keyword"
    assert keyword[0].found_by == ("keyword",) and keyword[0].matches[0].rank == 1
    assert keyword[0].score > 0  # a BM25 score
    assert all(h.id != "e4012" for h in keyword)  # the other code shares no indexed word
    hybrid_hits = engine.search(hybrid, SearchQuery(text="printer error E4021", k=3)).hits
    assert hybrid_hits[0].id == "e4021"
    assert set(hybrid_hits[0].found_by) == {"text", "keyword"}
    ranks = {m.ranking: m.rank for m in hybrid_hits[0].matches}
    assert ranks["keyword"] == 1
    result = engine.search(hybrid, SearchQuery(text="printer error E4021", k=3))
    assert [t.space for t in result.timings] == ["text", "keyword"]


def test_filters_modalities_and_k_behave_the_same_in_every_mode(engine, hybrid) -> None:  # type: ignore[no-untyped-def]
    for mode in MODES:
        hits = engine.search(hybrid, SearchQuery(
            text="the team scored a goal in the match", k=3, mode=mode, where="topic = 'football'",
        )).hits
        assert len(hits) == 3, mode
        assert all(h.metadata["topic"] == "football" for h in hits), mode
        assert len(engine.search(hybrid, SearchQuery(text="goal match team", k=2, mode=mode)).hits) == 2
        assert engine.search(hybrid, SearchQuery(text="goal", k=5, mode=mode, modalities=("image",))).hits == ()
        # A filter matching one item returns that item whatever the mode.
        only = engine.search(hybrid, SearchQuery(text="printer error", k=5, mode=mode, where="topic = 'printers' AND item_id = 'e4012'"))
        assert [h.id for h in only.hits] == ["e4012"], mode


def test_weights_per_query_reduce_hybrid_to_either_side(engine, hybrid) -> None:  # type: ignore[no-untyped-def]
    text = "bake bread in the oven"
    vector = _ids(engine, SearchQuery(text=text, k=5, mode="vector"))
    keyword = _ids(engine, SearchQuery(text=text, k=5, mode="keyword"))
    assert vector != keyword
    assert _ids(engine, SearchQuery(text=text, k=5, fusion=Fusion({"keyword": 0.0}))) == vector
    assert _ids(engine, SearchQuery(text=text, k=5, fusion=Fusion({"text": 0.0}))) == keyword
    both = engine.search(hybrid, SearchQuery(text=text, k=5, fusion=Fusion({"keyword": 0.0})))
    assert [t.space for t in both.timings] == ["text"]  # a ranking weighted 0 does not run


def test_a_long_text_gets_a_document_row_and_hits_show_its_chunks(engine, hybrid) -> None:  # type: ignore[no-untyped-def]
    collection = engine.collection(hybrid)
    chunks = collection.column("chunk", where="item_id = 'long'").tolist()
    assert DOCUMENT_CHUNK in chunks and sorted(chunks)[1:] == list(range(len(chunks) - 1))
    assert len(chunks) > 2
    text = collection.column("text", where=f"item_id = 'long' AND chunk = {DOCUMENT_CHUNK}")
    assert text.tolist() == [None]  # keyword search and hits see only the chunks
    for mode in MODES:
        hits = engine.search(hybrid, SearchQuery(text="Saturn rings of ice orbiting the planet", k=10, mode=mode)).hits
        long_hits = [h for h in hits if h.id == "long"]
        assert long_hits, mode
        assert long_hits[0].chunk >= 0 and long_hits[0].span is not None, mode
    # Query by example reads the document vector of the long item.
    assert engine.search(hybrid, SearchQuery(item_id="long", k=3, mode="vector")).hits


def test_bad_modes_and_weights_are_precise_errors(engine, hybrid, photos) -> None:  # type: ignore[no-untyped-def]
    cases = [
        (SearchQuery(text="x", mode="fuzzy"), "unknown search mode 'fuzzy'"),  # type: ignore[arg-type]
        (SearchQuery(item_id="e4021", mode="keyword"), "keyword search needs words"),
        (SearchQuery(text="x", mode="keyword", spaces=("text",)), "a keyword search has none"),
        (SearchQuery(text="x", fusion=Fusion({"bm25": 1.0})), "unknown ranking 'bm25'"),
        (SearchQuery(text="x", fusion=Fusion({"text": -1.0})), "between 0 and"),
    ]
    for query, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            engine.search(hybrid, query)


def test_keyword_index_stays_in_step_with_appends_and_deletes(engine, hybrid) -> None:  # type: ignore[no-untyped-def]
    from omnivec.indexer.discovery import IngestItem
    from omnivec.indexer.media import MediaKind

    fresh = "The quokka zyxwvut hops across the island at dawn."
    engine.upsert(hybrid, [IngestItem("new", MediaKind.TEXT, text=fresh, item_id="fresh")])
    assert _ids(engine, SearchQuery(text="zyxwvut", k=3, mode="keyword")) == ["fresh"]
    engine.delete_items(hybrid, ids=["fresh"])
    assert _ids(engine, SearchQuery(text="zyxwvut", k=3, mode="keyword")) == []
    assert "fresh" not in _ids(engine, SearchQuery(text="quokka island dawn", k=10))


def test_the_index_is_rebuilt_once_the_rows_it_misses_pass_the_tail(tmp_path: Path) -> None:
    """Appends past the flat tail are folded into the index, deletes too; what remains
    uncovered is always searched (LanceDB scans it flat)."""
    from omnivec.bench.served import synth_table
    from omnivec.indexer.encoders.base import EncoderSpec
    from omnivec.indexer.store import Store

    store = Store(tmp_path)
    collection = store.create("tail", {"text": EncoderSpec("text", "fake", "none", 8)})
    collection.add_rows(synth_table(0, 10, {"text": 8}, seed=1))
    assert collection.keyword_search("synthetic row 7", 3)[0][0] == 7  # built at the first write
    collection.add_rows(synth_table(10, 20, {"text": 8}, seed=2))
    assert collection.keyword_uncovered_rows() == 20  # a small tail is left to the flat scan...
    assert collection.keyword_search("row 25", 3)[0][0] == 25  # ...and still searched
    collection.add_rows(synth_table(30, TAIL_ROWS + 1, {"text": 8}, seed=3))
    assert collection.keyword_uncovered_rows() == 0  # past the tail: rebuilt
    collection.delete_where("rowid < 5")
    assert all(r >= 5 for r, _ in collection.keyword_search("synthetic row", 50))
    collection.flush_ann()
    store.close()
