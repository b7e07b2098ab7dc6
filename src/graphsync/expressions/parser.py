"""Recursive-descent parser for attribute-mapping expressions.

Grammar (reference §5.1)::

    expression  := call | attribute | string | number | bare-word
    call        := NAME "(" [ arg { "," arg } ] ")"        NAME is case-sensitive
    arg         := expression | comparison | <empty>       comparisons only in IIF(condition…) / CBool(…)
    comparison  := expression ( "=" | "<>" | ">" | ">=" | "<" | "<=" ) expression
    attribute   := "[" any characters except "]" "]"
    string      := '"' { char | '\\"' | '\\\\' } '"'
    number      := [ "-" ] digits [ "." digits ] | "&H" hexdigits
    bare-word   := vbTextCompare | vbBinaryCompare

Whitespace (including newlines) may surround any token. Every failure is an
``ExpressionError`` with the 0-based offset where parsing stopped.
"""
from __future__ import annotations

from difflib import get_close_matches

from .errors import ExpressionError
from .functions import FUNCTIONS, ArityError
from .nodes import BARE_WORDS, Attribute, BareWord, Comparison, Constant, Function, Node

MAX_LENGTH = 10_000
MAX_DEPTH = 100

_WHITESPACE = " \t\r\n\f\v\u00a0\ufeff"
_NAME_START = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | set("0123456789")
_HEX_DIGITS = set("0123456789abcdefABCDEF")
_EXPECTED_OPERAND = 'an expression (a function call, an [attribute], a "string" or a number)'


def parse(text: str) -> Node:
    """Parse an expression into its tree; raises ``ExpressionError`` on any problem."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, not {type(text).__name__}", 0)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters ({len(text)})", MAX_LENGTH)
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    # ---------------------------------------------------------------- helpers
    def fail(self, message: str, position: int | None = None) -> ExpressionError:
        return ExpressionError(message, self.pos if position is None else position)

    def skip_whitespace(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        self.pos = pos

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def describe_here(self) -> str:
        if self.pos >= len(self.text):
            return "the end of the expression"
        return repr(self.text[self.pos])

    # ---------------------------------------------------------------- grammar
    def parse(self) -> Node:
        self.skip_whitespace()
        if self.pos >= len(self.text):
            raise self.fail(f"the expression is empty; expected {_EXPECTED_OPERAND}")
        node = self.operand()
        self.skip_whitespace()
        if self.pos < len(self.text):
            if self.comparison_operator_here():
                raise self.fail("comparison operators are only allowed in the condition of IIF or inside CBool")
            raise self.fail(f"expected the end of the expression after {_describe(node)}, found {self.describe_here()}")
        if isinstance(node, BareWord):
            raise self.fail(f"{node.name} can only be used as an argument (of InStr)", 0)
        return node

    def operand(self) -> Node:
        """One of: function call, attribute, string, number, bare word."""
        self.skip_whitespace()
        ch = self.peek()
        if ch == "[":
            return self.attribute()
        if ch == '"':
            return self.string()
        if ch.isdigit() or ch == "-" or ch == "&":
            return self.number()
        if ch in _NAME_START:
            return self.name_or_call()
        if ch == "":
            raise self.fail(f"unexpected end of the expression; expected {_EXPECTED_OPERAND}")
        raise self.fail(f"expected {_EXPECTED_OPERAND}, found {self.describe_here()}")

    def attribute(self) -> Attribute:
        """``[name]``; the name may itself contain balanced brackets and quoted strings, as SCIM
        paths used as source attributes do: ``[addresses[type eq "work"].country]``."""
        start = self.pos
        end = attribute_end(self.text, start)
        if end < 0:
            raise self.fail("unterminated attribute name: expected ']'", start)
        name = self.text[start + 1:end]
        if not name.strip():
            raise self.fail("expected an attribute name between '[' and ']'", start)
        self.pos = end + 1
        return Attribute(name)

    def string(self) -> Constant:
        start = self.pos
        text = self.text
        pos = start + 1
        chunks: list[str] = []
        while True:
            quote = text.find('"', pos)
            backslash = text.find("\\", pos)
            if quote < 0:
                raise self.fail('unterminated string literal: expected a closing \'"\'', start)
            if 0 <= backslash < quote:
                chunks.append(text[pos:backslash])
                escaped = text[backslash + 1:backslash + 2]
                if escaped in ('"', "\\"):
                    chunks.append(escaped)
                else:  # any other backslash is kept as it is (regex patterns rely on it)
                    chunks.append("\\" + escaped)
                pos = backslash + 2
                continue
            chunks.append(text[pos:quote])
            self.pos = quote + 1
            return Constant("".join(chunks))

    def number(self) -> Constant:
        start = self.pos
        text = self.text
        if text.startswith("&", start):
            if text[start + 1:start + 2] not in ("H", "h"):
                raise self.fail("expected a hexadecimal number such as &HFF after '&'", start)
            pos = start + 2
            while pos < len(text) and text[pos] in _HEX_DIGITS:
                pos += 1
            if pos == start + 2:
                raise self.fail("expected hexadecimal digits after '&H'", pos)
            self.pos = pos
            self.reject_glued_name()
            return Constant(str(int(text[start + 2:pos], 16)), literal=text[start:pos])
        pos = start + 1 if text[start] == "-" else start
        digits_start = pos
        while pos < len(text) and text[pos].isdigit():
            pos += 1
        if pos == digits_start:
            raise self.fail("expected digits after '-'", pos)
        if text.startswith(".", pos) and pos + 1 < len(text) and text[pos + 1].isdigit():
            pos += 1
            while pos < len(text) and text[pos].isdigit():
                pos += 1
        if not text[start:pos].isascii():
            raise self.fail("numbers must use the digits 0-9", start)
        self.pos = pos
        self.reject_glued_name()
        literal = text[start:pos]
        return Constant(literal, literal=literal)

    def reject_glued_name(self) -> None:
        if self.peek() in _NAME_CHARS or self.peek() == ".":
            raise self.fail(f"unexpected {self.describe_here()} after a number")

    def name_or_call(self) -> Node:
        start = self.pos
        text = self.text
        pos = start
        while pos < len(text) and text[pos] in _NAME_CHARS:
            pos += 1
        name = text[start:pos]
        self.pos = pos
        self.skip_whitespace()
        if self.peek() != "(":
            if name in BARE_WORDS:
                self.pos = pos
                return BareWord(name)
            if name in FUNCTIONS:
                raise self.fail(f"expected '(' after the function name {name}")
            raise self.fail(
                f"unknown name {name!r}: expected a function call such as {name}(…), an [attribute] "
                f"or a \"string\"", start)
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise self.fail(f"unknown function {name!r}{_suggestion(name)}", start)
        if spec.top_level_only and self.depth > 0:
            raise self.fail(f"{name} must be the outermost function of the expression", start)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"functions are nested more than {MAX_DEPTH} levels deep", start)
        args = self.arguments(name)
        self.depth -= 1
        try:
            params = spec.bind(len(args))
        except ArityError as exc:
            raise self.fail(str(exc), start) from None
        for index, (arg, param) in enumerate(zip(args, params)):
            if arg is None and param.required:
                raise self.fail(f"{name}: argument {index + 1} ({param.name}) is required and cannot be empty",
                                start)
        return Function(name, tuple(args))

    def arguments(self, name: str) -> list[Node | None]:
        """Parse ``( arg, … )`` with the cursor on '('; empty arguments become None."""
        self.pos += 1
        self.skip_whitespace()
        if self.peek() == ")":
            self.pos += 1
            return []
        args: list[Node | None] = []
        while True:
            self.skip_whitespace()
            if self.peek() in (",", ")"):
                args.append(None)
            else:
                args.append(self.argument(name, len(args)))
                self.skip_whitespace()
            ch = self.peek()
            if ch == ",":
                self.pos += 1
                continue
            if ch == ")":
                self.pos += 1
                return args
            if self.comparison_operator_here():
                raise self.fail("comparison operators are only allowed in the condition of IIF or inside CBool")
            raise self.fail(f"expected ',' or ')' after argument {len(args)} of {name}, found {self.describe_here()}")

    def argument(self, function: str, index: int) -> Node:
        left = self.operand()
        if not ((function == "IIF" and index == 0) or function == "CBool"):
            return left
        self.skip_whitespace()
        operator = self.comparison_operator_here()
        if operator is None:
            return left
        self.pos += len(operator)
        right = self.operand()
        return Comparison(operator, left, right)

    def comparison_operator_here(self) -> str | None:
        two = self.text[self.pos:self.pos + 2]
        if two in ("<>", ">=", "<="):
            return two
        one = two[:1]
        return one if one in ("=", "<", ">") else None


def attribute_end(text: str, start: int) -> int:
    """The index of the ']' closing the '[' at ``start`` (-1 if there is none)."""
    depth = 0
    quoted = False
    for index in range(start, len(text)):
        ch = text[index]
        if quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _describe(node: Node) -> str:
    if isinstance(node, Function):
        return f"the call to {node.name}"
    if isinstance(node, Attribute):
        return f"[{node.name}]"
    return "the constant"


def _suggestion(name: str) -> str:
    by_lower = {n.lower(): n for n in FUNCTIONS}
    if name.lower() in by_lower:
        return f" (function names are case-sensitive: did you mean {by_lower[name.lower()]}?)"
    close = get_close_matches(name, list(FUNCTIONS), n=1)
    return f" (did you mean {close[0]}?)" if close else ""
