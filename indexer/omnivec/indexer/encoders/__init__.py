"""Encoders by name: ``clip`` (images + texts), ``text`` (sentence-transformers), ``speech``."""

from omnivec.indexer.encoders.base import EncoderSpec, WeightsInfo
from omnivec.indexer.encoders.clip import ClipEncoder
from omnivec.indexer.encoders.registry import (
    EncoderEntry,
    Role,
    embedding_spaces,
    entries,
    get_entry,
    register,
    space_entry,
)
from omnivec.indexer.encoders.sentence import SentenceEncoder
from omnivec.indexer.encoders.speech import Segment, Transcript, WhisperTranscriber

__all__ = [
    "ClipEncoder",
    "EncoderEntry",
    "EncoderSpec",
    "Role",
    "Segment",
    "SentenceEncoder",
    "Transcript",
    "WeightsInfo",
    "WhisperTranscriber",
    "embedding_spaces",
    "entries",
    "get_entry",
    "register",
    "space_entry",
]
