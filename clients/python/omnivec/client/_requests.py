"""Request messages built from the client's keyword arguments, validated before sending.

Shared by the sync and async clients so that both accept and reject exactly the same arguments.
Message <-> dataclass conversion itself is delegated to _conversions.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Union

from omnivec.client import _conversions as conv
from omnivec.client import wire
from omnivec.client.errors import InvalidArgument
from omnivec.client.types import (
    SEARCH_MODES,
    EvalOptions,
    EvalQuery,
    Fusion,
    ItemRef,
    LabelledExample,
    Media,
    MediaOrItem,
    Modality,
    SearchQuery,
)
from omnivec.v1 import (
    classify_pb2,
    collections_pb2,
    common_pb2,
    embed_pb2,
    indexing_pb2,
    probes_pb2,
    search_pb2,
)

BytesOrPath = Union[bytes, str, "os.PathLike[str]"]


def string_list(value: Iterable[str] | None, name: str) -> list[str]:
    """A list of strings; a bare str (which would iterate as characters) is a TypeError."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        raise TypeError(
            f"{name} must be a list of strings, not a single {type(value).__name__}; "
            f"did you mean {name}=[{value!r}]?"
        )
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} must contain only str, found {type(item).__name__}")
    return items


def prompt_fields(value: str | Sequence[str] | None) -> tuple[str, list[str]]:
    """``prompt_template`` as the wire carries it: one template, or several (an ensemble) as
    ``prompt_templates``."""
    if value is None or isinstance(value, str):
        return value or "", []
    return "", string_list(value, "prompt_template")


def read_bytes(value: BytesOrPath, name: str) -> bytes:
    """File content given as bytes or as a path to read."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (str, os.PathLike)):
        try:
            return Path(value).read_bytes()
        except OSError as e:
            raise InvalidArgument(f"cannot read {name} file {os.fspath(value)!r}: {e}") from e
    raise TypeError(f"{name} must be bytes or a path, not {type(value).__name__}")


def _filename(value: BytesOrPath) -> str:
    return "" if isinstance(value, (bytes, bytearray, memoryview)) else Path(value).name


def _one_of(**candidates: object) -> str:
    given = [name for name, value in candidates.items() if value is not None]
    if len(given) != 1:
        raise InvalidArgument(
            f"give exactly one of {', '.join(candidates)}; got {', '.join(given) or 'none'}"
        )
    return given[0]


def _non_empty(value: str, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{name} must be a non-empty string")
    return value


def _non_negative(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"{name} must be a non-negative int, got {value!r}")
    return value


def _media_sequence(value: Sequence[MediaOrItem], name: str) -> list[MediaOrItem]:
    if isinstance(value, (Media, str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(
            f"{name} must be a list of Media or ItemRef, not a single {type(value).__name__}; "
            f"did you mean {name}=[...]?"
        )
    return list(value)


def _modality_list(value: Sequence[Modality] | None) -> list[Modality]:
    names = string_list(value, "modalities")
    known: tuple[Modality, ...] = ("image", "text", "audio")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidArgument(f"unknown modalities {unknown}; choose from {list(known)}")
    return [m for m in known if m in names]


# --- collections -----------------------------------------------------------------------------


def create_collection(
    name: str, spaces: Sequence[str], if_not_exists: bool
) -> collections_pb2.CreateCollectionRequest:
    space_list = string_list(spaces, "spaces")
    return collections_pb2.CreateCollectionRequest(
        name=_non_empty(name, "name"), spaces=space_list, if_not_exists=if_not_exists
    )


def restore_collection(
    name: str, tag: str | None, version: int | None
) -> collections_pb2.RestoreCollectionRequest:
    if _one_of(tag=tag, version=version) == "tag":
        return collections_pb2.RestoreCollectionRequest(name=name, tag=tag)
    return collections_pb2.RestoreCollectionRequest(name=name, version=version)


# --- indexing --------------------------------------------------------------------------------


def index_path(
    collection: str, path: str, recursive: bool, spaces: Sequence[str] | None
) -> indexing_pb2.IndexPathRequest:
    return indexing_pb2.IndexPathRequest(
        collection=_non_empty(collection, "collection"),
        path=os.fspath(path),
        recursive=recursive,
        spaces=string_list(spaces, "spaces"),
    )


def delete_items(
    collection: str, ids: Sequence[str] | None, source_uris: Sequence[str] | None
) -> indexing_pb2.DeleteItemsRequest:
    id_list, uri_list = string_list(ids, "ids"), string_list(source_uris, "source_uris")
    if not id_list and not uri_list:
        raise InvalidArgument("give ids and/or source_uris to delete")
    return indexing_pb2.DeleteItemsRequest(
        collection=_non_empty(collection, "collection"), ids=id_list, source_uris=uri_list
    )


# --- search ----------------------------------------------------------------------------------


def search(collection: str, query: SearchQuery) -> search_pb2.SearchRequest:
    if not isinstance(query, SearchQuery):
        raise TypeError(f"query must be a SearchQuery, not {type(query).__name__}")
    kind = _one_of(text=query.text, image=query.image, audio=query.audio, item_id=query.item_id)
    k = query.k
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidArgument(f"k must be a positive int, got {k!r}")
    request = search_pb2.SearchRequest(
        collection=_non_empty(collection, "collection"),
        k=k,
        filter=query.where or "",
        modalities=[wire.modality_to_proto(m) for m in _modality_list(query.modalities)],
        spaces=string_list(query.spaces, "spaces"),
        mode=_search_mode(query.mode),
    )
    if query.fusion is not None:
        request.fusion.CopyFrom(fusion(query.fusion))
    if kind == "text":
        request.text = str(query.text)
    elif kind == "item_id":
        request.item_id = str(query.item_id)
    elif kind == "image" and query.image is not None:
        request.image = read_bytes(query.image, "image")
    elif query.audio is not None:
        request.audio = read_bytes(query.audio, "audio")
    return request


def _search_mode(mode: str | None) -> search_pb2.SearchMode:
    if mode is not None and mode not in SEARCH_MODES:
        raise InvalidArgument(f"unknown search mode {mode!r}; use {', '.join(SEARCH_MODES)}")
    return wire.search_mode_to_proto(mode)


def fusion(value: Fusion) -> common_pb2.Fusion:
    if not isinstance(value, Fusion):
        raise TypeError(
            f"fusion must be a Fusion, not {type(value).__name__}; e.g. "
            "Fusion({'text': 1.0, 'keyword': 0.5})"
        )
    for name, weight in value.weights.items():
        if not isinstance(name, str) or isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise TypeError(f"fusion weights map ranking names to numbers, got {name!r}: {weight!r}")
    return wire.fusion_to_proto(value)


# --- evaluate --------------------------------------------------------------------------------


def evaluate(
    collection: str, queries: Iterable[EvalQuery], options: EvalOptions
) -> search_pb2.EvaluateRequest:
    if isinstance(queries, (str, bytes)) or isinstance(queries, EvalQuery):
        raise TypeError("queries must be a list of EvalQuery")
    if not isinstance(options, EvalOptions):
        raise TypeError(f"options must be EvalOptions, not {type(options).__name__}")
    request = search_pb2.EvaluateRequest(
        collection=_non_empty(collection, "collection"),
        tune=options.tune,
        dry_run=options.dry_run,
        folds=options.folds,
        objective=options.objective,
        bootstrap_samples=options.bootstrap_samples,
        seed=options.seed,
        baseline=options.baseline,
    )
    if options.fusion is not None:
        request.fusion.CopyFrom(fusion(options.fusion))
    for i, query in enumerate(queries):
        if not isinstance(query, EvalQuery):
            raise TypeError(f"queries[{i}] must be an EvalQuery, not {type(query).__name__}")
        kind = _one_of(text=query.text, image=query.image, audio=query.audio)
        if not isinstance(query.relevant, Mapping):
            raise TypeError(f"queries[{i}].relevant must map item ids to grades")
        message = search_pb2.LabelledQuery(
            relevant={str(k): float(v) for k, v in query.relevant.items()}, id=query.id or ""
        )
        if kind == "text":
            message.text = str(query.text)
        elif kind == "image" and query.image is not None:
            message.image = read_bytes(query.image, f"queries[{i}].image")
        elif query.audio is not None:
            message.audio = read_bytes(query.audio, f"queries[{i}].audio")
        request.queries.append(message)
    return request


# --- embed -----------------------------------------------------------------------------------


def embed(
    *,
    texts: Sequence[str] | None,
    images: Sequence[BytesOrPath] | None,
    audio: Sequence[BytesOrPath] | None,
    space: str,
    collection: str | None,
) -> embed_pb2.EmbedRequest:
    kind = _one_of(texts=texts, images=images, audio=audio)
    if kind == "texts":
        inputs = [conv.media_to_proto(Media(text=t)) for t in string_list(texts, "texts")]
    else:
        files = images if kind == "images" else audio
        if isinstance(files, (bytes, str, os.PathLike)):
            raise TypeError(
                f"{kind} must be a list of bytes or paths, not a single "
                f"{type(files).__name__}; did you mean {kind}=[...]?"
            )
        inputs = []
        for f in files or ():
            data = read_bytes(f, kind)
            media = Media(image=data) if kind == "images" else Media(audio=data)
            message = conv.media_to_proto(media)
            message.filename = _filename(f)
            inputs.append(message)
    if not inputs:
        raise InvalidArgument(f"{kind} is empty; give at least one input")
    return embed_pb2.EmbedRequest(
        inputs=inputs, space=_non_empty(space, "space"), collection=collection or ""
    )


def transcribe(audio: BytesOrPath, language: str | None) -> embed_pb2.TranscribeRequest:
    return embed_pb2.TranscribeRequest(
        audio=read_bytes(audio, "audio"), language=language or "", filename=_filename(audio)
    )


def _single_input(
    text: str | None, image: BytesOrPath | None, audio: BytesOrPath | None, item_id: str | None
) -> MediaOrItem:
    kind = _one_of(text=text, image=image, audio=audio, item_id=item_id)
    if kind == "text":
        return Media(text=text)
    if kind == "item_id":
        return ItemRef(str(item_id))
    if kind == "image" and image is not None:
        return Media(image=read_bytes(image, "image"), filename=_filename(image) or None)
    assert audio is not None
    return Media(audio=read_bytes(audio, "audio"), filename=_filename(audio) or None)


def zero_shot_classify(
    labels: Sequence[str],
    *,
    text: str | None,
    image: BytesOrPath | None,
    audio: BytesOrPath | None,
    item_id: str | None,
    collection: str | None,
    prompt_template: str | Sequence[str] | None,
    space: str,
    top_k: int,
    class_names: Mapping[str, str] | None = None,
    prompt_set: str | None = None,
) -> classify_pb2.ZeroShotClassifyRequest:
    label_list = string_list(labels, "labels")
    if len(label_list) < 2:
        raise InvalidArgument("zero-shot classification needs at least two labels")
    if item_id is not None and not collection:
        raise InvalidArgument("item_id needs collection=")
    first, more = prompt_fields(prompt_template)
    return classify_pb2.ZeroShotClassifyRequest(
        input=conv.item_or_media_to_proto(_single_input(text, image, audio, item_id)),
        collection=collection or "",
        labels=label_list,
        prompt_template=first,
        prompt_templates=more,
        prompt_set=prompt_set or "",
        class_names=dict(class_names or {}),
        space=space,
        top_k=_non_negative(top_k, "top_k"),
    )


# --- probes ----------------------------------------------------------------------------------


def train_probe(
    collection: str,
    name: str,
    examples: Iterable[LabelledExample],
    *,
    space: str,
    prompt_template: str | Sequence[str] | None,
    class_names: Mapping[str, str] | None,
    abstain_threshold: float,
    seed: int | None,
    cv_folds: int,
    prompt_set: str | None = None,
    use_unlabeled: bool = True,
) -> probes_pb2.TrainProbeRequest:
    if isinstance(examples, LabelledExample):
        raise TypeError("examples must be a list of LabelledExample; did you mean [example]?")
    if not 0.0 <= abstain_threshold <= 1.0:
        raise InvalidArgument(f"abstain_threshold must be in [0, 1], got {abstain_threshold}")
    first, more = prompt_fields(prompt_template)
    request = probes_pb2.TrainProbeRequest(
        collection=_non_empty(collection, "collection"),
        name=_non_empty(name, "name"),
        space=space,
        examples=[conv.labelled_example_to_proto(e) for e in examples],
        prompt_template=first,
        prompt_templates=more,
        prompt_set=prompt_set or "",
        class_names=dict(class_names or {}),
        abstain_threshold=abstain_threshold,
        cv_folds=_non_negative(cv_folds, "cv_folds"),
        no_unlabeled=not use_unlabeled,
    )
    if seed is not None:
        request.seed = seed
    return request


def delete_probe(
    collection: str, name: str, version: int | None, all_versions: bool
) -> probes_pb2.DeleteProbeRequest:
    if (version is None) == (not all_versions):
        raise InvalidArgument("give either version=N or all_versions=True")
    if version is not None and version < 1:
        raise InvalidArgument(f"version must be >= 1, got {version}")
    return probes_pb2.DeleteProbeRequest(
        collection=collection, name=name, version=version or 0, all_versions=all_versions
    )


def suggest_labels(
    collection: str, probe: str, count: int, version: int, strategy: str
) -> probes_pb2.SuggestLabelsRequest:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        raise InvalidArgument(f"count must be an integer in 1-1000, got {count!r}")
    return probes_pb2.SuggestLabelsRequest(
        collection=_non_empty(collection, "collection"),
        probe=_non_empty(probe, "probe"),
        version=_non_negative(version, "version"),
        count=count,
        strategy=strategy,
    )


def classify(
    collection: str, probe: str, inputs: Sequence[MediaOrItem], version: int, top_k: int
) -> probes_pb2.ClassifyRequest:
    input_list = _media_sequence(inputs, "inputs")
    if not input_list:
        raise InvalidArgument("inputs is empty; give at least one Media or ItemRef")
    return probes_pb2.ClassifyRequest(
        collection=_non_empty(collection, "collection"),
        probe=_non_empty(probe, "probe"),
        version=_non_negative(version, "version"),
        inputs=[conv.item_or_media_to_proto(i) for i in input_list],
        top_k=_non_negative(top_k, "top_k"),
    )
