"""The Python client's facade: proto <-> dataclass round trips, error mapping, argument checks,
and (against a tiny fake servicer, which exercises only the client's transport) health, bearer
token metadata, retries on UNAVAILABLE and async parity."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

import omnivec.client as client_pkg
from omnivec.client import (
    AsyncClient,
    ClassMetrics,
    Client,
    Collection,
    EncoderConfig,
    InvalidArgument,
    ItemRef,
    LabelledExample,
    Media,
    NotFound,
    OmnivecClientError,
    ProbeReport,
    SearchQuery,
    Unavailable,
    UpsertItem,
    errors,
    types,
)
from omnivec.client import _conversions as conv
from omnivec.client import _requests as req
from omnivec.v1 import collections_pb2, collections_pb2_grpc, common_pb2

WHEN = datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=timezone.utc)
CLIP = EncoderConfig("open-clip", "ViT-B-32", "laion2b_s34b_b79k", 512, True, "abc123")


def make_report() -> ProbeReport:
    return ProbeReport(
        collection="photos", name="pets", version=2, space="clip", classes=("cat", "dog"),
        regularization_c=0.5, cv_method="fixed", cv_folds=0, heldout_accuracy=0.9,
        zero_shot_accuracy=None, plain_probe_accuracy=None,
        class_metrics=(ClassMetrics("cat", 0.9, 0.8, 0.85, 10), ClassMetrics("dog", 1.0, 1.0, 1.0, 9)),
        confusion_matrix=((8, 2), (0, 9)), temperature=1.7, train_seconds=3.25, n_examples=19,
        encoder_config_hash="abc123", created_at=WHEN, abstain_threshold=0.4,
    )


# --- decoding what the server sends (pairs with the server's encoders: tests/server/test_wire.py)


def test_unset_timestamp_becomes_none() -> None:
    assert conv.collection_from_proto(collections_pb2.Collection(name="c")).created_at is None


def test_unknown_enum_values_from_the_server_are_errors() -> None:
    with pytest.raises(OmnivecClientError, match="unknown modality"):
        conv.modality_from_proto(common_pb2.MODALITY_UNSPECIFIED)


def test_confusion_matrix_as_array() -> None:
    assert make_report().confusion_array().tolist() == [[8, 2], [0, 9]]


# --- errors ----------------------------------------------------------------------------------


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, errors.InvalidArgument),
        (grpc.StatusCode.OUT_OF_RANGE, errors.InvalidArgument),
        (grpc.StatusCode.NOT_FOUND, errors.NotFound),
        (grpc.StatusCode.ALREADY_EXISTS, errors.AlreadyExists),
        (grpc.StatusCode.FAILED_PRECONDITION, errors.FailedPrecondition),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, errors.ResourceExhausted),
        (grpc.StatusCode.UNAUTHENTICATED, errors.Unauthenticated),
        (grpc.StatusCode.PERMISSION_DENIED, errors.PermissionDenied),
        (grpc.StatusCode.UNAVAILABLE, errors.Unavailable),
        (grpc.StatusCode.DEADLINE_EXCEEDED, errors.DeadlineExceeded),
        (grpc.StatusCode.UNIMPLEMENTED, errors.Unimplemented),
        (grpc.StatusCode.INTERNAL, errors.OmnivecClientError),
        (grpc.StatusCode.UNKNOWN, errors.OmnivecClientError),
    ],
)
def test_status_codes_map_to_exceptions(code: grpc.StatusCode, expected: type) -> None:
    error = errors.error_from_rpc(FakeRpcError(code, "collection 'x' does not exist"))
    assert type(error) is expected
    assert error.code == code
    assert error.message == "collection 'x' does not exist"
    assert code.name in str(error)


def test_every_mapped_code_has_its_own_default() -> None:
    for cls in (errors.NotFound, errors.Unavailable, errors.InvalidArgument):
        assert cls("x").code == cls.default_code
    assert issubclass(errors.InvalidArgument, ValueError)


# --- argument checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: req.create_collection("c", "clip", False),  # type: ignore[arg-type]
        lambda: req.zero_shot_classify(
            "cat",
            text="x",
            image=None,
            audio=None,
            item_id=None,
            collection=None,
            prompt_template=None,
            space="clip",
            top_k=0,
        ),
        lambda: req.embed(texts="hello", images=None, audio=None, space="clip", collection=None),
        lambda: req.embed(texts=None, images=b"png", audio=None, space="clip", collection=None),
        lambda: req.classify("c", "p", Media(text="x"), 0, 0),  # type: ignore[arg-type]
        lambda: req.delete_items("c", "id1", None),
    ],
)
def test_a_bare_str_where_a_list_is_expected_is_rejected_with_a_hint(call: Any) -> None:
    with pytest.raises(TypeError, match="did you mean"):
        call()


def test_exactly_one_query_is_required() -> None:
    with pytest.raises(InvalidArgument, match="exactly one"):
        req.search("c", SearchQuery(text="a", image=b"b"))
    with pytest.raises(InvalidArgument, match="exactly one"):
        req.search("c", SearchQuery())
    with pytest.raises(InvalidArgument, match="unknown modalities"):
        req.search("c", SearchQuery(text="a", modalities=["video"]))  # type: ignore[list-item]
    with pytest.raises(TypeError, match="did you mean"):
        req.search("c", SearchQuery(text="a", modalities="image"))  # type: ignore[arg-type]
    request = req.search(
        "c", SearchQuery(text="a", modalities=("text", "image"), where="year > 1")
    )
    assert request.WhichOneof("query") == "text" and request.filter == "year > 1"
    assert list(request.modalities) == [common_pb2.MODALITY_IMAGE, common_pb2.MODALITY_TEXT]


def test_image_paths_are_read(tmp_path: Any) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG fake")
    request = req.search("c", SearchQuery(image=image, k=5))
    assert request.image == b"\x89PNG fake"
    embed = req.embed(texts=None, images=[image, b"raw"], audio=None, space="clip", collection=None)
    assert [m.filename for m in embed.inputs] == ["cat.png", ""]
    item = UpsertItem.from_path(image, metadata={"a": 1})
    assert item.media.modality == "image" and item.source_uri == str(image)


def test_media_needs_exactly_one_content() -> None:
    with pytest.raises(InvalidArgument):
        Media()
    with pytest.raises(InvalidArgument):
        Media(text="a", image=b"b")
    with pytest.raises(TypeError, match="from_path"):
        Media(image="cat.png")  # type: ignore[arg-type]


def test_delete_probe_needs_an_explicit_version_or_all() -> None:
    with pytest.raises(InvalidArgument):
        req.delete_probe("c", "p", None, False)
    with pytest.raises(InvalidArgument):
        req.delete_probe("c", "p", 2, True)
    assert req.delete_probe("c", "p", None, True).all_versions


def test_train_probe_request_keeps_unset_seed_unset() -> None:
    examples = [LabelledExample(ItemRef("a"), "cat"), LabelledExample(Media(text="d"), "dog")]
    kwargs: dict[str, Any] = {
        "space": "clip",
        "prompt_template": None,
        "class_names": {"cat": "tabby"},
        "abstain_threshold": 0.3,
        "cv_folds": 0,
    }
    assert not req.train_probe("c", "p", examples, seed=None, **kwargs).HasField("seed")
    assert req.train_probe("c", "p", examples, seed=0, **kwargs).HasField("seed")


def test_public_names_are_exported() -> None:
    exported = set(client_pkg.__all__)
    assert all(hasattr(client_pkg, name) for name in exported)
    for module in (types, errors):
        public = {
            name
            for name, obj in vars(module).items()
            if inspect.isclass(obj)
            and obj.__module__ == module.__name__
            and not name.startswith("_")
        }
        assert public <= exported, public - exported


# --- transport, against a fake servicer ------------------------------------------------------


@dataclass
class FakeCollections(collections_pb2_grpc.CollectionServiceServicer):
    """Fails the first `fail_first` ListCollections calls with UNAVAILABLE; records metadata."""

    fail_first: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    metadata: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _count(self, method: str, context: grpc.ServicerContext) -> int:
        with self.lock:
            self.calls[method] = self.calls.get(method, 0) + 1
            self.metadata.append(dict(context.invocation_metadata()))
            return self.calls[method]

    def ListCollections(self, request: Any, context: grpc.ServicerContext) -> Any:
        if self._count("ListCollections", context) <= self.fail_first:
            context.abort(grpc.StatusCode.UNAVAILABLE, "warming up")
        return collections_pb2.ListCollectionsResponse(
            collections=[collections_pb2.Collection(name="photos", item_count=3, lance_version=2)]
        )

    def CreateCollection(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._count("CreateCollection", context)
        context.abort(grpc.StatusCode.UNAVAILABLE, "not retried: not idempotent")

    def GetCollection(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._count("GetCollection", context)
        context.abort(grpc.StatusCode.NOT_FOUND, f"collection {request.name!r} does not exist")


@pytest.fixture(scope="module")
def fake_server() -> Iterator[tuple[str, FakeCollections]]:
    servicer = FakeCollections()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    collections_pb2_grpc.add_CollectionServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        server.stop(grace=None)


@pytest.fixture
def fake(fake_server: tuple[str, FakeCollections]) -> tuple[str, FakeCollections]:
    target, servicer = fake_server
    servicer.fail_first, servicer.calls, servicer.metadata = 0, {}, []
    return target, servicer


def test_sync_client_health_token_and_retries(fake: tuple[str, FakeCollections]) -> None:
    target, servicer = fake
    servicer.fail_first = 2
    with Client(target, token="s3cret", timeout=10, retries=3) as client:
        assert client.health() == "SERVING"
        assert client.health("omnivec.v1.NoSuchService") == "SERVICE_UNKNOWN"
        collections = client.list_collections()
    assert [(c.name, c.item_count, c.lance_version) for c in collections] == [("photos", 3, 2)]
    assert servicer.calls["ListCollections"] == 3
    assert all(m.get("authorization") == "Bearer s3cret" for m in servicer.metadata)


def test_sync_client_without_retries_raises_unavailable(fake: tuple[str, FakeCollections]) -> None:
    target, servicer = fake
    servicer.fail_first = 1
    with Client(target, timeout=10, retries=0) as client, pytest.raises(Unavailable) as info:
        client.list_collections()
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert isinstance(info.value.__cause__, grpc.RpcError)
    assert servicer.calls["ListCollections"] == 1
    assert "authorization" not in servicer.metadata[0]


def test_writes_are_not_retried_and_errors_are_mapped(fake: tuple[str, FakeCollections]) -> None:
    target, servicer = fake
    with Client(target, timeout=10, retries=4) as client:
        with pytest.raises(Unavailable):
            client.create_collection("photos", ["clip"])
        with pytest.raises(NotFound, match="'nope' does not exist"):
            client.get_collection("nope")
    assert servicer.calls["CreateCollection"] == 1


def test_async_client_matches_sync(fake: tuple[str, FakeCollections]) -> None:
    target, servicer = fake
    servicer.fail_first = 2

    async def scenario() -> list[Collection]:
        async with AsyncClient(target, token="tok", timeout=10, retries=3) as client:
            assert await client.health() == "SERVING"
            assert await client.health("omnivec.v1.NoSuchService") == "SERVICE_UNKNOWN"
            with pytest.raises(NotFound):
                await client.get_collection("nope")
            return await client.list_collections()

    assert [c.name for c in asyncio.run(scenario())] == ["photos"]
    assert servicer.calls["ListCollections"] == 3
    assert all(m.get("authorization") == "Bearer tok" for m in servicer.metadata)


def test_unreachable_server_is_unavailable_after_the_deadline_or_retries() -> None:
    # Port 1 on localhost refuses connections; retries back off, then the error surfaces.
    with (
        Client("127.0.0.1:1", timeout=5, retries=1) as client,
        pytest.raises((Unavailable, errors.DeadlineExceeded)),
    ):
        client.list_collections()


def test_client_options_are_validated() -> None:
    with pytest.raises(InvalidArgument, match="retries"):
        Client("127.0.0.1:1", retries=9)
    with pytest.raises(InvalidArgument, match="token"):
        Client("127.0.0.1:1", token="has space")
