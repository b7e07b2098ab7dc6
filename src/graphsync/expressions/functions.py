"""The function table: one entry per function, used by the parser (names, arity, parameter
keys), the evaluator (implementations) and the ``functions`` listing (``function_schemas``).

Implementation conventions:

* ``eager`` functions receive their argument values positionally, one per declared
  parameter (``None`` for skipped or omitted ones); functions with a repeating parameter
  receive all argument values in call order instead.
* ``context`` functions are eager and receive the ``EvaluationContext`` (or None) first.
* ``lazy`` functions (IIF, Switch, Coalesce, SelectUniqueValue) receive the compiled
  argument closures and evaluate only what they need: ``impl(args, attrs, ctx, trace)``.
* String functions applied to a multi-valued value work on each value and return a list.
* Null in, null out, unless the documentation says otherwise (Left and Word give ``""``,
  Not gives ``"True"``, Count gives 0, the Is* functions give ``"False"``/``"True"``).
"""
from __future__ import annotations

import base64
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from . import dates, dotnet_regex, limits
from .context import EvaluationContext
from .errors import EvaluationError, NoUniqueValueError
from .nodes import Constant
from .values import (
    FALSE,
    TRUE,
    from_bool,
    is_null,
    is_null_or_empty,
    parse_number,
    require_int,
    role_value,
    scalar,
    text,
    truthy,
)


class IgnoreFlowSignal(Exception):
    """Raised by IgnoreFlowIfNullOrEmpty; the evaluator turns it into ``IGNORE_FLOW``."""


# ============================================================================= registry types
@dataclass(frozen=True)
class Param:
    name: str
    type: str = "String"  # graph.attributeType: String, Integer, Boolean, DateTime, Reference, Binary
    required: bool = True
    repeating: bool = False

    def schema(self) -> dict[str, Any]:
        return {"allowMultipleOccurrences": self.repeating, "name": self.name, "required": self.required,
                "type": self.type}


class ArityError(ValueError):
    """Wrong number of arguments for a function (the parser adds the position)."""


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    params: tuple[Param, ...]
    impl: Callable[..., Any]
    kind: str = "eager"  # "eager" | "context" | "lazy"
    min_repeats: int = 1  # how many times the repeating group must occur
    binder: Callable[[int], tuple[Param, ...]] | None = None  # custom argument-count rules
    by_presence: bool = False  # impl(present: tuple[bool, ...]) returns the implementation to call
    top_level_only: bool = False
    # it builds values larger than its arguments or runs regular expressions: evaluations of an
    # expression calling it start with a fresh ``limits`` budget
    limited: bool = False
    # specialize(arg_nodes, arg_closures) -> closure | None: a faster equivalent for some argument shapes
    specialize: Callable[[tuple[Any, ...], list[Any]], Any] | None = None

    @property
    def repeating(self) -> bool:
        return any(p.repeating for p in self.params)

    def signature(self) -> str:
        parts = []
        for p in self.params:
            label = p.name + (", …" if p.repeating else "")
            parts.append(label if p.required else f"[{label}]")
        return f"{self.name}({', '.join(parts)})"

    def bind(self, count: int) -> tuple[Param, ...]:
        """The parameter each of ``count`` arguments binds to (its key in the parse tree)."""
        if self.binder is not None:
            return self.binder(count)
        group = tuple(p for p in self.params if p.repeating)
        if not group:
            least = max((i + 1 for i, p in enumerate(self.params) if p.required), default=0)
            if least <= count <= len(self.params):
                return self.params[:count]
            if least == len(self.params):
                expected = f"{least} argument{'s' if least != 1 else ''}"
            else:
                expected = f"{least} to {len(self.params)} arguments"
            raise ArityError(f"{self.name} takes {expected}, got {count}: {self.signature()}")
        prefix = self.params[:self.params.index(group[0])]
        rest = count - len(prefix)
        if rest >= len(group) * self.min_repeats and rest % len(group) == 0:
            return prefix + group * (rest // len(group))
        least = len(prefix) + len(group) * self.min_repeats
        if len(group) > 1:
            raise ArityError(
                f"{self.name} takes {', '.join(p.name for p in prefix)} and then "
                f"{'/'.join(p.name for p in group)} pairs (an even number of at least {least} arguments), "
                f"got {count}: {self.signature()}")
        raise ArityError(f"{self.name} takes at least {least} arguments, got {count}: {self.signature()}")

    def schema(self) -> dict[str, Any]:
        return {"id": self.name, "name": self.name, "parameters": [p.schema() for p in self.params]}


# ============================================================================= helpers
def _map(function: Callable[..., Any], value: Any, *rest: Any) -> Any:
    """Apply a string function to a non-string value: each value of a list, the text of a scalar."""
    if value is None:
        return None
    if value.__class__ is list:
        return [function(text(item), *rest) for item in value]
    return function(text(value), *rest)


def _context(ctx: EvaluationContext | None) -> EvaluationContext:
    return ctx if ctx is not None else EvaluationContext()


def _required_text(value: Any, function: str, parameter: str) -> str:
    result = text(value)
    if result is None:
        raise EvaluationError(f"{function}: {parameter} must not be null")
    return result


def _date(value: Any, function: str) -> Any:
    try:
        return dates.parse_datetime(_required_text(value, function, "date"))
    except dates.DateError as exc:
        raise EvaluationError(f"{function}: {exc}") from None


def _simple_case(value: str, upper: bool) -> str:
    """.NET-style simple (one-to-one) case mapping: 'ß' stays 'ß', 'İ' lowers to 'i'."""
    if value.isascii():
        return value.upper() if upper else value.lower()
    out = []
    for ch in value:
        mapped = ch.upper() if upper else ch.lower()
        out.append(mapped if len(mapped) == 1 else ("i" if ch == "İ" else ch))
    return "".join(out)


# ============================================================================= string functions
_UNCOUNTED = limits.UNCOUNTED  # smaller values need no ``limits.charge`` (a call saved in the hot path)


def append(source, suffix):
    if source.__class__ is str:
        ending = text(suffix) or ""
        if len(source) + len(ending) > _UNCOUNTED:
            limits.charge("Append", len(source) + len(ending))
        return source + ending
    return _map(append, source, suffix)


def convert_to_base64(source):
    if source.__class__ is str:
        encoded = source.encode("utf-16-le")
        limits.charge("ConvertToBase64", (len(encoded) + 2) // 3 * 4)
        return base64.b64encode(encoded).decode("ascii")
    return _map(convert_to_base64, source)


def convert_to_utf8_hex(source):
    if source.__class__ is str:
        encoded = source.encode("utf-8")
        limits.charge("ConvertToUTF8Hex", 2 * len(encoded))
        return encoded.hex().upper()
    return _map(convert_to_utf8_hex, source)


def cstr(value):
    if value.__class__ is list:
        return [text(item) for item in value]
    return text(value)


def join(separator, *sources):
    """Join non-empty values (multi-valued sources contribute each value); empty strings and
    nulls are skipped, as the docs' ``Join(", ", "", [surname], [givenName])`` → ``Doe, John`` shows."""
    parts: list[str] = []
    size = 0
    seen_value = False
    for source in sources:
        if source.__class__ is str:
            seen_value = True
            if source:
                parts.append(source)
                size += len(source)
        elif source is not None:
            for item in (source if source.__class__ is list else (source,)):
                item_text = text(item)
                if item_text is not None:
                    seen_value = True
                    if item_text:
                        parts.append(item_text)
                        size += len(item_text)
    if not seen_value:
        return None
    glue = text(separator) or ""
    if glue and parts:
        size += len(glue) * (len(parts) - 1)
    if size > _UNCOUNTED:
        limits.charge("Join", size)
    return glue.join(parts)


def left(string, num_chars):
    if string.__class__ is list:
        return [left(text(item), num_chars) for item in string]
    value = text(string)
    if value is None:
        return ""
    count = require_int(num_chars, "Left", "NumChars")
    if count is None or count < 0:
        return value
    return value[:count]


def mid(source, start, length):
    if source.__class__ is not str:
        return _map(mid, source, start, length)
    first = require_int(start, "Mid", "start")
    count = require_int(length, "Mid", "length")
    if first is None or count is None:
        return None
    if first < 1:
        raise EvaluationError(f"Mid: start must be 1 or more, got {first}")
    if count < 0:
        raise EvaluationError(f"Mid: length must not be negative, got {count}")
    return source[first - 1:first - 1 + count]


_DIACRITIC_LETTERS = {"æ": "ae", "Æ": "AE", "ø": "oe", "Ø": "OE", "œ": "oe", "Œ": "OE", "ß": "ss",
                      "ł": "l", "Ł": "L", "ı": "i"}


def normalize_diacritics(source):
    """Latin letters lose their diacritics (per the docs' table: ä→a, ø→oe, ß→ss, ł→l, …);
    marks on other scripts are kept."""
    if source.__class__ is not str:
        return _map(normalize_diacritics, source)
    if source.isascii():
        return source
    limits.charge("NormalizeDiacritics", 2 * len(source))  # æ → ae: at most twice as long
    folded = source.translate(_FOLDED_LETTERS)  # fast path for precomposed letters
    return folded if folded.isascii() else _strip_latin_marks(folded)


def _strip_latin_marks(value: str) -> str:
    out: list[str] = []
    strip_marks = False
    for ch in unicodedata.normalize("NFD", value):
        if unicodedata.combining(ch):
            if not strip_marks:
                out.append(ch)
            continue
        special = _DIACRITIC_LETTERS.get(ch)
        if special is not None:
            out.append(special)
            strip_marks = True
        else:
            out.append(ch)
            strip_marks = ch.isascii() and ch.isalpha()
    return unicodedata.normalize("NFC", "".join(out))


_FOLDED_LETTERS = {
    code: folded
    for block in (range(0x00C0, 0x0250), range(0x1E00, 0x1F00))
    for code in block
    if (folded := _strip_latin_marks(chr(code))) != chr(code)
}


_WORD_SEPARATOR_CATEGORIES = frozenset(
    ["Zs", "Zl", "Zp", "Cc", "Cf", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So"])


def _title_case(value: str) -> str:
    """.NET ``TextInfo.ToTitleCase`` on the lower-cased text: the first letter of each word is
    upper-cased; a word runs over letters, apostrophes and non-separator characters (digits)."""
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        i += 1
        if not ch.isalpha():
            out.append(ch)
            continue
        out.append(_simple_case(ch, upper=True))
        while i < n:
            ch = value[i]
            if ch.isalpha():
                out.append(_simple_case(ch, upper=False))
            elif ch == "'" or unicodedata.category(ch) not in _WORD_SEPARATOR_CATEGORIES:
                out.append(ch)
            else:
                break
            i += 1
    return "".join(out)


def pcase(source, word_separators):
    if source.__class__ is not str:
        return _map(pcase, source, word_separators)
    separators = text(word_separators)
    if not separators:
        return _title_case(source)
    out: list[str] = []
    at_word_start = True
    for ch in source:
        if ch in separators:
            out.append(ch)
            at_word_start = True
        else:
            out.append(_simple_case(ch, upper=at_word_start))
            at_word_start = False
    return "".join(out)


def split(source, delimiter):
    """Split into a multi-valued value. Values are trimmed, matching the docs' example
    (``"PermissionSetOne, PermissionSetTwo"`` split on ``","`` gives no leading space)."""
    if source is None:
        return None
    if source.__class__ is list:
        return [part for item in source for part in (split(text(item), delimiter) or [])]
    value = text(source)
    separator = text(delimiter)
    if not separator:
        return [value.strip()]
    return [part.strip() for part in value.split(separator)]


def strip_spaces(source):
    if source.__class__ is str:
        return source.replace(" ", "")
    return _map(strip_spaces, source)


def _culture_is_turkic(culture) -> bool:
    name = (text(culture) or "").lower()
    return name[:2] in ("tr", "az")


def to_lower(source, culture):
    if source.__class__ is not str:
        return _map(to_lower, source, culture)
    if culture is not None and _culture_is_turkic(culture):
        source = source.replace("I", "ı").replace("İ", "i")
    return _simple_case(source, upper=False)


def to_upper(source, culture):
    if source.__class__ is not str:
        return _map(to_upper, source, culture)
    if culture is not None and _culture_is_turkic(culture):
        source = source.replace("i", "İ").replace("ı", "I")
    return _simple_case(source, upper=True)


def word(string, word_number, delimiters):
    if string.__class__ is list:
        return [word(text(item), word_number, delimiters) for item in string]
    value = text(string)
    number = require_int(word_number, "Word", "WordNumber")
    if value is None or number is None or number < 1:
        return ""
    separators = text(delimiters) or ""
    if separators:
        value = value.translate({ord(ch): "\0" for ch in separators})
        words = [w for w in value.split("\0") if w]
    else:
        words = [value] if value else []
    return words[number - 1] if number <= len(words) else ""


def instr(value1, value2, start, compare_type):
    haystack = text(value1)
    needle = text(value2)
    if haystack is None or needle is None:
        return None
    begin = 1 if start is None else require_int(start, "InStr", "start")
    if begin is None or begin < 1:
        raise EvaluationError(f"InStr: start must be 1 or more, got {text(start)!r}")
    mode = text(compare_type)
    if mode in ("vbTextCompare", "1"):
        haystack, needle = _simple_case(haystack, upper=False), _simple_case(needle, upper=False)
    elif mode not in (None, "", "vbBinaryCompare", "0"):
        raise EvaluationError(f"InStr: compareType must be vbTextCompare or vbBinaryCompare, got {mode!r}")
    if begin > len(haystack) + 1:
        return 0
    if not needle:
        return begin
    return haystack.find(needle, begin - 1) + 1


# ============================================================================= Replace
def make_replace(present: tuple[bool, ...]) -> Callable[..., Any]:
    """Replace's mode depends on which of its seven positional arguments are given:

    * regexPattern + regexGroupName + replacementAttributeName: source if it has a value, else
      the named group extracted from replacementAttributeName;
    * regexPattern + regexGroupName + Replacement: replace the named group's text in each match;
    * regexPattern + Replacement: .NET ``Regex.Replace`` (``${name}``/``$1`` substitutions);
    * Find + Replacement: replace every occurrence of Find;
    * Find + template: every occurrence of Find in template is replaced by source.
    Any other combination returns source unchanged.
    """
    _, has_find, has_pattern, has_group, has_replacement, has_attribute, has_template = (present + (False,) * 7)[:7]

    def per_value(function):
        def apply(source, find, pattern, group, replacement, attribute, template):
            if source.__class__ is list:
                return [function(text(item), find, pattern, group, replacement, attribute, template)
                        for item in source]
            return function(text(source), find, pattern, group, replacement, attribute, template)
        return apply

    def checked(function):
        def run(*args):
            try:
                return function(*args)
            except re.error as exc:
                raise EvaluationError(f"Replace: invalid regular expression: {exc}") from None
            except limits.LimitExceeded as exc:
                if str(exc).startswith("Replace:"):
                    raise
                raise limits.LimitExceeded(f"Replace: {exc}") from None
        return run

    if has_pattern and has_group and has_attribute:
        def extract(source, find, pattern, group, replacement, attribute, template):
            if not is_null_or_empty(source):
                return source
            other = text(attribute)
            if other is None or pattern is None or group is None:
                return None
            return dotnet_regex.extract_group(other, text(pattern), text(group))
        return checked(extract)  # the source is returned as it is (possibly multi-valued)

    if has_pattern and has_group and has_replacement:
        def replace_group(source, find, pattern, group, replacement, attribute, template):
            if source is None or pattern is None or group is None:
                return source
            return dotnet_regex.replace_group(source, text(pattern), text(group), text(replacement) or "")
        return checked(per_value(replace_group))

    if has_pattern and has_replacement:
        def regex_replace(source, find, pattern, group, replacement, attribute, template):
            if source is None or pattern is None:
                return source
            return dotnet_regex.replace(source, text(pattern), text(replacement) or "")
        return checked(per_value(regex_replace))

    if has_find and has_replacement:
        def plain_replace(source, find, pattern, group, replacement, attribute, template):
            old = text(find)
            if source is None or not old:
                return source
            new = text(replacement) or ""
            if len(new) > len(old):
                limits.charge("Replace", len(source) + source.count(old) * (len(new) - len(old)))
            return source.replace(old, new)
        return per_value(plain_replace)

    if has_find and has_template:
        def fill_template(source, find, pattern, group, replacement, attribute, template):
            old, pattern_text = text(find), text(template)
            if source is None or pattern_text is None:
                return None
            if not old:
                return pattern_text
            if len(source) > len(old):
                limits.charge("Replace", len(pattern_text) + pattern_text.count(old) * (len(source) - len(old)))
            return pattern_text.replace(old, source)
        return per_value(fill_template)

    return lambda source, *rest: source


# ============================================================================= conversions, dates
def bit_and(value1, value2):
    first = require_int(value1, "BitAnd", "value1")
    second = require_int(value2, "BitAnd", "value2")
    if first is None or second is None:
        return None
    return first & second


def cbool(expression):
    return from_bool(truthy(expression))


def cdate(expression):
    if expression is None:
        return None
    if expression.__class__ is list:
        return [cdate(item) for item in expression]
    return dates.format_general(_date(expression, "CDate"))


def count(attribute):
    if attribute is None:
        return 0
    return len(attribute) if attribute.__class__ is list else 1


def date_add(interval, value, date_time):
    if date_time is None or value is None:
        return None
    number = parse_number(value)
    if number is None:
        raise EvaluationError(f"DateAdd: value must be a number, got {text(value)!r}")
    moment = _date(date_time, "DateAdd")
    try:
        return dates.format_general(dates.add_interval(_required_text(interval, "DateAdd", "interval"),
                                                       int(number), moment))
    except dates.DateError as exc:
        raise EvaluationError(f"DateAdd: {exc}") from None


def date_diff(interval, date1, date2):
    if date1 is None or date2 is None:
        return None
    first, second = _date(date1, "DateDiff"), _date(date2, "DateDiff")
    try:
        return dates.diff_interval(_required_text(interval, "DateDiff", "interval"), first, second)
    except dates.DateError as exc:
        raise EvaluationError(f"DateDiff: {exc}") from None


def date_from_num(value):
    ticks = require_int(value, "DateFromNum", "value")
    if ticks is None:
        return None
    try:
        return dates.format_general(dates.from_filetime(ticks))
    except dates.DateError as exc:
        raise EvaluationError(f"DateFromNum: {exc}") from None


def num_from_date(value):
    if value is None:
        return None
    return dates.to_filetime(_date(value, "NumFromDate"))


_DATE_TIME_STYLES = {"none", "allowleadingwhite", "allowtrailingwhite", "allowinnerwhite", "allowwhitespaces",
                     "nocurrentdatedefault", "adjusttouniversal", "assumelocal", "assumeuniversal",
                     "roundtripkind"}


def format_date_time(source, date_time_styles, input_format, output_format):
    """Parse ``source`` with the .NET ``inputFormat`` and write it with ``outputFormat``. Dates with
    an offset are converted to UTC first (the service runs in UTC)."""
    if source is None:
        return None
    if source.__class__ is list:
        return [format_date_time(item, date_time_styles, input_format, output_format) for item in source]
    value = text(source)
    parse_format = _required_text(input_format, "FormatDateTime", "inputFormat")
    write_format = _required_text(output_format, "FormatDateTime", "outputFormat")
    styles_text = text(date_time_styles)
    if styles_text:
        styles = {s.strip().lower().removeprefix("datetimestyles.") for s in styles_text.replace("|", ",").split(",")}
        unknown = styles - _DATE_TIME_STYLES - {""}
        if unknown:
            raise EvaluationError(f"FormatDateTime: unknown dateTimeStyles {', '.join(sorted(unknown))}")
        lead = bool(styles & {"allowleadingwhite", "allowwhitespaces"})
        trail = bool(styles & {"allowtrailingwhite", "allowwhitespaces"})
    else:
        lead = trail = True
    try:
        moment = dates.parse_exact(value, parse_format, strip_leading=lead, strip_trailing=trail)
        return dates.format_datetime(moment, write_format)
    except dates.DateError as exc:
        raise EvaluationError(f"FormatDateTime: {exc}") from None


def now(ctx):
    return dates.format_general(_context(ctx).clock())


def default_domain(ctx):
    return _context(ctx).default_domain


def guid(ctx):
    return str(uuid.UUID(int=_context(ctx).rng.getrandbits(128), version=4))


_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_SPECIAL = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/"


def random_string(ctx, length, minimum_numbers, minimum_special, minimum_capital, minimum_lower, avoid):
    names = ("Length", "MinimumNumbers", "MinimumSpecialCharacters", "MinimumCapital", "MinimumLowerCase")
    counts = []
    for name, value in zip(names, (length, minimum_numbers, minimum_special, minimum_capital, minimum_lower)):
        number = require_int(value, "RandomString", name)
        if number is None or number < 0:
            raise EvaluationError(f"RandomString: {name} must be a number of 0 or more")
        counts.append(number)
    total, minimums = counts[0], counts[1:]
    if total > 256:
        raise EvaluationError("RandomString: Length must be at most 256")
    if sum(minimums) > total:
        raise EvaluationError("RandomString: Length is less than the sum of the minimums")
    excluded = set(text(avoid) or "")
    pools = ["".join(c for c in pool if c not in excluded) for pool in (_DIGITS, _SPECIAL, _UPPER, _LOWER)]
    rng = _context(ctx).rng
    chars: list[str] = []
    for pool, minimum in zip(pools, minimums):
        if minimum and not pool:
            raise EvaluationError("RandomString: CharactersToAvoid excludes a whole required character class")
        chars.extend(rng.choice(pool) for _ in range(minimum))
    everything = "".join(pools)
    if len(chars) < total and not everything:
        raise EvaluationError("RandomString: CharactersToAvoid excludes every character")
    chars.extend(rng.choice(everything) for _ in range(total - len(chars)))
    rng.shuffle(chars)
    return "".join(chars)


# ============================================================================= null tests, booleans, lists
def is_null_function(expression):
    return from_bool(is_null(expression))


def is_null_or_empty_function(expression):
    return from_bool(is_null_or_empty(expression))


def is_present(expression):
    return from_bool(not is_null_or_empty(expression))


def is_string(expression):
    return from_bool(isinstance(expression, str))


def not_function(source):
    value = text(source)
    return FALSE if value is not None and value.strip().lower() == "true" else TRUE


def ignore_flow_if_null_or_empty(expression):
    if is_null_or_empty(expression):
        raise IgnoreFlowSignal
    return expression


def redact(value):
    return value  # the evaluator marks results of expressions containing Redact


def item(attribute, index):
    if attribute is None:
        return None
    position = require_int(index, "Item", "index")
    values = attribute if attribute.__class__ is list else [attribute]
    if position is None or not 1 <= position <= len(values):
        return None
    return values[position - 1]


def remove_duplicates(attribute):
    if attribute.__class__ is not list:
        return attribute
    seen: set[Any] = set()
    unique = []
    for value in attribute:
        key = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique


# ============================================================================= app roles
def _roles(source) -> list[Any]:
    if is_null(source):
        return []
    return source if source.__class__ is list else [source]


def app_role_assignments(source):
    names = [role_value(r) for r in _roles(source)]
    names = [n for n in names if n is not None]
    return names or None


def _complex_role(role) -> dict[str, Any]:
    value = role_value(role)
    display = value
    if isinstance(role, dict):
        display = role.get("displayName") or role.get("display") or value
    return {"primary": False, "type": "WindowsAzureActiveDirectoryRole", "display": display, "value": value}


def app_role_assignments_complex(source):
    """SCIM ``roles`` values, all ``primary: false``. The Assertive variant yields the same value;
    the engine tells them apart by function name (it PATCHes roles with ``replace`` instead of ``add``)."""
    roles = [_complex_role(r) for r in _roles(source) if role_value(r) is not None]
    return roles or None


def single_app_role_assignment(source):
    for role in _roles(source):
        value = role_value(role)
        if value is not None:
            return value
    return None


# ============================================================================= lazy functions
def iif(args, attrs, ctx, trace):
    condition = args[0](attrs, ctx, trace)
    branch = args[1] if truthy(condition) else args[2]
    return branch(attrs, ctx, trace)


def switch(args, attrs, ctx, trace):
    """Case-sensitive match of source against each key (evaluated in order); a null source
    matches the key ``""``. No match: defaultValue (null when the slot is empty)."""
    source = text(args[0](attrs, ctx, trace))
    for index in range(2, len(args) - 1, 2):
        key = text(args[index](attrs, ctx, trace))
        if key == source or (source is None and key == ""):
            return args[index + 1](attrs, ctx, trace)
    return args[1](attrs, ctx, trace)


def switch_on_constants(nodes, args):
    """Switch whose keys are all constants: one dict lookup instead of comparing key by key."""
    if not all(isinstance(nodes[i], Constant) for i in range(2, len(nodes), 2)):
        return None
    table: dict[str, Any] = {}
    for index in range(2, len(nodes), 2):
        table.setdefault(nodes[index].value, args[index + 1])
    source_of, default = args[0], args[1]
    empty_case = table.get("")

    def switch_lookup(attrs, ctx, trace):
        source = source_of(attrs, ctx, trace)
        if source.__class__ is not str:
            source = text(source)
            if source is None:
                return (empty_case or default)(attrs, ctx, trace)
        return table.get(source, default)(attrs, ctx, trace)
    return switch_lookup


def coalesce(args, attrs, ctx, trace):
    for arg in args:
        value = arg(attrs, ctx, trace)
        if not is_null(value):
            return value
    return None


def select_unique_value(args, attrs, ctx, trace):
    """The first rule value (null/empty values are skipped) not already present in the target."""
    exists = _context(ctx).value_exists
    candidates: list[str] = []
    for arg in args:
        value = text(scalar(arg(attrs, ctx, trace)))
        if not value:
            continue
        if exists is None or not exists(value):
            return value
        candidates.append(value)
    if not candidates:
        return None
    raise NoUniqueValueError(candidates)


# ============================================================================= the table
S, I, B, D = "String", "Integer", "Boolean", "DateTime"


def _p(name: str, type_: str = S, required: bool = True, repeating: bool = False) -> Param:
    return Param(name, type_, required, repeating)


def _coalesce_binder(count: int) -> tuple[Param, ...]:
    if count < 1:
        raise ArityError("Coalesce takes at least 1 argument, got 0: Coalesce(source, …[, defaultValue])")
    # the first source is required; later ones (and the trailing defaultValue) may be empty slots
    return (Param("source", S, True, True),) + (Param("source", S, False, True),) * (count - 1)


def _format_date_time_binder(count: int) -> tuple[Param, ...]:
    params = FORMAT_DATE_TIME_PARAMS
    if count == 4:
        return params
    if count == 3:  # the `functions` listing's three-parameter form: source, inputFormat, outputFormat
        return (params[0], params[2], params[3])
    raise ArityError(f"FormatDateTime takes 3 or 4 arguments, got {count}: "
                     "FormatDateTime(source, [dateTimeStyles], inputFormat, outputFormat)")


FORMAT_DATE_TIME_PARAMS = (_p("source"), _p("dateTimeStyles", required=False), _p("inputFormat"), _p("outputFormat"))
REPLACE_PARAMS = (_p("source"), _p("Find", required=False), _p("regexPattern", required=False),
                  _p("regexGroupName", required=False), _p("Replacement", required=False),
                  _p("replacementAttributeName", required=False), _p("template", required=False))

_SPECS = [
    FunctionSpec("Append", (_p("source"), _p("suffix")), append, limited=True),
    FunctionSpec("AppRoleAssignments", (_p("source"),), app_role_assignments),
    FunctionSpec("AppRoleAssignmentsComplex", (_p("appRoleAssignments"),), app_role_assignments_complex),
    FunctionSpec("AssertiveAppRoleAssignmentsComplex", (_p("appRoleAssignments"),), app_role_assignments_complex),
    FunctionSpec("BitAnd", (_p("value1", I), _p("value2", I)), bit_and),
    FunctionSpec("CBool", (_p("Expression", B),), cbool),
    FunctionSpec("CDate", (_p("expression"),), cdate),
    FunctionSpec("Coalesce", (_p("source", repeating=True), _p("defaultValue", required=False)), coalesce,
                 kind="lazy", binder=_coalesce_binder),
    FunctionSpec("ConvertToBase64", (_p("source"),), convert_to_base64, limited=True),
    FunctionSpec("ConvertToUTF8Hex", (_p("source"),), convert_to_utf8_hex, limited=True),
    FunctionSpec("Count", (_p("attribute"),), count),
    FunctionSpec("CStr", (_p("value"),), cstr),
    FunctionSpec("DateAdd", (_p("interval"), _p("value", I), _p("dateTime", D)), date_add),
    FunctionSpec("DateDiff", (_p("interval"), _p("date1", D), _p("date2", D)), date_diff),
    FunctionSpec("DateFromNum", (_p("value", I),), date_from_num),
    FunctionSpec("DefaultDomain", (), default_domain, kind="context"),
    FunctionSpec("FormatDateTime", FORMAT_DATE_TIME_PARAMS, format_date_time, binder=_format_date_time_binder),
    FunctionSpec("Guid", (), guid, kind="context"),
    FunctionSpec("IgnoreFlowIfNullOrEmpty", (_p("expression"),), ignore_flow_if_null_or_empty),
    FunctionSpec("IIF", (_p("condition", B), _p("valueIfTrue"), _p("valueIfFalse")), iif, kind="lazy"),
    FunctionSpec("InStr", (_p("value1"), _p("value2"), _p("start", I, False), _p("compareType", required=False)),
                 instr),
    FunctionSpec("IsNull", (_p("Expression"),), is_null_function),
    FunctionSpec("IsNullOrEmpty", (_p("Expression"),), is_null_or_empty_function),
    FunctionSpec("IsPresent", (_p("Expression"),), is_present),
    FunctionSpec("IsString", (_p("Expression"),), is_string),
    FunctionSpec("Item", (_p("attribute"), _p("index", I)), item),
    FunctionSpec("Join", (_p("separator"), _p("source", repeating=True)), join, limited=True),
    FunctionSpec("Left", (_p("String"), _p("NumChars", I)), left),
    FunctionSpec("Mid", (_p("source"), _p("start", I), _p("length", I)), mid),
    FunctionSpec("NormalizeDiacritics", (_p("source"),), normalize_diacritics, limited=True),
    FunctionSpec("Not", (_p("source", B),), not_function),
    FunctionSpec("Now", (), now, kind="context"),
    FunctionSpec("NumFromDate", (_p("value"),), num_from_date),
    FunctionSpec("PCase", (_p("source"), _p("wordSeparators", required=False)), pcase),
    FunctionSpec("RandomString", (_p("Length", I), _p("MinimumNumbers", I), _p("MinimumSpecialCharacters", I),
                                  _p("MinimumCapital", I), _p("MinimumLowerCase", I),
                                  _p("CharactersToAvoid", required=False)), random_string, kind="context"),
    FunctionSpec("Redact", (_p("value"),), redact),
    FunctionSpec("RemoveDuplicates", (_p("attribute"),), remove_duplicates),
    FunctionSpec("Replace", REPLACE_PARAMS, make_replace, by_presence=True, limited=True),
    FunctionSpec("SelectUniqueValue", (_p("uniqueValueRule", repeating=True),), select_unique_value, kind="lazy",
                 min_repeats=2, top_level_only=True),
    FunctionSpec("SingleAppRoleAssignment", (_p("appRoleAssignments"),), single_app_role_assignment),
    FunctionSpec("Split", (_p("source"), _p("delimiter")), split),
    FunctionSpec("StripSpaces", (_p("source"),), strip_spaces),
    FunctionSpec("Switch", (_p("source"), _p("defaultValue", required=False), _p("key", repeating=True),
                            _p("value", repeating=True)), switch, kind="lazy",
                 specialize=switch_on_constants),
    FunctionSpec("ToLower", (_p("source"), _p("culture", required=False)), to_lower),
    FunctionSpec("ToUpper", (_p("source"), _p("culture", required=False)), to_upper),
    FunctionSpec("Word", (_p("String"), _p("WordNumber", I), _p("Delimiters")), word),
]

FUNCTIONS: dict[str, FunctionSpec] = {spec.name: spec for spec in _SPECS}


def function_schemas() -> list[dict[str, Any]]:
    """``attributeMappingFunctionSchema`` items for ``GET …/schema/functions``, ordered by name
    (case-insensitively, as the documentation lists them)."""
    return [FUNCTIONS[name].schema() for name in sorted(FUNCTIONS, key=str.lower)]
