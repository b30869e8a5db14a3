"""EmbedService: raw vectors for texts, images and audio, and speech transcription."""

from __future__ import annotations

import grpc
import numpy as np

from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.models import EMBEDDING_SPACES
from omnivec.server import conversions as conv
from omnivec.server.limits import check_call_active, check_item_count
from omnivec.server.servicers import ServerDeps
from omnivec.server.status import rpc_method
from omnivec.v1 import embed_pb2, embed_pb2_grpc

__all__ = ["MAX_EMBED_INPUTS", "EmbedServicer"]

MAX_EMBED_INPUTS = 256  # the proto's documented bound


class EmbedServicer(embed_pb2_grpc.EmbedServiceServicer):
    def __init__(self, deps: ServerDeps) -> None:
        self._engine = deps.engine
        self._settings = deps.settings

    @rpc_method
    def Embed(
        self, request: embed_pb2.EmbedRequest, context: grpc.ServicerContext
    ) -> embed_pb2.EmbedResponse:
        inputs = list(request.inputs)
        if not inputs:
            raise InvalidInputError("Embed needs at least one input")
        check_item_count(
            len(inputs), min(MAX_EMBED_INPUTS, self._settings.max_items_per_request), "Embed"
        )
        space = request.space
        if space not in EMBEDDING_SPACES:
            raise InvalidInputError(
                f"unknown space {space!r}; use one of: {', '.join(EMBEDDING_SPACES)}"
            )
        if request.collection:
            # Vectors must match the collection: its stored encoder must be the one loaded now.
            collection = self._engine.collection(request.collection)
            if space not in collection.specs:
                raise InvalidInputError(
                    f"collection {request.collection!r} has no {space!r} space "
                    f"(it has: {', '.join(collection.spaces)})"
                )
            collection.check_encoder(space, self._engine.models.embedder(space).spec)
        groups: dict[str, list[int]] = {"text": [], "image": [], "audio": []}
        for i, media in enumerate(inputs):
            groups[conv.media_kind(media, f"inputs[{i}]")].append(i)
        rows: dict[int, np.ndarray] = {}
        spec = None
        for kind, positions in groups.items():
            if not positions:
                continue
            check_call_active(context)
            if kind == "text":
                result = self._engine.embed_texts([inputs[i].text for i in positions], space=space)
            elif kind == "image":
                result = self._engine.embed_images(
                    [bytes(inputs[i].image) for i in positions], space=space
                )
            else:
                result = self._engine.embed_audio(
                    [bytes(inputs[i].audio) for i in positions], space=space
                )
            spec = result.spec
            rows.update(zip(positions, result.vectors))
        assert spec is not None
        ordered = np.stack([rows[i] for i in range(len(inputs))])
        return embed_pb2.EmbedResponse(
            vectors=conv.vectors_to_proto(ordered),
            dim=int(ordered.shape[1]),
            encoder=conv.encoder_to_proto(spec),
        )

    @rpc_method
    def Transcribe(
        self, request: embed_pb2.TranscribeRequest, context: grpc.ServicerContext
    ) -> embed_pb2.TranscribeResponse:
        if not request.audio:
            raise InvalidInputError("Transcribe needs the audio bytes; the request has none")
        transcript = self._engine.transcribe(bytes(request.audio))
        return conv.transcript_to_proto(transcript)
