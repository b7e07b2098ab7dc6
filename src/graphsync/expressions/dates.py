""".NET date and time semantics used by the date functions.

* ``format_datetime`` / ``parse_exact``: .NET custom (and single-letter standard) date
  and time format strings with the invariant culture, as used by FormatDateTime.
* ``parse_datetime``: the lenient parser behind CDate, DateAdd, DateDiff and NumFromDate
  (ISO 8601 incl. Workday's ``2020-03-16-07:00``, ``M/d/yyyy h:mm:ss tt``, RFC 1123,
  ``MMMM d, yyyy``, and compact ``yyyyMMddHHmmss[.f]Z``).
* ``add_interval`` / ``diff_interval``: VB ``DateAdd`` / ``DateDiff`` interval arithmetic.

All results are timezone-aware UTC datetimes: a parsed offset is applied (the service
reports dates in UTC) and text without an offset is taken as UTC.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Callable

UTC = timezone.utc

DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")

# Invariant-culture expansions of the single-letter standard format strings.
STANDARD_FORMATS = {
    "d": "MM/dd/yyyy",
    "D": "dddd, dd MMMM yyyy",
    "f": "dddd, dd MMMM yyyy HH:mm",
    "F": "dddd, dd MMMM yyyy HH:mm:ss",
    "g": "MM/dd/yyyy HH:mm",
    "G": "MM/dd/yyyy HH:mm:ss",
    "m": "MMMM dd",
    "M": "MMMM dd",
    "o": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "O": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "r": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
    "R": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
    "s": "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
    "t": "HH:mm",
    "T": "HH:mm:ss",
    "u": "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
    "U": "dddd, dd MMMM yyyy HH:mm:ss",
    "y": "yyyy MMMM",
    "Y": "yyyy MMMM",
}

_FIELD_LETTERS = "dfFghHKmMstyz"
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


class DateError(ValueError):
    """Text or a format string that .NET would reject."""


# ----------------------------------------------------------------------------- format strings
def tokenize(fmt: str) -> list[tuple[str, int] | str]:
    """Split a .NET date format into fields ``(letter, count)`` and literal strings."""
    if len(fmt) == 1:
        if fmt not in STANDARD_FORMATS:
            raise DateError(f"unknown standard date format {fmt!r}")
        fmt = STANDARD_FORMATS[fmt]
    tokens: list[tuple[str, int] | str] = []
    i, n = 0, len(fmt)
    while i < n:
        ch = fmt[i]
        if ch in _FIELD_LETTERS:
            j = i
            while j < n and fmt[j] == ch:
                j += 1
            tokens.append((ch, j - i))
            i = j
        elif ch in "'\"":
            end = fmt.find(ch, i + 1)
            if end < 0:
                raise DateError(f"unterminated quoted text in date format {fmt!r}")
            tokens.append(fmt[i + 1:end])
            i = end + 1
        elif ch == "\\":
            if i + 1 >= n:
                raise DateError(f"date format {fmt!r} ends with an escape character")
            tokens.append(fmt[i + 1])
            i += 2
        elif ch == "%":
            if i + 1 >= n or fmt[i + 1] not in _FIELD_LETTERS:
                raise DateError(f"'%' must be followed by a format letter in {fmt!r}")
            tokens.append((fmt[i + 1], 1))
            i += 2
        else:
            tokens.append(ch)
            i += 1
    return tokens


def format_datetime(moment: datetime, fmt: str) -> str:
    """Format like .NET ``DateTime.ToString(fmt, CultureInfo.InvariantCulture)``."""
    out: list[str] = []
    for token in tokenize(fmt):
        if isinstance(token, str):
            out.append(token)
            continue
        letter, count = token
        if letter == "d":
            out.append(_pad(moment.day, count) if count <= 2
                       else _day_name(moment)[:3] if count == 3 else _day_name(moment))
        elif letter == "M":
            out.append(_pad(moment.month, count) if count <= 2
                       else MONTH_NAMES[moment.month - 1][:3] if count == 3 else MONTH_NAMES[moment.month - 1])
        elif letter == "y":
            if count == 1:
                out.append(str(moment.year % 100))
            elif count == 2:
                out.append(f"{moment.year % 100:02d}")
            else:
                out.append(f"{moment.year:0{count}d}")
        elif letter == "h":
            out.append(_pad((moment.hour % 12) or 12, count))
        elif letter == "H":
            out.append(_pad(moment.hour, count))
        elif letter == "m":
            out.append(_pad(moment.minute, count))
        elif letter == "s":
            out.append(_pad(moment.second, count))
        elif letter in "fF":
            if count > 7:
                raise DateError("at most 7 fraction-of-second digits")
            digits = f"{moment.microsecond:06d}0"[:count]
            if letter == "F":
                digits = digits.rstrip("0")
                if not digits and out and out[-1] == ".":
                    out.pop()  # .NET drops the separator before an all-zero F fraction
            out.append(digits)
        elif letter == "t":
            marker = "AM" if moment.hour < 12 else "PM"
            out.append(marker[:1] if count == 1 else marker)
        elif letter == "z":
            out.append(_offset_text(moment, count))
        elif letter == "K":
            if moment.tzinfo is None:
                continue
            out.append("Z" if moment.utcoffset() == timedelta(0) else _offset_text(moment, 3))
        elif letter == "g":
            out.append("A.D.")
    return "".join(out)


def _pad(number: int, count: int) -> str:
    return str(number) if count == 1 else f"{number:02d}"


def _day_name(moment: datetime) -> str:
    return DAY_NAMES[(moment.weekday() + 1) % 7]


def _offset_text(moment: datetime, count: int) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    hours, minutes = divmod(minutes, 60)
    if count == 1:
        return f"{sign}{hours}"
    if count == 2:
        return f"{sign}{hours:02d}"
    return f"{sign}{hours:02d}:{minutes:02d}"


def _names_pattern(names) -> str:
    return "(?i:" + "|".join(sorted(names, key=len, reverse=True)) + ")"


@lru_cache(maxsize=256)
def _compile_exact(fmt: str) -> tuple[re.Pattern, list[tuple[str, int]]]:
    parts: list[str] = []
    fields: list[tuple[str, int]] = []
    for token in tokenize(fmt):
        if isinstance(token, str):
            if token == "Z":  # a literal Z is the UTC designator
                parts.append("(Z)")
                fields.append(("Z", 1))
            else:
                parts.append(re.escape(token))
            continue
        letter, count = token
        if letter in "hHms" or (letter in "dM" and count <= 2):
            parts.append(r"(\d{1,2})" if count == 1 else r"(\d{2})")
        elif letter == "d":
            parts.append(_names_pattern(n[:3] if count == 3 else n for n in DAY_NAMES))
            continue  # the day name is checked for form only
        elif letter == "M":
            parts.append("(" + _names_pattern(n[:3] if count == 3 else n for n in MONTH_NAMES) + ")")
        elif letter == "y":
            parts.append({1: r"(\d{1,2})", 2: r"(\d{2})", 3: r"(\d{3,4})"}.get(count, rf"(\d{{{count}}})"))
        elif letter == "f":
            parts.append(rf"(\d{{{count}}})")
        elif letter == "F":
            parts.append(rf"(\d{{0,{count}}})")
        elif letter == "t":
            parts.append("([AaPp])" if count == 1 else "([AaPp][Mm])")
        elif letter == "z":
            parts.append({1: r"([+-]\d{1,2})", 2: r"([+-]\d{2})"}.get(count, r"([+-]\d{2}:?\d{2})"))
        elif letter == "K":
            parts.append(r"(Z|[+-]\d{2}:\d{2})?")
        elif letter == "g":
            parts.append(r"(?:A\.D\.|AD)")
            continue
        fields.append((letter, count))
    return re.compile("".join(parts)), fields


def parse_exact(value: str, fmt: str, *, strip_leading: bool = True, strip_trailing: bool = True) -> datetime:
    """Parse like .NET ``DateTime.ParseExact(value, fmt, InvariantCulture, styles)``; the result is UTC."""
    if strip_leading:
        value = value.lstrip()
    if strip_trailing:
        value = value.rstrip()
    pattern, fields = _compile_exact(fmt)
    match = pattern.fullmatch(value)
    if not match:
        raise DateError(f"{value!r} does not match the date format {fmt!r}")
    parts = {"year": 1, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0, "micro": 0}
    pm: bool | None = None
    offset: timedelta | None = None
    for (letter, count), raw in zip(fields, match.groups()):
        if raw is None:
            continue
        if letter == "y":
            year = int(raw)
            parts["year"] = (2000 + year if year <= 49 else 1900 + year) if count <= 2 else year
        elif letter == "M":
            parts["month"] = int(raw) if count <= 2 else _month_number(raw)
        elif letter == "d":
            parts["day"] = int(raw)
        elif letter in "hH":
            parts["hour"] = int(raw)
        elif letter == "m":
            parts["minute"] = int(raw)
        elif letter == "s":
            parts["second"] = int(raw)
        elif letter in "fF":
            parts["micro"] = int((raw + "000000")[:6]) if raw else 0
        elif letter == "t":
            pm = raw[0] in "Pp"
        elif letter in "zK":
            offset = _parse_offset(raw)
        elif letter == "Z":
            offset = timedelta(0)
    hour = parts["hour"]
    if pm is not None:
        if hour > 12:
            raise DateError(f"hour {hour} with an AM/PM designator in {value!r}")
        hour = hour % 12 + (12 if pm else 0)
    try:
        moment = datetime(parts["year"], parts["month"], parts["day"], hour, parts["minute"], parts["second"],
                          parts["micro"], tzinfo=UTC)
    except ValueError as exc:
        raise DateError(f"{value!r} is not a valid date: {exc}") from None
    return _apply_offset(moment, offset)


def _month_number(name: str) -> int:
    lowered = name.lower()
    for index, month in enumerate(MONTH_NAMES):
        if month.lower() == lowered or month[:3].lower() == lowered:
            return index + 1
    raise DateError(f"unknown month name {name!r}")


def _parse_offset(raw: str | None) -> timedelta | None:
    if not raw:
        return None
    if raw in ("Z", "z", "GMT", "UTC"):
        return timedelta(0)
    sign = -1 if raw[0] == "-" else 1
    digits = raw[1:].replace(":", "")
    hours = int(digits[:2]) if len(digits) >= 2 else int(digits)
    minutes = int(digits[2:4]) if len(digits) >= 4 else 0
    if hours > 14 or minutes > 59:
        raise DateError(f"invalid UTC offset {raw!r}")
    return sign * timedelta(hours=hours, minutes=minutes)


def _apply_offset(moment: datetime, offset: timedelta | None) -> datetime:
    """``moment`` carries wall-clock fields labelled UTC; shift them by the parsed offset."""
    if not offset:
        return moment
    try:
        return moment - offset
    except OverflowError:
        raise DateError("date out of range") from None


# ----------------------------------------------------------------------------- lenient parsing
_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,7}))?)?"
_ZONE = r"(Z|z|GMT|UTC|[+-]\d{2}(?::?\d{2})?)"
_AMPM = r"([AaPp][Mm])"
_MONTHS = _names_pattern(list(MONTH_NAMES) + [m[:3] for m in MONTH_NAMES])
_DAYS = _names_pattern(list(DAY_NAMES) + [d[:3] for d in DAY_NAMES])

_ISO = re.compile(rf"(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})(?:[T ]{_TIME}\s*{_AMPM}?)?\s*{_ZONE}?")
_US = re.compile(rf"(\d{{1,2}})/(\d{{1,2}})/(\d{{4}})(?:[T ]+{_TIME}\s*{_AMPM}?)?\s*{_ZONE}?")
_DAY_MONTH_YEAR = re.compile(rf"(?:{_DAYS},?\s+)?(\d{{1,2}})[ -]({_MONTHS})[ -](\d{{4}})(?:\s+{_TIME}\s*{_AMPM}?)?\s*{_ZONE}?")
_MONTH_DAY_YEAR = re.compile(rf"(?:{_DAYS},?\s+)?({_MONTHS})\s+(\d{{1,2}}),?\s+(\d{{4}})(?:\s+{_TIME}\s*{_AMPM}?)?\s*{_ZONE}?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?(?:[.,](\d{1,7}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?")


def parse_datetime(value: str) -> datetime:
    """Parse a date/time string the way CDate does (roughly .NET ``DateTime.Parse`` with the
    invariant culture plus the compact LDAP generalized-time form); the result is UTC."""
    value = value.strip()
    match = _ISO.fullmatch(value)
    if match:
        y, mo, d = match.group(1, 2, 3)
        return _build(y, mo, d, *match.group(4, 5, 6, 7, 8, 9))
    match = _US.fullmatch(value)
    if match:
        mo, d, y = match.group(1, 2, 3)
        return _build(y, mo, d, *match.group(4, 5, 6, 7, 8, 9))
    match = _DAY_MONTH_YEAR.fullmatch(value)
    if match:
        d, mo, y = match.group(1), _month_number(match.group(2)), match.group(3)
        return _build(y, mo, d, *match.group(4, 5, 6, 7, 8, 9))
    match = _MONTH_DAY_YEAR.fullmatch(value)
    if match:
        mo, d, y = _month_number(match.group(1)), match.group(2), match.group(3)
        return _build(y, mo, d, *match.group(4, 5, 6, 7, 8, 9))
    match = _COMPACT.fullmatch(value)
    if match:
        y, mo, d, h, mi, s, frac, zone = match.groups()
        return _build(y, mo, d, h, mi, s, frac, None, zone)
    raise DateError(f"{value!r} is not a recognised date/time")


def _build(year, month, day, hour, minute, second, fraction, ampm, zone) -> datetime:
    hour_number = int(hour) if hour else 0
    if ampm:
        if hour_number > 12:
            raise DateError(f"hour {hour_number} with an AM/PM designator")
        hour_number = hour_number % 12 + (12 if ampm[0] in "Pp" else 0)
    micro = int((fraction + "000000")[:6]) if fraction else 0
    try:
        moment = datetime(int(year), int(month), int(day), hour_number, int(minute or 0), int(second or 0),
                          micro, tzinfo=UTC)
    except ValueError as exc:
        raise DateError(f"not a valid date: {exc}") from None
    return _apply_offset(moment, _parse_offset(zone))


# ----------------------------------------------------------------------------- output / conversions
def format_general(moment: datetime) -> str:
    """The service's date output format, ``M/d/yyyy h:mm:ss tt`` (invariant culture, UTC)."""
    moment = moment.astimezone(UTC)
    hour = moment.hour % 12 or 12
    marker = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d}:{moment.second:02d} {marker}"


def from_filetime(ticks: int) -> datetime:
    """An AD large-integer date (100 ns ticks since 1601-01-01 UTC) as a datetime."""
    try:
        return FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
    except OverflowError:
        raise DateError(f"{ticks} is outside the range of dates") from None


def to_filetime(moment: datetime) -> int:
    delta = moment - FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


# ----------------------------------------------------------------------------- DateAdd / DateDiff
def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise DateError("date out of range")
    month += 1
    day = min(moment.day, _days_in_month(year, month))
    return moment.replace(year=year, month=month, day=day)


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (datetime(year, month + 1, 1) - datetime(year, month, 1)).days


_ADDERS: dict[str, Callable[[datetime, int], datetime]] = {
    "yyyy": lambda m, n: _add_months(m, 12 * n),
    "q": lambda m, n: _add_months(m, 3 * n),
    "m": _add_months,
    "y": lambda m, n: m + timedelta(days=n),
    "d": lambda m, n: m + timedelta(days=n),
    "w": lambda m, n: m + timedelta(days=n),
    "ww": lambda m, n: m + timedelta(weeks=n),
    "h": lambda m, n: m + timedelta(hours=n),
    "n": lambda m, n: m + timedelta(minutes=n),
    "s": lambda m, n: m + timedelta(seconds=n),
}
INTERVALS = tuple(_ADDERS)


def add_interval(interval: str, number: int, moment: datetime) -> datetime:
    """VB ``DateAdd``: yyyy year, q quarter, m month, y/d/w day, ww week, h hour, n minute, s second.
    Adding months or years clamps the day to the end of the month (.NET ``AddMonths``)."""
    adder = _ADDERS.get(interval.lower())
    if adder is None:
        raise DateError(f"unknown interval {interval!r} (expected one of {', '.join(INTERVALS)})")
    try:
        return adder(moment, number)
    except (OverflowError, ValueError):
        raise DateError("date out of range") from None


def _truncated_quotient(numerator: int, denominator: int) -> int:
    quotient = abs(numerator) // denominator
    return -quotient if numerator < 0 else quotient


def diff_interval(interval: str, first: datetime, second: datetime) -> int:
    """VB ``DateDiff`` (second − first): calendar differences for yyyy/q/m, whole elapsed units
    for d/y/w/h/n/s, and Sunday-to-Sunday week boundaries crossed for ww."""
    key = interval.lower()
    if key == "yyyy":
        return second.year - first.year
    if key == "q":
        return (second.year - first.year) * 4 + (second.month - 1) // 3 - (first.month - 1) // 3
    if key == "m":
        return (second.year - first.year) * 12 + second.month - first.month
    if key == "ww":
        return (_week_start(second) - _week_start(first)).days // 7
    delta = second - first
    microseconds = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    unit = {"d": 86_400, "y": 86_400, "w": 7 * 86_400, "h": 3_600, "n": 60, "s": 1}.get(key)
    if unit is None:
        raise DateError(f"unknown interval {interval!r} (expected one of {', '.join(INTERVALS)})")
    return _truncated_quotient(microseconds, unit * 1_000_000)


def _week_start(moment: datetime):
    day = moment.date()
    return day - timedelta(days=(day.weekday() + 1) % 7)
