"""``--weights text=1,keyword=0.5`` and ``--route``: fusion weights from the command line."""

from __future__ import annotations

import math

from omnivec.client.types import Fusion
from omnivec.indexer.errors import InvalidInputError

__all__ = ["parse_fusion"]


def parse_fusion(weights: str | None, route: bool) -> Fusion | None:
    """The Fusion the options describe; None when neither is given (the collection's weights).
    Ranking names are checked where the search runs, against the collection's rankings."""
    if weights is None and not route:
        return None
    parsed: dict[str, float] = {}
    for part in (weights or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name.strip() or not math.isfinite(number):
            raise InvalidInputError(
                f"--weights: {part.strip()!r} is not RANKING=NUMBER; e.g. "
                "--weights text=1,keyword=0.5 (rankings: the spaces and keyword)"
            )
        parsed[name.strip()] = number
    return Fusion(parsed, route_by_modality=route)
