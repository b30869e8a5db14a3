"""Promise 6 for hostile media, over gRPC: each gets a precise status naming the problem.

Unary calls (Search, Embed, Transcribe, ZeroShotClassify) answer INVALID_ARGUMENT with the reason;
Upsert, a stream that must not end on one bad item, answers that item FAILED with the same reason
and stores the good items around it. Enormous texts hit the server's text limits
(``omnivec.server.limits``): a query text over 1 MiB is RESOURCE_EXHAUSTED, an uploaded text item
over 8 MiB is FAILED. Metadata nested deeper than 8 levels is FAILED ("nested deeper"), however
deep: past protobuf's own recursion limit the request is INVALID_ARGUMENT "not a valid protobuf
message" (``omnivec.server.interceptors.MalformedRequestInterceptor``), never INTERNAL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from omnivec.client import Client, InvalidArgument, Media, ResourceExhausted, UpsertItem
from omnivec.v1 import indexing_pb2
from tests.support import media_factory as mf
from tests.support.reliability import in_process_server, record

pytestmark = pytest.mark.reliability

ENORMOUS = 20 * 1024 * 1024


@pytest.fixture(scope="module")
def hardened(
    settings: Any, models: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("hostile")
    files = {
        "bomb": mf.decompression_bomb_png(folder).read_bytes(),
        "truncated_jpeg": mf.truncated_jpeg(folder).read_bytes(),
        "text_as_png": mf.text_as_png(folder).read_bytes(),
        "garbage_wav": mf.garbage_wav(folder).read_bytes(),
        "jpeg_as_wav": mf.wrong_extension_wav(folder).read_bytes(),
        "truncated_mp3_tiny": mf.truncated_mp3(folder, keep_fraction=0.001).read_bytes(),
        "truncated_mp3_half": mf.truncated_mp3(folder).read_bytes(),
        "good_png": mf.good_png(folder).read_bytes(),
    }
    with in_process_server(settings, models, tmp_path_factory.mktemp("hardening") / "data") as (
        _srv, target,
    ):
        with Client(target, retries=0, timeout=180) as client:
            client.create_collection("media", ["clip", "text"])
            yield {"client": client, "target": target, "files": files}
            assert client.health() == "SERVING"


IMAGE_CASES = [
    ("bomb", "too large to decode safely"),
    ("truncated_jpeg", "damaged or truncated"),
    ("text_as_png", "not a recognised image"),
    ("garbage_wav", "(?i)image"),  # audio bytes sent as an image (mislabelled)
    ("empty", "empty"),
]
AUDIO_CASES = [
    ("garbage_wav", "cannot be decoded"),
    ("jpeg_as_wav", "(?i)audio|decode"),  # an image sent as audio (mislabelled)
    ("truncated_mp3_tiny", "(?i)audio|decode|speech|empty"),
    ("empty", "(?i)empty|no audio|none"),
]
COUNT = {"cases": 0}


def _bytes(files: dict[str, bytes], name: str) -> bytes:
    return b"" if name == "empty" else files[name]


@pytest.mark.parametrize(("name", "reason"), IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_hostile_images_are_invalid_argument(hardened: dict[str, Any], name: str, reason: str) -> None:
    client, data = hardened["client"], _bytes(hardened["files"], name)
    calls = {
        "Search": lambda: client.search("media", image=data, k=1),
        "Embed": lambda: client.embed(images=[data], space="clip"),
        "ZeroShotClassify": lambda: client.zero_shot_classify(["cat", "dog"], image=data),
    }
    for method, call in calls.items():
        with pytest.raises(InvalidArgument, match=reason) as info:
            call()
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT, method
        COUNT["cases"] += 1
    results = client.upsert("media", [
        UpsertItem(Media(image=data, filename=f"{name}.png"), id=f"bad-{name}"),
        UpsertItem(Media(text=f"a good note next to {name}"), id=f"good-{name}"),
    ])
    assert results[0].status == "failed" and results[0].error, results[0]
    assert results[1].status == "ok"
    COUNT["cases"] += 1


@pytest.mark.parametrize(("name", "reason"), AUDIO_CASES, ids=[c[0] for c in AUDIO_CASES])
def test_hostile_audio_is_invalid_argument(hardened: dict[str, Any], name: str, reason: str) -> None:
    client, data = hardened["client"], _bytes(hardened["files"], name)
    calls = {
        "Transcribe": lambda: client.transcribe(data),
        "Search": lambda: client.search("media", audio=data, k=1),
        "Embed": lambda: client.embed(audio=[data], space="text"),
    }
    for method, call in calls.items():
        with pytest.raises(InvalidArgument, match=reason) as info:
            call()
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT, method
        COUNT["cases"] += 1
    results = client.upsert("media", [UpsertItem(Media(audio=data, filename=f"{name}.wav"))])
    assert results[0].status == "failed" and results[0].error
    COUNT["cases"] += 1


def test_half_an_mp3_decodes_what_is_there(hardened: dict[str, Any]) -> None:
    """MP3 is a stream of frames: half a file is half the audio, not an error (documented)."""
    transcript = hardened["client"].transcribe(hardened["files"]["truncated_mp3_half"])
    assert transcript.duration_seconds > 0
    COUNT["cases"] += 1


def test_enormous_texts_are_refused_quickly_and_precisely(hardened: dict[str, Any]) -> None:
    client = hardened["client"]
    huge = "word " * (ENORMOUS // 5)  # 20 MiB
    for call in (
        lambda: client.search("media", text=huge, k=1),
        lambda: client.embed(texts=[huge], space="text"),
        lambda: client.zero_shot_classify(["a", "b"], text=huge, space="text"),
    ):
        with pytest.raises(ResourceExhausted, match=r"over the server's limit of 1048576 bytes"):
            call()
        COUNT["cases"] += 1
    results = client.upsert("media", [
        UpsertItem(Media(text=huge), id="huge"),
        UpsertItem(Media(text="a normal note after the huge one"), id="normal"),
    ])
    assert results[0].status == "failed"
    assert "over the server's limit of 8388608 bytes" in (results[0].error or "")
    assert results[1].status == "ok"
    # Just under the limits still works.
    assert client.search("media", text="word " * 1000, k=1) is not None
    COUNT["cases"] += 2


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, encoded by hand."""
    from google.protobuf.internal import encoder

    return encoder._VarintBytes((number << 3) | 2) + encoder._VarintBytes(len(payload)) + payload


def _nested_struct(depth: int) -> bytes:
    """{"a": {"a": ... {"leaf": "x"}}} as Struct wire bytes, ``depth`` objects deep. Written by
    hand: past ~30 levels the protobuf runtime refuses to build (or parse) it."""
    value = _field(3, b"x")  # Value.string_value
    key = b"leaf"
    for _ in range(depth):
        struct = _field(1, _field(1, key) + _field(2, value))  # Struct.fields map entry
        value, key = _field(5, struct), b"a"  # Value.struct_value
    return struct


@pytest.mark.parametrize("depth", [9, 20, 60, 200])
def test_deeply_nested_metadata_is_refused_precisely(hardened: dict[str, Any], depth: int) -> None:
    def request(sequence: int, item_id: str, metadata: bytes | None) -> bytes:
        item = indexing_pb2.UpsertItem(id=item_id, media={"text": "nested metadata"})
        raw_item = item.SerializeToString() + (_field(3, metadata) if metadata else b"")
        head = indexing_pb2.UpsertRequest(collection="media", sequence=sequence).SerializeToString()
        return head + _field(3, raw_item)

    with grpc.insecure_channel(hardened["target"]) as channel:
        upsert = channel.stream_stream(
            "/omnivec.v1.IndexingService/Upsert", request_serializer=lambda b: b,
            response_deserializer=indexing_pb2.UpsertResult.FromString,
        )
        requests = [request(0, f"deep-{depth}", _nested_struct(depth)), request(1, f"flat-{depth}", None)]
        try:
            results = {r.sequence: r for r in upsert(iter(requests), timeout=120)}
        except grpc.RpcError as exc:
            # Past protobuf's recursion limit the message itself cannot be read.
            assert depth > 30, (depth, exc.code(), exc.details())
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, (exc.code(), exc.details())
            assert "not a valid protobuf message" in (exc.details() or "")
            assert "depth" in (exc.details() or "").lower()
            COUNT["cases"] += 1
            return
    assert results[0].status == indexing_pb2.ITEM_STATUS_FAILED, results
    assert "nested deeper than 8 levels" in results[0].error
    assert results[1].status == indexing_pb2.ITEM_STATUS_OK
    COUNT["cases"] += 1


def test_zz_record(hardened: dict[str, Any]) -> None:
    record("media_hardening", cases=COUNT["cases"])

