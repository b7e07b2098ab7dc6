"""Run .NET regular expressions and replacement patterns with the ``regex`` module.

Translated: named groups ``(?<name>…)`` / ``(?'name'…)`` → ``(?P<name>…)``, named
back-references ``\\k<name>`` → ``(?P=name)``, ``\\z`` → ``\\Z`` and ``\\Z`` → ``(?=\\n?\\Z)``;
a ``{`` that does not start a repetition count (``{n}``, ``{n,}``, ``{n,m}``) is a literal.
Everything else is passed through; constructs the ``regex`` module lacks (balancing groups,
character class subtraction) make ``compile_pattern`` raise ``re.error``.

Replacement patterns use .NET substitutions: ``$1``, ``${name}``, ``$$``, ``$&``, ``$```,
``$'``, ``$+`` and ``$_``; a reference to a group that does not exist stays literal, and
backslashes are literal (unlike Python's ``re.sub`` templates).

Why ``regex`` and not ``re``: a pattern comes from a tenant's schema or parseExpression call, and
a backtracking one (``(a|aa)+$`` against ``"aaaa…ab"``) runs for minutes to years. ``re`` cannot be
interrupted and holds the GIL throughout, which froze every tenant's requests; ``regex`` takes a
``timeout`` (``limits.REGEX_TIMEOUT``, raising ``limits.LimitExceeded``) and with
``concurrent=True`` matches with the GIL released. Its syntax is a superset of ``re``'s (version
0 behaves as ``re``), and it adds .NET constructs ``re`` lacks (``\\p{L}``, variable-length
lookbehind). It unrolls counted repetitions when compiling, though (``(a{1000}){1000}`` took
half a second and 274 MB; ``(a{65535}){65535}`` exhausted memory), so ``compile_pattern``
refuses a pattern larger than ``MAX_PATTERN_SIZE`` once unrolled.
"""
from __future__ import annotations

import re
import time
from functools import lru_cache
from typing import Callable

import regex

from . import limits

MAX_PATTERN_SIZE = 10_000
"""Characters a pattern may have once its counted repetitions are unrolled (``a{3}`` counts 3,
``(ab){2,}`` 4, nested ones multiply): the length of the longest expression, so any pattern
without repetition counts fits. Compiling the largest such pattern takes 0.1–0.4 s and a few MB."""

_QUANTIFIER = re.compile(r"\{(\d+)(?:,\d*)?\}")


def translate(pattern: str) -> str:
    """The Python ``re`` spelling of a .NET pattern."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            following = pattern[i + 1:i + 2]
            if not in_class and following == "k" and pattern[i + 2:i + 3] in ("<", "'"):
                close = ">" if pattern[i + 2] == "<" else "'"
                end = pattern.find(close, i + 3)
                if end > 0:
                    out.append(f"(?P={pattern[i + 3:end]})")
                    i = end + 1
                    continue
            if following in ("p", "P") and pattern[i + 2:i + 3] == "{":  # \p{Lu}: kept whole
                end = pattern.find("}", i + 3)
                if end > 0:
                    out.append(pattern[i:end + 1])
                    i = end + 1
                    continue
            if not in_class and following == "z":
                out.append(r"\Z")
            elif not in_class and following == "Z":
                out.append(r"(?=\n?\Z)")
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if pattern[i:i + 1] == "^":
                out.append("^")
                i += 1
            if pattern[i:i + 1] == "]":  # a leading ']' is a literal in both dialects
                out.append("\\]")
                i += 1
            continue
        if pattern.startswith("(?<", i) and pattern[i + 3:i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        if pattern.startswith("(?'", i):
            end = pattern.find("'", i + 3)
            if end > 0:
                out.append(f"(?P<{pattern[i + 3:end]}>")
                i = end + 1
                continue
        if ch == "{":
            quantifier = _QUANTIFIER.match(pattern, i)
            if quantifier is None:  # a literal in .NET; regex would read {,3} or {e<=1} (fuzzy) as operators
                out.append("\\{")
                i += 1
            else:
                out.append(quantifier.group(0))
                i = quantifier.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def unrolled_size(pattern: str) -> int:
    """The length of ``pattern`` with its counted repetitions unrolled (an upper bound: every
    character counts, alternatives add up). Only the minimum count matters: ``regex`` unrolls
    ``x{n}`` and ``x{n,m}`` to ``n`` copies of ``x`` and keeps the rest as a loop."""
    frames = [[0, 0]]  # per open group: [size so far, size of the last atom]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "{":
            quantifier = _QUANTIFIER.match(pattern, i)
            if quantifier is not None:
                frame = frames[-1]
                digits = quantifier.group(1)
                count = int(digits) if len(digits) < 12 else 10 ** 12
                frame[0] += frame[1] * (count - 1)
                frame[1] *= count
                i = quantifier.end()
                continue
            atom = 1
        elif ch == "\\":
            atom, i = 1, i + 1
            if pattern[i + 1:i + 2] == "{" and pattern[i:i + 1] in ("p", "P"):  # \p{L}
                close = pattern.find("}", i)
                i = close if close > 0 else i
        elif ch == "[":
            atom, i = 1, _class_end(pattern, i)
        elif ch == "(":
            frames.append([0, 0])
            i += 1
            continue
        elif ch == ")" and len(frames) > 1:
            atom = frames.pop()[0] + 2
        elif ch in "*+?|":
            atom = 0
        else:
            atom = 1
        frame = frames[-1]
        frame[0] += atom
        frame[1] = atom
        i += 1
    return sum(frame[0] for frame in frames)


def _class_end(pattern: str, start: int) -> int:
    """The index of the ``]`` closing the character class opened at ``start`` (or the last index)."""
    i = start + 1
    if pattern[i:i + 1] == "^":
        i += 1
    if pattern[i:i + 1] == "]":
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i
        i += 1
    return len(pattern) - 1


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> regex.Pattern:
    """Compile a .NET pattern (memoized: a pure function of its argument). Raises ``re.error``
    for a pattern that is invalid or larger than ``MAX_PATTERN_SIZE`` once unrolled."""
    if len(pattern) > MAX_PATTERN_SIZE:
        raise re.error(f"the pattern is too large: {len(pattern):,} characters, more than {MAX_PATTERN_SIZE:,}")
    translated = translate(pattern)
    if "{" in translated:
        size = unrolled_size(translated)
        if size > MAX_PATTERN_SIZE:
            raise re.error(f"the pattern is too large: {size:,} characters once its repetition counts are "
                           f"unrolled, more than {MAX_PATTERN_SIZE:,}")
    try:
        return regex.compile(translated, regex.VERSION0)
    except regex.error as exc:
        raise re.error(exc.msg, pattern, exc.pos) from None
    except (OverflowError, RecursionError, ValueError) as exc:  # a count beyond 2**32, groups nested too deep
        raise re.error(str(exc), pattern) from None


_SUBSTITUTION = re.compile(r"\$(?:\{(\w+)\}|(\d+)|([$&`'+_]))")


@lru_cache(maxsize=512)
def compile_replacement(replacement: str, pattern: regex.Pattern) -> Callable[[regex.Match], str]:
    """A ``sub`` callback producing the .NET expansion of ``replacement`` for a match."""
    parts: list[str | Callable[[regex.Match], str]] = []
    position = 0
    for sub in _SUBSTITUTION.finditer(replacement):
        parts.append(replacement[position:sub.start()])
        position = sub.end()
        name, number, special = sub.groups()
        if special == "$":
            parts.append("$")
        elif special is not None:
            parts.append(_SPECIALS[special])
        else:
            key: str | int = int(number) if number is not None else (int(name) if name.isdigit() else name)
            exists = key in pattern.groupindex if isinstance(key, str) else key <= pattern.groups
            parts.append(_group(key) if exists else sub.group(0))
    parts.append(replacement[position:])
    pieces = tuple(p for p in parts if p != "")
    if all(isinstance(p, str) for p in pieces):
        constant = "".join(pieces)  # type: ignore[arg-type]
        return lambda match: constant
    return lambda match: "".join(p if isinstance(p, str) else p(match) for p in pieces)


def _group(key: str | int) -> Callable[[regex.Match], str]:
    return lambda match: match.group(key) or ""


def _last_group(match: regex.Match) -> str:
    for index in range(match.re.groups, 0, -1):
        if match.group(index) is not None:
            return match.group(index)
    return ""


_SPECIALS: dict[str, Callable[[regex.Match], str]] = {
    "&": lambda m: m.group(0),
    "`": lambda m: m.string[:m.start()],
    "'": lambda m: m.string[m.end():],
    "+": _last_group,
    "_": lambda m: m.string,
}


def _run(pattern: str, call: Callable[[float], object]):
    """``call(timeout)``, the timeout being the regular expression's share of the time budget."""
    timeout = limits.regex_timeout()
    began = time.monotonic()
    try:
        return call(timeout)
    except TimeoutError:
        raise limits.regex_timed_out(pattern, timeout) from None
    finally:
        limits.regex_spent(time.monotonic() - began)


def _growing(source: str, function: str) -> Callable[[int], None]:
    """A tracker for a substitution over ``source``: called with how many characters each
    replacement adds (negative when it removes), it raises ``LimitExceeded`` as soon as the result
    would be larger than a value may be, before the result is built."""
    size = [len(source)]

    def grow(by: int) -> None:
        size[0] += by
        if size[0] > limits.MAX_VALUE_CHARS:
            limits.charge(function, size[0])
    return grow


def replace(source: str, pattern: str, replacement: str) -> str:
    """.NET ``Regex.Replace(source, pattern, replacement)``."""
    compiled = compile_pattern(pattern)
    expand = compile_replacement(replacement, compiled)
    grow = _growing(source, "Replace")

    def substitute(match) -> str:
        value = expand(match)
        grow(len(value) - (match.end() - match.start()))
        return value

    result = _run(pattern, lambda timeout: compiled.sub(substitute, source, timeout=timeout, concurrent=True))
    limits.charge("Replace", len(result))
    return result


def replace_group(source: str, pattern: str, group: str, replacement: str) -> str:
    """Replace only the text captured by the named ``group`` in every match with the literal ``replacement``."""
    compiled = compile_pattern(pattern)
    if group not in compiled.groupindex:
        return source
    grow = _growing(source, "Replace")

    def substitute(match) -> str:
        start, end = match.span(group)
        if start < 0:
            return match.group(0)
        grow(len(replacement) - (end - start))
        whole_start = match.start()
        text = match.group(0)
        return text[:start - whole_start] + replacement + text[end - whole_start:]

    result = _run(pattern, lambda timeout: compiled.sub(substitute, source, timeout=timeout, concurrent=True))
    limits.charge("Replace", len(result))
    return result


def extract_group(source: str, pattern: str, group: str) -> str | None:
    """The text captured by the named ``group`` in the first match, or None."""
    compiled = compile_pattern(pattern)
    if group not in compiled.groupindex:
        return None
    match = _run(pattern, lambda timeout: compiled.search(source, timeout=timeout, concurrent=True))
    return match.group(group) if match else None


def is_match(source: str, pattern: str) -> bool:
    """.NET ``Regex.IsMatch``: the pattern matches somewhere in ``source``."""
    compiled = compile_pattern(pattern)
    return _run(pattern, lambda timeout: compiled.search(source, timeout=timeout, concurrent=True)) is not None
