#!/usr/bin/env python3
"""Generate the asyncio client (async_client.py) from the blocking one (sync_client.py).

This is the one command that produces async_client.py; nobody edits that file by hand.

    python scripts/generate_async_client.py          # rewrite the committed async_client.py
    python scripts/generate_async_client.py --check  # exit 1 if it is stale (make test, CI)

The transform works on sync_client.py's syntax tree (qdrant-client's generate_async_client.sh is
the model). The names in RENAMES are swapped (Client, SyncTransport, Iterator); everything else
is read from the code itself:

- which calls are awaited: calls of the methods that are coroutines in AsyncTransport (read from
  _transport.py), and calls of the client's own methods that this transform makes coroutines;
- which methods become ``async def``: those making such a call, and __aenter__/__aexit__
  (renamed from __enter__/__exit__). Streaming methods, which only return the transport's
  iterator, stay plain methods returning async iterators;
- which parameters take async iterables too: a parameter passed straight on to a transport (or
  client) method whose async parameter is annotated differently from the sync one takes the
  async annotation (upsert's ``items``).

The result is unparsed with ``ast.unparse`` (comments are not kept; docstrings are), its imports
sorted and the code formatted with ruff, whose version the ``test`` extra pins, so a fresh
generation is byte-for-byte reproducible.
"""

from __future__ import annotations

import argparse
import ast
import collections.abc
import copy
import difflib
import importlib.metadata
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CLIENT_DIR = REPO_ROOT / "clients" / "python" / "omnivec" / "client"
SYNC_PATH = CLIENT_DIR / "sync_client.py"
GENERATED_NAME = "async_client.py"
ASYNC_PATH = CLIENT_DIR / GENERATED_NAME  # where the result is written, or compared with
TRANSPORT_PATH = CLIENT_DIR / "_transport.py"

COMMAND = "python scripts/generate_async_client.py"
CLIENT, TRANSPORT = "Client", "SyncTransport"
# The names the async flavour spells differently; nothing else is listed by hand.
RENAMES = {CLIENT: "AsyncClient", TRANSPORT: "AsyncTransport", "Iterator": "AsyncIterator"}
# The async context-manager protocol needs coroutines, whatever their bodies await.
CONTEXT_DUNDERS = {"__enter__": "__aenter__", "__exit__": "__aexit__"}

MODULE_SUMMARY = "The asyncio client. GENERATED from sync_client.py: DO NOT EDIT."
MODULE_PARAGRAPHS = (
    f"Written by `{COMMAND}` (`make generate`) from sync_client.py and _transport.py: change "
    "those and regenerate. `make test` fails when this file differs from a fresh generation.",
    "AsyncClient has Client's methods and arguments: unary methods are coroutines; streaming "
    "methods ({streaming}) are plain methods returning async iterators, used with ``async for``.",
)
CLASS_SUMMARY = "Asyncio client for an omnivec server, generated from Client."
CLASS_USAGE = (
    "Unary methods are coroutines; streaming methods ({streaming}) return async iterators. "
    "Use ``async with AsyncClient(...) as client:``, or ``await client.close()``."
)


class GenerationError(Exception):
    """sync_client.py or _transport.py is not in a shape the transform can handle."""


# --- reading the transports ------------------------------------------------------------------


@dataclass
class Signature:
    """What the transform needs to know of a method: is it awaited, how are its arguments named,
    and which parameters does its async flavour annotate differently."""

    coroutine: bool
    params: list[str]
    async_annotations: dict[str, ast.expr] = field(default_factory=dict)


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    """Every parameter but ``self``, positional ones first (as a call binds them)."""
    args = fn.args
    return [*args.posonlyargs, *args.args, *args.kwonlyargs][1:]


def _own_nodes(fn: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's own body: not those of functions or lambdas defined in it."""
    for child in ast.iter_child_nodes(fn):
        yield child
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            yield from _own_nodes(child)


def _methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {
        node.name: node
        for node in cls.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def _class(tree: ast.Module, name: str, path: Path) -> ast.ClassDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise GenerationError(f"{path.name} defines no class {name}")


def read_transport(tree: ast.Module) -> dict[str, Signature]:
    """The public methods of AsyncTransport, checked against SyncTransport's."""
    sync = _methods(_class(tree, TRANSPORT, TRANSPORT_PATH))
    async_ = _methods(_class(tree, RENAMES[TRANSPORT], TRANSPORT_PATH))
    public = sorted(name for name in sync if not name.startswith("_"))
    if public != sorted(name for name in async_ if not name.startswith("_")):
        raise GenerationError(
            f"{TRANSPORT} and {RENAMES[TRANSPORT]} must have the same public methods"
        )
    signatures = {}
    for name in public:
        sync_params, async_params = _params(sync[name]), _params(async_[name])
        if [p.arg for p in sync_params] != [p.arg for p in async_params]:
            raise GenerationError(f"the two transports' {name}() have different parameters")
        method = async_[name]
        signatures[name] = Signature(
            coroutine=isinstance(method, ast.AsyncFunctionDef) and not _is_generator(method),
            params=[p.arg for p in async_params],
            async_annotations={
                a.arg: a.annotation
                for s, a in zip(sync_params, async_params)
                if a.annotation is not None
                and ast.dump(a.annotation) != ast.dump(s.annotation or ast.Constant(None))
            },
        )
    return signatures


# --- reading the client ----------------------------------------------------------------------


@dataclass
class ClientPlan:
    """What the transform does to the client class, worked out before any node changes."""

    transport_attribute: str
    transport: dict[str, Signature]
    methods: dict[str, Signature] = field(default_factory=dict)
    # The public methods returning Iterator[...]: plain methods returning async iterators.
    streaming: list[str] = field(default_factory=list)

    def callee(self, call: ast.Call) -> Signature | None:
        """The signature of ``self.method(...)`` or ``self.<transport>.method(...)``, else None."""
        func = call.func
        if not isinstance(func, ast.Attribute):
            return None
        if _is_self(func.value):
            return self.methods.get(func.attr)
        owner = func.value
        if isinstance(owner, ast.Attribute) and _is_self(owner.value):
            if owner.attr == self.transport_attribute:
                if func.attr not in self.transport:
                    raise GenerationError(f"{TRANSPORT} has no public method {func.attr}()")
                return self.transport[func.attr]
        return None

    def awaits(self, call: ast.Call) -> bool:
        signature = self.callee(call)
        return signature is not None and signature.coroutine


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _transport_attribute(init: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The attribute __init__ assigns the transport to: ``self.<it> = SyncTransport(...)``."""
    for node in _own_nodes(init):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == TRANSPORT
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Attribute)
            and _is_self(node.targets[0].value)
        ):
            return node.targets[0].attr
    raise GenerationError(f"{CLIENT}.__init__ does not assign self.<attribute> = {TRANSPORT}(...)")


def plan_client(cls: ast.ClassDef, transport: dict[str, Signature]) -> ClientPlan:
    methods = _methods(cls)
    if "__init__" not in methods:
        raise GenerationError(f"{CLIENT} has no __init__")
    plan = ClientPlan(_transport_attribute(methods["__init__"]), transport)
    for name, fn in methods.items():
        if isinstance(fn, ast.AsyncFunctionDef) or _is_generator(fn):
            raise GenerationError(
                f"{CLIENT}.{name} is async or a generator; leave iteration to the transport"
            )
        plan.methods[name] = Signature(name in CONTEXT_DUNDERS, [p.arg for p in _params(fn)])
    # A method is a coroutine once it awaits something; that may make its callers coroutines
    # too (search awaits search_detailed), and a parameter it passes on may take async iterables
    # (upsert passes items to upsert_stream): iterate until nothing changes.
    changed = True
    while changed:
        changed = False
        for name, fn in methods.items():
            signature = plan.methods[name]
            params = {p.arg for p in _params(fn)}
            for node in _own_nodes(fn):
                if not isinstance(node, ast.Call):
                    continue
                if not signature.coroutine and plan.awaits(node):
                    signature.coroutine = changed = True
                for param, annotation in _forwarded_annotations(plan, node, params):
                    if param not in signature.async_annotations:
                        signature.async_annotations[param] = annotation
                        changed = True
    for name, fn in methods.items():
        _reject_awaits_in_nested_functions(plan, name, fn)
    plan.streaming = [
        name for name, fn in methods.items() if not name.startswith("_") and _returns_iterator(fn)
    ]
    for name in plan.streaming:
        if plan.methods[name].coroutine:
            raise GenerationError(
                f"{CLIENT}.{name} returns an iterator but awaits something first; a stream must "
                "only return the transport's iterator, so that the async one stays a plain method"
            )
    return plan


def _returns_iterator(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    returns = fn.returns
    return (
        isinstance(returns, ast.Subscript)
        and isinstance(returns.value, ast.Name)
        and returns.value.id == "Iterator"
    )


def _is_generator(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in _own_nodes(fn))


def _forwarded_annotations(
    plan: ClientPlan, call: ast.Call, params: set[str]
) -> Iterator[tuple[str, ast.expr]]:
    """(parameter, async annotation) for each parameter passed unchanged to a callee parameter
    that is annotated differently in the async flavour."""
    callee = plan.callee(call)
    if callee is None or not callee.async_annotations:
        return
    bound = [(callee.params[i], arg) for i, arg in enumerate(call.args) if i < len(callee.params)]
    bound += [(kw.arg, kw.value) for kw in call.keywords if kw.arg is not None]
    for callee_param, value in bound:
        if isinstance(value, ast.Name) and value.id in params:
            annotation = callee.async_annotations.get(callee_param)
            if annotation is not None:
                yield value.id, annotation


def _reject_awaits_in_nested_functions(plan: ClientPlan, name: str, fn: ast.AST) -> None:
    for node in ast.walk(fn):
        if node is not fn and isinstance(node, (ast.FunctionDef, ast.Lambda)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call) and plan.awaits(inner):
                    raise GenerationError(
                        f"{CLIENT}.{name} calls a coroutine inside a nested function or lambda"
                    )


# --- the transform ---------------------------------------------------------------------------


class ToAsync(ast.NodeTransformer):
    """Rewrites the sync module's tree into the async one, following a ClientPlan."""

    def __init__(self, plan: ClientPlan) -> None:
        self.plan = plan
        self.in_client = False

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = RENAMES.get(node.id, node.id)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.ImportFrom:
        for alias in node.names:
            alias.name = RENAMES.get(alias.name, alias.name)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        if node.name != CLIENT:
            self.generic_visit(node)  # renames only: awaits belong to the client's methods
            return node
        self.in_client = True
        self.generic_visit(node)
        self.in_client = False
        node.name = RENAMES[CLIENT]
        node.body = [
            self._method(stmt) if isinstance(stmt, ast.FunctionDef) else stmt for stmt in node.body
        ]
        _rewrite_class_docstring(node, self.plan.streaming)
        return node

    def _method(self, node: ast.FunctionDef) -> ast.FunctionDef | ast.AsyncFunctionDef:
        signature = self.plan.methods[node.name]
        for param in _params(node):
            if param.arg in signature.async_annotations:
                param.annotation = copy.deepcopy(signature.async_annotations[param.arg])
        name = CONTEXT_DUNDERS.get(node.name, node.name)
        if not signature.coroutine:
            node.name = name
            return node
        # The same fields (and, from Python 3.12, type parameters) under the async node type.
        fields = {f: getattr(node, f) for f in node._fields}
        return ast.copy_location(ast.AsyncFunctionDef(**{**fields, "name": name}), node)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if self.in_client and self.plan.awaits(node):
            return ast.Await(value=node)
        return node


def _rewrite_class_docstring(cls: ast.ClassDef, streaming: list[str]) -> None:
    """The sync docstring with an async summary line and a paragraph on how to use it."""
    first = cls.body[0] if cls.body else None
    if not (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        raise GenerationError(f"{CLIENT} has no docstring")
    _, _, rest = first.value.value.partition("\n")
    indent = " " * (cls.col_offset + 4)
    usage = textwrap.fill(
        CLASS_USAGE.format(streaming=", ".join(streaming)),
        width=96,
        initial_indent=indent,
        subsequent_indent=indent,
    )
    first.value.value = f"{CLASS_SUMMARY}\n{rest.rstrip()}\n\n{usage}\n{indent}"


def _complete_abc_imports(tree: ast.Module) -> None:
    """Imports from collections.abc exactly the names the generated code uses and imports from
    nowhere else (the async annotations bring AsyncIterable, the renames drop Iterator)."""
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    abc_import = next(
        (
            node
            for node in imports
            if isinstance(node, ast.ImportFrom) and node.module == "collections.abc"
        ),
        None,
    )
    if abc_import is None:
        raise GenerationError(f"{SYNC_PATH.name} has no `from collections.abc import ...`")
    bound_elsewhere = {
        alias.asname or alias.name
        for node in imports
        if node is not abc_import
        for alias in node.names
    }
    wanted = sorted(name for name in used - bound_elsewhere if hasattr(collections.abc, name))
    abc_import.names = [ast.alias(name=name) for name in wanted]


def transform(sync_source: str, transport_source: str) -> ast.Module:
    tree = ast.parse(sync_source, filename=str(SYNC_PATH))
    transport = read_transport(ast.parse(transport_source, filename=str(TRANSPORT_PATH)))
    plan = plan_client(_class(tree, CLIENT, SYNC_PATH), transport)
    ToAsync(plan).visit(tree)  # in place: the module node itself is never replaced
    streaming = ", ".join(plan.streaming)
    paragraphs = [textwrap.fill(p.format(streaming=streaming), width=96) for p in MODULE_PARAGRAPHS]
    docstring = "\n\n".join([MODULE_SUMMARY, *paragraphs]) + "\n"
    first = tree.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        first.value.value = docstring
    else:
        tree.body.insert(0, ast.Expr(ast.Constant(docstring)))
    _complete_abc_imports(tree)
    return ast.fix_missing_locations(tree)


# --- formatting and the check ----------------------------------------------------------------


def ruff_version() -> str:
    return importlib.metadata.version("ruff")


def _ruff(*args: str, source: str) -> str:
    # --stdin-filename: ruff applies pyproject.toml's settings as for the committed file.
    as_file = str(CLIENT_DIR / GENERATED_NAME)
    cmd = [sys.executable, "-m", "ruff", *args, "--stdin-filename", as_file, "-"]
    result = subprocess.run(
        cmd, input=source, capture_output=True, text=True, check=False, cwd=REPO_ROOT
    )
    if result.returncode != 0:
        raise GenerationError(f"`ruff {' '.join(args)}` failed:\n{result.stderr}")
    return result.stdout


def generate_source() -> str:
    """The text async_client.py must have: transformed, unparsed, imports sorted, formatted."""
    tree = transform(SYNC_PATH.read_text(), TRANSPORT_PATH.read_text())
    code = ast.unparse(tree) + "\n"
    code = _ruff("check", "--select", "I", "--fix-only", "--quiet", source=code)
    return _ruff("format", "--quiet", source=code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the committed async_client.py differs from a fresh generation",
    )
    args = parser.parse_args(argv)
    shown = (
        ASYNC_PATH.relative_to(REPO_ROOT).as_posix()
        if ASYNC_PATH.is_relative_to(REPO_ROOT)
        else str(ASYNC_PATH)
    )
    try:
        fresh = generate_source()
    except GenerationError as e:
        print(f"cannot generate {shown}: {e}", file=sys.stderr)
        return 2
    committed = ASYNC_PATH.read_text() if ASYNC_PATH.is_file() else ""

    if args.check:
        if fresh == committed:
            print(f"{shown} is up to date with sync_client.py")
            return 0
        print(
            f"{shown} is stale: it differs from a fresh generation from sync_client.py and "
            f"_transport.py. Run `{COMMAND}` (or `make generate`) and commit the result; "
            f"never edit it by hand. (This check formatted with ruff {ruff_version()}; the "
            "committed file was made with the version the test extra in pyproject.toml pins.)",
            file=sys.stderr,
        )
        diff = difflib.unified_diff(
            committed.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            f"{shown} (committed)",
            f"{shown} (generated)",
        )
        sys.stderr.writelines(list(diff)[:80])
        return 1

    if fresh == committed:
        print(f"{shown} was already up to date")
    else:
        ASYNC_PATH.write_text(fresh)
        print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
