"""How the CLI shows search hits: one JSON shape and the pieces of the text lines.

Hits are the SDK's ``omnivec.client.Hit`` whether the engine ran in process or on a server, so
this is the only place that turns them into output.
"""

from __future__ import annotations

from typing import Any

from omnivec.client.types import Hit, SearchResult

__all__ = ["found_by", "hit_text", "search_result_to_json", "seconds_suffix", "snippet"]


def hit_text(hit: Hit) -> str | None:
    return hit.span.text if hit.span is not None else None


def found_by(hit: Hit) -> str:
    """``text+keyword``: the rankings that found the hit (its space when none are listed)."""
    return "+".join(hit.found_by) or hit.space


def seconds_suffix(hit: Hit) -> str:
    """`` [1.0-4.4 s]`` for a transcript span, else empty."""
    span = hit.span
    if span is None or span.start_seconds is None or span.end_seconds is None:
        return ""
    return f" [{span.start_seconds:.1f}-{span.end_seconds:.1f} s]"


def snippet(hit: Hit, width: int) -> str | None:
    """The hit's text on one line, cut at ``width`` characters with an ellipsis."""
    text = hit_text(hit)
    if not text:
        return None
    flat = " ".join(text.split())
    return flat[:width] + ("…" if len(flat) > width else "")


def search_result_to_json(result: SearchResult) -> dict[str, Any]:
    """``search --json``: one object per hit with its item id, text and seconds at top level."""
    return {
        "hits": [
            {
                "item_id": h.id, "modality": h.modality, "source_uri": h.source_uri,
                "metadata": dict(h.metadata), "text": hit_text(h),
                "start_s": h.span.start_seconds if h.span else None,
                "end_s": h.span.end_seconds if h.span else None,
                "chunk": h.chunk, "space": h.space, "score": round(h.score, 6),
                "fused_score": round(h.fused_score, 6), "rank": h.rank,
                "found_by": [
                    {"ranking": m.ranking, "rank": m.rank, "score": round(m.score, 6)}
                    for m in h.matches
                ],
            }
            for h in result.hits
        ],
        "timings_ms": {
            t.space: {"embed": round(t.embed_ms, 3), "search": round(t.search_ms, 3)}
            for t in result.timings
        },
        "query_transcript": result.query_transcript,
    }
