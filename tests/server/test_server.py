"""The gRPC server end to end: a real server on port 0, the real engine and the real Python SDK.

One module-scoped server (fresh ModelHub, its own data dir, dynamic batching on) serves the happy
paths; small extra servers share its engine to test limits, auth, TLS and missing weights; one
subprocess server tests SIGTERM.

The tests taking the ``client`` fixture run twice: with the blocking Client and with the real
AsyncClient, driven through tests.support.async_adapter. Tests of the server rather than of the
SDK use ``sync_client`` only; shared data (the ``media`` collection) is created once, with it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import wave
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import grpc
import pytest

from omnivec.client import (
    AsyncClient,
    Client,
    FailedPrecondition,
    InvalidArgument,
    Media,
    NotFound,
    OmnivecClientError,
    PermissionDenied,
    ResourceExhausted,
    TlsOptions,
    Unauthenticated,
    UpsertItem,
)
from tests.support.async_adapter import SyncFacade
from tests.support.certificates import make_certificates
from tests.support.paths import SAMPLES, SPEECH
from tests.support.processes import ServerProcess

TOKEN = "s3cret-token"


# --- fixtures ------------------------------------------------------------------------------------


def _server_settings(base: Any, data_dir: Path, **server: Any) -> Any:
    from omnivec.indexer.config import ServerSettings

    return base.model_copy(
        update={"data_dir": data_dir, "server": ServerSettings(host="127.0.0.1", port=0, **server)}
    )


@pytest.fixture(scope="module")
def index_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("index_root")
    notes = root / "notes"
    notes.mkdir()
    (notes / "espresso.txt").write_bytes((SAMPLES / "texts" / "espresso.txt").read_bytes())
    (notes / "rocket.jpg").write_bytes((SAMPLES / "images" / "rocket.jpg").read_bytes())
    # Enough files that an IndexPath call is still working when its first event arrives.
    many = root / "many"
    many.mkdir()
    for i in range(40):
        (many / f"note-{i:02d}.txt").write_text(f"note number {i} about bread, rivers and trains")
    return root


@pytest.fixture(scope="module")
def main_settings(settings: Any, tmp_path_factory: pytest.TempPathFactory, index_root: Path) -> Any:
    return _server_settings(
        settings, tmp_path_factory.mktemp("server_data"), index_root=index_root,
        batch_wait_ms=5.0, max_batch_size=16,
    )


@pytest.fixture(scope="module")
def engine_for_server(main_settings: Any) -> Iterator[Any]:
    from omnivec.indexer.engine import Engine
    from omnivec.indexer.models import ModelHub

    # A hub of its own: the server installs its batching wrapper on it.
    engine = Engine(main_settings, ModelHub(main_settings))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def server(main_settings: Any, engine_for_server: Any) -> Iterator[Any]:
    from omnivec.server.app import create_server

    srv, port = create_server(main_settings, engine_for_server, address="127.0.0.1:0")
    assert port > 0
    srv.start()
    assert srv.wait_until_ready(120)
    yield srv
    srv.stop(grace=1)


@pytest.fixture(scope="module")
def sync_client(server: Any) -> Iterator[Client]:
    with Client(f"127.0.0.1:{server.port}", timeout=120) as c:
        yield c


@pytest.fixture(scope="module", params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    """Which client ``client`` is; a test creating data names it after the flavour."""
    return str(request.param)


@pytest.fixture(scope="module")
def client(flavour: str, sync_client: Client, server: Any) -> Iterator[Client]:
    """The blocking Client, or the real AsyncClient driven through Client's surface."""
    if flavour == "sync":
        yield sync_client
        return
    target = f"127.0.0.1:{server.port}"
    with SyncFacade(lambda: AsyncClient(target, timeout=120)) as facade:
        yield cast(Client, facade)


@pytest.fixture(scope="module")
def media(sync_client: Client) -> dict[str, Any]:
    """A clip+text collection holding one text, one image and one audio clip (made once, for
    both client flavours)."""
    client = sync_client
    client.create_collection("media", ["clip", "text"])
    items = [
        UpsertItem(Media(text=(SAMPLES / "texts" / "espresso.txt").read_text()),
                   metadata={"kind": "note", "year": 2021}, source_uri="espresso.txt"),
        UpsertItem(Media(image=(SAMPLES / "images" / "cat.jpg").read_bytes(), filename="cat.jpg"),
                   metadata={"kind": "photo", "year": 2019}, source_uri="cat.jpg"),
        UpsertItem(Media(audio=(SPEECH / "weather.wav").read_bytes(), filename="weather.wav"),
                   metadata={"kind": "speech", "year": 2023}, source_uri="weather.wav"),
    ]
    first = client.upsert("media", items)
    second = client.upsert("media", items)
    return {"items": items, "first": first, "second": second}


def _health(target: str, **kwargs: Any) -> str:
    with Client(target, retries=0, timeout=10, **kwargs) as c:
        return c.health()


# --- health, reflection ---------------------------------------------------------------------------


def test_health_is_serving_for_the_server_and_each_service(client: Client) -> None:
    assert client.health() == "SERVING"
    assert client.health("omnivec.v1.SearchService") == "SERVING"
    assert client.health("no.such.Service") == "SERVICE_UNKNOWN"


def test_reflection_lists_every_service(server: Any) -> None:
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {
        "omnivec.v1.CollectionService", "omnivec.v1.IndexingService", "omnivec.v1.SearchService",
        "omnivec.v1.EmbedService", "omnivec.v1.ClassifyService", "grpc.health.v1.Health",
    } <= services
    try:
        import omnivec.indexer.probes.service  # noqa: F401
    except ImportError:
        return
    assert "omnivec.v1.ProbeService" in services


# --- collections ----------------------------------------------------------------------------------


def test_collection_lifecycle(client: Client) -> None:
    created = client.create_collection("lifecycle", ["text"])
    assert created.name == "lifecycle"
    assert [s.space for s in created.spaces] == ["text"]
    assert created.spaces[0].encoder.dim > 0 and created.spaces[0].encoder.config_hash
    assert created.created_at is not None
    assert "lifecycle" in [c.name for c in client.list_collections()]
    assert client.get_collection("lifecycle").item_count == 0
    again = client.create_collection("lifecycle", ["text"], if_not_exists=True)
    assert again.name == "lifecycle"
    with pytest.raises(FailedPrecondition, match="spaces"):
        client.create_collection("lifecycle", ["clip", "text"], if_not_exists=True)
    with pytest.raises(OmnivecClientError) as exists:
        client.create_collection("lifecycle", ["text"])
    assert exists.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert client.delete_collection("lifecycle") is True
    assert client.delete_collection("lifecycle", if_exists=True) is False
    with pytest.raises(NotFound, match="lifecycle"):
        client.get_collection("lifecycle")


# --- indexing -------------------------------------------------------------------------------------


def test_upsert_text_image_audio_then_unchanged(client: Client, media: dict[str, Any]) -> None:
    first, second = media["first"], media["second"]
    assert [r.status for r in first] == ["ok", "ok", "ok"], first
    assert all(r.chunk_count >= 1 for r in first)
    assert [r.status for r in second] == ["unchanged"] * 3
    assert [r.id for r in second] == [r.id for r in first]
    info = client.get_collection("media")
    assert info.item_count == 3
    assert info.modality_counts == {"audio": 1, "image": 1, "text": 1}


def test_a_bad_item_fails_alone_and_the_stream_goes_on(client: Client, media: dict[str, Any]) -> None:
    results = client.upsert("media", [
        UpsertItem(Media(image=b"this is not a jpeg at all", filename="broken.jpg")),
        UpsertItem(Media(text="a short note about espresso crema"), id="note-crema"),
    ])
    assert results[0].status == "failed"
    assert "broken.jpg" in (results[0].error or "") or "image" in (results[0].error or "")
    assert results[1].status == "ok" and results[1].id == "note-crema"
    assert client.delete_items("media", ids=["note-crema"]) == 1
    assert client.delete_items("media", ids=["note-crema"]) == 0


def test_index_path_under_the_root_streams_progress(client: Client, flavour: str) -> None:
    folder = f"folder-{flavour}"
    events = list(client.index_path(folder, "notes", recursive=True))
    final = events[-1]
    assert final.is_final and final.total == 2 and final.indexed == 2 and final.failed == 0
    assert all(not e.is_final for e in events[:-1])
    again = list(client.index_path(folder, "notes"))[-1]
    assert again.unchanged == 2 and again.indexed == 0
    hits = client.search(folder, text="espresso coffee", k=2)
    assert hits and hits[0].source_uri.endswith("espresso.txt")


@pytest.mark.parametrize("path", ["..", "../..", "notes/../../etc", "/etc", "/"])
def test_index_path_refuses_paths_outside_the_root(client: Client, path: str) -> None:
    with pytest.raises(PermissionDenied, match="outside"):
        list(client.index_path("folder", path))


def test_index_path_refuses_symlinks_out_of_the_root(
    sync_client: Client, index_root: Path, tmp_path: Path
) -> None:
    client = sync_client  # the server's jail is under test, not the SDK
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwords.txt").write_text("hunter2 is the admin password")
    (index_root / "escape").symlink_to(outside, target_is_directory=True)
    mixed = index_root / "mixed"
    mixed.mkdir()
    (mixed / "leak.txt").symlink_to(outside / "passwords.txt")
    (mixed / "fine.txt").write_text("bread dough rises overnight in the fridge")
    try:
        with pytest.raises(PermissionDenied, match="outside"):
            list(client.index_path("folder", "escape"))
        with pytest.raises(PermissionDenied):
            list(client.index_path("folder", "mixed/leak.txt"))
        events = list(client.index_path("jail", "mixed"))
        final = events[-1]
        assert final.indexed == 1 and final.failed == 1
        reported = [f for e in events for f in e.failures]
        assert [f.path for f in reported] == ["mixed/leak.txt"]
        assert "outside the index root" in reported[0].reason
        hits = client.search("jail", text="admin password", k=5)
        assert all("hunter2" not in (h.span.text if h.span else "") for h in hits)
    finally:
        (index_root / "escape").unlink()


def test_index_path_unknown_path_is_not_found(client: Client) -> None:
    with pytest.raises(NotFound):
        list(client.index_path("folder", "no-such-folder"))


# --- streams: each flavour's own item iterables, bad items, leaving early ------------------------


@pytest.fixture(scope="module")
def notes(sync_client: Client, flavour: str) -> str:
    """A text collection of the client flavour's own."""
    name = f"notes-{flavour}"
    sync_client.create_collection(name, ["text"])
    return name


def _items_of(flavour: str, items: list[Any]) -> Iterable[Any] | AsyncIterator[Any]:
    """The items as a generator for the sync client, an async generator for the async one."""
    if flavour == "sync":
        return iter(items)

    async def produce() -> AsyncIterator[Any]:
        for item in items:
            await asyncio.sleep(0)  # yields to the loop between items, as a real source would
            yield item

    return produce()


def test_upsert_takes_each_flavours_own_iterables(client: Client, flavour: str, notes: str) -> None:
    items = [UpsertItem(Media(text=f"{flavour} note {i} on sourdough"), id=f"{flavour}-{i}")
             for i in range(3)]
    results = client.upsert(notes, _items_of(flavour, items))  # type: ignore[arg-type]
    assert [(r.sequence, r.id, r.status) for r in results] == [
        (i, f"{flavour}-{i}", "ok") for i in range(3)
    ]
    streamed = list(client.upsert_stream(notes, _items_of(flavour, items)))  # type: ignore[arg-type]
    assert sorted(r.status for r in streamed) == ["unchanged"] * 3


def test_a_bad_item_ends_the_stream_and_its_own_error_is_raised(
    client: Client, flavour: str, notes: str
) -> None:
    good = UpsertItem(Media(text="the last good note before a bad one"), id=f"{flavour}-good")
    received = []
    with pytest.raises(TypeError, match="upsert items must be UpsertItem"):
        for result in client.upsert_stream(notes, _items_of(flavour, [good, "not an item"])):  # type: ignore[arg-type]
            received.append(result)
    # What came before the bad item was written and acknowledged before its error surfaced.
    assert [(r.id, r.status) for r in received] == [(good.id, "ok")]
    with pytest.raises(TypeError, match="did you mean"):
        list(client.upsert_stream(notes, good))  # type: ignore[arg-type]


def _calls_ended(server: Any, method: str, code: str) -> float:
    prefix = f'omnivec_requests_total{{code="{code}",method="/omnivec.v1.{method}"}} '
    for line in server.metrics.render().decode().splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    return 0.0


def test_leaving_a_stream_early_cancels_the_call(client: Client, server: Any, notes: str) -> None:
    method = "IndexingService/IndexPath"
    before = _calls_ended(server, method, "CANCELLED")
    for event in client.index_path(notes, "many"):
        assert not event.is_final  # the first event comes before any of the 40 files is indexed
        break
    # Had the client not cancelled, the server would finish the 40 files and end the call OK.
    deadline = time.monotonic() + 60
    while _calls_ended(server, method, "CANCELLED") == before:
        assert time.monotonic() < deadline, "the server never saw the call cancelled"
        time.sleep(0.05)


# --- search ---------------------------------------------------------------------------------------


def test_search_by_text_image_audio_and_item(client: Client, media: dict[str, Any]) -> None:
    ids = {r.id: i for i, r in enumerate(media["first"])}
    text_hits = client.search("media", text="espresso coffee crema", k=3)
    assert text_hits[0].modality == "text" and text_hits[0].metadata == {"kind": "note", "year": 2021}
    assert text_hits[0].rank == 1 and text_hits[0].span is not None

    image_hits = client.search("media", image=(SAMPLES / "images" / "cat.jpg").read_bytes(), k=1)
    assert image_hits[0].modality == "image" and ids[image_hits[0].id] == 1
    assert image_hits[0].span is None and image_hits[0].space == "clip"

    detailed = client.search_detailed("media", audio=(SPEECH / "weather.wav").read_bytes(), k=3)
    assert "weather" in (detailed.query_transcript or "").lower()
    assert detailed.hits[0].modality == "audio"
    assert detailed.hits[0].span is not None and detailed.hits[0].span.has_time
    # hybrid (the default mode): the transcript is also matched as keywords
    assert {t.space for t in detailed.timings} == {"clip", "text", "keyword"}

    audio_id = media["first"][2].id
    like = client.search("media", item_id=audio_id, k=5)
    assert audio_id not in [h.id for h in like] and len(like) == 2


def test_search_filter_and_modalities(client: Client, media: dict[str, Any]) -> None:
    hits = client.search("media", text="anything at all", k=10, where="metadata.year >= 2021")
    assert sorted(h.metadata["year"] for h in hits) == [2021, 2023]
    only_images = client.search("media", text="a cat", k=10, modalities=["image"])
    assert [h.modality for h in only_images] == ["image"]


def test_concurrent_searches_equal_sequential_ones(server: Any, client: Client, media: dict[str, Any]) -> None:
    queries = [f"query number {i}: {w}" for i, w in enumerate(
        ["coffee", "weather", "cat", "ocean", "espresso", "sunny", "kitten", "breeze"] * 4
    )]
    sequential = [client.search("media", text=q, k=3) for q in queries]
    with ThreadPoolExecutor(max_workers=32) as pool:
        parallel = list(pool.map(lambda q: client.search("media", text=q, k=3), queries))
    assert len(parallel) == 32
    for seq, par in zip(sequential, parallel):
        assert [h.id for h in par] == [h.id for h in seq]
        assert [h.score for h in par] == pytest.approx([h.score for h in seq], abs=1e-4)
    metrics = server.metrics.render().decode()
    assert 'omnivec_requests_total{code="OK",method="/omnivec.v1.SearchService/Search"}' in metrics
    from omnivec.indexer.models import ModelHub

    if hasattr(ModelHub, "set_embedder_wrapper"):  # dynamic batching is on: sizes are recorded
        assert 'omnivec_encoder_batch_size_count{encoder="text",kind="texts"}' in metrics


# --- embed, transcribe, classify ------------------------------------------------------------------


def test_embed_text_image_audio(client: Client) -> None:
    texts = client.embed(texts=["a cat", "a rocket"], space="clip")
    assert texts.shape[0] == 2 and texts.dtype.name == "float32"
    images = client.embed(images=[(SAMPLES / "images" / "cat.jpg").read_bytes()], space="clip")
    assert images.shape == (1, texts.shape[1])
    audio = client.embed(audio=[SPEECH / "rocket.wav"], space="text")
    assert audio.shape[0] == 1
    same_space = client.embed(texts=["a cat"], space="clip", collection="media")
    assert same_space[0] == pytest.approx(texts[0], abs=1e-5)


def test_transcribe(client: Client) -> None:
    transcript = client.transcribe(SPEECH / "weather.wav")
    assert "weather" in transcript.text.lower()
    assert transcript.segments and transcript.segments[0].has_time
    assert transcript.duration_seconds == pytest.approx(4.44, abs=0.2)


def test_zero_shot_classify(client: Client) -> None:
    from omnivec.indexer.engine import Engine

    if not hasattr(Engine, "zero_shot_classify"):
        pytest.skip("Engine.zero_shot_classify is not in this tree yet")
    scores = client.zero_shot_classify(
        ["weather forecast", "cooking recipe"], text="sunny and warm tomorrow", space="text",
    )
    assert [s.label for s in scores][0] == "weather forecast"
    assert sum(s.probability for s in scores) == pytest.approx(1.0, abs=1e-6)
    top = client.zero_shot_classify(
        ["cat", "rocket", "coffee"], image=SAMPLES / "images" / "cat.jpg",
        prompt_template="a photo of a {}", top_k=2,
    )
    assert len(top) == 2


# --- error codes ----------------------------------------------------------------------------------


def test_bad_media_is_invalid_argument_naming_the_problem(client: Client, media: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument, match="image"):
        client.search("media", image=b"GIF89a but then garbage")
    with pytest.raises(InvalidArgument, match="(?i)audio|decode|read"):
        client.transcribe(b"RIFF....WAVEnot really")


def test_unknown_collection_is_not_found(client: Client) -> None:
    with pytest.raises(NotFound, match="nope"):
        client.search("nope", text="anything")
    with pytest.raises(NotFound, match="nope"):
        client.upsert("nope", [UpsertItem(Media(text="hello"))])


def test_bad_filter_is_invalid_argument(client: Client, media: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        client.search("media", text="x", where="metadata.year >>= 'oops")


def test_bad_arguments_are_invalid_argument(sync_client: Client, media: dict[str, Any]) -> None:
    from omnivec.v1 import search_pb2

    with grpc.insecure_channel(f"{sync_client.target}") as channel:
        stub = search_pb2_grpc_stub(channel)
        with pytest.raises(grpc.RpcError) as no_query:
            stub.Search(search_pb2.SearchRequest(collection="media"), timeout=30)
        assert no_query.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as bad_k:
            stub.Search(search_pb2.SearchRequest(collection="media", text="x", k=5000), timeout=30)
        assert bad_k.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as unset_modality:
            stub.Search(search_pb2.SearchRequest(collection="media", text="x", modalities=[0]), timeout=30)
        assert unset_modality.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_metadata_json_cannot_hold_fails_its_item_alone(
    sync_client: Client, media: dict[str, Any]
) -> None:
    """A Struct can carry Infinity and NaN, JSON cannot: found by the long fuzz run, where it was
    INTERNAL for the whole stream."""
    from omnivec.v1 import common_pb2, indexing_pb2, indexing_pb2_grpc

    def item(n: int, **metadata: float) -> indexing_pb2.UpsertRequest:
        request = indexing_pb2.UpsertRequest(collection="media", sequence=n, item=indexing_pb2.UpsertItem(
            id=f"meta-{n}", media=common_pb2.Media(text=f"note {n} on metadata")))
        request.item.metadata.update(metadata)
        return request

    with grpc.insecure_channel(f"{sync_client.target}") as channel:
        stub = indexing_pb2_grpc.IndexingServiceStub(channel)
        results = list(stub.Upsert(iter([item(1, year=float("inf")), item(2, score=float("nan")),
                                         item(3, year=2024.0)]), timeout=60))
    by_id = {r.sequence: r for r in results}
    for n, value in ((1, "Infinity"), (2, "NaN")):
        assert by_id[n].status == indexing_pb2.ITEM_STATUS_FAILED, by_id[n]
        assert value in by_id[n].error and "finite numbers" in by_id[n].error, by_id[n].error
    assert by_id[3].status == indexing_pb2.ITEM_STATUS_OK
    assert sync_client.delete_items("media", ids=["meta-3"]) == 1


def search_pb2_grpc_stub(channel: grpc.Channel) -> Any:
    from omnivec.v1 import search_pb2_grpc

    return search_pb2_grpc.SearchServiceStub(channel)


@pytest.fixture(scope="module")
def strict(
    settings: Any, engine_for_server: Any, tmp_path_factory: pytest.TempPathFactory, media: Any
) -> Iterator[Any]:
    """Small limits and bearer-token auth, over the main server's engine."""
    from omnivec.server.app import create_server

    folder = tmp_path_factory.mktemp("strict")
    tokens = folder / "tokens"
    tokens.write_text("# comment\nother-token\n" + TOKEN + "\n")
    cfg = _server_settings(
        settings, engine_for_server.settings.data_dir, tokens_file=tokens,
        max_message_bytes=16 * 1024, max_items_per_request=2,
    )
    srv, port = create_server(cfg, engine_for_server, address="127.0.0.1:0", batching=False)
    srv.start(warm=False)
    yield srv
    srv.stop(grace=1)


def test_oversize_message_is_resource_exhausted(strict: Any) -> None:
    with Client(f"127.0.0.1:{strict.port}", token=TOKEN, retries=0) as c:
        with pytest.raises(ResourceExhausted):
            c.search("media", image=(SAMPLES / "images" / "cat.jpg").read_bytes())  # 20 KB > 16 KiB


def test_too_many_items_is_resource_exhausted(strict: Any) -> None:
    with Client(f"127.0.0.1:{strict.port}", token=TOKEN, retries=0) as c:
        with pytest.raises(ResourceExhausted, match="at most 2"):
            c.upsert("media", [UpsertItem(Media(text=f"note {i}"), id=f"n{i}") for i in range(3)])
        assert c.delete_items("media", ids=["n0", "n1", "n2"]) == 2  # the first two were written
        with pytest.raises(ResourceExhausted, match="limit of 2"):
            c.embed(texts=["a", "b", "c"], space="text")


def test_auth_missing_and_wrong_tokens_are_unauthenticated(strict: Any) -> None:
    target = f"127.0.0.1:{strict.port}"
    assert _health(target) == "SERVING"  # health needs no token
    with Client(target, retries=0) as anonymous:
        with pytest.raises(Unauthenticated, match="missing"):
            anonymous.list_collections()
        with pytest.raises(Unauthenticated):
            list(anonymous.index_path("media", "notes"))
        with pytest.raises(Unauthenticated):
            anonymous.upsert("media", [UpsertItem(Media(text="x"))])
    with Client(target, token="wrong-token", retries=0) as wrong:
        with pytest.raises(Unauthenticated, match="invalid token"):
            wrong.search("media", text="x")
    with Client(target, token=TOKEN, retries=0) as good:
        assert "media" in [c.name for c in good.list_collections()]
    with Client(target, token="other-token", retries=0) as second:
        assert second.health() == "SERVING"
        second.list_collections()


def test_missing_clip_weights_is_failed_precondition(
    settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from omnivec.indexer.engine import Engine
    from omnivec.indexer.models import ModelHub
    from omnivec.server.app import create_server

    folder = tmp_path_factory.mktemp("noclip")
    cfg = _server_settings(settings, folder / "data")
    cfg = cfg.model_copy(update={"clip": cfg.clip.model_copy(
        update={"checkpoint": folder / "missing.safetensors"}
    )})
    engine = Engine(cfg, ModelHub(cfg))
    srv, port = create_server(cfg, engine, address="127.0.0.1:0", batching=False)
    srv.start(warm=False)
    try:
        with Client(f"127.0.0.1:{port}", retries=0, timeout=60) as c:
            with pytest.raises(FailedPrecondition, match="(?i)clip|checkpoint|weights"):
                c.create_collection("pics", ["clip"])
            with pytest.raises(FailedPrecondition, match="(?i)clip|checkpoint|weights"):
                c.embed(texts=["a cat"], space="clip")
    finally:
        srv.stop(grace=0)
        engine.close()


# --- TLS and mutual TLS ---------------------------------------------------------------------------


def test_tls_and_mutual_tls(
    settings: Any, engine_for_server: Any, tmp_path: Path, media: Any
) -> None:
    from omnivec.server.app import create_server

    pems = make_certificates(tmp_path)
    data_dir = engine_for_server.settings.data_dir
    tls_cfg = _server_settings(
        settings, data_dir, tls_cert=pems["server_cert"], tls_key=pems["server_key"]
    )
    mtls_cfg = _server_settings(
        settings, data_dir, tls_cert=pems["server_cert"], tls_key=pems["server_key"],
        tls_client_ca=pems["ca"],
    )
    tls, tls_port = create_server(tls_cfg, engine_for_server, address="127.0.0.1:0", batching=False)
    mtls, mtls_port = create_server(mtls_cfg, engine_for_server, address="127.0.0.1:0", batching=False)
    tls.start(warm=False)
    mtls.start(warm=False)
    trust = TlsOptions.from_files(root_cert=pems["ca"], server_name_override="localhost")
    with_cert = TlsOptions.from_files(
        root_cert=pems["ca"], client_cert=pems["client_cert"], client_key=pems["client_key"],
        server_name_override="localhost",
    )
    try:
        with Client(f"127.0.0.1:{tls_port}", tls=trust, retries=0, timeout=20) as c:
            assert c.health() == "SERVING"
            assert "media" in [x.name for x in c.list_collections()]
        with Client(f"127.0.0.1:{tls_port}", retries=0, timeout=5) as plaintext:
            with pytest.raises(OmnivecClientError):
                plaintext.list_collections()
        with Client(f"127.0.0.1:{mtls_port}", tls=with_cert, retries=0, timeout=20) as c:
            assert "media" in [x.name for x in c.list_collections()]
        with Client(f"127.0.0.1:{mtls_port}", tls=trust, retries=0, timeout=5) as no_cert:
            with pytest.raises(OmnivecClientError):
                no_cert.list_collections()
    finally:
        tls.stop(grace=0)
        mtls.stop(grace=0)


# --- graceful shutdown ----------------------------------------------------------------------------

def test_sigterm_lets_an_in_flight_search_finish(settings_env: dict[str, str], tmp_path: Path) -> None:
    env = {
        **os.environ, **settings_env,
        "OMNIVEC_DATA_DIR": str(tmp_path / "data"),
        # Generous: on a loaded 2-core machine the 14 s spoken query below can take over 30 s to
        # transcribe, and what is under test is that it finishes, not how fast.
        "OMNIVEC_SERVER__GRACE_SECONDS": "180",
    }
    # A long spoken query (the clip three times over) keeps the search in flight, transcribing,
    # when SIGTERM arrives.
    with wave.open(str(SPEECH / "rocket.wav"), "rb") as clip:
        params, frames = clip.getparams(), clip.readframes(clip.getnframes())
    long_query = tmp_path / "rocket-x3.wav"
    with wave.open(str(long_query), "wb") as out:
        out.setparams(params)
        out.writeframes(frames * 3)
    server = ServerProcess(env, tmp_path / "serve.log")
    target = server.start()
    try:
        # Every encoder loaded, not only the text path (what SERVING means): Whisper serves the
        # query, and CLIP still loading would compete with it for the cores.
        server.wait_every_encoder()
        server.send_signal(signal.SIGUSR1)  # a stack dump to stderr; the server carries on
        with Client(target, timeout=120) as c:
            c.create_collection("notes", ["text"])
            c.upsert("notes", [UpsertItem(Media(text="the espresso machine makes crema"))])
            outcome: dict[str, Any] = {}

            def search() -> None:
                try:
                    outcome["hits"] = c.search("notes", audio=long_query, k=1)
                except Exception as exc:  # noqa: BLE001 - asserted below
                    outcome["error"] = exc

            worker = threading.Thread(target=search)
            worker.start()
            time.sleep(0.5)
            server.send_signal(signal.SIGTERM)
            worker.join(200)
        assert "error" not in outcome, outcome.get("error")
        assert len(outcome["hits"]) == 1
        assert server.wait(60) == 0
        stderr = server.log_text()
        finished = "method=/omnivec.v1.SearchService/Search code=OK"
        assert "shutting down" in stderr and finished in stderr
        assert "(most recent call first)" in stderr and "in _serve" in stderr  # the SIGUSR1 dump
        # It was in flight at the signal: it finished after the shutdown began.
        assert stderr.index("shutting down") < stderr.index(finished), stderr
    finally:
        server.kill()


def test_sigterm_while_encoders_still_load_exits_cleanly(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    """SIGTERM as soon as the port is bound, while the encoders are still loading: the server
    waits for the loads in progress and exits 0. It used to exit at once and the C++ runtime
    aborted the process (exit 134, "terminate called without an active exception") from a
    thread still inside native model-loading code."""
    env = {**os.environ, **settings_env, "OMNIVEC_DATA_DIR": str(tmp_path / "data")}
    server = ServerProcess(env, tmp_path / "serve.log")
    server.start()
    try:
        server.send_signal(signal.SIGTERM)
        code = server.wait(180)
        stderr = server.log_text()
        assert code == 0, stderr
        assert "terminate called" not in stderr and "stopped" in stderr, stderr
    finally:
        server.kill()


# --- dynamic batching (no server, a fake encoder) -------------------------------------------------


class _Context:
    def __init__(self, active: bool) -> None:
        self.active = active

    def is_active(self) -> bool:
        return self.active

    def time_remaining(self) -> float | None:
        return None


def test_batcher_merges_concurrent_calls_and_isolates_a_bad_one(models: Any) -> None:
    import numpy as np

    from omnivec.server.batching import BatchingEncoder, BatchingPolicy

    inner = models.text()  # the real MiniLM
    sizes: list[int] = []
    # A wait bound long enough for the calls released together to meet in one batch (the first
    # may run on its own thread: it finds nothing in flight).
    encoder = BatchingEncoder(inner, BatchingPolicy(max_batch_size=8, wait_ms=1000),
                              lambda enc, kind, n: sizes.append(n))
    texts: list[Any] = [f"sentence number {i} about rivers" for i in range(7)] + [None]
    barrier = threading.Barrier(len(texts))

    def one(text: Any) -> Any:
        barrier.wait()
        try:
            return encoder.encode_texts([text])
        except Exception as exc:  # noqa: BLE001 - the bad input's own failure
            return exc

    try:
        with ThreadPoolExecutor(len(texts)) as pool:
            results = list(pool.map(one, texts))
    finally:
        encoder.stop_batching()
    expected = inner.encode_texts(texts[:-1])
    for row, result in zip(expected, results[:-1]):
        assert isinstance(result, np.ndarray) and result.shape == (1, 384)
        np.testing.assert_allclose(result[0], row, atol=1e-5)  # batched equals unbatched
    assert isinstance(results[-1], Exception)  # only the bad call failed
    assert sizes and max(sizes) > 1  # at least one real batch of several calls
    assert encoder.spec is inner.spec and encoder.dim == 384
    # After stop_batching calls go straight through.
    np.testing.assert_allclose(encoder.encode_texts([texts[0]])[0], expected[0], atol=1e-5)


def test_batcher_skips_calls_whose_rpc_is_gone(models: Any) -> None:
    from omnivec.server.batching import BatchingEncoder, BatchingPolicy
    from omnivec.server.limits import CallCancelledError, call_scope

    sizes: list[int] = []
    encoder = BatchingEncoder(models.text(), BatchingPolicy(max_batch_size=8, wait_ms=1),
                              lambda enc, kind, n: sizes.append(n))
    try:
        with call_scope(_Context(active=False)), pytest.raises(CallCancelledError):
            encoder.encode_texts(["never computed"])
        assert sizes == []  # the cancelled call never reached the model
        with call_scope(_Context(active=True)):
            assert encoder.encode_texts(["ok"]).shape == (1, 384)
    finally:
        encoder.stop_batching()


def test_status_mapping_never_unknown() -> None:
    from omnivec.indexer import errors
    from omnivec.server.status import status_for

    expected = {
        errors.MediaError("x.jpg", "bad"): grpc.StatusCode.INVALID_ARGUMENT,
        errors.ConfigError("c"): grpc.StatusCode.INVALID_ARGUMENT,
        errors.NotFoundError("n"): grpc.StatusCode.NOT_FOUND,
        errors.AlreadyExistsError("a"): grpc.StatusCode.ALREADY_EXISTS,
        errors.WeightsUnavailableError("w"): grpc.StatusCode.FAILED_PRECONDITION,
        errors.EncoderMismatchError("e"): grpc.StatusCode.FAILED_PRECONDITION,
        errors.CorruptDataError("c"): grpc.StatusCode.FAILED_PRECONDITION,
        errors.ResourceExhaustedError("r"): grpc.StatusCode.RESOURCE_EXHAUSTED,
        errors.UnauthenticatedError("u"): grpc.StatusCode.UNAUTHENTICATED,
        errors.PermissionDeniedError("p"): grpc.StatusCode.PERMISSION_DENIED,
        ZeroDivisionError("boom"): grpc.StatusCode.INTERNAL,
    }
    for exc, code in expected.items():
        assert status_for(exc)[0] == code, exc
    assert status_for(errors.MediaError("x.jpg", "bad"))[1] == "x.jpg: bad"


def test_unexpected_errors_are_internal_without_a_traceback(
    client: Client, engine_for_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise ZeroDivisionError("division by zero deep inside")

    monkeypatch.setattr(engine_for_server, "search", broken)
    with pytest.raises(OmnivecClientError) as error:
        client.search("media", text="x")
    assert error.value.code == grpc.StatusCode.INTERNAL
    assert "ZeroDivisionError" in error.value.message and "Traceback" not in error.value.message


# --- probes ---------------------------------------------------------------------------------------


def test_probe_train_list_classify_delete(
    client: Client, flavour: str, media: dict[str, Any]
) -> None:
    from omnivec.client import ItemRef, LabelledExample

    pytest.importorskip("omnivec.indexer.probes.service")
    topics = f"topics-{flavour}"
    client.create_collection(topics, ["text"])
    texts = {
        "coffee": ["espresso with crema", "a latte with milk foam", "dark roast coffee beans"],
        "weather": ["sunny and warm tomorrow", "heavy rain this evening", "a cold windy morning"],
    }
    items = [UpsertItem(Media(text=t), id=f"{label}-{i}", metadata={"topic": label})
             for label, group in texts.items() for i, t in enumerate(group)]
    assert {r.status for r in client.upsert(topics, items)} == {"ok"}
    examples = [LabelledExample(ItemRef(item.id or ""), str((item.metadata or {})["topic"])) for item in items]
    progress: list[Any] = []
    report = client.train_probe(topics, "topic", examples, space="text", seed=1,
                                on_progress=progress.append)
    assert report.version == 1 and sorted(report.classes) == ["coffee", "weather"]
    assert progress
    assert [p.name for p in client.list_probes(topics)] == ["topic"]
    assert client.get_probe(topics, "topic").version == 1
    results = client.classify(topics, "topic", [Media(text="a cappuccino please"), ItemRef("nope")])
    assert results[0].labels[0].label == "coffee"
    assert results[1].error and "nope" in results[1].error
    final = list(client.classify_collection(topics, "topic"))[-1]
    assert final.is_final and final.total == 6
    assert client.delete_probe(topics, "topic", all_versions=True) == 1
    with pytest.raises(NotFound):
        client.get_probe(topics, "topic")
