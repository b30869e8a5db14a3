"""Client and AsyncClient offer the same surface, and async_client.py is a fresh generation.

The async client is generated from the sync one (scripts/generate_async_client.py); these tests
hold the result to the promise independently of the generator: the same public methods with
the same parameters, defaults and annotations (read sync -> async), coroutines for unary calls
and async iterators for streams.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from omnivec.client import AsyncClient, Client
from tests.support.paths import REPO

GENERATOR = REPO / "scripts" / "generate_async_client.py"
ASYNC_CLIENT = REPO / "clients" / "python" / "omnivec" / "client" / "async_client.py"

# The parameters that take async iterables as well in the async client.
ACCEPTS_ASYNC_ITERABLES = {("upsert_stream", "items"), ("upsert", "items")}


def public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


SYNC_METHODS = sorted(public_methods(Client))


def async_annotation(method: str, parameter: str, annotation: Any) -> Any:
    """What the async client's annotation must be, given the sync one (strings: both modules
    use postponed annotations)."""
    if annotation is inspect.Parameter.empty:
        return annotation
    if (method, parameter) in ACCEPTS_ASYNC_ITERABLES:
        element = annotation.removeprefix("Iterable[").removesuffix("]")
        return f"{annotation} | AsyncIterable[{element}]"
    return annotation.replace("Iterator[", "AsyncIterator[")


def is_stream(method: str) -> bool:
    return str(inspect.signature(getattr(Client, method)).return_annotation).startswith(
        "Iterator["
    )


def test_both_clients_have_the_same_public_methods() -> None:
    assert SYNC_METHODS
    assert sorted(public_methods(AsyncClient)) == SYNC_METHODS


@pytest.mark.parametrize("method", ["__init__", *SYNC_METHODS])
def test_parameters_defaults_and_annotations_match(method: str) -> None:
    sync = inspect.signature(getattr(Client, method))
    async_ = inspect.signature(getattr(AsyncClient, method))
    expected = [
        (p.name, p.kind, p.default, async_annotation(method, p.name, p.annotation))
        for p in sync.parameters.values()
    ]
    assert [(p.name, p.kind, p.default, p.annotation) for p in async_.parameters.values()] == (
        expected
    )
    assert async_.return_annotation == async_annotation(method, "return", sync.return_annotation)


@pytest.mark.parametrize("method", SYNC_METHODS)
def test_unary_methods_are_coroutines_and_streams_are_not(method: str) -> None:
    # A streaming method returns its async iterator straight away, for `async for`.
    assert inspect.iscoroutinefunction(getattr(AsyncClient, method)) is not is_stream(method)
    assert not inspect.iscoroutinefunction(getattr(Client, method))


def test_context_managers() -> None:
    assert inspect.iscoroutinefunction(AsyncClient.__aenter__)
    assert inspect.iscoroutinefunction(AsyncClient.__aexit__)
    assert not hasattr(AsyncClient, "__enter__")
    assert callable(Client.__enter__) and callable(Client.__exit__)
    assert not hasattr(Client, "__aenter__")


def test_docstrings_are_kept() -> None:
    for method in SYNC_METHODS:
        assert getattr(AsyncClient, method).__doc__ == getattr(Client, method).__doc__, method


@pytest.fixture(scope="module")
def generator() -> Iterator[ModuleType]:
    """scripts/generate_async_client.py, imported (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("generate_async_client", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up in sys.modules while the module runs.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_async_client_is_a_fresh_generation(generator: ModuleType) -> None:
    assert generator.generate_source() == ASYNC_CLIENT.read_text(), (
        "async_client.py is stale: run `python scripts/generate_async_client.py`"
    )


def test_check_fails_on_a_stale_file_and_says_what_to_run(
    generator: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stale = tmp_path / "async_client.py"
    stale.write_text(ASYNC_CLIENT.read_text().replace("return list(result.hits)", "return []"))
    monkeypatch.setattr(generator, "ASYNC_PATH", stale)
    assert generator.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "stale" in err and "python scripts/generate_async_client.py" in err
    assert "-        return []" in err and "+        return list(result.hits)" in err
    assert stale.read_text() != ASYNC_CLIENT.read_text()  # --check writes nothing
