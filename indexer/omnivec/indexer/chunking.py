"""Splitting long texts and transcripts into overlapping chunks that keep their place.

Embedding models see a bounded window (MiniLM: 256 word pieces, CLIP text: 77 tokens), so long
inputs are cut into chunks; overlap keeps a sentence that straddles a cut findable from both sides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: importing the encoders costs a torch import (Ray tasks chunk)
    from omnivec.indexer.encoders.speech import Segment

__all__ = ["Chunk", "chunk_text", "chunk_transcript"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


@dataclass(frozen=True)
class Chunk:
    text: str
    start_char: int | None = None
    end_char: int | None = None
    start_s: float | None = None
    end_s: float | None = None


def chunk_text(text: str, *, max_chars: int, overlap_chars: int) -> list[Chunk]:
    """Greedy sentence packing up to ``max_chars``; the next chunk restarts ``overlap_chars`` back.

    Cuts prefer sentence ends, then whitespace, and only split inside a word when a single word
    is longer than a chunk.
    """
    text = text.strip()
    if len(text) <= max_chars:
        return [Chunk(text, 0, len(text))] if text else []
    overlap = min(overlap_chars, max_chars // 2)
    chunks: list[Chunk] = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            window = text[start:end]
            cut = _last_boundary(window)
            if cut > max_chars // 3:
                end = start + cut
        piece = text[start:end].strip()
        if piece:
            chunks.append(Chunk(piece, start, end))
        if end >= len(text):
            break
        next_start = max(end - overlap, start + 1)
        # Start the overlap on a word boundary so no chunk begins mid-word.
        space = text.find(" ", next_start, end)
        start = space + 1 if space != -1 else next_start
    return chunks


def _last_boundary(window: str) -> int:
    ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    if ends:
        return ends[-1]
    space = window.rfind(" ")
    return space if space > 0 else len(window)


def chunk_transcript(
    segments: Sequence[Segment], *, max_seconds: float, overlap_seconds: float
) -> list[Chunk]:
    """Group consecutive Whisper segments into windows of at most ``max_seconds``.

    Each chunk keeps the start of its first segment and the end of its last, so a hit points at
    the moment in the recording. Consecutive windows share the segments of the last
    ``overlap_seconds``.
    """
    chunks: list[Chunk] = []
    i = 0
    n = len(segments)
    while i < n:
        j = i
        while j + 1 < n and segments[j + 1].end - segments[i].start <= max_seconds:
            j += 1
        group = segments[i : j + 1]
        chunks.append(
            Chunk(" ".join(s.text for s in group), start_s=group[0].start, end_s=group[-1].end)
        )
        if j + 1 >= n:
            break
        # Next window starts at the first segment inside the overlap, but always moves forward.
        k = j
        while k > i + 1 and segments[j].end - segments[k - 1].start <= overlap_seconds:
            k -= 1
        i = max(k if segments[j].end - segments[k].start <= overlap_seconds else j + 1, i + 1)
    return chunks
