"""The lines ``omnivec serve`` prints on stdout once it listens, and how to read them back.

Scripts, the benchmark and the tests start a server on port 0 and learn its address from the
first line. One home for its wording and its parser, so that they cannot drift apart.
"""

from __future__ import annotations

import re

__all__ = ["SERVING", "WEB_APP", "serving_address"]

SERVING = "omnivec serving on"  # + " HOST:PORT"
WEB_APP = "omnivec web app on"  # + " http://HOST:PORT/"

# HOST:PORT and nothing after the port's digits: a log line from another thread once landed
# right after the address on the same line ("127.0.0.1:4065INFO ...").
_SERVING_ADDRESS = re.compile(rf"{SERVING} (\S+?:\d+)")


def serving_address(line: str) -> str | None:
    """The ``HOST:PORT`` a server announced in ``line``, or None if it is not that line."""
    match = _SERVING_ADDRESS.search(line)
    return match.group(1) if match else None
