"""SOQL subset: tokenizer and recursive-descent parser producing a small syntax tree.

Supported: ``SELECT`` field list (fields, one-level parent paths like ``Account.Name``,
``COUNT()``), ``FROM`` one object, ``WHERE`` with ``AND``/``OR``/``NOT`` and
parentheses, ``= != <> < <= > >=``, ``[NOT] IN (...)``, ``LIKE``, string / number /
boolean / null / date / datetime literals and the date keywords ``TODAY``,
``YESTERDAY``, ``TOMORROW``, ``LAST_N_DAYS:n``, ``NEXT_N_DAYS:n``; ``ORDER BY`` several
fields with ``ASC``/``DESC`` and ``NULLS FIRST/LAST``; ``LIMIT``; ``OFFSET``.

Like Salesforce, mixing ``AND`` and ``OR`` at one level without parentheses is a
syntax error, keywords are case-insensitive, and double-quoted strings are
rejected. Name resolution and type checks live in :mod:`.soql_eval`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import SalesforceError

KEYWORDS = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
        "GROUP",
        "HAVING",
        "WITH",
        "FOR",
        "USING",
        "INCLUDES",
        "EXCLUDES",
        "TRUE",
        "FALSE",
        "NULL",
        "TYPEOF",
    }
)
UNSUPPORTED = frozenset(
    {"GROUP", "HAVING", "WITH", "FOR", "USING", "INCLUDES", "EXCLUDES", "TYPEOF"}
)
DATE_KEYWORDS = frozenset({"TODAY", "YESTERDAY", "TOMORROW"})
DATE_N_KEYWORDS = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS"})

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>[+-]?\d+(?:\.\d+)?(?![\w.]))
  | (?P<ident>[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)
  | (?P<string>')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),:])
""",
    re.VERBOSE,
)
_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "%": "\\%",
    "_": "\\_",
}


@dataclass(frozen=True)
class Token:
    """A lexical token; ``pos`` is the 0-based offset in the query text."""

    kind: str  # ident, string, number, date, datetime, op, punct, eof
    text: str
    pos: int
    value: Any = None

    @property
    def keyword(self) -> str | None:
        """The upper-cased keyword this identifier spells, if any."""
        upper = self.text.upper()
        return upper if self.kind == "ident" and upper in KEYWORDS else None


@dataclass(frozen=True)
class FieldRef:
    """A field path as written (``Email``, ``Account.Name``) and where it was written."""

    path: tuple[str, ...]
    pos: int


@dataclass(frozen=True)
class Literal:
    """A value in a condition: kind is string, number, boolean, null, date, datetime, or
    date_keyword (value is ``(keyword, n)``)."""

    kind: str
    value: Any
    pos: int
    text: str


@dataclass(frozen=True)
class Comparison:
    field: FieldRef
    op: str  # = != < <= > >= IN NOT IN LIKE
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND / OR
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Comparison | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool
    nulls_last: bool


@dataclass
class Query:
    """A parsed query. ``fields`` is None for ``SELECT COUNT()``."""

    text: str
    object_name: str
    object_pos: int
    fields: list[FieldRef] | None
    where: Condition | None = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


def query_error(code: str, text: str, pos: int, detail: str) -> SalesforceError:
    """Format an error the way Salesforce does: the query line, a caret, row and column."""
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start:] if line_end < 0 else text[line_start:line_end]
    row = text.count("\n", 0, pos) + 1
    column = pos - line_start
    message = f"\n{line}\n{' ' * column}^\nERROR at Row:{row}:Column:{column + 1}\n{detail}"
    return SalesforceError(400, code, message)


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; any character SOQL does not allow is MALFORMED_QUERY."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise query_error("MALFORMED_QUERY", text, pos, f"unexpected token: '{text[pos]}'")
        kind = match.lastgroup or ""
        if kind == "string":
            token, pos = _read_string(text, pos)
            tokens.append(token)
            continue
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "<EOF>", len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[Token, int]:
    """Read a single-quoted literal with SOQL backslash escapes; ``\\%``/``\\_`` stay escaped
    so LIKE can tell a literal percent sign from a wildcard."""
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "'":
            return Token("string", text[start : pos + 1], start, "".join(chars)), pos + 1
        if char == "\\":
            nxt = text[pos + 1] if pos + 1 < len(text) else ""
            if nxt not in _ESCAPES:
                raise query_error(
                    "MALFORMED_QUERY",
                    text,
                    pos,
                    f"Invalid string literal '{text[start : pos + 2]}'. Illegal "
                    "character sequence '\\" + nxt + "' in string literal.",
                )
            chars.append(_ESCAPES[nxt])
            pos += 2
            continue
        chars.append(char)
        pos += 1
    raise query_error("MALFORMED_QUERY", text, start, "unexpected token: <EOF>")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def fail(self, token: Token | None = None) -> SalesforceError:
        token = token or self.current
        if token.keyword in UNSUPPORTED:
            return query_error(
                "MALFORMED_QUERY",
                self.text,
                token.pos,
                f"{token.text} is not supported by the Threadline sandbox",
            )
        shown = "<EOF>" if token.kind == "eof" else f"'{token.text}'"
        return query_error("MALFORMED_QUERY", self.text, token.pos, f"unexpected token: {shown}")

    def accept(self, keyword: str) -> bool:
        if self.current.keyword == keyword:
            self.advance()
            return True
        return False

    def expect(self, keyword: str) -> Token:
        if self.current.keyword != keyword:
            raise self.fail()
        return self.advance()

    def expect_punct(self, char: str) -> Token:
        if self.current.kind != "punct" or self.current.text != char:
            raise self.fail()
        return self.advance()

    def is_punct(self, char: str) -> bool:
        return self.current.kind == "punct" and self.current.text == char

    # -- grammar -----------------------------------------------------------------------------
    def parse(self) -> Query:
        self.expect("SELECT")
        fields = self.select_list()
        self.expect("FROM")
        obj = self.current
        if obj.kind != "ident" or obj.keyword or "." in obj.text:
            raise self.fail()
        self.advance()
        query = Query(self.text, obj.text, obj.pos, fields)
        if self.accept("WHERE"):
            query.where = self.condition()
        if self.accept("ORDER"):
            self.expect("BY")
            query.order_by = self.order_list()
        if self.accept("LIMIT"):
            query.limit = self.integer()
        if self.accept("OFFSET"):
            query.offset = self.integer()
        if self.current.kind != "eof":
            raise self.fail()
        return query

    def select_list(self) -> list[FieldRef] | None:
        token = self.current
        if (
            token.kind == "ident"
            and token.text.upper() == "COUNT"
            and self.tokens[self.index + 1].text == "("
        ):
            self.advance()
            self.expect_punct("(")
            self.expect_punct(")")
            return None
        fields = [self.field_ref()]
        while self.is_punct(","):
            self.advance()
            fields.append(self.field_ref())
        return fields

    def field_ref(self) -> FieldRef:
        token = self.current
        if token.kind != "ident" or token.keyword:
            raise self.fail()
        self.advance()
        return FieldRef(tuple(token.text.split(".")), token.pos)

    def order_list(self) -> list[OrderItem]:
        items = []
        while True:
            ref = self.field_ref()
            descending = self.accept("DESC")
            if not descending:
                self.accept("ASC")
            nulls_last = descending
            if self.accept("NULLS"):
                if self.accept("LAST"):
                    nulls_last = True
                else:
                    self.expect("FIRST")
                    nulls_last = False
            items.append(OrderItem(ref, descending, nulls_last))
            if not self.is_punct(","):
                return items
            self.advance()

    def integer(self) -> int:
        token = self.current
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail()
        self.advance()
        return int(token.text)

    def condition(self) -> Condition:
        first = self.unary()
        op = self.current.keyword if self.current.keyword in ("AND", "OR") else None
        if op is None:
            return first
        items = [first]
        while self.current.keyword in ("AND", "OR"):
            if self.current.keyword != op:
                raise self.fail()  # SOQL needs parentheses to mix AND and OR
            self.advance()
            items.append(self.unary())
        return BoolOp(op, tuple(items))

    def unary(self) -> Condition:
        if self.accept("NOT"):
            return Not(self.unary())
        if self.is_punct("("):
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        ref = self.field_ref()
        token = self.current
        if token.kind == "op":
            self.advance()
            op = "!=" if token.text == "<>" else token.text
            return Comparison(ref, op, self.literal())
        if self.accept("LIKE"):
            return Comparison(ref, "LIKE", self.literal())
        if self.accept("NOT"):
            self.expect("IN")
            return Comparison(ref, "NOT IN", self.literal_list())
        if self.accept("IN"):
            return Comparison(ref, "IN", self.literal_list())
        raise self.fail()

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        if self.current.keyword == "SELECT":
            raise query_error(
                "MALFORMED_QUERY",
                self.text,
                self.current.pos,
                "semi-join sub-selects are not supported by the Threadline sandbox",
            )
        values = [self.literal()]
        while self.is_punct(","):
            self.advance()
            values.append(self.literal())
        self.expect_punct(")")
        return tuple(values)

    def literal(self) -> Literal:
        token = self.advance()
        kind, value = token.kind, token.value
        if kind in ("date", "datetime"):
            value = token.text
        elif kind == "number":
            value = float(token.text) if "." in token.text else int(token.text)
        elif kind == "ident":
            kind, value = self._word_literal(token)
        elif kind != "string":
            raise self.fail(token)
        return Literal(kind, value, token.pos, token.text)

    def _word_literal(self, token: Token) -> tuple[str, Any]:
        upper = token.text.upper()
        if upper in ("TRUE", "FALSE"):
            return "boolean", upper == "TRUE"
        if upper == "NULL":
            return "null", None
        if upper in DATE_KEYWORDS:
            return "date_keyword", (upper, 0)
        if upper in DATE_N_KEYWORDS:
            self.expect_punct(":")
            return "date_keyword", (upper, self.integer())
        raise self.fail(token)


def parse(text: str) -> Query:
    """Parse ``text`` or raise MALFORMED_QUERY with Salesforce's row/column message."""
    return _Parser(text).parse()
