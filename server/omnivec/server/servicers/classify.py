"""ClassifyService: zero-shot classification with text prompts per label (one, or an ensemble)."""

from __future__ import annotations

import grpc

from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.prompt_sets import request_templates
from omnivec.server import conversions as conv
from omnivec.server.limits import check_item_count
from omnivec.server.servicers import ServerDeps
from omnivec.server.status import rpc_method
from omnivec.v1 import classify_pb2, classify_pb2_grpc

__all__ = ["ClassifyServicer"]

DEFAULT_SPACE = "clip"


class ClassifyServicer(classify_pb2_grpc.ClassifyServiceServicer):
    def __init__(self, deps: ServerDeps) -> None:
        self._engine = deps.engine
        self._settings = deps.settings

    @rpc_method
    def ZeroShotClassify(
        self, request: classify_pb2.ZeroShotClassifyRequest, context: grpc.ServicerContext
    ) -> classify_pb2.ZeroShotClassifyResponse:
        check_item_count(len(request.labels), self._settings.max_items_per_request, "labels")
        space = request.space or DEFAULT_SPACE
        source = request.input.WhichOneof("source")
        text: str | None = None
        image: bytes | None = None
        audio: bytes | None = None
        item_id: str | None = None
        if source == "item_id":
            if not request.collection:
                raise InvalidInputError("classifying a stored item needs its collection")
            item_id = request.input.item_id
        elif source == "media":
            kind = conv.media_kind(request.input.media, "input.media")
            if kind == "text":
                text = request.input.media.text
            elif kind == "image":
                image = bytes(request.input.media.image)
            else:
                audio = bytes(request.input.media.audio)
        else:
            raise InvalidInputError("the request has no input; set input.media or input.item_id")
        scores = self._engine.zero_shot_classify(
            list(request.labels),
            text=text,
            image=image,
            audio=audio,
            item_id=item_id,
            collection=request.collection or None,
            prompt_template=request_templates(
                request.prompt_template, request.prompt_templates, request.prompt_set
            ) or "{}",
            class_names=dict(request.class_names) or None,
            space=space,
            top_k=request.top_k,
        )
        return classify_pb2.ZeroShotClassifyResponse(
            labels=conv.label_scores_to_proto(scores), space=space
        )
