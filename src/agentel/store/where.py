"""A safe filter language for runs: parsed, never evaluated, compiled to bound SQL, a MongoDB
filter, or a Python predicate.

    cost_usd > 0.01 and model == 'gpt-4o' and status == 'error'
    (agent_name == "planner" or agent_name == "coder") and not errors == 0
    status in ('error', 'abandoned') and duration_ms >= 1500

Field names come from a fixed whitelist (:data:`FIELDS`) and values are typed literals, so
user text can never become SQL, a MongoDB operator (``$where``, ``$function``...) or Python
code. ``model`` (or ``models``) compares as the ``--model`` filter does: true when one of the
run's counted calls asked for or was answered by that model, or by a dated snapshot of it
(``model == 'gpt-4o-mini'`` matches ``gpt-4o-mini-2024-07-18``, never ``gpt-4o``), ignoring
case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentel.store.records import model_key, model_keys

MAX_LENGTH = 2_000
MAX_TERMS = 64
MAX_DEPTH = 16

NUMBER = "number"
TEXT = "text"
TEXT_LIST = "text list"  # a run's models: true when the value names one (``model_keys``)

FIELDS: dict[str, str] = {
    "run_id": TEXT,
    "trace_id": TEXT,
    "name": TEXT,
    "agent_name": TEXT,
    "status": TEXT,
    "conversation_id": TEXT,
    "user_id": TEXT,
    "service_name": TEXT,
    "model": TEXT_LIST,
    "models": TEXT_LIST,
    "llm_calls": NUMBER,
    "tool_calls": NUMBER,
    "errors": NUMBER,
    "iterations": NUMBER,
    "input_tokens": NUMBER,
    "output_tokens": NUMBER,
    "cache_read_tokens": NUMBER,
    "cache_write_tokens": NUMBER,
    "reasoning_tokens": NUMBER,
    "cost_usd": NUMBER,
    "unpriced_calls": NUMBER,
    "duration_ms": NUMBER,
    "ttft_ms": NUMBER,
}
"""Run fields a filter may name, with their types (``models`` is another name for ``model``)."""

FIELD_NAMES = ", ".join(FIELDS)
"""The field names, in order, for help texts and error messages."""

OPERATORS = ("==", "!=", ">=", "<=", ">", "<")


class WhereError(ValueError):
    """The expression is not valid; the message says what and where."""


@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # one of OPERATORS, or "in"
    value: Any  # str | float | None, or a tuple of them for "in"


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


Node = Compare | And | Or | Not

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<op>==|!=|>=|<=|>|<)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            start = len(text) - len(text[pos:].lstrip())
            raise WhereError(f"unexpected character {text[start]!r} at position {start}")
        kind = match.lastgroup or ""
        raw = match.group(kind)
        start = match.start(kind)
        if kind == "number":
            value: Any = float(raw)
            if not math.isfinite(value):
                raise WhereError(f"number {raw!r} at position {start} is out of range")
        elif kind == "string":
            value = re.sub(r"\\(.)", r"\1", raw[1:-1])
        else:
            value = raw
        out.append((kind, value, start))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.terms = 0

    def peek(self) -> tuple[str, Any, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, Any, int]:
        token = self.peek()
        if token is None:
            raise WhereError("the expression ends too early")
        self.i += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self.i += 1
            return True
        return False

    def expect(self, punct: str) -> None:
        kind, value, pos = self.take()
        if kind != "punct" or value != punct:
            raise WhereError(f"expected {punct!r} at position {pos}, found {value!r}")

    def parse(self) -> Node:
        node = self.or_expr(0)
        token = self.peek()
        if token is not None:
            raise WhereError(f"unexpected {token[1]!r} at position {token[2]}")
        return node

    def or_expr(self, depth: int) -> Node:
        node = self.and_expr(depth)
        while self.keyword("or"):
            node = Or(node, self.and_expr(depth))
        return node

    def and_expr(self, depth: int) -> Node:
        node = self.not_expr(depth)
        while self.keyword("and"):
            node = And(node, self.not_expr(depth))
        return node

    def not_expr(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise WhereError(f"the expression nests deeper than {MAX_DEPTH} levels")
        if self.keyword("not"):
            return Not(self.not_expr(depth + 1))
        token = self.peek()
        if token and token[0] == "punct" and token[1] == "(":
            self.take()
            node = self.or_expr(depth + 1)
            self.expect(")")
            return node
        return self.comparison()

    def literal(self, field: str) -> Any:
        kind, value, pos = self.take()
        if kind == "word" and value.lower() == "null":
            return None
        expected = FIELDS[field]
        if expected == NUMBER and kind != "number":
            raise WhereError(f"{field} is a number; got {value!r} at position {pos}")
        if expected != NUMBER and kind != "string":
            raise WhereError(f"{field} is text; quote the value {value!r} at position {pos}")
        return value

    def comparison(self) -> Compare:
        kind, field, pos = self.take()
        if kind != "word" or field not in FIELDS:
            shown = self.text[pos:].split()[0] if kind != "word" else field
            raise WhereError(f"unknown field {shown!r} at position {pos}; fields: {FIELD_NAMES}")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise WhereError(f"more than {MAX_TERMS} comparisons")
        if self.keyword("in"):
            self.expect("(")
            values = [self.literal(field)]
            while (token := self.peek()) is not None and token[1] == ",":
                self.take()
                values.append(self.literal(field))
            self.expect(")")
            return Compare(field, "in", tuple(values))
        kind, op, pos = self.take()
        if kind != "op":
            raise WhereError(f"expected a comparison after {field} at position {pos}, found {op!r}")
        value = self.literal(field)
        if value is None and op not in ("==", "!="):
            raise WhereError(f"null only compares with == or != (position {pos})")
        if FIELDS[field] != NUMBER and op not in ("==", "!="):
            raise WhereError(f"{field} is text: use == , != or in, not {op}")
        return Compare(field, op, value)


def parse(text: str) -> Node:
    """Parse a filter expression; raises :class:`WhereError` naming the problem and position."""
    if not isinstance(text, str):
        raise WhereError(f"a filter must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise WhereError(f"the filter is {len(text)} characters long; the limit is {MAX_LENGTH}")
    if not text.strip():
        raise WhereError("the filter is empty")
    return _Parser(text).parse()


# --- compilers ---------------------------------------------------------------------------------
def to_sql(node: Node, columns: dict[str, str]) -> tuple[str, list[Any]]:
    """A WHERE clause with ``?`` placeholders. ``columns`` maps each field to trusted SQL.

    Every comparison yields 0 or 1, never NULL, so ``not`` behaves as in Python and MongoDB.
    A ``text list`` field compiles to an EXISTS over ``json_each`` of its column, which holds
    the run's ``model_keys``.
    """
    params: list[Any] = []

    def one(field: str, op: str, value: Any) -> str:
        column = columns[field]
        if FIELDS[field] == TEXT_LIST:
            if value is None:
                clause = f"coalesce(json_array_length({column}), 0) = 0"
                return clause if op == "==" else f"NOT ({clause})"
            params.append(model_key(value))
            exists = f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = ?)"
            return exists if op == "==" else f"NOT {exists}"
        params.append(value)
        if op in ("==", "!="):  # IS / IS NOT: null-safe, never NULL, like Python and MongoDB
            return f"{column} IS {'NOT ' if op == '!=' else ''}?"
        return f"({column} IS NOT NULL AND {column} {op} ?)"

    def walk(n: Node) -> str:
        if isinstance(n, And):
            return f"({walk(n.left)} AND {walk(n.right)})"
        if isinstance(n, Or):
            return f"({walk(n.left)} OR {walk(n.right)})"
        if isinstance(n, Not):
            return f"(NOT {walk(n.operand)})"
        if n.op == "in":
            return "(" + " OR ".join(one(n.field, "==", v) for v in n.value) + ")"
        return one(n.field, n.op, n.value)

    return walk(node), params


_MONGO_OPS = {"==": "$eq", "!=": "$ne", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}


def to_mongo(node: Node, fields: dict[str, str]) -> dict[str, Any]:
    """A MongoDB query document. ``fields`` maps each filter field to a document path.

    Every operator comes from this module, never from user text; values are plain literals.
    ``duration_ms`` must map to a stored field (the backend stores it on the run document).
    """

    def one(field: str, op: str, value: Any) -> dict[str, Any]:
        path = fields[field]
        if FIELDS[field] == TEXT_LIST:
            if value is None:
                empty = {"$in": [None, []]}
                return {path: empty} if op == "==" else {path: {"$nin": [None, []]}}
            value = model_key(value)
        return {path: {_MONGO_OPS[op]: value}}

    def walk(n: Node) -> dict[str, Any]:
        if isinstance(n, And):
            return {"$and": [walk(n.left), walk(n.right)]}
        if isinstance(n, Or):
            return {"$or": [walk(n.left), walk(n.right)]}
        if isinstance(n, Not):
            return {"$nor": [walk(n.operand)]}
        if n.op == "in":
            return {"$or": [one(n.field, "==", v) for v in n.value]}
        return one(n.field, n.op, n.value)

    return walk(node)


def to_predicate(node: Node) -> Callable[[dict[str, Any]], bool]:
    """A Python predicate over run dicts (the memory backend and tests). A ``text list``
    field reads the dict's ``model_keys``, or makes them from its ``models`` when absent."""
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a is not None and a > b,
        ">=": lambda a, b: a is not None and a >= b,
        "<": lambda a, b: a is not None and a < b,
        "<=": lambda a, b: a is not None and a <= b,
    }

    def one(run: dict[str, Any], field: str, op: str, value: Any) -> bool:
        if FIELDS[field] == TEXT_LIST:
            keys = run.get("model_keys")
            if keys is None:
                keys = model_keys(run.get("models") or [])
            hit = (not keys) if value is None else model_key(value) in keys
            return hit if op == "==" else not hit
        return compare[op](run.get(field), value)

    def walk(n: Node, run: dict[str, Any]) -> bool:
        if isinstance(n, And):
            return walk(n.left, run) and walk(n.right, run)
        if isinstance(n, Or):
            return walk(n.left, run) or walk(n.right, run)
        if isinstance(n, Not):
            return not walk(n.operand, run)
        if n.op == "in":
            return any(one(run, n.field, "==", v) for v in n.value)
        return one(run, n.field, n.op, n.value)

    return lambda run: walk(node, run)
