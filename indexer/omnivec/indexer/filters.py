"""A small, safe filter language translated to LanceDB (DataFusion SQL) predicates.

Users write ``priority = 'high' AND year >= 2020`` or ``modality IN ('image', 'audio')``. Built-in
columns are used as they are; any other name is a key of the item's metadata, read from the JSON
column with the typed accessor that matches the literal it is compared with. Only this grammar
passes through, so a filter can never smuggle arbitrary SQL into the store.

    expr    := or
    or      := and ("OR" and)*
    and     := not ("AND" not)*
    not     := "NOT" not | atom
    atom    := "(" expr ")" | compare
    compare := NAME op literal | NAME ["NOT"] IN "(" literal ("," literal)* ")"
             | NAME IS ["NOT"] NULL | NAME ["NOT"] LIKE string
    op      := = | != | <> | < | <= | > | >=
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from omnivec.indexer.errors import InvalidInputError

__all__ = ["BUILTIN_COLUMNS", "translate_filter"]

BUILTIN_COLUMNS = {
    "item_id": "str",
    "modality": "str",
    "source_uri": "str",
    "text": "str",
    "chunk": "num",
    "start_s": "num",
    "end_s": "num",
}
LABEL_COLUMN_PREFIX = "label_"
MAX_FILTER_CHARS = 4096
# Nesting (NOT and parentheses). The SQL parser inside LanceDB gives up at a recursion limit the
# translated predicate can reach well before 32 levels (about 9 levels of "(a OR b AND ...)"),
# which surfaced as a LanceDB parse error; 8 keeps every accepted filter parseable.
MAX_DEPTH = 8

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<str>'(?:[^']|'')*')
      | (?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)
      | (?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "TRUE", "FALSE"}

Literal = str | float | bool


@dataclass(frozen=True)
class _Tok:
    kind: str
    value: str


def _tokenise(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise InvalidInputError(
                f"filter: unexpected character {text[pos:].strip()[:1]!r} at position {pos}"
            )
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "name" and value.upper() in _KEYWORDS:
            kind, value = "kw", value.upper()
        tokens.append(_Tok(kind, value))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Tok], extra_columns: frozenset[str]) -> None:
        self.tokens = tokens
        self.i = 0
        self.extra_columns = extra_columns

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise InvalidInputError("filter: unexpected end; is a value or ')' missing?")
        self.i += 1
        return tok

    def expect(self, kind: str, value: str | None = None) -> _Tok:
        tok = self.take()
        if tok.kind != kind or (value is not None and tok.value != value):
            raise InvalidInputError(f"filter: expected {value or kind}, found {tok.value!r}")
        return tok

    def is_(self, kind: str, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == kind and tok.value == value

    def parse(self) -> str:
        sql = self.or_(0)
        if self.peek() is not None:
            raise InvalidInputError(f"filter: unexpected {self.peek().value!r}")  # type: ignore[union-attr]
        return sql

    def or_(self, depth: int) -> str:
        parts = [self.and_(depth)]
        while self.is_("kw", "OR"):
            self.take()
            parts.append(self.and_(depth))
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_(self, depth: int) -> str:
        parts = [self.not_(depth)]
        while self.is_("kw", "AND"):
            self.take()
            parts.append(self.not_(depth))
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def not_(self, depth: int) -> str:
        if depth > MAX_DEPTH:
            raise InvalidInputError(f"filter: nested deeper than {MAX_DEPTH} levels")
        if self.is_("kw", "NOT"):
            self.take()
            return f"(NOT {self.not_(depth + 1)})"
        if self.is_("op", "("):
            self.take()
            inner = self.or_(depth + 1)
            self.expect("op", ")")
            return f"({inner})"
        return self.compare()

    def literal(self) -> Literal:
        tok = self.take()
        if tok.kind == "num":
            return float(tok.value)
        if tok.kind == "str":
            return tok.value[1:-1].replace("''", "'")
        if tok.kind == "kw" and tok.value in ("TRUE", "FALSE"):
            return tok.value == "TRUE"
        raise InvalidInputError(f"filter: expected a value (number, 'text', true/false), found {tok.value!r}")

    def compare(self) -> str:
        name_tok = self.take()
        if name_tok.kind != "name":
            raise InvalidInputError(f"filter: expected a field name, found {name_tok.value!r}")
        name = name_tok.value
        if self.is_("kw", "IS"):
            self.take()
            negate = self.is_("kw", "NOT")
            if negate:
                self.take()
            self.expect("kw", "NULL")
            column = self.column(name, None)
            if not self.is_column(name):
                # A missing key and a JSON null are both "null" to the user.
                if negate:
                    return f"({column} IS NOT NULL AND {column} != 'null')"
                return f"({column} IS NULL OR {column} = 'null')"
            return f"({column} IS {'NOT ' if negate else ''}NULL)"
        negate = False
        if self.is_("kw", "NOT"):
            self.take()
            negate = True
            if not (self.is_("kw", "IN") or self.is_("kw", "LIKE")):
                raise InvalidInputError("filter: NOT after a name must be followed by IN or LIKE")
        if self.is_("kw", "IN"):
            self.take()
            self.expect("op", "(")
            values = [self.literal()]
            while self.is_("op", ","):
                self.take()
                values.append(self.literal())
            self.expect("op", ")")
            column = self.column(name, values[0])
            if any(type(v) is not type(values[0]) for v in values):
                raise InvalidInputError(f"filter: values for {name!r} IN (...) must share one type")
            if self.is_metadata_bool(name, values[0]):
                # Compared as JSON text (see column()): NOT IN stays among the booleans.
                chosen = {bool(v) for v in values}
                if negate:
                    chosen = {True, False} - chosen
                    negate = False
                if not chosen:
                    return "(false)"
                rendered = ", ".join(_json_bool(v) for v in sorted(chosen))
                return f"({column} IN ({rendered}))"
            rendered = ", ".join(_render(v) for v in values)
            return f"({column} {'NOT ' if negate else ''}IN ({rendered}))"
        if self.is_("kw", "LIKE"):
            self.take()
            pattern = self.literal()
            if not isinstance(pattern, str):
                raise InvalidInputError("filter: LIKE needs a 'text pattern'")
            return f"({self.column(name, pattern)} {'NOT ' if negate else ''}LIKE {_render(pattern)})"
        op = self.take()
        if op.kind != "op" or op.value in ("(", ")", ","):
            raise InvalidInputError(f"filter: expected an operator after {name!r}, found {op.value!r}")
        value = self.literal()
        sql_op = "!=" if op.value == "<>" else op.value
        if self.is_metadata_bool(name, value):
            if sql_op not in ("=", "!="):
                raise InvalidInputError(f"filter: true/false compare with = or !=, not {op.value!r}")
            # != true means = false: only boolean values take part, as in the other types.
            wanted = bool(value) if sql_op == "=" else not value
            return f"({self.column(name, value)} = {_json_bool(wanted)})"
        return f"({self.column(name, value)} {sql_op} {_render(value)})"

    def is_column(self, name: str) -> bool:
        """A table column (built-in or label_*), as opposed to a metadata key."""
        return name in BUILTIN_COLUMNS or name in self.extra_columns

    def is_metadata_bool(self, name: str, sample: Literal | None) -> bool:
        return isinstance(sample, bool) and not self.is_column(name)

    def column(self, name: str, sample: Literal | None) -> str:
        if self.is_column(name):
            kind = BUILTIN_COLUMNS.get(name)
            if kind == "num" and isinstance(sample, (str, bool)):
                raise InvalidInputError(f"filter: {name!r} is numeric; compare it with a number")
            if kind == "str" and isinstance(sample, (float, bool)):
                raise InvalidInputError(f"filter: {name!r} is text; compare it with a 'quoted' value")
            if name == "chunk" and isinstance(sample, float):
                # An int32 column: LanceDB refuses to compare it with a non-integral literal.
                return "CAST(chunk AS DOUBLE)"
            return name
        key = name.removeprefix("metadata.")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", key):
            raise InvalidInputError(f"filter: {name!r} is not a valid metadata key")
        # One key may hold different JSON types across items ({"year": 2020} and {"year": "n/a"}).
        # LanceDB's json_get_float / json_get_bool raise on a value of another type, failing the
        # whole query, so typed comparisons go through the value's JSON text instead: numbers
        # via TRY_CAST (other types become NULL and do not match, like a range filter in
        # Qdrant), booleans as the JSON literals true/false. Text comparisons use the value as
        # text (a number compares as its digits).
        extracted = f"json_extract(metadata, '$[\"{key}\"]')"
        if isinstance(sample, bool):
            return extracted
        if isinstance(sample, float):
            return f"TRY_CAST({extracted} AS DOUBLE)"
        if isinstance(sample, str):
            return f"json_get_string(metadata, '{key}')"
        return extracted


def _json_bool(value: bool) -> str:
    return "'true'" if value else "'false'"


def _render(value: Literal) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError("filter: a number is out of range")
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))  # 3, not 3.0: LanceDB compares it with integer columns too
        return repr(value)
    return "'" + value.replace("'", "''") + "'"


def translate_filter(text: str, *, extra_columns: frozenset[str] = frozenset()) -> str:
    """Translate a user filter into a LanceDB predicate, or raise InvalidInputError explaining why."""
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidInputError(f"filter is longer than {MAX_FILTER_CHARS} characters")
    tokens = _tokenise(text)
    if not tokens:
        raise InvalidInputError("filter is empty")
    return _Parser(tokens, extra_columns).parse()
