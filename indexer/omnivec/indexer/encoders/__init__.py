"""Encoders by name: ``clip`` (images + texts), ``text`` (sentence-transformers), ``speech``."""

from omnivec.indexer.encoders.base import EncoderSpec, WeightsInfo
from omnivec.indexer.encoders.clip import ClipEncoder
from omnivec.indexer.encoders.registry import get_entry, register, registered_names
from omnivec.indexer.encoders.sentence import SentenceEncoder
from omnivec.indexer.encoders.speech import Segment, Transcript, WhisperTranscriber

__all__ = [
    "ClipEncoder",
    "EncoderSpec",
    "Segment",
    "SentenceEncoder",
    "Transcript",
    "WeightsInfo",
    "WhisperTranscriber",
    "get_entry",
    "register",
    "registered_names",
]
