"""Probes behind the CLI's ``--server`` backend: :class:`ProbeService`'s methods over the SDK.

``RemoteBackend.probes`` is a :class:`RemoteProbes`. Each method takes and returns the engine's
own types (:class:`ProbeRecord`, :class:`ProbeInfo`, :class:`Classification`,
:class:`ClassifyCollectionResult`) so ``omnivec probe ...`` and ``omnivec classify --probe`` print
the same output either way. Local files are read here and sent as media bytes (texts as text),
named by their path so the server's messages and stored example sources read as they do locally;
item ids go as item refs.

The wire (``omnivec.v1.ProbeReport``) carries the stored :class:`ProbeRecord`'s training report
in full (accuracies that could not be estimated stay None) and its prompt template, class names
and seed, so ``probe show`` and the training report print the same either way. Not on the wire
(see :func:`_record`), because they are the record's bulk and only index the training data:

- ``examples`` (the stored example references) and the report's ``evaluated_rows`` /
  ``evaluated_predictions`` (which index those examples) are empty; ``weights_sha256`` is "";
- the encoder spec is the collection's current one for the probe's space when its hash is the
  probe's (else a placeholder naming the hash); ``pooling`` is the engine's only one.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omnivec.cli.remote_calls import call_remote, encoder_spec
from omnivec.client import Client, Media
from omnivec.client.types import ItemRef, ProbeReport, TrainProgress
from omnivec.client.types import LabelledExample as RemoteExample
from omnivec.indexer.classify import MediaInput
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.errors import InvalidInputError, OmnivecError
from omnivec.indexer.media import MediaKind, decode_text, read_media_bytes
from omnivec.indexer.probes import ProbeReport as EngineReport
from omnivec.indexer.probes import ProgressCallback, validate_abstain_threshold
from omnivec.indexer.probes.examples import LabelledExample, ProbeInput
from omnivec.indexer.probes.results import (
    Classification,
    ClassifyCollectionResult,
    ProbeInfo,
    Suggestion,
    Suggestions,
)
from omnivec.indexer.probes.service import label_column_for
from omnivec.indexer.probes.storage import ProbeRecord, validate_probe_version
from omnivec.indexer.probes.suggestion import MAX_SUGGESTIONS
from omnivec.indexer.probes.vectors import ITEM_POOLING
from omnivec.indexer.prompt_sets import resolve_templates

__all__ = ["RemoteProbes"]

_MAX_LISTED = 20  # as the engine: errors list at most this many examples
_BATCH_INPUTS = 256  # Classify inputs per request (the proto's documented 1-256)
_BATCH_BYTES = 16 << 20  # and at most about this many media bytes per request


def _to_wire(inp: ProbeInput) -> Media | ItemRef:
    """An engine input as the SDK's; local files are read here (MediaError as locally)."""
    if inp.item_id is not None:
        return ItemRef(inp.item_id)
    media = inp.media
    assert media is not None
    if media.text is not None:
        return Media(text=media.text, filename=media.name)
    # Name files by their path, as the engine does, so server messages and stored sources match.
    name = media.name or (str(media.path) if media.path is not None else None)
    kind = media.kind()  # by stated modality, extension or content: the engine's rule
    if kind is MediaKind.TEXT:
        return Media(text=decode_text(media.source(), name=media.name), filename=name)
    if media.path is not None:
        data = read_media_bytes(media.path, str(media.path))
    else:
        assert media.data is not None
        data = media.data
    if kind is MediaKind.IMAGE:
        return Media(image=data, filename=name)
    return Media(audio=data, filename=name)


def _size(value: Media | ItemRef) -> int:
    if isinstance(value, ItemRef):
        return len(value.item_id)
    return len(value.text.encode()) if value.text is not None else len(value.image or value.audio or b"")


def _record(report: ProbeReport, encoder: EncoderSpec) -> ProbeRecord:
    return ProbeRecord(
        collection=report.collection,
        name=report.name,
        version=report.version,
        space=report.space,
        classes=tuple(report.classes),
        encoder=encoder,
        encoder_fingerprint=report.encoder_config_hash,
        temperature=report.temperature,
        abstain_threshold=report.abstain_threshold or None,  # the wire's 0 means "never abstains"
        # The SDK's report has the proto's field names, which are the engine's: copied by name.
        report=EngineReport.from_dict(dataclasses.asdict(report)),
        examples=(),  # not on the wire
        created_at=report.created_at.timestamp() if report.created_at else 0.0,
        prompt_template=report.prompt_template,
        class_names=dict(report.class_names),
        pooling=ITEM_POOLING,
        seed=report.seed,
        weights_sha256="",  # not on the wire
        prompt_templates=tuple(report.prompt_templates),
        prompt_set=report.prompt_set or None,
    )


class RemoteProbes:
    """:class:`omnivec.indexer.probes.service.ProbeService`'s methods, answered by a server."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _encoder(self, collection: str, space: str, fingerprint: str) -> EncoderSpec:
        """The spec the probe was trained on: the collection's, while it is still that one."""
        try:
            info = call_remote(self._client.get_collection, collection)
        except OmnivecError:
            info = None
        for status in info.spaces if info is not None else ():
            if status.space == space and status.encoder.config_hash == fingerprint:
                return encoder_spec(status.encoder)
        return EncoderSpec(encoder=space, model=f"unknown (encoder {fingerprint})", weights="", dim=0)

    def _as_record(self, report: ProbeReport) -> ProbeRecord:
        encoder = self._encoder(report.collection, report.space, report.encoder_config_hash)
        return _record(report, encoder)

    # -- training ---------------------------------------------------------------------------
    def train(
        self,
        collection: str,
        name: str,
        *,
        examples: Sequence[LabelledExample],
        space: str | None = None,
        prompt_template: str | Sequence[str] | None = None,
        class_names: Mapping[str, str] | None = None,
        abstain_threshold: float | None = None,
        seed: int = 0,
        progress: ProgressCallback | None = None,
        prompt_set: str | None = None,
        use_unlabeled: bool = True,
    ) -> ProbeRecord:
        """Upload the examples, relay TrainProbe's progress to ``progress``, return the record."""
        if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence):
            raise InvalidInputError("examples must be a list of LabelledExample")
        validate_abstain_threshold(abstain_threshold)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidInputError(f"seed must be an integer, got {seed!r}")
        # The engine's rules and messages for the templates, here; the set goes by name.
        templates = resolve_templates(prompt_template)
        wire: list[RemoteExample] = []
        bad: list[str] = []
        for i, ex in enumerate(examples):
            if not isinstance(ex, LabelledExample):
                raise InvalidInputError(f"examples[{i}] is a {type(ex).__name__}, not a LabelledExample")
            try:
                wire.append(RemoteExample(_to_wire(ex.input), ex.label))
            except OmnivecError as exc:  # unreadable here: the engine's message for it
                bad.append(str(exc))
        if bad:
            details = "; ".join(bad[:_MAX_LISTED])
            more = f" (and {len(bad) - _MAX_LISTED} more)" if len(bad) > _MAX_LISTED else ""
            raise InvalidInputError(f"{len(bad)} training example(s) cannot be used: {details}{more}")

        def run() -> ProbeReport:
            events = self._client.train_probe_stream(
                collection, name, wire, space=space or "", prompt_template=templates or None,
                class_names=class_names, abstain_threshold=abstain_threshold or 0.0, seed=seed,
                prompt_set=prompt_set, use_unlabeled=use_unlabeled,
            )
            for event in events:
                if isinstance(event, ProbeReport):
                    return event
                if progress is not None and isinstance(event, TrainProgress):
                    progress(event.stage, event.done, event.total)
            raise OmnivecError("server error: the server ended TrainProbe without a report")

        report: ProbeReport = call_remote(run)  # the stream relays the engine's stages, "save" last
        return self._as_record(report)

    # -- versions ---------------------------------------------------------------------------
    def list(self, collection: str, name: str | None = None, *, all_versions: bool = False) -> builtins.list[ProbeInfo]:
        infos = call_remote(self._client.list_probes, collection, name=name, all_versions=all_versions)
        return [
            ProbeInfo(
                name=i.name, version=i.version, space=i.space, classes=tuple(i.classes),
                accuracy=i.accuracy,  # the SDK reads NaN (older servers) as None
                estimate_method=i.estimate_method or ("held-out split" if i.accuracy is not None else "none"),
                created_at=i.created_at.timestamp() if i.created_at else 0.0,
                is_latest=i.is_latest,
            )
            for i in infos
        ]

    def get(self, collection: str, name: str, version: int | None = None) -> ProbeRecord:
        if version is not None:
            validate_probe_version(version)  # the engine refuses 0; the wire would read it as "latest"
        return self._as_record(call_remote(self._client.get_probe, collection, name, version or 0))

    def delete(
        self, collection: str, name: str, *, version: int | None = None, all_versions: bool = False
    ) -> int:
        if (version is None) == (not all_versions):
            raise InvalidInputError(
                "give exactly one of a version or all_versions to delete a probe "
                "(so a forgotten version never deletes everything)"
            )
        if version is not None:
            validate_probe_version(version)
        return int(call_remote(
            self._client.delete_probe, collection, name, version=version, all_versions=all_versions
        ))

    # -- serving ----------------------------------------------------------------------------
    def classify(
        self,
        collection: str,
        name: str,
        inputs: Sequence[ProbeInput | MediaInput | Path | str],
        *,
        version: int | None = None,
        top_k: int = 0,
    ) -> builtins.list[Classification]:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise InvalidInputError(f"top_k must be >= 0 (0 means all classes), got {top_k!r}")
        if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
            raise InvalidInputError("inputs must be a list (of item ids, paths or ProbeInput)")
        if not inputs:
            raise InvalidInputError("nothing to classify: give at least one item id or file")
        # Resolve the version first (ClassifyResponse.version is not exposed by Client.classify),
        # then classify with it pinned: unknown probes and collections fail here, as locally.
        resolved = call_remote(self._client.get_probe, collection, name, version or 0).version
        items = [ProbeInput.coerce(v) for v in inputs]
        results: list[Classification | None] = [None] * len(items)
        pending: list[tuple[int, Media | ItemRef]] = []
        for i, item in enumerate(items):
            try:
                pending.append((i, _to_wire(item)))
            except OmnivecError as exc:
                results[i] = Classification(item.describe(), (), False, resolved, str(exc))
        for batch in _batches(pending):
            answers = call_remote(
                self._client.classify, collection, name, [w for _, w in batch],
                version=resolved, top_k=top_k,
            )
            for (i, _), answer in zip(batch, answers):
                results[i] = Classification(
                    input=items[i].describe(),
                    labels=tuple((s.label, float(s.probability)) for s in answer.labels),
                    abstained=answer.abstained,
                    version=resolved,
                    error=answer.error,
                )
        return [r for r in results if r is not None]

    def suggest(
        self,
        collection: str,
        name: str,
        *,
        n: int = 20,
        version: int | None = None,
        strategy: str = "margin",
    ) -> Suggestions:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SUGGESTIONS:
            raise InvalidInputError(f"n must be an integer in 1-{MAX_SUGGESTIONS}, got {n!r}")
        if version is not None:
            validate_probe_version(version)
        answer = call_remote(
            self._client.suggest_labels, collection, name, count=n, version=version or 0,
            strategy=strategy,
        )
        return Suggestions(
            collection=collection,
            probe=name,
            version=answer.version,
            strategy=answer.strategy,
            unlabeled_items=answer.unlabeled_items,
            suggestions=tuple(
                Suggestion(
                    rank=s.rank, item_id=s.item_id, modality=s.modality, source_uri=s.source_uri,
                    text=s.text, predicted=s.predicted, probability=s.probability,
                    margin=s.margin, score=s.score,
                )
                for s in answer.suggestions
            ),
        )

    def classify_collection(
        self,
        collection: str,
        name: str,
        *,
        version: int | None = None,
        column: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ClassifyCollectionResult:
        """Label every item on the server. The wire's final event gives items + skipped and the
        abstentions; the last "classify" event's total is the items labelled."""
        label_col = label_column_for(name, column)  # the engine's name rules and messages, here
        if progress is not None:
            progress("read", 0, 1)

        def run() -> tuple[Any, int | None]:
            final, labelled = None, None
            for event in self._client.classify_collection(
                collection, name, version=version or 0, column=label_col
            ):
                if progress is not None and final is None and labelled is None:
                    progress("read", 1, 1)
                if event.is_final:
                    final = event
                    continue
                labelled = event.total
                if progress is not None:
                    progress("classify", event.done, event.total)
            return final, labelled

        final, labelled = call_remote(run)
        if final is None:
            raise OmnivecError("server error: the server ended ClassifyCollection without a result")
        items = int(final.total if labelled is None else labelled)
        if progress is not None:
            progress("write", 1, 1)
        info = call_remote(self._client.get_collection, collection)
        skipped = int(final.total) - items
        return ClassifyCollectionResult(
            collection=info.name,
            probe=name,
            version=final.version,
            column=final.column or label_col,
            confidence_column=f"{final.column or label_col}_confidence",
            items=items,
            # Rows are not on the wire: every row belongs to a labelled item when none was skipped.
            rows=int(info.row_count) if skipped == 0 else items,
            abstained=int(final.abstained),
            skipped=skipped,
            counts={},  # per-label counts are not on the wire
            lance_version=int(info.lance_version),
        )


def _batches(pending: Sequence[tuple[int, Media | ItemRef]]) -> builtins.list[builtins.list[tuple[int, Media | ItemRef]]]:
    out: builtins.list[builtins.list[tuple[int, Media | ItemRef]]] = []
    current: builtins.list[tuple[int, Media | ItemRef]] = []
    size = 0
    for entry in pending:
        weight = _size(entry[1])
        if current and (len(current) >= _BATCH_INPUTS or size + weight > _BATCH_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(entry)
        size += weight
    if current:
        out.append(current)
    return out

