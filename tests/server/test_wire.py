"""The wire between the server and the SDK: every converter is tested in the pair it runs in.

- the shared module (``omnivec.client.wire``): encode and decode, both run in production;
- what the server encodes from engine values, decoded by the SDK into its dataclasses;
- what the SDK encodes from its arguments, decoded by the server into engine values.

Each message goes through its serialised bytes too, so nothing survives only as a Python
attribute.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, TypeVar

import numpy as np
import pytest
from google.protobuf.message import Message

from omnivec.client import (
    Collection,
    EncoderConfig,
    Hit,
    IndexFailure,
    IndexProgress,
    ItemRef,
    LabelledExample,
    LabelScore,
    Media,
    SearchResult,
    Snapshot,
    SpaceInfo,
    SpaceTiming,
    Span,
    Transcript,
    UpsertItem,
    UpsertResult,
    wire,
)
from omnivec.client import _conversions as sdk
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.encoders.speech import Segment
from omnivec.indexer.encoders.speech import Transcript as EngineTranscript
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.media import MediaKind
from omnivec.indexer.store import CollectionInfo, SnapshotInfo, SpaceStatus
from omnivec.server import conversions as server
from omnivec.v1 import common_pb2, indexing_pb2, search_pb2

M = TypeVar("M", bound=Message)
WHEN = datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=timezone.utc)
CLIP = EncoderSpec(encoder="clip", model="ViT-B-32", weights="laion2b_s34b_b79k", dim=512)
TEXT = EncoderSpec(encoder="text", model="all-MiniLM-L6-v2", weights="bundled:minilm", dim=384)


def _sent(message: M) -> M:
    """The message as the other end parses it from the bytes."""
    return type(message).FromString(message.SerializeToString())


def _config(spec: EncoderSpec) -> EncoderConfig:
    return EncoderConfig(spec.encoder, spec.model, spec.weights, spec.dim, spec.normalized, spec.fingerprint)


# --- the shared module ---------------------------------------------------------------------------

SEARCH_RESULT = SearchResult(
    hits=(
        Hit("i1", "audio", "file:///talk.wav", {"speaker": "ann", "n": 3},
            Span("hello there", 12.0, 14.5), "text", 0.83, 0.031, 1, chunk=4),
        Hit("i2", "image", "file:///cat.jpg", {}, None, "clip", 0.29, 0.016, 2),
        Hit("i3", "text", "notes.txt", {"tags": ["a", 1.5], "x": None}, Span("a note"), "text",
            0.2, 0.01, 3),
    ),
    timings=(SpaceTiming("clip", 4.5, 1.25), SpaceTiming("text", 2.0, 0.5)),
    query_transcript="hello",
)


def test_search_results_round_trip() -> None:
    assert wire.search_result_from_proto(_sent(wire.search_result_to_proto(SEARCH_RESULT))) == SEARCH_RESULT
    empty = SearchResult((), (), None)
    assert wire.search_result_from_proto(_sent(wire.search_result_to_proto(empty))) == empty


def test_stored_metadata_that_json_cannot_hold_still_encodes() -> None:
    hit = Hit("i", "text", "", {"nan": float("nan"), "when": WHEN, 1: (1, 2)}, None, "text", 0, 0, 1)
    back = wire.hit_from_proto(_sent(wire.hit_to_proto(hit)))
    assert back.metadata == {"nan": None, "when": str(WHEN), "1": [1, 2]}


def test_metadata_keeps_ints_as_ints_and_floats_as_floats() -> None:
    meta = {"year": 2024, "score": 0.5, "big": 2**60 + 0.0, "list": [1, 2.5]}
    struct = wire.metadata_to_struct(meta)
    assert struct is not None
    back = wire.metadata_from_struct(_sent(struct))
    assert back["year"] == 2024 and isinstance(back["year"], int)
    assert back["score"] == 0.5 and isinstance(back["score"], float)
    assert isinstance(back["big"], float)  # beyond 2**53 a double is no exact int
    assert back["list"] == [1, 2.5] and isinstance(back["list"][0], int)


def test_what_a_caller_sends_is_checked_strictly() -> None:
    with pytest.raises(TypeError):
        wire.metadata_to_struct(["not", "a", "mapping"])  # type: ignore[arg-type]
    for value, named in ((float("inf"), "Infinity"), (float("nan"), "NaN")):
        with pytest.raises(ValueError, match=f"{named}.*finite numbers"):
            wire.metadata_to_struct({"deep": [{"x": value}]})
    with pytest.raises(ValueError, match="JSON object"):
        wire.metadata_to_struct({"when": WHEN})


def test_timestamps_and_enums() -> None:
    message = common_pb2.EncoderConfig()  # any message without a created_at is "unset"
    with pytest.raises(ValueError):
        wire.timestamp_from_proto(message)
    snap = server.snapshot_to_proto("c", SnapshotInfo("t", 3, WHEN.timestamp()))
    assert wire.timestamp_from_proto(_sent(snap)) == WHEN
    for modality in wire.MODALITIES:
        assert wire.modality_from_proto(wire.modality_to_proto(modality)) == modality
    assert wire.modality_from_proto(common_pb2.MODALITY_UNSPECIFIED) is None
    for status in ("ok", "unchanged", "failed"):
        assert wire.item_status_from_proto(wire.item_status_to_proto(status)) == status  # type: ignore[arg-type]


# --- server encodes, the SDK decodes -------------------------------------------------------------


def test_collections() -> None:
    info = CollectionInfo(
        name="photos", created_at=WHEN.timestamp(),
        spaces={
            "clip": SpaceStatus("clip", CLIP, "hnsw", 1200, 7),
            "text": SpaceStatus("text", TEXT, "flat", 300, None),
        },
        item_count=1000, row_count=1500, modality_counts={"image": 900, "text": 80, "audio": 0},
        size_bytes=123_456_789, lance_version=8,
        snapshots=(SnapshotInfo("v1", 3, WHEN.timestamp()), SnapshotInfo("v2", 5, WHEN.timestamp())),
    )
    assert sdk.collection_from_proto(_sent(server.collection_to_proto(info))) == Collection(
        name="photos",
        spaces=(SpaceInfo("clip", _config(CLIP), "hnsw", 1200, 7), SpaceInfo("text", _config(TEXT), "flat", 300, 0)),
        item_count=1000, row_count=1500, modality_counts={"image": 900, "text": 80},
        size_bytes=123_456_789, lance_version=8, created_at=WHEN,
        snapshots=(Snapshot("photos", "v1", 3, WHEN), Snapshot("photos", "v2", 5, WHEN)),
    )


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        (("indexed", "i1", 4, ""), UpsertResult(3, "i1", "ok", None, 4)),
        (("unchanged", "i1", 4, ""), UpsertResult(3, "i1", "unchanged", None, 0)),
        (("failed", None, 0, "cannot decode image"), UpsertResult(3, "", "failed", "cannot decode image", 0)),
    ],
)
def test_upsert_results(engine: tuple[str, str | None, int, str], expected: UpsertResult) -> None:
    status, item_id, chunks, error = engine
    message = server.upsert_result(3, status, item_id, chunks, error)
    assert sdk.upsert_result_from_proto(_sent(message)) == expected


def test_index_progress() -> None:
    message = server.index_progress(
        done=5, total=10, indexed=3, unchanged=1, failed=1, current_path="a/b.png",
        failures=[("a/c.png", "truncated")],
    )
    assert sdk.index_progress_from_proto(_sent(message)) == IndexProgress(
        5, 10, 3, 1, 1, "a/b.png", (IndexFailure("a/c.png", "truncated"),), False
    )


def test_transcripts_labels_vectors_encoders() -> None:
    transcript = EngineTranscript("a b", (Segment(0.0, 1.0, "a"), Segment(1.0, 2.0, "b")), 2.0, "en")
    assert sdk.transcript_from_proto(_sent(server.transcript_to_proto(transcript))) == Transcript(
        "a b", (Span("a", 0.0, 1.0), Span("b", 1.0, 2.0)), "en", 2.0
    )
    scores = server.label_scores_to_proto([("cat", 0.75), ("dog", 0.25)])
    assert [sdk.label_score_from_proto(_sent(s)) for s in scores] == [
        LabelScore("cat", 0.75), LabelScore("dog", 0.25)
    ]
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    back = sdk.vectors_from_proto([_sent(v) for v in server.vectors_to_proto(matrix)], dim=4)
    assert back.dtype == np.float32 and back.shape == (3, 4)
    np.testing.assert_array_equal(back, matrix)
    assert sdk.vectors_from_proto([], dim=4).shape == (0, 4)
    assert sdk.encoder_from_proto(_sent(server.encoder_to_proto(CLIP))) == _config(CLIP)


# --- the SDK encodes, the server decodes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "kind", "content"),
    [
        (UpsertItem(Media(text="t", filename="a.txt"), id="i1",
                    metadata={"year": 2024, "tags": ["a", 1.5], "nested": {"ok": True, "none": None}},
                    source_uri="file:///a.txt"), MediaKind.TEXT, "t"),
        (UpsertItem(Media(image=b"\x89PNG")), MediaKind.IMAGE, b"\x89PNG"),
        (UpsertItem(Media(audio=b"RIFF", filename="a.wav"), metadata={}), MediaKind.AUDIO, b"RIFF"),
    ],
)
def test_upsert_items(item: UpsertItem, kind: MediaKind, content: Any) -> None:
    ingest = server.upsert_item_from_proto(_sent(sdk.upsert_request("c", 7, item)))
    assert ingest.modality is kind and ingest.key == 7
    assert (ingest.text if kind is MediaKind.TEXT else ingest.data) == content
    assert ingest.item_id == item.id
    assert ingest.metadata == dict(item.metadata or {})
    assert ingest.source_uri == (item.source_uri or "")
    assert ingest.label == (item.media.filename or "item #7")


def test_an_item_without_content_fails_alone() -> None:
    empty = indexing_pb2.UpsertRequest(collection="c", sequence=2, item=indexing_pb2.UpsertItem())
    with pytest.raises(InvalidInputError, match="no content"):
        server.upsert_item_from_proto(empty)


@pytest.mark.parametrize(
    "example",
    [LabelledExample(ItemRef("i1"), "cat"), LabelledExample(Media(text="a dog"), "dog"),
     LabelledExample(Media(image=b"\x89PNG", filename="x.png"), "cat")],
    ids=["item", "text", "image"],
)
def test_labelled_examples(example: LabelledExample) -> None:
    message = _sent(sdk.labelled_example_to_proto(example))
    assert message.label == example.label
    probe_input = server.probe_input_from_proto(message.input, "examples[0]")
    if isinstance(example.input, ItemRef):
        assert probe_input.item_id == "i1" and probe_input.media is None
    else:
        media = probe_input.media
        assert media is not None and probe_input.item_id is None
        assert (media.text if example.input.text is not None else media.data) == (
            example.input.text or example.input.image
        )
        assert media.name == example.input.filename


def test_search_requests() -> None:
    from omnivec.client import SearchQuery
    from omnivec.client import _requests as requests

    query = SearchQuery(text="cats", k=5, where="year > 2020", modalities=("image", "text"), spaces=("clip",))
    assert server.search_query_from_proto(_sent(requests.search("c", query))) == query
    by_item = SearchQuery(item_id="i1")
    assert server.search_query_from_proto(_sent(requests.search("c", by_item))) == by_item
    bad = search_pb2.SearchRequest(collection="c", text="x", modalities=[common_pb2.MODALITY_UNSPECIFIED])
    with pytest.raises(InvalidInputError, match="unknown modality"):
        server.search_query_from_proto(bad)


# --- probes: the server encodes the stored record, the SDK decodes the report ------------------


def _engine_report(**changes: Any) -> Any:
    from omnivec.indexer.probes import ClassMetrics, Comparison, CScore, Interval, ProbeReport

    full = ProbeReport(
        classes=("cat", "dog"), regularization_c=0.5, selection_method="repeated-splits",
        cv_scores=(CScore(0.1, 0.8, 0.55), CScore(1.0, 0.85, 0.42)), cv_folds=4,
        cv_repetitions=3, estimate_method="held-out split", heldout_accuracy=0.9,
        zero_shot_accuracy=0.75, plain_probe_accuracy=0.85, plain_probe_c=0.25,
        class_metrics=(ClassMetrics("cat", 0.9, 0.8, 0.85, 10), ClassMetrics("dog", 1.0, 1.0, 1.0, 9)),
        confusion_matrix=((8, 2), (0, 9)), log_loss=0.31, temperature=1.7,
        zero_shot_prior_used=True, prior_scale=12.5, train_seconds=3.25, n_train=15, n_heldout=4,
        evaluated_rows=(1, 2), evaluated_predictions=("cat", "dog"),
        notes=("few examples per class", "second note"),
        accuracy_interval=Interval(0.7, 0.97, 0.9, "wilson"),
        comparisons=(
            Comparison("zero-shot", 0.9, 0.75, 0.15, Interval(-0.05, 0.3, 0.9, "newcombe"), 4,
                       "cannot tell apart"),
            Comparison("without unlabeled rows", 0.9, 0.6, 0.3, Interval(0.02, 0.5, 0.9, "newcombe"),
                       4, "better"),
        ),
        c_rule="one standard error, trust region", unlabeled_available=900, unlabeled_rows=900,
        unlabeled_used=True,
    )
    from dataclasses import replace

    return replace(full, **changes)


def _record(report: Any, **changes: Any) -> Any:
    from dataclasses import replace

    from omnivec.indexer.probes.storage import ProbeRecord

    record = ProbeRecord(
        collection="photos", name="pets", version=2, space="clip", classes=report.classes,
        encoder=CLIP, encoder_fingerprint=CLIP.fingerprint, temperature=report.temperature,
        abstain_threshold=0.4, report=report, examples=({"item_id": "a", "label": "cat"},) * 19,
        created_at=WHEN.timestamp(), prompt_template="a photo of a {}.",
        class_names={"cat": "tabby cat"}, pooling="mean", seed=7, weights_sha256="f00",
        prompt_templates=("a photo of a {}.", "a {} in a video game."), prompt_set=None,
    )
    return replace(record, **changes)


def test_probe_reports() -> None:
    from omnivec.client import ClassMetrics, Comparison, CScore, Interval, ProbeReport

    message = _sent(server.probe_report_to_proto(_record(_engine_report())))
    assert sdk.probe_report_from_proto(message) == ProbeReport(
        collection="photos", name="pets", version=2, space="clip", classes=("cat", "dog"),
        regularization_c=0.5, cv_method="repeated-splits", cv_folds=4, heldout_accuracy=0.9,
        zero_shot_accuracy=0.75, plain_probe_accuracy=0.85,
        class_metrics=(ClassMetrics("cat", 0.9, 0.8, 0.85, 10), ClassMetrics("dog", 1.0, 1.0, 1.0, 9)),
        confusion_matrix=((8, 2), (0, 9)), temperature=1.7, train_seconds=3.25, n_examples=19,
        encoder_config_hash=CLIP.fingerprint, created_at=WHEN, abstain_threshold=0.4,
        prompt_template="a photo of a {}.", class_names={"cat": "tabby cat"}, seed=7,
        selection_method="repeated-splits", estimate_method="held-out split", cv_repetitions=3,
        cv_scores=(CScore(0.1, 0.8, 0.55), CScore(1.0, 0.85, 0.42)), plain_probe_c=0.25,
        heldout_log_loss=0.31, zero_shot_prior_used=True, prior_scale=12.5, n_train=15,
        n_heldout=4, notes=("few examples per class", "second note"),
        accuracy_interval=Interval(0.7, 0.97, 0.9, "wilson"),
        comparisons=(
            Comparison("zero-shot", 0.9, 0.75, 0.15, Interval(-0.05, 0.3, 0.9, "newcombe"), 4,
                       "cannot tell apart"),
            Comparison("without unlabeled rows", 0.9, 0.6, 0.3, Interval(0.02, 0.5, 0.9, "newcombe"),
                       4, "better"),
        ),
        c_rule="one standard error, trust region", unlabeled_available=900, unlabeled_rows=900,
        unlabeled_used=True, prompt_templates=("a photo of a {}.", "a {} in a video game."),
        log_loss=0.31,
    )


def test_out_of_fold_accuracies_travel_under_their_own_names() -> None:
    """A cross-validated or leave-one-out accuracy is never sent as held out, and a report from a
    server that sent it as heldout_accuracy is read under its true name."""
    for method, key in (("cross-validation", "cv_accuracy"), ("leave-one-out", "loo_accuracy")):
        report = _engine_report(estimate_method=method, heldout_accuracy=None, n_heldout=0, **{key: 0.8})
        message = _sent(server.probe_report_to_proto(_record(report)))
        assert not message.HasField("heldout_accuracy") and not message.HasField("heldout_log_loss")
        decoded = sdk.probe_report_from_proto(message)
        assert getattr(decoded, key) == decoded.accuracy == 0.8 and decoded.heldout_accuracy is None
        assert decoded.log_loss == 0.31
        message.ClearField(key)
        message.heldout_accuracy = 0.8  # what servers before the split sent
        older = sdk.probe_report_from_proto(message)
        assert getattr(older, key) == 0.8 and older.heldout_accuracy is None


def test_a_probe_without_estimates_or_prompts_leaves_the_optional_fields_unset() -> None:
    bare = _engine_report(
        heldout_accuracy=None, zero_shot_accuracy=None, plain_probe_accuracy=None,
        plain_probe_c=None, log_loss=None, prior_scale=None, class_metrics=(),
        confusion_matrix=(), accuracy_interval=None, comparisons=(),
    )
    message = _sent(server.probe_report_to_proto(_record(bare, prompt_template=None, abstain_threshold=None)))
    optional = ("heldout_accuracy", "zero_shot_accuracy", "plain_probe_accuracy", "plain_probe_c",
                "heldout_log_loss", "prior_scale", "prompt_template", "accuracy_interval",
                "cv_accuracy", "loo_accuracy", "log_loss")
    for name in optional:
        assert not message.HasField(name), name
    decoded = sdk.probe_report_from_proto(message)
    assert all(getattr(decoded, name) is None for name in optional)
    assert decoded.abstain_threshold == 0.0  # the wire's "never abstains"
    # A 0.0 accuracy is an estimate ("always wrong"), not "none": it stays set.
    zero = _sent(server.probe_report_to_proto(_record(_engine_report(heldout_accuracy=0.0))))
    assert zero.HasField("heldout_accuracy") and sdk.probe_report_from_proto(zero).heldout_accuracy == 0.0
    # Servers before the accuracies were `optional` sent NaN for "no estimate".
    message.heldout_accuracy = float("nan")
    assert sdk.probe_report_from_proto(message).heldout_accuracy is None


def test_probe_infos_and_classifications() -> None:
    from omnivec.client import Classification, ProbeInfo
    from omnivec.indexer.probes.results import Classification as EngineClassification
    from omnivec.indexer.probes.results import ProbeInfo as EngineProbeInfo

    for accuracy, method in ((0.9, "held-out split"), (0.8, "cross-validation"), (None, "none")):
        info = EngineProbeInfo("pets", 2, "clip", ("cat", "dog"), accuracy, method, WHEN.timestamp(), True)
        held = accuracy if method == "held-out split" else None
        assert sdk.probe_info_from_proto(_sent(server.probe_info_to_proto(info))) == ProbeInfo(
            "pets", 2, "clip", ("cat", "dog"), held, WHEN, True, accuracy, method
        )
    answered = EngineClassification("a.png", (("cat", 0.75), ("dog", 0.25)), False, 2)
    assert sdk.classification_from_proto(_sent(server.classification_to_proto(answered))) == Classification(
        (LabelScore("cat", 0.75), LabelScore("dog", 0.25)), False
    )
    failed = EngineClassification("item x", (), False, 2, "no such item")
    assert sdk.classification_from_proto(_sent(server.classification_to_proto(failed))) == Classification(
        (), False, "no such item"
    )


def test_label_suggestions() -> None:
    from omnivec.client import LabelSuggestion, LabelSuggestions
    from omnivec.indexer.probes.results import Suggestion, Suggestions

    engine = Suggestions("docs", "topic", 3, "margin", 120, (
        Suggestion(1, "i7", "text", "docs/a.txt", "a text", "cooking", 0.41, 0.02, 0.55),
        Suggestion(2, "i9", "image", "docs/b.jpg", "", "astronomy", 0.5, 0.1, 0.4),
    ))
    assert sdk.label_suggestions_from_proto(_sent(server.suggestions_to_proto(engine))) == LabelSuggestions(
        (
            LabelSuggestion(1, "i7", "text", "docs/a.txt", "a text", "cooking", 0.41, 0.02, 0.55),
            LabelSuggestion(2, "i9", "image", "docs/b.jpg", "", "astronomy", 0.5, 0.1, 0.4),
        ),
        3, 120, "margin",
    )
