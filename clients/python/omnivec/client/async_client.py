"""The asyncio client: the same surface as Client, on grpc.aio.

Unary methods are coroutines; streaming methods (upsert_stream, index_path, train_probe_stream,
classify_collection) are plain methods returning async iterators, used with ``async for``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import grpc.aio

from omnivec.client import _conversions as conv
from omnivec.client import _requests as req
from omnivec.client._channel import (
    DEFAULT_MAX_MESSAGE_BYTES,
    HealthCheckRequest,
    Stubs,
    channel_options,
    health_status_name,
)
from omnivec.client._requests import BytesOrPath
from omnivec.client.auth import TlsOptions, bearer_metadata
from omnivec.client.errors import NotFound, OmnivecClientError, error_from_rpc
from omnivec.client.sync_client import DEFAULT_STREAM_TIMEOUT_SECONDS, DEFAULT_TIMEOUT_SECONDS
from omnivec.client.types import (
    Classification,
    ClassifyCollectionProgress,
    Collection,
    Embeddings,
    FloatMatrix,
    Hit,
    IndexProgress,
    LabelledExample,
    LabelScore,
    MediaOrItem,
    Modality,
    ProbeInfo,
    ProbeReport,
    SearchResult,
    Snapshot,
    TrainEvent,
    TrainProgress,
    Transcript,
    UpsertItem,
    UpsertResult,
)
from omnivec.v1 import collections_pb2, probes_pb2

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11

T = TypeVar("T")


class AsyncClient:
    """Asyncio client for an omnivec server; see Client for the meaning of the arguments.

    Use ``async with AsyncClient(...) as client:`` or ``await client.close()``.
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
        options = channel_options(retries, max_message_bytes)
        if tls is not None and tls.server_name_override:
            options.append(("grpc.ssl_target_name_override", tls.server_name_override))
        self._metadata = bearer_metadata(token)
        self._timeout = timeout
        self._stream_timeout = stream_timeout
        self._channel: grpc.aio.Channel = (
            grpc.aio.secure_channel(target, tls.channel_credentials(), options=options)
            if tls is not None
            else grpc.aio.insecure_channel(target, options=options)
        )
        self._stubs = Stubs(self._channel)
        self.target = target

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    def __repr__(self) -> str:
        return f"AsyncClient({self.target!r})"

    # --- plumbing ----------------------------------------------------------------------------

    async def _call(self, method: Any, request: Any, timeout: float | None) -> Any:
        try:
            return await method(
                request,
                timeout=self._timeout if timeout is None else timeout,
                metadata=self._metadata,
            )
        except grpc.RpcError as e:
            raise error_from_rpc(e) from e

    async def _stream(
        self, method: Any, request: Any, timeout: float | None, convert: Callable[[Any], T]
    ) -> AsyncIterator[T]:
        call = method(
            request,
            timeout=self._stream_timeout if timeout is None else timeout,
            metadata=self._metadata,
        )
        try:
            async for message in call:
                yield convert(message)
        except grpc.RpcError as e:
            raise error_from_rpc(e) from e
        finally:
            call.cancel()

    # --- collections -------------------------------------------------------------------------

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
            await self._call(self._stubs.collections.CreateCollection, request, timeout)
        )

    async def list_collections(self, *, timeout: float | None = None) -> list[Collection]:
        response = await self._call(
            self._stubs.collections.ListCollections,
            collections_pb2.ListCollectionsRequest(),
            timeout,
        )
        return [conv.collection_from_proto(c) for c in response.collections]

    async def get_collection(self, name: str, *, timeout: float | None = None) -> Collection:
        request = collections_pb2.GetCollectionRequest(name=name)
        return conv.collection_from_proto(
            await self._call(self._stubs.collections.GetCollection, request, timeout)
        )

    async def delete_collection(
        self, name: str, *, if_exists: bool = False, timeout: float | None = None
    ) -> bool:
        request = collections_pb2.DeleteCollectionRequest(name=name, if_exists=if_exists)
        response = await self._call(self._stubs.collections.DeleteCollection, request, timeout)
        return bool(response.deleted)

    async def snapshot_collection(
        self, name: str, tag: str, *, timeout: float | None = None
    ) -> Snapshot:
        request = collections_pb2.SnapshotCollectionRequest(name=name, tag=tag)
        return conv.snapshot_from_proto(
            await self._call(self._stubs.collections.SnapshotCollection, request, timeout)
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
            await self._call(self._stubs.collections.RestoreCollection, request, timeout)
        )

    # --- indexing ----------------------------------------------------------------------------

    async def upsert_stream(
        self,
        collection: str,
        items: Iterable[UpsertItem] | AsyncIterable[UpsertItem],
        *,
        timeout: float | None = None,
    ) -> AsyncIterator[UpsertResult]:
        """Streams items (a sync or async iterable) and yields each result once committed."""
        if isinstance(items, (UpsertItem, str, bytes)):
            raise TypeError("items must be an iterable of UpsertItem; did you mean [item]?")
        pump = _AsyncRequestPump(collection, items)
        async for result in self._stream(
            self._stubs.indexing.Upsert, pump.requests(), timeout, conv.upsert_result_from_proto
        ):
            yield result
        pump.raise_if_failed()

    async def upsert(
        self,
        collection: str,
        items: Iterable[UpsertItem] | AsyncIterable[UpsertItem],
        *,
        timeout: float | None = None,
    ) -> list[UpsertResult]:
        results = [r async for r in self.upsert_stream(collection, items, timeout=timeout)]
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
        request = req.index_path(collection, path, recursive, spaces)
        return self._stream(
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
        request = req.delete_items(collection, ids, source_uris)
        return int((await self._call(self._stubs.indexing.DeleteItems, request, timeout)).deleted)

    # --- search ------------------------------------------------------------------------------

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
        timeout: float | None = None,
    ) -> SearchResult:
        request = req.search(
            collection,
            text=text,
            image=image,
            audio=audio,
            item_id=item_id,
            k=k,
            where=where,
            modalities=modalities,
            spaces=spaces,
        )
        return conv.search_result_from_proto(
            await self._call(self._stubs.search.Search, request, timeout)
        )

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
        timeout: float | None = None,
    ) -> list[Hit]:
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
            timeout=timeout,
        )
        return list(result.hits)

    # --- embed -------------------------------------------------------------------------------

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
            texts=texts, images=images, audio=audio, space=space, collection=collection,
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
        response = await self._call(self._stubs.embed.Embed, request, timeout)
        return Embeddings(
            conv.vectors_from_proto(response.vectors, response.dim),
            conv.encoder_from_proto(response.encoder),
        )

    async def transcribe(
        self, audio: BytesOrPath, *, language: str | None = None, timeout: float | None = None
    ) -> Transcript:
        request = req.transcribe(audio, language)
        return conv.transcript_from_proto(
            await self._call(self._stubs.embed.Transcribe, request, timeout)
        )

    # --- classification ----------------------------------------------------------------------

    async def zero_shot_classify(
        self,
        labels: Sequence[str],
        *,
        text: str | None = None,
        image: BytesOrPath | None = None,
        audio: BytesOrPath | None = None,
        item_id: str | None = None,
        collection: str | None = None,
        prompt_template: str | None = None,
        space: str = "clip",
        top_k: int = 0,
        timeout: float | None = None,
    ) -> list[LabelScore]:
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
        )
        response = await self._call(self._stubs.classify.ZeroShotClassify, request, timeout)
        return [conv.label_score_from_proto(s) for s in response.labels]

    # --- probes ------------------------------------------------------------------------------

    def train_probe_stream(
        self,
        collection: str,
        name: str,
        examples: Iterable[LabelledExample],
        *,
        space: str = "clip",
        prompt_template: str | None = None,
        class_names: Mapping[str, str] | None = None,
        abstain_threshold: float = 0.0,
        seed: int | None = None,
        cv_folds: int = 0,
        timeout: float | None = None,
    ) -> AsyncIterator[TrainEvent]:
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
        )
        return self._stream(
            self._stubs.probes.TrainProbe, request, timeout, conv.train_event_from_proto
        )

    async def train_probe(
        self,
        collection: str,
        name: str,
        examples: Iterable[LabelledExample],
        *,
        space: str = "clip",
        prompt_template: str | None = None,
        class_names: Mapping[str, str] | None = None,
        abstain_threshold: float = 0.0,
        seed: int | None = None,
        cv_folds: int = 0,
        on_progress: Callable[[TrainProgress], None] | None = None,
        timeout: float | None = None,
    ) -> ProbeReport:
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
            timeout=timeout,
        )
        async for event in events:
            if isinstance(event, ProbeReport):
                return event
            if on_progress is not None:
                on_progress(event)
        raise OmnivecClientError(
            "the server ended TrainProbe without a report", code=grpc.StatusCode.UNKNOWN
        )

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
        response = await self._call(self._stubs.probes.ListProbes, request, timeout)
        return [conv.probe_info_from_proto(p) for p in response.probes]

    async def get_probe(
        self, collection: str, name: str, version: int = 0, *, timeout: float | None = None
    ) -> ProbeReport:
        request = probes_pb2.GetProbeRequest(collection=collection, name=name, version=version)
        return conv.probe_report_from_proto(
            await self._call(self._stubs.probes.GetProbe, request, timeout)
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
        request = req.delete_probe(collection, name, version, all_versions)
        response = await self._call(self._stubs.probes.DeleteProbe, request, timeout)
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
        request = req.classify(collection, probe, inputs, version, top_k)
        response = await self._call(self._stubs.probes.Classify, request, timeout)
        return [conv.classification_from_proto(c) for c in response.results]

    def classify_collection(
        self,
        collection: str,
        probe: str,
        *,
        version: int = 0,
        column: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[ClassifyCollectionProgress]:
        request = probes_pb2.ClassifyCollectionRequest(
            collection=collection, probe=probe, version=version, column=column or ""
        )
        return self._stream(
            self._stubs.probes.ClassifyCollection,
            request,
            timeout,
            conv.classify_collection_progress_from_proto,
        )

    # --- health ------------------------------------------------------------------------------

    async def health(self, service: str = "", *, timeout: float | None = None) -> str:
        try:
            response = await self._call(
                self._stubs.health_check, HealthCheckRequest(service=service), timeout
            )
        except NotFound:
            # The health protocol answers Check for an unregistered service with NOT_FOUND.
            return "SERVICE_UNKNOWN"
        return health_status_name(response)


class _AsyncRequestPump:
    """Async counterpart of sync_client._RequestPump: a bad item ends the request stream and
    its exception is re-raised to the caller after the acknowledged results."""

    def __init__(
        self, collection: str, items: Iterable[UpsertItem] | AsyncIterable[UpsertItem]
    ) -> None:
        self._collection = collection
        self._items = items
        self._error: BaseException | None = None

    async def _items_in_order(self) -> AsyncIterator[UpsertItem]:
        if isinstance(self._items, AsyncIterable):
            async for item in self._items:
                yield item
        else:
            for item in self._items:
                yield item

    async def requests(self) -> AsyncIterator[Any]:
        try:
            sequence = 0
            async for item in self._items_in_order():
                yield conv.upsert_request(self._collection, sequence, item)
                sequence += 1
        except Exception as e:  # noqa: BLE001 - re-raised by raise_if_failed in the caller's task
            self._error = e

    def raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
