"""Importing lancedb without paying for a REST client omnivec never calls.

``import lancedb`` imports ``lance_namespace``, which imports the generated REST client
``lance_namespace_urllib3_client``: 366 API methods, each decorated with pydantic's
``@validate_call``, which builds its validator when the class body runs. That is 1.3 s of the
2.5-2.8 s ``import lancedb`` takes on an idle 2-core machine (``python -X importtime``), paid by
every CLI call and every server start before the first search, for a client that only speaks to a
remote LanceDB namespace server.

:func:`import_lancedb` imports lancedb once with those validators built on first call instead:
while lancedb imports, ``pydantic.validate_call`` is a wrapper that defers a function *of that
client* (by its module name) and decorates anything else at once, exactly as pydantic would. A
deferred method validates the same arguments with the same errors the moment it is called.
``pydantic.validate_call`` is restored before this returns.

If a lancedb release stops importing the client, or the client stops using ``validate_call``,
nothing is deferred and nothing breaks. ``tests/engine/test_lancedb_import.py`` checks both
what is deferred and that a deferred method still validates.
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["DEFERRED_PACKAGE", "import_lancedb"]

DEFERRED_PACKAGE = "lance_namespace_urllib3_client"
_lock = threading.Lock()


def import_lancedb() -> ModuleType:
    """The ``lancedb`` module, imported with :data:`DEFERRED_PACKAGE`'s validators deferred."""
    if "lancedb" not in sys.modules:
        with _lock:  # two threads (the server's warm-up) must not patch and restore over each other
            if "lancedb" not in sys.modules:
                import pydantic

                real = pydantic.validate_call
                pydantic.validate_call = _deferring(real)
                try:
                    importlib.import_module("lancedb")
                finally:
                    pydantic.validate_call = real
    # Through the import system, not sys.modules: lancedb is in sys.modules as soon as its import
    # starts, and import_module waits until whichever thread imports it has finished.
    return importlib.import_module("lancedb")


def _deferring(real: Callable[..., Any]) -> Callable[..., Any]:
    """``validate_call`` that defers :data:`DEFERRED_PACKAGE`'s functions and no others."""

    def validate_call(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
            if not getattr(function, "__module__", "").startswith(DEFERRED_PACKAGE):
                decorated: Callable[..., Any] = real(function, **options)
                return decorated
            return _deferred(real, function, options)

        return decorate if func is None else decorate(func)

    return validate_call


def _deferred(
    real: Callable[..., Any], function: Callable[..., Any], options: dict[str, Any]
) -> Callable[..., Any]:
    validated: Callable[..., Any] | None = None

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal validated
        if validated is None:
            # The client's annotations name module-level types, which pydantic resolves from the
            # function's globals: the class-body namespace it would also have looked in adds none.
            validated = real(function, **options)
        return validated(*args, **kwargs)

    call.__omnivec_deferred_validation__ = True  # type: ignore[attr-defined]
    return call
