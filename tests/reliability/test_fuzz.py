"""Promise 6 (and the store's search contract), by property-based testing with hypothesis.

1. Random protobuf requests for Search, Embed, Upsert, CreateCollection, ZeroShotClassify and
   Transcribe (random unicode strings, huge and negative numbers, random bytes as images and audio,
   random filters and metadata) sent to a real server: every answer is OK or a documented status,
   never UNKNOWN/INTERNAL, no call reaches its (generous) deadline, and the server still answers
   health afterwards.
2. The filter translator never raises anything but InvalidInputError, and whatever it accepts,
   LanceDB accepts too (run directly on a real table, not through the engine's catch-all).
3. A RuleBasedStateMachine drives add / replace / delete / reopen / search on a real collection
   (LanceDB + FAISS, random normalised vectors) against a brute-force numpy model: below the ANN
   threshold, search must match exact search, with and without an id pre-filter.

Short version: few examples, derandomised (reproducible in CI); long: many, random.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pyarrow as pa
import pytest
from google.protobuf import struct_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from omnivec.client import Client, Media, UpsertItem
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.filters import translate_filter
from omnivec.indexer.store import Store
from omnivec.v1 import (
    classify_pb2,
    classify_pb2_grpc,
    collections_pb2,
    collections_pb2_grpc,
    common_pb2,
    embed_pb2,
    embed_pb2_grpc,
    indexing_pb2,
    indexing_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
)
from tests.support import media_factory as mf
from tests.support.reliability import (
    DOCUMENTED_CODES,
    LONG,
    bound,
    in_process_server,
    omnivec_methods,
    raw_call,
    record,
)

# The long version's thousands of examples per test can pass the suite's default 600 s timeout.
pytestmark = [pytest.mark.reliability, pytest.mark.timeout(bound(600, 3600))]

# Long version: the figures. 300 examples per test gave 1,949 gRPC requests and 304
# filter expressions (2026-11-27); 1,600 give > 10,000 requests, and the filter translator gets
# 2,100 of its own (>= 2,000).
EXAMPLES = bound(25, 1600)
FILTER_EXAMPLES = bound(25, 2100)
CALL_DEADLINE_S = 90.0
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not LONG,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
FILTER_FUZZ = settings(FUZZ, max_examples=FILTER_EXAMPLES)
TRIED: Counter[str] = Counter()
CODES: Counter[str] = Counter()
STATEFUL: Counter[str] = Counter()


# --- the server under fuzz -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_server(
    settings: Any, models: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    media_dir = tmp_path_factory.mktemp("fuzz_media")
    with in_process_server(settings, models, data_dir) as (srv, target):
        with Client(target, retries=0, timeout=120) as client:
            client.create_collection("fz", ["clip", "text"])
            client.upsert("fz", [
                UpsertItem(Media(text="the harbour at dawn"), id="t1", metadata={"year": 2020}),
                UpsertItem(Media(text="a violin lesson"), id="t2", metadata={"kind": "note"}),
                UpsertItem(Media(image=mf.good_png(media_dir).read_bytes()), id="i1"),
            ])
        channel = grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ])
        yield {
            "server": srv, "target": target, "channel": channel,
            "search": search_pb2_grpc.SearchServiceStub(channel),
            "embed": embed_pb2_grpc.EmbedServiceStub(channel),
            "indexing": indexing_pb2_grpc.IndexingServiceStub(channel),
            "collections": collections_pb2_grpc.CollectionServiceStub(channel),
            "classify": classify_pb2_grpc.ClassifyServiceStub(channel),
            "good_png": mf.good_png(media_dir, seed=1).read_bytes(),
            "jpeg": mf.truncated_jpeg(media_dir).read_bytes(),
            "wav": (mf.SPEECH_DIR / "weather.wav").read_bytes()[:20000],
        }
        channel.close()
        with Client(target, retries=0, timeout=30) as client:
            assert client.health() == "SERVING", "the server stopped answering after the fuzzing"
    record("fuzz_grpc", cases=dict(TRIED), total_cases=sum(TRIED.values()), codes=dict(CODES))


def _judge(method: str, call: Any) -> None:
    """Run one call; its status must be OK or documented, and it must not hit the deadline."""
    TRIED[method] += 1
    try:
        call()
        code = grpc.StatusCode.OK
        details = ""
    except grpc.RpcError as exc:
        code, details = exc.code(), exc.details() or ""
    CODES[code.name] += 1
    assert code in DOCUMENTED_CODES, f"{method} answered {code.name}: {details}"
    if code is not grpc.StatusCode.OK:
        assert details.strip(), f"{method} answered {code.name} without a message"


# --- strategies ----------------------------------------------------------------------------------

texts = st.text(max_size=80)
int32 = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 10, 1000, 1001]))
names = st.one_of(
    st.sampled_from(["fz", "fz", "fz", "missing", "", "../etc", "a" * 65, "fz2", "Fz"]), texts
)
spaces = st.one_of(st.sampled_from(["text", "clip", "", "speech", "TEXT"]), texts)


def media_bytes(fx: dict[str, Any]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=1024),
        st.sampled_from([fx["good_png"], fx["jpeg"], fx["wav"], b"", b"RIFF\0\0\0\0WAVE",
                         b"\x89PNG\r\n\x1a\n", b"GIF89a"]),
        st.builds(lambda a, b: a + b, st.sampled_from([fx["good_png"][:64], fx["wav"][:64]]),
                  st.binary(max_size=256)),
    )


@st.composite
def media(draw: Any, fx: dict[str, Any]) -> common_pb2.Media:
    kind = draw(st.sampled_from(["text", "text", "image", "audio", "none"]))
    message = common_pb2.Media(filename=draw(st.one_of(st.just(""), texts)))
    if kind == "text":
        message.text = draw(texts)
    elif kind in ("image", "audio"):
        setattr(message, kind, draw(media_bytes(fx)))
    return message


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
              st.integers(-(2**60), 2**60), texts),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(texts, children, max_size=4)),
    max_leaves=24,
)


def struct_of(value: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


@st.composite
def filters(draw: Any) -> str:
    """Mostly well-formed filters of the documented grammar, with hostile names and literals."""
    field = draw(st.one_of(
        st.sampled_from(["item_id", "modality", "source_uri", "text", "chunk", "start_s", "end_s",
                         "year", "kind", "metadata.year", "a-b", "_x", "label_x"]),
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,12}", fullmatch=True),
    ))
    literal = draw(st.one_of(
        st.integers(-(10**20), 10**20).map(str),
        st.floats(allow_nan=False).map(lambda f: repr(f) if "e" in repr(f) or "." in repr(f) else f"{f}"),
        st.sampled_from(["1e999", "-1e999", "0.5", "-0", "TRUE", "FALSE", "1e-400"]),
        texts.map(lambda s: "'" + s.replace("'", "''") + "'"),
    ))
    shape = draw(st.integers(0, 7))
    if shape == 0:
        op = draw(st.sampled_from(["=", "!=", "<>", "<", "<=", ">", ">="]))
        atom = f"{field} {op} {literal}"
    elif shape == 1:
        more = draw(st.lists(st.just(literal), max_size=3))
        atom = f"{field} {draw(st.sampled_from(['IN', 'NOT IN']))} ({', '.join([literal, *more])})"
    elif shape == 2:
        atom = f"{field} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
    elif shape == 3:
        atom = f"{field} {draw(st.sampled_from(['LIKE', 'NOT LIKE']))} {literal}"
    elif shape == 4:
        atom = "(" * draw(st.integers(0, 40)) + f"{field} = {literal}" + ")" * draw(st.integers(0, 40))
    elif shape == 5:
        atom = "NOT " * draw(st.integers(1, 40)) + f"{field} > {literal}"
    else:
        atom = f"{field} = {literal}"
    tail = draw(st.lists(st.tuples(st.sampled_from(["AND", "OR"]), st.just(atom)), max_size=3))
    return " ".join([atom, *(f"{c} {a}" for c, a in tail)])


# --- 1. random requests over gRPC ------------------------------------------------------------------


def test_fuzz_search(fuzz_server: dict[str, Any]) -> None:
    fx = fuzz_server

    @FUZZ
    @given(data=st.data())
    def run(data: Any) -> None:
        request = search_pb2.SearchRequest(
            collection=data.draw(names), k=data.draw(int32),
            filter=data.draw(st.one_of(st.just(""), texts, filters())),
            modalities=data.draw(st.lists(st.integers(-3, 6), max_size=3)),
            spaces=data.draw(st.lists(spaces, max_size=3)),
        )
        kind = data.draw(st.sampled_from(["text", "image", "audio", "item_id", "none"]))
        if kind in ("text", "item_id"):
            setattr(request, kind, data.draw(st.one_of(texts, st.sampled_from(["t1", "i1"]))))
        elif kind in ("image", "audio"):
            setattr(request, kind, data.draw(media_bytes(fx)))
        _judge("Search", lambda: fx["search"].Search(request, timeout=CALL_DEADLINE_S))

    run()


def test_fuzz_embed_and_transcribe(fuzz_server: dict[str, Any]) -> None:
    fx = fuzz_server

    @FUZZ
    @given(data=st.data())
    def run(data: Any) -> None:
        request = embed_pb2.EmbedRequest(
            inputs=data.draw(st.lists(media(fx), max_size=4)),
            space=data.draw(spaces),
            collection=data.draw(st.one_of(st.just(""), names)),
        )
        _judge("Embed", lambda: fx["embed"].Embed(request, timeout=CALL_DEADLINE_S))
        if data.draw(st.booleans()):
            transcribe = embed_pb2.TranscribeRequest(
                audio=data.draw(media_bytes(fx)), language=data.draw(st.one_of(st.just(""), texts)),
                filename=data.draw(texts),
            )
            _judge("Transcribe", lambda: fx["embed"].Transcribe(transcribe, timeout=CALL_DEADLINE_S))

    run()


def test_fuzz_upsert(fuzz_server: dict[str, Any]) -> None:
    fx = fuzz_server

    @FUZZ
    @given(data=st.data())
    def run(data: Any) -> None:
        requests = []
        for _ in range(data.draw(st.integers(0, 3))):
            item = indexing_pb2.UpsertItem(
                id=data.draw(st.one_of(st.just(""), texts)),
                media=data.draw(media(fx)),
                source_uri=data.draw(st.one_of(st.just(""), texts)),
            )
            if data.draw(st.booleans()):
                item.metadata.CopyFrom(struct_of(data.draw(st.dictionaries(texts, json_values, max_size=4))))
            requests.append(indexing_pb2.UpsertRequest(
                collection=data.draw(names), sequence=data.draw(st.integers(-(2**63), 2**63 - 1)),
                item=item,
            ))
        _judge("Upsert", lambda: list(fx["indexing"].Upsert(iter(requests), timeout=CALL_DEADLINE_S)))

    run()


def test_fuzz_create_collection(fuzz_server: dict[str, Any]) -> None:
    fx = fuzz_server

    @FUZZ
    @given(name=names, space_list=st.lists(spaces, max_size=4), if_not_exists=st.booleans())
    def run(name: str, space_list: list[str], if_not_exists: bool) -> None:
        request = collections_pb2.CreateCollectionRequest(
            name=name, spaces=space_list, if_not_exists=if_not_exists
        )
        _judge("CreateCollection",
               lambda: fx["collections"].CreateCollection(request, timeout=CALL_DEADLINE_S))

    run()


def test_fuzz_zero_shot_classify(fuzz_server: dict[str, Any]) -> None:
    fx = fuzz_server

    @FUZZ
    @given(data=st.data())
    def run(data: Any) -> None:
        source = data.draw(st.sampled_from(["media", "item_id", "none"]))
        item_input = common_pb2.ItemOrMedia()
        if source == "media":
            item_input.media.CopyFrom(data.draw(media(fx)))
        elif source == "item_id":
            item_input.item_id = data.draw(st.one_of(texts, st.sampled_from(["t1", "i1"])))
        request = classify_pb2.ZeroShotClassifyRequest(
            input=item_input, collection=data.draw(st.one_of(st.just(""), names)),
            labels=data.draw(st.lists(texts, max_size=5)),
            prompt_template=data.draw(st.one_of(
                st.just(""), texts,
                st.sampled_from(["{}", "{0}", "{x}", "{{}}", "{}{}", "{!r}", "{:>99999}", "{0.__class__}"]),
            )),
            space=data.draw(spaces), top_k=data.draw(int32),
        )
        _judge("ZeroShotClassify",
               lambda: fx["classify"].ZeroShotClassify(request, timeout=CALL_DEADLINE_S))

    run()


def test_fuzz_raw_bytes_to_every_method(fuzz_server: dict[str, Any]) -> None:
    """Bytes that are not a valid message (or are one by accident) to every method."""
    channel, methods = fuzz_server["channel"], omnivec_methods()

    @FUZZ
    @given(index=st.integers(0, len(methods) - 1), payload=st.one_of(
        st.binary(max_size=512),
        st.sampled_from([b"\xff\xff\xff", b"\x0a\xff", b"\x08" + b"\xff" * 10, b"\x12\x02\xc3\x28"]),
    ))
    def run(index: int, payload: bytes) -> None:
        method = methods[index]
        _judge(f"raw:{method.name}", lambda: raw_call(channel, method, payload, timeout=CALL_DEADLINE_S))

    run()
    with Client(fuzz_server["target"], retries=0, timeout=30) as client:
        assert "fz" in [c.name for c in client.list_collections()]


# --- 2. the filter translator ---------------------------------------------------------------------


def test_filter_translator_raises_only_invalid_input_and_lancedb_accepts_its_output(
    fuzz_server: dict[str, Any], tmp_path: Path,
) -> None:
    """Whatever the translator accepts must run in LanceDB. Checked on a table whose metadata
    holds none of the keys (so no JSON value can clash with the literal's type), straight into
    LanceDB with no catch-all; and through the engine on the fuzz collection, whose values do
    clash (``year`` is a number there), where only InvalidInputError may come out."""
    store = Store(tmp_path)
    clean = store.create("clean", {"text": EncoderSpec("text", "fake", "none", DIM)})
    StoreMachine._add_rows(clean, [f"c{i}" for i in range(5)], StoreMachine._vectors(0, 5))
    mixed = fuzz_server["server"].engine.collection("fz")
    counts: Counter[str] = Counter()

    @FILTER_FUZZ
    @given(text=st.one_of(texts, filters(), st.text(alphabet="()'=<>!,. ANDORNTISLKE0123456789ab_-", max_size=60)))
    def run(text: str) -> None:
        try:
            predicate = translate_filter(text)
        except InvalidInputError:
            counts["refused"] += 1
            return
        counts["translated"] += 1
        # Straight into LanceDB, as Collection.allowed_rowids runs it (minus its catch-all).
        clean.lance_table.search().where(f"({predicate}) AND (vec_text IS NOT NULL)").select(
            ["rowid"]
        ).limit(None).to_arrow()
        try:
            mixed.allowed_rowids(predicate, "text")
        except InvalidInputError:
            counts["refused_by_data"] += 1

    run()
    store.close()
    record("fuzz_filters", cases=sum(counts.values()), **counts)


# --- 3. stateful: the store against a brute-force model --------------------------------------------

DIM = 8
ID_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=10
)


class StoreMachine(RuleBasedStateMachine):
    """add / replace / delete / reopen / search on a real collection vs a dict of vectors."""

    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="omnivec-fuzz-"))
        self.store = Store(self.root)
        self.collection = self.store.create("m", {"text": EncoderSpec("text", "fake", "none", DIM)})
        self.model: dict[str, np.ndarray] = {}
        self.steps = 0

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.root, ignore_errors=True)
        STATEFUL["steps"] += self.steps
        STATEFUL["runs"] += 1

    @staticmethod
    def _vectors(seed: int, count: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        v = rng.normal(size=(count, DIM)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def _add(self, ids: list[str], vectors: np.ndarray) -> None:
        self._add_rows(self.collection, ids, vectors)
        for item, vector in zip(ids, vectors):
            self.model[item] = vector

    @staticmethod
    def _add_rows(collection: Any, ids: list[str], vectors: np.ndarray) -> None:
        n = len(ids)
        collection.add_rows(pa.table({
            "item_id": ids,
            "chunk": pa.array([0] * n, pa.int32()),
            "modality": ["text"] * n,
            "source_uri": pa.array([None] * n, pa.string()),
            "content_hash": [f"h-{i}" for i in ids],
            "text": ids,
            "start_s": pa.array([None] * n, pa.float64()),
            "end_s": pa.array([None] * n, pa.float64()),
            "metadata": pa.array(["{}"] * n, pa.json_(pa.utf8())),
            "vec_text": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), DIM),
        }))

    @initialize()
    def start(self) -> None:
        self.steps += 1

    @rule(target=ids, new=st.lists(ID_TEXT, min_size=1, max_size=5, unique=True),
          seed=st.integers(0, 2**32 - 1))
    def add(self, new: list[str], seed: int) -> Any:
        self.steps += 1
        fresh = [i for i in new if i not in self.model]
        if fresh:
            self._add(fresh, self._vectors(seed, len(fresh)))
        from hypothesis.stateful import multiple

        return multiple(*fresh)

    @rule(item=ids, seed=st.integers(0, 2**32 - 1))
    def replace(self, item: str, seed: int) -> None:
        self.steps += 1
        if item not in self.model:
            return
        assert self.collection.delete_items(ids=[item]) == 1
        del self.model[item]
        self._add([item], self._vectors(seed, 1))

    @rule(doomed=st.lists(ids, max_size=4, unique=True))
    def delete(self, doomed: list[str]) -> None:
        self.steps += 1
        if not doomed:
            return
        expected = sum(1 for d in doomed if d in self.model)
        assert self.collection.delete_items(ids=doomed) == expected
        for item in doomed:
            self.model.pop(item, None)

    @rule()
    def reopen(self) -> None:
        self.steps += 1
        self.store.close()  # flushes the ANN index; reopening loads (or catches up) it
        self.store = Store(self.root)
        self.collection = self.store.open("m")

    @rule(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 15),
          subset=st.one_of(st.none(), st.lists(ids, min_size=1, max_size=4, unique=True)))
    def search(self, seed: int, k: int, subset: list[str] | None) -> None:
        self.steps += 1
        query = self._vectors(seed, 1)[0]
        predicate = None
        candidates = self.model
        if subset is not None:
            quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in subset)
            predicate = translate_filter(f"item_id IN ({quoted})")
            candidates = {i: v for i, v in self.model.items() if i in subset}
        got = self.collection.search("text", query, k, predicate)
        rows = self.collection.fetch_rows([r for r, _ in got], ["item_id"])
        got_ids = [rows[r]["item_id"] for r, _ in got]
        got_scores = [s for _, s in got]
        exact = sorted(((float(v @ query), i) for i, v in candidates.items()), reverse=True)[:k]
        assert len(got) == len(exact), (got_ids, exact)
        for position, (score, _item) in enumerate(exact):
            assert abs(got_scores[position] - score) < 1e-5, (got_ids, exact)
        for item, score in zip(got_ids, got_scores):
            assert item in candidates and abs(float(candidates[item] @ query) - score) < 1e-5
        assert len(set(got_ids)) == len(got_ids), "duplicate hits"

    @invariant()
    def counts_agree(self) -> None:
        assert self.collection.count_rows() == len(self.model)
        assert self.collection.ann_status()["text"].vectors == len(self.model)


StoreMachine.TestCase.settings = settings(
    # Long: >= 1,000 runs (100 examples were 204 runs on 2026-11-27: hypothesis counts a run per
    # generated program, shrinking and replays included).
    max_examples=bound(6, 500), stateful_step_count=bound(12, 30), deadline=None, database=None,
    derandomize=not LONG, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestStoreAgainstBruteForce = StoreMachine.TestCase
TestStoreAgainstBruteForce.pytestmark = [pytest.mark.reliability]  # type: ignore[attr-defined]


def test_zz_record_stateful_figures() -> None:
    """Runs after the state machine (file order): reports how many steps it took."""
    record("fuzz_stateful", runs=STATEFUL["runs"], steps=STATEFUL["steps"])
