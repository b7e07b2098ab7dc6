"""Run .NET regular expressions and replacement patterns with Python's ``re``.

Translated: named groups ``(?<name>…)`` / ``(?'name'…)`` → ``(?P<name>…)``, named
back-references ``\\k<name>`` → ``(?P=name)``, ``\\z`` → ``\\Z`` and ``\\Z`` → ``(?=\\n?\\Z)``.
Everything else is passed through; constructs Python lacks (balancing groups, character
class subtraction, inline options in mid-pattern) make ``compile_pattern`` raise ``re.error``.

Replacement patterns use .NET substitutions: ``$1``, ``${name}``, ``$$``, ``$&``, ``$```,
``$'``, ``$+`` and ``$_``; a reference to a group that does not exist stays literal, and
backslashes are literal (unlike Python's ``re.sub`` templates).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable


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
        out.append(ch)
        i += 1
    return "".join(out)


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern:
    """Compile a .NET pattern (memoized: a pure function of its argument)."""
    return re.compile(translate(pattern))


_SUBSTITUTION = re.compile(r"\$(?:\{(\w+)\}|(\d+)|([$&`'+_]))")


@lru_cache(maxsize=512)
def compile_replacement(replacement: str, pattern: re.Pattern) -> Callable[[re.Match], str]:
    """A ``re.sub`` callback producing the .NET expansion of ``replacement`` for a match."""
    parts: list[str | Callable[[re.Match], str]] = []
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


def _group(key: str | int) -> Callable[[re.Match], str]:
    return lambda match: match.group(key) or ""


def _last_group(match: re.Match) -> str:
    for index in range(match.re.groups, 0, -1):
        if match.group(index) is not None:
            return match.group(index)
    return ""


_SPECIALS: dict[str, Callable[[re.Match], str]] = {
    "&": lambda m: m.group(0),
    "`": lambda m: m.string[:m.start()],
    "'": lambda m: m.string[m.end():],
    "+": _last_group,
    "_": lambda m: m.string,
}


def replace(source: str, pattern: str, replacement: str) -> str:
    """.NET ``Regex.Replace(source, pattern, replacement)``."""
    compiled = compile_pattern(pattern)
    return compiled.sub(compile_replacement(replacement, compiled), source)


def replace_group(source: str, pattern: str, group: str, replacement: str) -> str:
    """Replace only the text captured by the named ``group`` in every match with the literal ``replacement``."""
    compiled = compile_pattern(pattern)
    if group not in compiled.groupindex:
        return source

    def substitute(match: re.Match) -> str:
        start, end = match.span(group)
        if start < 0:
            return match.group(0)
        whole_start = match.start()
        text = match.group(0)
        return text[:start - whole_start] + replacement + text[end - whole_start:]

    return compiled.sub(substitute, source)


def extract_group(source: str, pattern: str, group: str) -> str | None:
    """The text captured by the named ``group`` in the first match, or None."""
    compiled = compile_pattern(pattern)
    if group not in compiled.groupindex:
        return None
    match = compiled.search(source)
    return match.group(group) if match else None


def is_match(source: str, pattern: str) -> bool:
    """.NET ``Regex.IsMatch``: the pattern matches somewhere in ``source``."""
    return compile_pattern(pattern).search(source) is not None
