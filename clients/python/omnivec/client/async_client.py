"""The asyncio client. GENERATED from sync_client.py: DO NOT EDIT.

Written by `python scripts/generate_async_client.py` (`make generate`) from sync_client.py and
_transport.py: change those and regenerate. `make test` fails when this file differs from a
fresh generation.

AsyncClient has Client's methods and arguments: unary methods are coroutines; streaming methods
(upsert_stream, index_path, evaluate_stream, train_probe_stream, classify_collection) are plain
methods returning async iterators, used with ``async for``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from omnivec.client import _conversions as conv
from omnivec.client import _requests as req
from omnivec.client import wire
from omnivec.client._channel import (
    DEFAULT_MAX_MESSAGE_BYTES,
    HealthCheckRequest,
    health_status_name,
)
from omnivec.client._requests import BytesOrPath
from omnivec.client._transport import (
    DEFAULT_STREAM_TIMEOUT_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    AsyncTransport,
)
from omnivec.client.auth import TlsOptions
from omnivec.client.errors import NotFound
from omnivec.client.types import (
    Classification,
    ClassifyCollectionProgress,
    Collection,
    Embeddings,
    EvalEvent,
    EvalOptions,
    EvalProgress,
    EvalQuery,
    EvalReport,
    FloatMatrix,
    Fusion,
    Hit,
    IndexProgress,
    LabelledExample,
    LabelScore,
    LabelSuggestions,
    MediaOrItem,
    Modality,
    ProbeInfo,
    ProbeReport,
    SearchMode,
    SearchQuery,
    SearchResult,
    Snapshot,
    TrainEvent,
    TrainProgress,
    Transcript,
    UpsertItem,
    UpsertResult,
    VerifyReport,
)
from omnivec.v1 import collections_pb2, probes_pb2

if TYPE_CHECKING:
    from typing_extensions import Self


class AsyncClient:
    """Asyncio client for an omnivec server, generated from Client.

    ``timeout`` is the deadline of each unary call in seconds; ``stream_timeout`` that of the
    long streaming calls (upsert, index_path, train_probe, classify_collection); every method
    also takes ``timeout=`` to override it. Reads are retried up to ``retries`` times on
    UNAVAILABLE with exponential backoff; writes never are. Use as a context manager, or call
    close().

    Unary methods are coroutines; streaming methods (upsert_stream, index_path, evaluate_stream,
    train_probe_stream, classify_collection) return async iterators. Use ``async with
    AsyncClient(...) as client:``, or ``await client.close()``.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        tls: TlsOptions | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        stream_timeout: float = DEFAULT_STREAM_TIMEOUT_SECONDS,
        retries: int = 3,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._transport = AsyncTransport(
            target,
            token=token,
            tls=tls,
            timeout=timeout,
            stream_timeout=stream_timeout,
            retries=retries,
            max_message_bytes=max_message_bytes,
        )
        self._stubs = self._transport.stubs
        self.target = target

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target!r})"

    async def create_collection(
        self,
        name: str,
        spaces: Sequence[str] = (),
        *,
        if_not_exists: bool = False,
        timeout: float | None = None,
    ) -> Collection:
        request = req.create_collection(name, spaces, if_not_exists)
        return conv.collection_from_proto(
            await self._transport.unary(self._stubs.collections.CreateCollection, request, timeout)
        )

    async def list_collections(self, *, timeout: float | None = None) -> list[Collection]:
        response = await self._transport.unary(
            self._stubs.collections.ListCollections,
            collections_pb2.ListCollectionsRequest(),
            timeout,
        )
        return [conv.collection_from_proto(c) for c in response.collections]

    async def get_collection(self, name: str, *, timeout: float | None = None) -> Collection:
        request = collections_pb2.GetCollectionRequest(name=name)
        return conv.collection_from_proto(
            await self._transport.unary(self._stubs.collections.GetCollection, request, timeout)
        )

    async def delete_collection(
        self, name: str, *, if_exists: bool = False, timeout: float | None = None
    ) -> bool:
        """Deletes a collection; returns False only with if_exists=True and no such name."""
        request = collections_pb2.DeleteCollectionRequest(name=name, if_exists=if_exists)
        response = await self._transport.unary(
            self._stubs.collections.DeleteCollection, request, timeout
        )
        return bool(response.deleted)

    async def snapshot_collection(
        self, name: str, tag: str, *, timeout: float | None = None
    ) -> Snapshot:
        request = collections_pb2.SnapshotCollectionRequest(name=name, tag=tag)
        return conv.snapshot_from_proto(
            await self._transport.unary(
                self._stubs.collections.SnapshotCollection, request, timeout
            )
        )

    async def restore_collection(
        self,
        name: str,
        *,
        tag: str | None = None,
        version: int | None = None,
        timeout: float | None = None,
    ) -> Collection:
        request = req.restore_collection(name, tag, version)
        return conv.collection_from_proto(
            await self._transport.unary(self._stubs.collections.RestoreCollection, request, timeout)
        )

    async def verify_collection(self, name: str, *, timeout: float | None = None) -> VerifyReport:
        """Checks a collection in full (data files against their committed checksums, every
        row, the ANN index, the probes). Damage is in the report (``ok`` False), not raised."""
        request = collections_pb2.VerifyCollectionRequest(name=name)
        response = await self._transport.unary(
            self._stubs.collections.VerifyCollection, request, timeout
        )
        return wire.verify_report_from_proto(response)

    def upsert_stream(
        self,
        collection: str,
        items: Iterable[UpsertItem] | AsyncIterable[UpsertItem],
        *,
        timeout: float | None = None,
    ) -> AsyncIterator[UpsertResult]:
        """Streams items to the server and yields each result once the item is committed.

        Results may come in any order; ``sequence`` is the item's position in ``items``.
        Never retried: resend the items whose results did not arrive.
        """
        return self._transport.upsert_results(
            self._stubs.indexing.Upsert, collection, items, timeout
        )

    async def upsert(
        self,
        collection: str,
        items: Iterable[UpsertItem] | AsyncIterable[UpsertItem],
        *,
        timeout: float | None = None,
    ) -> list[UpsertResult]:
        """Writes items; returns one result per item, in the order of ``items``."""
        results = await self._transport.to_list(
            self.upsert_stream(collection, items, timeout=timeout)
        )
        return sorted(results, key=lambda r: r.sequence)

    def index_path(
        self,
        collection: str,
        path: str,
        *,
        recursive: bool = True,
        spaces: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[IndexProgress]:
        """Indexes files under ``path`` (relative to the server's index root), yielding
        progress; the last event has is_final=True."""
        request = req.index_path(collection, path, recursive, spaces)
        return self._transport.stream(
            self._stubs.indexing.IndexPath, request, timeout, conv.index_progress_from_proto
        )

    async def delete_items(
        self,
        collection: str,
        *,
        ids: Sequence[str] | None = None,
        source_uris: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> int:
        """Deletes items by id and/or source URI; returns how many were deleted."""
        request = req.delete_items(collection, ids, source_uris)
        response = await self._transport.unary(self._stubs.indexing.DeleteItems, request, timeout)
        return int(response.deleted)

    async def search_query(
        self, collection: str, query: SearchQuery, *, timeout: float | None = None
    ) -> SearchResult:
        """Runs a SearchQuery: the hits, per-space timings and an audio query's transcript.

        The embedded engine's ``Engine.search`` takes the same value and returns the same result
        type, so code that may run either way (the CLI) builds one query for both.
        """
        request = req.search(collection, query)
        return wire.search_result_from_proto(
            await self._transport.unary(self._stubs.search.Search, request, timeout)
        )

    async def search_detailed(
        self,
        collection: str,
        *,
        text: str | None = None,
        image: BytesOrPath | None = None,
        audio: BytesOrPath | None = None,
        item_id: str | None = None,
        k: int = 10,
        where: str | None = None,
        modalities: Sequence[Modality] | None = None,
        spaces: Sequence[str] | None = None,
        mode: SearchMode | None = None,
        fusion: Fusion | None = None,
        timeout: float | None = None,
    ) -> SearchResult:
        """Like search(), with per-ranking timings and an audio query's transcript."""
        query = SearchQuery(
            text=text,
            image=image,
            audio=audio,
            item_id=item_id,
            k=k,
            where=where,
            modalities=() if modalities is None else modalities,
            spaces=() if spaces is None else spaces,
            mode=mode,
            fusion=fusion,
        )
        return await self.search_query(collection, query, timeout=timeout)

    async def search(
        self,
        collection: str,
        *,
        text: str | None = None,
        image: BytesOrPath | None = None,
        audio: BytesOrPath | None = None,
        item_id: str | None = None,
        k: int = 10,
        where: str | None = None,
        modalities: Sequence[Modality] | None = None,
        spaces: Sequence[str] | None = None,
        mode: SearchMode | None = None,
        fusion: Fusion | None = None,
        timeout: float | None = None,
    ) -> list[Hit]:
        """The k best hits for one query (text, image bytes or path, audio bytes or path, or a
        stored item id), best first. ``where`` is a LanceDB-style filter on the metadata;
        ``mode`` is "vector", "keyword" or "hybrid" (None: the server's default, hybrid);
        ``fusion`` weighs the rankings (None: the collection's stored weights)."""
        result = await self.search_detailed(
            collection,
            text=text,
            image=image,
            audio=audio,
            item_id=item_id,
            k=k,
            where=where,
            modalities=modalities,
            spaces=spaces,
            mode=mode,
            fusion=fusion,
            timeout=timeout,
        )
        return list(result.hits)

    def evaluate_stream(
        self,
        collection: str,
        queries: Iterable[EvalQuery],
        options: EvalOptions | None = None,
        *,
        timeout: float | None = None,
    ) -> AsyncIterator[EvalEvent]:
        """Evaluates retrieval on labelled queries, yielding EvalProgress events and then the
        EvalReport (recall@1/5/10, MRR@10, nDCG@10 per configuration, with bootstrap intervals
        and paired differences; with ``options.tune``, fusion weights chosen and stored)."""
        request = req.evaluate(collection, queries, options or EvalOptions())
        return self._transport.stream(
            self._stubs.search.Evaluate, request, timeout, conv.eval_event_from_proto
        )

    async def evaluate(
        self,
        collection: str,
        queries: Iterable[EvalQuery],
        options: EvalOptions | None = None,
        *,
        on_progress: Callable[[EvalProgress], None] | None = None,
        timeout: float | None = None,
    ) -> EvalReport:
        """Evaluates retrieval on labelled queries and returns the report; progress goes to
        on_progress."""
        events = self.evaluate_stream(collection, queries, options, timeout=timeout)
        return await self._transport.final_event(events, EvalReport, on_progress)

    async def embed(
        self,
        *,
        texts: Sequence[str] | None = None,
        images: Sequence[BytesOrPath] | None = None,
        audio: Sequence[BytesOrPath] | None = None,
        space: str = "clip",
        collection: str | None = None,
        timeout: float | None = None,
    ) -> FloatMatrix:
        """Embeds a list of texts, images or audio files: an (n, dim) float32 array."""
        result = await self.embed_detailed(
            texts=texts,
            images=images,
            audio=audio,
            space=space,
            collection=collection,
            timeout=timeout,
        )
        return result.vectors

    async def embed_detailed(
        self,
        *,
        texts: Sequence[str] | None = None,
        images: Sequence[BytesOrPath] | None = None,
        audio: Sequence[BytesOrPath] | None = None,
        space: str = "clip",
        collection: str | None = None,
        timeout: float | None = None,
    ) -> Embeddings:
        """Like embed(), with the encoder (model, weights, dim) that made the vectors."""
        request = req.embed(
            texts=texts, images=images, audio=audio, space=space, collection=collection
        )
        response = await self._transport.unary(self._stubs.embed.Embed, request, timeout)
        return Embeddings(
            conv.vectors_from_proto(response.vectors, response.dim),
            conv.encoder_from_proto(response.encoder),
        )

    async def transcribe(
        self, audio: BytesOrPath, *, language: str | None = None, timeout: float | None = None
    ) -> Transcript:
        request = req.transcribe(audio, language)
        return conv.transcript_from_proto(
            await self._transport.unary(self._stubs.embed.Transcribe, request, timeout)
        )

    async def zero_shot_classify(
        self,
        labels: Sequence[str],
        *,
        text: str | None = None,
        image: BytesOrPath | None = None,
        audio: BytesOrPath | None = None,
        item_id: str | None = None,
        collection: str | None = None,
        prompt_template: str | Sequence[str] | None = None,
        space: str = "clip",
        top_k: int = 0,
        class_names: Mapping[str, str] | None = None,
        prompt_set: str | None = None,
        timeout: float | None = None,
    ) -> list[LabelScore]:
        """Probabilities of ``labels`` for one input, best first (all labels when top_k=0).

        Several templates (a list) or a built-in ``prompt_set`` ("image", "text") make a prompt
        ensemble; ``class_names`` maps a label to the words its prompts use (answers name the
        label)."""
        request = req.zero_shot_classify(
            labels,
            text=text,
            image=image,
            audio=audio,
            item_id=item_id,
            collection=collection,
            prompt_template=prompt_template,
            space=space,
            top_k=top_k,
            class_names=class_names,
            prompt_set=prompt_set,
        )
        response = await self._transport.unary(
            self._stubs.classify.ZeroShotClassify, request, timeout
        )
        return [conv.label_score_from_proto(s) for s in response.labels]

    def train_probe_stream(
        self,
        collection: str,
        name: str,
        examples: Iterable[LabelledExample],
        *,
        space: str = "clip",
        prompt_template: str | Sequence[str] | None = None,
        class_names: Mapping[str, str] | None = None,
        abstain_threshold: float = 0.0,
        seed: int | None = None,
        cv_folds: int = 0,
        prompt_set: str | None = None,
        use_unlabeled: bool = True,
        timeout: float | None = None,
    ) -> AsyncIterator[TrainEvent]:
        """Trains a new probe version, yielding TrainProgress events and then the ProbeReport.

        Several templates (a list) or a built-in ``prompt_set`` make a prompt ensemble;
        ``use_unlabeled=False`` keeps the probe from learning from the collection's other items."""
        request = req.train_probe(
            collection,
            name,
            examples,
            space=space,
            prompt_template=prompt_template,
            class_names=class_names,
            abstain_threshold=abstain_threshold,
            seed=seed,
            cv_folds=cv_folds,
            prompt_set=prompt_set,
            use_unlabeled=use_unlabeled,
        )
        return self._transport.stream(
            self._stubs.probes.TrainProbe, request, timeout, conv.train_event_from_proto
        )

    async def train_probe(
        self,
        collection: str,
        name: str,
        examples: Iterable[LabelledExample],
        *,
        space: str = "clip",
        prompt_template: str | Sequence[str] | None = None,
        class_names: Mapping[str, str] | None = None,
        abstain_threshold: float = 0.0,
        seed: int | None = None,
        cv_folds: int = 0,
        on_progress: Callable[[TrainProgress], None] | None = None,
        prompt_set: str | None = None,
        use_unlabeled: bool = True,
        timeout: float | None = None,
    ) -> ProbeReport:
        """Trains a new probe version and returns its report; progress goes to on_progress."""
        events = self.train_probe_stream(
            collection,
            name,
            examples,
            space=space,
            prompt_template=prompt_template,
            class_names=class_names,
            abstain_threshold=abstain_threshold,
            seed=seed,
            cv_folds=cv_folds,
            prompt_set=prompt_set,
            use_unlabeled=use_unlabeled,
            timeout=timeout,
        )
        return await self._transport.final_event(events, ProbeReport, on_progress)

    async def list_probes(
        self,
        collection: str,
        *,
        name: str | None = None,
        all_versions: bool = False,
        timeout: float | None = None,
    ) -> list[ProbeInfo]:
        request = probes_pb2.ListProbesRequest(
            collection=collection, name=name or "", all_versions=all_versions
        )
        response = await self._transport.unary(self._stubs.probes.ListProbes, request, timeout)
        return [conv.probe_info_from_proto(p) for p in response.probes]

    async def get_probe(
        self, collection: str, name: str, version: int = 0, *, timeout: float | None = None
    ) -> ProbeReport:
        """The report of a probe version (0: the latest)."""
        request = probes_pb2.GetProbeRequest(collection=collection, name=name, version=version)
        return conv.probe_report_from_proto(
            await self._transport.unary(self._stubs.probes.GetProbe, request, timeout)
        )

    async def delete_probe(
        self,
        collection: str,
        name: str,
        *,
        version: int | None = None,
        all_versions: bool = False,
        timeout: float | None = None,
    ) -> int:
        """Deletes one version, or all with all_versions=True; returns how many were deleted."""
        request = req.delete_probe(collection, name, version, all_versions)
        response = await self._transport.unary(self._stubs.probes.DeleteProbe, request, timeout)
        return int(response.deleted_versions)

    async def classify(
        self,
        collection: str,
        probe: str,
        inputs: Sequence[MediaOrItem],
        *,
        version: int = 0,
        top_k: int = 0,
        timeout: float | None = None,
    ) -> list[Classification]:
        """Classifies each input (Media or ItemRef) with a probe; one result per input."""
        request = req.classify(collection, probe, inputs, version, top_k)
        response = await self._transport.unary(self._stubs.probes.Classify, request, timeout)
        return [conv.classification_from_proto(c) for c in response.results]

    async def suggest_labels(
        self,
        collection: str,
        probe: str,
        *,
        count: int = 20,
        version: int = 0,
        strategy: str = "margin",
        timeout: float | None = None,
    ) -> LabelSuggestions:
        """The unlabelled items whose labels would help the probe most, most useful first."""
        request = req.suggest_labels(collection, probe, count, version, strategy)
        return conv.label_suggestions_from_proto(
            await self._transport.unary(self._stubs.probes.SuggestLabels, request, timeout)
        )

    def classify_collection(
        self,
        collection: str,
        probe: str,
        *,
        version: int = 0,
        column: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[ClassifyCollectionProgress]:
        """Writes the probe's top label of every item into a column, yielding progress."""
        request = probes_pb2.ClassifyCollectionRequest(
            collection=collection, probe=probe, version=version, column=column or ""
        )
        return self._transport.stream(
            self._stubs.probes.ClassifyCollection,
            request,
            timeout,
            conv.classify_collection_progress_from_proto,
        )

    async def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """The server's serving status ("SERVING", "NOT_SERVING", ...) from the standard gRPC
        health service; ``service`` names one service, empty means the whole server."""
        try:
            response = await self._transport.unary(
                self._stubs.health_check, HealthCheckRequest(service=service), timeout
            )
        except NotFound:
            return "SERVICE_UNKNOWN"
        return health_status_name(response)
