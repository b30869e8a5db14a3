"""Probes end to end: training from items/media, versions, errors, serving, collection labels, CLI.

Texts are embedded with the real bundled MiniLM (the tiny CLIP is random, so it has no topics).
Six well-separated topics x six sentences; the first four of each train, the last two test.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnivec.client import SearchQuery
from omnivec.indexer.classify import MediaInput, zero_shot_classify
from omnivec.indexer.errors import (
    EncoderMismatchError,
    InvalidInputError,
    MediaError,
    NotFoundError,
)
from omnivec.indexer.ingest import IngestItem, content_id
from omnivec.indexer.media import MediaKind
from omnivec.indexer.probes import ClassMetrics, ProbeTrainingConfig, train_probe
from omnivec.indexer.probes.examples import LabelledExample, ProbeInput, load_labels_file
from omnivec.indexer.probes.service import ProbeService, label_column_for
from omnivec.indexer.probes.storage import ProbeStorage, validate_probe_name
from omnivec.indexer.probes.vectors import training_space
from tests.support.processes import invoke_cli
from tests.support.topics import TOPICS

NEW_TEXTS = {
    "astronomy": "A rocket carried the space telescope into orbit around the earth.",
    "cooking": "Stir the risotto and add the broth one ladle at a time.",
    "football": "The winger crossed the ball and the forward headed it into the net.",
    "programming": "The programmer wrote a Python function and fixed a bug in the code.",
    "finance": "The bank's annual report showed higher profits from lending.",
    "gardening": "Sow the carrot seeds in rows and cover them lightly with soil.",
}
COLLECTION = "probe_topics"
TRAIN_IDX = range(4)
TEST_IDX = (4, 5)


def _id(topic: str, i: int) -> str:
    return f"{topic}-{i}"


def _train_examples() -> list[LabelledExample]:
    return [LabelledExample.item(_id(t, i), t) for t in TOPICS for i in TRAIN_IDX]


@pytest.fixture(scope="module")
def probes(engine: Any) -> ProbeService:
    service = getattr(engine, "probes", None)
    return service if service is not None else ProbeService(engine.store, engine.models, engine.settings)


@pytest.fixture(scope="module")
def topics(engine: Any) -> str:
    """A text-only collection of 36 sentences (ids '<topic>-<i>', metadata topic)."""
    if not engine.store.exists(COLLECTION):
        engine.create_collection(COLLECTION, ["text"])
    items = [
        IngestItem(label=_id(t, i), modality=MediaKind.TEXT, text=s, item_id=_id(t, i),
                   metadata={"topic": t})
        for t, sentences in TOPICS.items() for i, s in enumerate(sentences)
    ]
    report = engine.upsert(COLLECTION, items)
    assert report.ok, report.failed
    return COLLECTION


@pytest.fixture(scope="module")
def trained(probes: ProbeService, topics: str) -> Any:
    return probes.train(topics, "topic", examples=_train_examples(), seed=0)


# -- training and serving ----------------------------------------------------------------------


def test_probe_learns_well_separated_topics(probes: ProbeService, topics: str, trained: Any) -> None:
    assert trained.version >= 1 and trained.space == "text"
    assert trained.classes == tuple(sorted(TOPICS))
    assert trained.report.heldout_accuracy >= 4 / 6  # one held-out example per class
    assert trained.pooling == "mean"
    assert len(trained.examples) == len(TOPICS) * len(TRAIN_IDX)
    assert {e["item_id"] for e in trained.examples} == {_id(t, i) for t in TOPICS for i in TRAIN_IDX}

    held_out = [ProbeInput.item(_id(t, i)) for t in TOPICS for i in TEST_IDX]
    new = [ProbeInput.of_text(s) for s in NEW_TEXTS.values()]
    results = probes.classify(topics, "topic", held_out + new, top_k=2)
    expected = [t for t in TOPICS for _ in TEST_IDX] + list(NEW_TEXTS)
    assert [r.label for r in results] == expected
    for r in results:
        assert r.error is None and not r.abstained and len(r.labels) == 2
        assert r.labels[0][1] >= r.labels[1][1]
        assert r.version == trained.version
    full = probes.classify(topics, "topic", [ProbeInput.of_text(NEW_TEXTS["cooking"])])[0]
    assert len(full.labels) == len(TOPICS)
    assert sum(p for _, p in full.labels) == pytest.approx(1.0, abs=1e-6)


def test_stored_report_matches_a_recomputation(probes: ProbeService, topics: str, trained: Any, engine: Any) -> None:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    report = trained.report
    labels = [e["label"] for e in trained.examples]
    rows = list(report.evaluated_rows)
    y_true = [labels[i] for i in rows]
    y_pred = list(report.evaluated_predictions)
    classes = list(report.classes)
    assert report.n_train + report.n_heldout == len(labels)
    assert report.heldout_accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert np.array_equal(
        np.asarray(report.confusion_matrix), confusion_matrix(y_true, y_pred, labels=classes)
    )
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    for j, m in enumerate(report.class_metrics):
        assert m.label == classes[j]
        assert (m.precision, m.recall, m.f1, m.support) == pytest.approx((p[j], r[j], f[j], s[j]))

    # Training the math directly on the stored (mean-pooled) vectors gives the same report.
    collection = engine.store.open(topics)
    X = np.stack([collection.item_vectors(e["item_id"])["text"] for e in trained.examples])
    _, direct = train_probe(X, labels, config=ProbeTrainingConfig(seed=trained.seed))
    assert direct.regularization_c == report.regularization_c
    assert direct.heldout_accuracy == report.heldout_accuracy
    assert list(direct.evaluated_rows) == rows


def test_zero_shot_prior_from_prompts_in_the_same_space(probes: ProbeService, topics: str) -> None:
    names = {"programming": "computer programming", "finance": "money and banking"}
    record = probes.train(
        topics, "topic_zs", examples=_train_examples(), prompt_template="a sentence about {}",
        class_names=names, abstain_threshold=0.3,
    )
    assert record.prompt_template == "a sentence about {}"
    assert record.class_names == names
    assert record.abstain_threshold == 0.3
    assert record.report.zero_shot_accuracy is not None
    assert record.report.plain_probe_accuracy is not None
    results = probes.classify(topics, "topic_zs", [ProbeInput.of_text(s) for s in NEW_TEXTS.values()])
    assert [r.label for r in results] == list(NEW_TEXTS)


def test_media_examples_and_labels_files(probes: ProbeService, topics: str, tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    for t in TOPICS:
        for i in TRAIN_IDX:
            (folder / f"{t}{i}.txt").write_text(f"{TOPICS[t][i]} (copy {i})", encoding="utf-8")
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text(
        "path,label\n" + "".join(f"texts/{t}{i}.txt,{t}\n" for t in TOPICS for i in TRAIN_IDX)
    )
    examples = load_labels_file(csv_file)
    assert len(examples) == 24 and examples[0].input.media is not None
    assert examples[0].input.media.path == folder / "astronomy0.txt"
    record = probes.train(topics, "from_files", examples=examples)
    # Files not in the collection are embedded on the fly and recorded by source and hash.
    assert all("source" in e and "content_hash" in e for e in record.examples)
    out = probes.classify(topics, "from_files", [Path(folder / "cooking1.txt"), _id("football", 5)])
    assert [r.label for r in out] == ["cooking", "football"]

    # JSONL with ids and texts, and a headerless CSV of id,label.
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text(
        json.dumps({"id": "astronomy-0", "label": "astronomy"}) + "\n\n"
        + json.dumps({"text": "Preheat the oven.", "label": "cooking"}) + "\n"
    )
    ex = load_labels_file(jsonl)
    assert ex[0].input.item_id == "astronomy-0" and ex[1].input.media.text == "Preheat the oven."  # type: ignore[union-attr]
    bare = tmp_path / "bare.csv"
    bare.write_text("astronomy-0,astronomy\ntexts/cooking0.txt,cooking\n")
    ex = load_labels_file(bare)
    assert ex[0].input.item_id == "astronomy-0" and ex[1].input.media is not None

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "label": "a"}\n{"id": "y"}\n')
    with pytest.raises(InvalidInputError, match=r"bad.jsonl:2: missing or empty label"):
        load_labels_file(bad)
    with pytest.raises(NotFoundError, match="does not exist"):
        load_labels_file(tmp_path / "missing.csv")


def test_labels_to_fill_round_trip_and_are_never_overwritten(tmp_path: Path) -> None:
    """``probe suggest --csv``'s file: an empty label per item (an error naming the line until
    filled), read back as ``id,label``; the columns only there to be read are inert in a
    spreadsheet; an existing file is refused and left as it was."""
    from omnivec.indexer.probes.examples import (
        LABELS_TO_FILL_COLUMNS,
        require_new_labels_file,
        write_labels_to_fill,
    )
    from omnivec.indexer.probes.results import Suggestion

    items = [
        Suggestion(1, "id-a", "text", "/data/a.txt", "=HYPERLINK(\"http://x\")", "spam", 0.51, 0.04, 0.6),
        Suggestion(2, "id,b", "image", "/data/b, c.jpg", "", "ham", 0.5, 0.1, 0.5),
        Suggestion(3, "id-c", "text", "", "two\nlines, and \"quotes\"", "ham", 0.4, 0.2, 0.4),
    ]
    path = tmp_path / "round1.csv"
    write_labels_to_fill(path, items)
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    assert tuple(rows[0]) == LABELS_TO_FILL_COLUMNS
    assert [r[0] for r in rows[1:]] == ["id-a", "id,b", "id-c"] and all(r[1] == "" for r in rows[1:])
    assert rows[1][5] == "'=HYPERLINK(\"http://x\")" and rows[3][5] == "two\nlines, and \"quotes\""
    assert rows[2][4] == "/data/b, c.jpg" and rows[1][2:4] == ["spam", "0.5100"]
    with pytest.raises(InvalidInputError, match=r"round1.csv:2: missing or empty label"):
        load_labels_file(path)

    filled = [rows[0], *([r[0], "spam" if i == 0 else "ham", *r[2:]] for i, r in enumerate(rows[1:]))]
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(filled)
    examples = load_labels_file(path)
    assert [(e.input.item_id, e.label) for e in examples] == [("id-a", "spam"), ("id,b", "ham"), ("id-c", "ham")]

    before = path.read_bytes()
    for attempt in (lambda: require_new_labels_file(path), lambda: write_labels_to_fill(path, items)):
        with pytest.raises(InvalidInputError, match="already exists"):
            attempt()
    assert path.read_bytes() == before


def test_stored_media_reuse_stored_vectors(probes: ProbeService, topics: str, trained: Any) -> None:
    """Text whose exact bytes are stored resolves to the stored item (same vector, recorded id)."""
    stored = probes.classify(topics, "topic", [_id("finance", 5)])[0]
    inline = probes.classify(topics, "topic", [ProbeInput.of_text(TOPICS["finance"][5])])[0]
    assert inline.labels == stored.labels


# -- versions ----------------------------------------------------------------------------------


def test_versions_and_deletes(probes: ProbeService, topics: str) -> None:
    two = [LabelledExample.item(_id(t, i), t) for t in ("cooking", "football") for i in TRAIN_IDX]
    v1 = probes.train(topics, "versions", examples=two)
    three = two + [LabelledExample.item(_id("finance", i), "finance") for i in TRAIN_IDX]
    v2 = probes.train(topics, "versions", examples=three)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.path.parent == v2.path.parent and (v1.path / "probe.json").is_file()
    assert not list(v1.path.parent.glob(".tmp-*"))

    latest = probes.list(topics, "versions")
    assert [(i.version, i.is_latest) for i in latest] == [(2, True)]
    every = probes.list(topics, "versions", all_versions=True)
    assert [(i.version, i.is_latest) for i in every] == [(1, False), (2, True)]
    assert "versions" in {i.name for i in probes.list(topics)}
    assert probes.get(topics, "versions").version == 2
    assert probes.get(topics, "versions", 1).classes == ("cooking", "football")

    item = [ProbeInput.item(_id("finance", 4))]
    assert probes.classify(topics, "versions", item, version=1)[0].label in ("cooking", "football")
    assert probes.classify(topics, "versions", item)[0].label == "finance"
    assert probes.classify(topics, "versions", item, version=0)[0].version == 2  # proto: 0 = latest

    assert probes.delete(topics, "versions", version=2) == 1
    assert probes.get(topics, "versions").version == 1  # v1 still usable
    v3 = probes.train(topics, "versions", examples=three)
    assert v3.version == 3  # a deleted number is never reused
    with pytest.raises(NotFoundError, match=r"no version 2 \(versions: 1, 3\)"):
        probes.classify(topics, "versions", item, version=2)
    with pytest.raises(InvalidInputError, match="exactly one of a version or all_versions"):
        probes.delete(topics, "versions")
    assert probes.delete(topics, "versions", all_versions=True) == 2
    assert "versions" not in {i.name for i in probes.list(topics, all_versions=True)}
    with pytest.raises(NotFoundError, match="probe 'versions' does not exist"):
        probes.get(topics, "versions")


# -- bad input ---------------------------------------------------------------------------------


def test_bad_training_input_gets_precise_errors(probes: ProbeService, topics: str, tmp_path: Path) -> None:
    one_class = [LabelledExample.item(_id("cooking", i), "cooking") for i in TRAIN_IDX]
    with pytest.raises(InvalidInputError, match=r"at least 2 classes, but all 4 examples are labelled 'cooking'"):
        probes.train(topics, "bad", examples=one_class)
    two = one_class + [LabelledExample.item(_id("football", 0), "football")]
    with pytest.raises(InvalidInputError, match=r"label 'gardening' has no examples"):
        probes.train(topics, "bad", examples=two, class_names={"gardening": "plants"})
    with pytest.raises(NotFoundError, match=r"2 training item id\(s\) are not in collection .*'ghost-1', 'ghost-2'"):
        probes.train(topics, "bad", examples=two + [LabelledExample.item("ghost-1", "x"),
                                                     LabelledExample.item("ghost-2", "x")])
    with pytest.raises(InvalidInputError, match="labelled both 'cooking' and 'football'"):
        probes.train(topics, "bad", examples=two + [LabelledExample.item(_id("cooking", 0), "football")])
    with pytest.raises(InvalidInputError, match="no training examples"):
        probes.train(topics, "bad", examples=[])
    with pytest.raises(InvalidInputError, match="has an empty label"):
        probes.train(topics, "bad", examples=[LabelledExample.item(_id("cooking", 0), " ")])
    with pytest.raises(InvalidInputError, match=r"exactly one '\{\}'"):
        probes.train(topics, "bad", examples=two, prompt_template="a photo")
    with pytest.raises(InvalidInputError, match="invalid probe name"):
        probes.train(topics, "../evil", examples=two)
    with pytest.raises(InvalidInputError, match="has no 'clip' space"):
        probes.train(topics, "bad", examples=two, space="clip")
    with pytest.raises(InvalidInputError, match="abstain_threshold"):
        probes.train(topics, "bad", examples=two, abstain_threshold=1.5)
    missing = tmp_path / "nope.txt"
    with pytest.raises(InvalidInputError, match="nope.txt: file does not exist"):
        probes.train(topics, "bad", examples=two + [LabelledExample.file(missing, "football")])
    with pytest.raises(NotFoundError, match="collection 'no_such_collection' does not exist"):
        probes.train("no_such_collection", "bad", examples=two)
    assert "bad" not in {i.name for i in probes.list(topics)}


def test_bad_classify_input(probes: ProbeService, topics: str, trained: Any, photos: dict[str, Path]) -> None:
    with pytest.raises(NotFoundError, match="probe 'nope' does not exist"):
        probes.classify(topics, "nope", [_id("cooking", 0)])
    with pytest.raises(NotFoundError, match="has no version 99"):
        probes.classify(topics, "topic", [_id("cooking", 0)], version=99)
    with pytest.raises(InvalidInputError, match="nothing to classify"):
        probes.classify(topics, "topic", [])
    # One bad input never fails the others.
    out = probes.classify(
        topics, "topic",
        [ProbeInput.item("ghost"), ProbeInput.file(photos["coffee"]), _id("cooking", 5)],
    )
    assert "item 'ghost' is not in collection" in (out[0].error or "")
    assert "images can only be embedded in the clip space" in (out[1].error or "")
    assert out[2].label == "cooking" and out[2].error is None


def test_probe_refuses_a_changed_encoder(probes: ProbeService, topics: str, trained: Any, engine: Any) -> None:
    # 1. The collection's encoder for the space is no longer the probe's.
    record = probes.get(topics, "topic")
    collection = engine.store.open(topics)
    original = collection.specs["text"]
    collection.specs["text"] = replace(original, weights="sha256:another-model")
    try:
        with pytest.raises(EncoderMismatchError, match=r"probe 'topic' v\d+ was trained on vectors of .* but collection 'probe_topics' space 'text' is now built with"):
            probes.classify(topics, "topic", [_id("cooking", 0)])
        with pytest.raises(EncoderMismatchError):
            probes.classify_collection(topics, "topic")
    finally:
        collection.specs["text"] = original

    # 2. The configured encoder differs from the probe's (and the collection's).
    class OtherHub:
        settings = engine.models.settings

        def embedder(self, space: str) -> Any:
            real = engine.models.embedder(space)

            class Wrapped:
                spec = replace(real.spec, model="other-minilm")

                def encode_texts(self, texts: Any) -> Any:
                    return real.encode_texts(texts)

            return Wrapped()

    other = ProbeService(engine.store, OtherHub(), engine.settings)  # type: ignore[arg-type]
    with pytest.raises(EncoderMismatchError, match="configured text encoder is"):
        other.classify(topics, "topic", [_id("cooking", 0)])
    with pytest.raises(EncoderMismatchError, match="configure the original encoder"):
        other.train(topics, "other", examples=_train_examples())
    assert record.encoder_fingerprint == original.fingerprint


# -- labelling a whole collection ----------------------------------------------------------------


def test_classify_collection_writes_filterable_columns(probes: ProbeService, topics: str, trained: Any, engine: Any) -> None:
    seen: list[tuple[str, int, int]] = []
    result = probes.classify_collection(topics, "topic", progress=lambda *a: seen.append(a))
    assert (result.column, result.confidence_column) == ("label_topic", "label_topic_confidence")
    assert result.items == 36 and result.rows == 36 and result.abstained == 0 and result.skipped == 0
    assert result.counts == {t: 6 for t in sorted(TOPICS)}
    assert {s for s, _, _ in seen} == {"read", "classify", "write"}
    collection = engine.store.open(topics)
    assert {"label_topic", "label_topic_confidence"} <= collection.label_columns()

    hits = engine.search(topics, SearchQuery(text="stars and planets", k=50, where="label_topic = 'astronomy'")).hits
    assert sorted(h.id for h in hits) == sorted(_id("astronomy", i) for i in range(6))
    confident = engine.search(
        topics, SearchQuery(text="money", k=50, where="label_topic = 'finance' AND label_topic_confidence >= 0.3")
    ).hits
    assert {h.id for h in confident} == {_id("finance", i) for i in range(6)}

    # Safe to re-run (overwrites), and a custom column name gets the label_ prefix.
    again = probes.classify_collection(topics, "topic")
    assert again.counts == result.counts and again.lance_version > result.lance_version
    custom = probes.classify_collection(topics, "topic", column="mytopic")
    assert custom.column == "label_mytopic"
    hits = engine.search(topics, SearchQuery(text="goal", k=50, where="label_mytopic = 'football'")).hits
    assert len(hits) == 6
    assert label_column_for("My-Probe") == "label_my_probe"
    with pytest.raises(InvalidInputError, match="invalid label column"):
        probes.classify_collection(topics, "topic", column="Bad Column")


def test_indexing_still_works_after_labelling(probes: ProbeService, engine: Any, trained: Any) -> None:
    name = "probe_relabel"
    if not engine.store.exists(name):
        engine.create_collection(name, ["text"])
    items = [IngestItem(label=_id(t, 0), modality=MediaKind.TEXT, text=TOPICS[t][0], item_id=_id(t, 0))
             for t in TOPICS]
    engine.upsert(name, items)
    probes.train(name, "t", examples=[LabelledExample.of_text(TOPICS[t][i], t) for t in TOPICS for i in TRAIN_IDX])
    probes.classify_collection(name, "t")
    report = engine.upsert(name, [IngestItem(label="new", modality=MediaKind.TEXT, text=NEW_TEXTS["cooking"], item_id="new")])
    assert report.ok, report.failed


def test_collection_reads_and_writes_behind_probes(engine: Any, photos: dict[str, Path]) -> None:
    """The public Collection methods the probe service reads and writes the collection through."""
    name = "probe_mixed"
    if not engine.store.exists(name):
        engine.create_collection(name, ["clip", "text"])
    long_text = " ".join(TOPICS["cooking"] * 10)  # several chunks
    report = engine.upsert(name, [
        IngestItem(label="photo", modality=MediaKind.IMAGE, path=photos["chelsea"], item_id="photo"),
        IngestItem(label="long", modality=MediaKind.TEXT, text=long_text, item_id="long"),
    ])
    assert report.ok, report.failed
    collection = engine.store.open(name)

    rows = collection.row_vectors("text", ["long", "photo", "ghost", "long"])
    assert set(rows.item_ids.tolist()) == {"long"} and rows.items_without_vector == {"photo"}
    assert len(rows.rowids) == len(rows.vectors) > 1 and rows.vectors.shape[1] == 384
    everything = collection.row_vectors("clip")
    assert set(everything.item_ids.tolist()) == {"long", "photo"} and not everything.items_without_vector

    photo_hash, text_hash = content_id(photos["chelsea"].read_bytes()), content_id(long_text.encode())
    assert collection.items_by_content_hash([photo_hash, text_hash, "f" * 32], "clip") == {
        photo_hash: "photo", text_hash: "long"
    }
    assert collection.items_by_content_hash([photo_hash, text_hash], "text") == {text_hash: "long"}

    assert collection.any_image(["long", "photo"]) and not collection.any_image(["long", "ghost"])
    assert training_space(collection, None, [LabelledExample.item("photo", "a"), LabelledExample.item("long", "b")]) == "clip"
    assert training_space(collection, None, [LabelledExample.item("long", "b")]) == "text"

    version = collection.write_label_columns(
        "label_t", "label_t_confidence", rows.rowids[:1], ["x"], np.asarray([0.5])
    )
    assert version == collection.version and {"label_t", "label_t_confidence"} <= collection.label_columns()
    with pytest.raises(InvalidInputError, match="not a label column"):
        collection.write_label_columns("t", "label_t_confidence", rows.rowids[:1], ["x"], np.asarray([0.5]))
    with pytest.raises(InvalidInputError, match="'label_t_confidence' .* holds float, not string"):
        collection.write_label_columns("label_t_confidence", "label_u", rows.rowids[:1], ["x"], np.asarray([0.5]))


# -- zero-shot ----------------------------------------------------------------------------------


def test_zero_shot_classify_in_the_text_space(models: Any, engine: Any, topics: str) -> None:
    labels = ["astronomy", "cooking", "football"]
    ranked = zero_shot_classify(models, labels, text=NEW_TEXTS["football"], space="text",
                                prompt_template="a sentence about {}")
    assert ranked[0][0] == "football"
    assert sum(p for _, p in ranked) == pytest.approx(1.0)
    assert len(zero_shot_classify(models, labels, text="Bake a cake", space="text", top_k=1)) == 1
    vec = engine.store.open(topics).item_vectors(_id("cooking", 2))["text"]
    assert zero_shot_classify(models, labels, item_vector=vec, space="text")[0][0] == "cooking"
    if hasattr(engine, "zero_shot_classify"):
        via_engine = engine.zero_shot_classify(labels, item_id=_id("cooking", 2), collection=topics, space="text")
        assert via_engine[0][0] == "cooking"
    with pytest.raises(InvalidInputError, match="at least 2 labels"):
        zero_shot_classify(models, ["cat"], text="x", space="text")
    with pytest.raises(InvalidInputError, match="given twice"):
        zero_shot_classify(models, ["cat", "cat"], text="x", space="text")
    with pytest.raises(InvalidInputError, match="exactly one input"):
        zero_shot_classify(models, labels, space="text")
    with pytest.raises(InvalidInputError, match="only be classified in the clip space"):
        zero_shot_classify(models, labels, image=b"\x89PNG\r\n\x1a\n", space="text")
    with pytest.raises(InvalidInputError, match=r"exactly one '\{\}'"):
        zero_shot_classify(models, labels, text="x", space="text", prompt_template="no slot")
    with pytest.raises(MediaError):
        MediaInput(data=b"hello", name="blob").kind()


def test_zero_shot_images_use_clip(models: Any, photos: dict[str, Path]) -> None:
    ranked = zero_shot_classify(models, ["cat", "rocket", "coffee"], image=photos["chelsea"],
                                space="clip", prompt_template="a photo of a {}")
    assert len(ranked) == 3 and sum(p for _, p in ranked) == pytest.approx(1.0)


FORMAT1 = Path(__file__).resolve().parents[1] / "fixtures" / "probe_format1"
_RENAMED = {"chosen_c": "regularization_c", "per_class": "class_metrics", "heldout_log_loss": "log_loss"}
# Fields added after format 1 (issue 14's honest report and unlabelled rows), with the values a
# format-1 report reads as: nothing measured.
_ADDED = {"accuracy_interval": None, "comparisons": [], "c_rule": "", "unlabeled_available": 0,
          "unlabeled_rows": 0, "unlabeled_used": False}


def test_probe_stored_in_format_1_still_loads(tmp_path: Path) -> None:
    """A probe.json written before the report took the proto's names (format 1: chosen_c,
    per_class; committed as written then) loads into the typed report, serves, and is saved
    again in format 2 with the proto's names."""
    shutil.copytree(FORMAT1, tmp_path / "pets")
    stored = tmp_path / "pets" / "probes" / "pets" / "v1" / "probe.json"
    raw = json.loads(stored.read_text(encoding="utf-8"))
    assert raw["format"] == 1 and {"chosen_c", "per_class"} <= raw["report"].keys()
    storage = ProbeStorage(tmp_path / "pets", "pets")
    record, model = storage.load("pets")
    report = record.report
    assert report.regularization_c == raw["report"]["chosen_c"] == 0.1
    assert report.class_metrics[1] == ClassMetrics("dog", 0.0, 0.0, 0.0, 2)
    assert report.heldout_accuracy == record.accuracy == pytest.approx(1 / 3)
    assert report.confusion_matrix == ((1, 0, 1), (1, 0, 1), (1, 0, 1))
    # Every stored value, under its new name, in the same order.
    assert report.to_dict() == {_RENAMED.get(k, k): v for k, v in raw["report"].items()} | _ADDED
    # The stored keys keep their order among the new ones.
    keys = [k for k in record.to_dict()["report"] if k not in _ADDED]
    assert keys == [_RENAMED.get(k, k) for k in raw["report"]]
    assert model.classes == ("cat", "dog", "fish") and model.abstain_threshold == 0.4
    assert model.predict_proba(np.eye(3, 8)).shape == (3, 3)

    # The oldest format-1 reports had no cv_folds / cv_repetitions: they read as 0.
    del raw["report"]["cv_folds"], raw["report"]["cv_repetitions"]
    stored.write_text(json.dumps(raw), encoding="utf-8")
    assert (storage.record("pets").report.cv_folds, storage.record("pets").report.cv_repetitions) == (0, 0)

    again = storage.save("pets", model, {
        k: v for k, v in record.to_dict().items()
        if k in ("space", "encoder", "encoder_fingerprint", "report", "examples", "created_at",
                 "prompt_template", "class_names", "pooling", "seed")
    })
    written = json.loads((again.path / "probe.json").read_text(encoding="utf-8"))
    assert again.version == 2 and written["format"] == 2
    assert "regularization_c" in written["report"] and "chosen_c" not in written["report"]
    assert again.report == report


def test_probe_name_rules() -> None:
    assert validate_probe_name("topic-v2_ok") == "topic-v2_ok"
    for bad in ("", "-x", "a/b", "x" * 65, "sp ace"):
        with pytest.raises(InvalidInputError):
            validate_probe_name(bad)


# -- CLI ----------------------------------------------------------------------------------------

def omnivec(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`omnivec ARGS`, the real app run in this process."""
    return invoke_cli(*args, env=env)


class _InProcessCli:
    """The real `omnivec` typer app, run in this process (typer's CliRunner): same code as the
    console script without paying model loading per command."""

    def __init__(self, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
        from typer.testing import CliRunner

        from omnivec.cli.main import app

        for key, value in env.items():
            monkeypatch.setenv(key, value)
        self.app, self.runner = app, CliRunner()

    def __call__(self, *args: str) -> Any:
        return self.runner.invoke(self.app, list(args))


@pytest.mark.slow
def test_cli_train_list_show_classify_apply(
    cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for t in ("astronomy", "cooking", "football"):
        for i, sentence in enumerate(TOPICS[t]):
            (folder / f"{t}{i}.txt").write_text(sentence, encoding="utf-8")
    done = omnivec("index", str(folder), "--collection", "docs", "--space", "text", "--json", env=cli_env)
    assert done.returncode == 0, done.stderr
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n" + "".join(
        f"docs/{t}{i}.txt,{t}\n" for t in ("astronomy", "cooking", "football") for i in TRAIN_IDX
    ))

    train = omnivec("probe", "train", "topic", "--collection", "docs", "--labels", str(labels),
                    "--prompt", "a sentence about {}", env=cli_env)
    assert train.returncode == 0, train.stderr
    for needle in ("trained", "C: ", "held-out accuracy", "90% interval", "vs zero-shot", "plain probe",
                   "per class", "confusion matrix", "training time"):
        assert needle in train.stdout, (needle, train.stdout)

    listed = omnivec("probe", "list", "--collection", "docs", "--json", env=cli_env)
    assert listed.returncode == 0, listed.stderr
    (info,) = json.loads(listed.stdout)
    assert (info["name"], info["version"], info["space"]) == ("topic", 1, "text")

    shown = omnivec("probe", "show", "topic", "--collection", "docs", "--json", env=cli_env)
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["prompt_template"] == "a sentence about {}"
    # The files were indexed, so they resolve to stored items by content hash.
    assert all("item_id" in e for e in record["examples"])

    new = tmp_path / "new.txt"
    new.write_text(NEW_TEXTS["cooking"], encoding="utf-8")
    classified = omnivec("classify", "--probe", "topic", "--collection", "docs", str(new),
                         "--text", NEW_TEXTS["astronomy"], "--json", env=cli_env)
    assert classified.returncode == 0, classified.stderr
    out = json.loads(classified.stdout)
    assert [r["label"] for r in out["results"]] == ["cooking", "astronomy"] and out["version"] == 1

    # The rest in-process (each subprocess pays ~5-20 s of imports and model loading).
    cli = _InProcessCli(cli_env, monkeypatch)
    zero = cli("classify", "--labels", "astronomy,cooking,football", "--prompt", "a sentence about {}",
               str(new), "--json")
    assert zero.exit_code == 0, zero.output
    assert json.loads(zero.stdout)["results"][0]["labels"][0]["label"] == "cooking"

    applied = cli("probe", "apply", "topic", "--collection", "docs", "--json")
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.stdout)["counts"] == {"astronomy": 6, "cooking": 6, "football": 6}

    text = cli("probe", "show", "topic", "--collection", "docs")
    assert text.exit_code == 0 and "confusion matrix" in text.stdout
    bad = cli("classify", "--probe", "nope", "--collection", "docs", str(new))
    assert bad.exit_code == 2 and "probe 'nope' does not exist" in bad.output
    usage = cli("classify", "--labels", "a,b", "--probe", "topic", str(new))
    assert usage.exit_code == 2 and "exactly one of --probe" in usage.output
    deleted = cli("probe", "delete", "topic", "--collection", "docs", "--version", "1", "--json")
    assert deleted.exit_code == 0 and json.loads(deleted.stdout) == {"name": "topic", "deleted_versions": 1}


def test_loaded_models_are_cached_most_recently_used_first_within_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A probe retrained every few seconds must not keep every version it served in memory."""
    from omnivec.indexer.probes import storage as probe_storage

    monkeypatch.setattr(probe_storage, "MAX_CACHED_MODELS", 2)
    shutil.copytree(FORMAT1, tmp_path / "pets")
    versions = tmp_path / "pets" / "probes" / "pets"
    for number in (2, 3):
        shutil.copytree(versions / "v1", versions / f"v{number}")
        record = json.loads((versions / f"v{number}" / "probe.json").read_text(encoding="utf-8"))
        record["version"] = number
        (versions / f"v{number}" / "probe.json").write_text(json.dumps(record), encoding="utf-8")
    storage = ProbeStorage(tmp_path / "pets", "pets")
    first = storage.load("pets", 1)[1]
    storage.load("pets", 2)
    assert storage.load("pets", 1)[1] is first  # cached, and now the most recently used
    storage.load("pets", 3)  # evicts version 2, the least recently used
    assert [key[0].name for key in storage._models] == ["v1", "v3"]
    assert storage.load("pets", 1)[1] is first
    assert storage.load("pets", 2)[1] is not None  # read again from its files
    assert len(storage._models) == 2
