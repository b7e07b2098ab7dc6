""".NET date formats, the lenient date parser and DateAdd/DateDiff arithmetic."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from graphsync.expressions import dates

UTC = timezone.utc
MOMENT = datetime(2021, 8, 5, 17, 4, 9, 123456, tzinfo=UTC)


@pytest.mark.parametrize("fmt, expected", [
    ("d/M/yy", "5/8/21"),
    ("dd/MM/yyyy", "05/08/2021"),
    ("ddd dddd", "Thu Thursday"),
    ("MMM MMMM", "Aug August"),
    ("y yy yyy yyyy yyyyy", "21 21 2021 2021 02021"),
    ("h hh H HH", "5 05 17 17"),
    ("m mm s ss", "4 04 9 09"),
    ("f ff fff ffffff fffffff", "1 12 123 123456 1234560"),
    ("F FFF FFFFFFF", "1 123 123456"),
    ("t tt", "P PM"),
    ("z zz zzz K", "+0 +00 +00:00 Z"),
    ("yyyy'-'MM'-'dd\"T\"HH\\:mm", "2021-08-05T17:04"),
    ("%d", "5"),
    ("yyyy-MM-ddTHH:mm:ss.fffZ", "2021-08-05T17:04:09.123Z"),
    ("g yyyy", "A.D. 2021"),
    ("o", "2021-08-05T17:04:09.1234560Z"),
    ("s", "2021-08-05T17:04:09"),
    ("u", "2021-08-05 17:04:09Z"),
    ("R", "Thu, 05 Aug 2021 17:04:09 GMT"),
    ("d", "08/05/2021"),
    ("G", "08/05/2021 17:04:09"),
])
def test_format(fmt, expected):
    assert dates.format_datetime(MOMENT, fmt) == expected


def test_f_fraction_drops_the_separator_when_zero():
    assert dates.format_datetime(MOMENT.replace(microsecond=0), "HH:mm:ss.FFF") == "17:04:09"


def test_twelve_hour_clock_at_midnight_and_noon():
    assert dates.format_datetime(datetime(2021, 1, 1, 0, 5, tzinfo=UTC), "h:mm tt") == "12:05 AM"
    assert dates.format_datetime(datetime(2021, 1, 1, 12, 5, tzinfo=UTC), "h:mm tt") == "12:05 PM"


def test_offset_of_non_utc_datetimes():
    moment = datetime(2021, 1, 1, tzinfo=timezone(timedelta(hours=-7, minutes=-30)))
    assert dates.format_datetime(moment, "z|zz|zzz|K") == "-7|-07|-07:30|-07:30"


@pytest.mark.parametrize("value, fmt, expected", [
    ("20150123105347.1Z", "yyyyMMddHHmmss.fZ", datetime(2015, 1, 23, 10, 53, 47, 100000, tzinfo=UTC)),
    ("2020-12-31-08:00", "yyyy-MM-ddzzz", datetime(2020, 12, 31, 8, tzinfo=UTC)),
    ("12/31/2020 11:59:59 PM", "M/d/yyyy hh:mm:ss tt", datetime(2020, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ("1/2/2021 12:00:00 AM", "M/d/yyyy h:mm:ss tt", datetime(2021, 1, 2, tzinfo=UTC)),
    ("05-Feb-99", "dd-MMM-yy", datetime(1999, 2, 5, tzinfo=UTC)),
    ("05-Feb-49", "dd-MMM-yy", datetime(2049, 2, 5, tzinfo=UTC)),
    ("Friday, 05 February 2021", "dddd, dd MMMM yyyy", datetime(2021, 2, 5, tzinfo=UTC)),
    ("2021-02-05T10:00:00+02:00", "yyyy-MM-ddTHH:mm:ssK", datetime(2021, 2, 5, 8, tzinfo=UTC)),
    ("2021-02-05T10:00:00", "yyyy-MM-ddTHH:mm:ssK", datetime(2021, 2, 5, 10, tzinfo=UTC)),
    ("10.5", "HH.F", datetime(1, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)),
])
def test_parse_exact(value, fmt, expected):
    assert dates.parse_exact(value, fmt) == expected


@pytest.mark.parametrize("value, fmt", [
    ("2021-02-30", "yyyy-MM-dd"), ("2021-2-05", "yyyy-MM-dd"), ("13:00 PM", "HH:mm tt"),
    ("2021-01-01", "yyyy-MM-dd'"), ("x", "%"), ("2021", "yyyy\\"),
])
def test_parse_exact_rejects(value, fmt):
    with pytest.raises(dates.DateError):
        dates.parse_exact(value, fmt)


@pytest.mark.parametrize("value, expected", [
    ("2020-03-16-07:00", datetime(2020, 3, 16, 7, tzinfo=UTC)),
    ("2021-06-30+08:00", datetime(2021, 6, 29, 16, tzinfo=UTC)),
    ("2009-06-15T01:45:30-07:00", datetime(2009, 6, 15, 8, 45, 30, tzinfo=UTC)),
    ("2009-06-15T01:45:30.5Z", datetime(2009, 6, 15, 1, 45, 30, 500000, tzinfo=UTC)),
    ("2009-06-15 01:45", datetime(2009, 6, 15, 1, 45, tzinfo=UTC)),
    ("8/25/2021 5:41:18 PM", datetime(2021, 8, 25, 17, 41, 18, tzinfo=UTC)),
    ("8/25/2021", datetime(2021, 8, 25, tzinfo=UTC)),
    ("25 Aug 2021 17:41:18 +0100", datetime(2021, 8, 25, 16, 41, 18, tzinfo=UTC)),
    ("Wednesday, August 25, 2021 5:41 PM", datetime(2021, 8, 25, 17, 41, tzinfo=UTC)),
    ("20210825", datetime(2021, 8, 25, tzinfo=UTC)),
    ("  2021-08-25  ", datetime(2021, 8, 25, tzinfo=UTC)),
])
def test_parse_datetime(value, expected):
    assert dates.parse_datetime(value) == expected


@pytest.mark.parametrize("value", ["", "tomorrow", "2021-13-01", "31/12/2021", "2021-01-01T25:00", "13:00 PM"])
def test_parse_datetime_rejects(value):
    with pytest.raises(dates.DateError):
        dates.parse_datetime(value)


def test_format_general():
    assert dates.format_general(datetime(2021, 7, 2, 15, 33, 38, tzinfo=UTC)) == "7/2/2021 3:33:38 PM"
    assert dates.format_general(datetime(2021, 7, 2, 0, 0, 0, tzinfo=UTC)) == "7/2/2021 12:00:00 AM"
    # aware non-UTC values are converted to UTC
    assert dates.format_general(datetime(2021, 7, 2, 1, tzinfo=timezone(timedelta(hours=2)))) == "7/1/2021 11:00:00 PM"


def test_filetime_round_trip():
    moment = datetime(2012, 1, 1, 23, tzinfo=UTC)
    assert dates.to_filetime(moment) == 129699324000000000
    assert dates.from_filetime(129699324000000000) == moment


@pytest.mark.parametrize("interval, first, second, expected", [
    ("yyyy", datetime(2020, 12, 31), datetime(2021, 1, 1), 1),
    ("m", datetime(2021, 1, 31), datetime(2021, 2, 1), 1),
    ("q", datetime(2021, 3, 31), datetime(2021, 4, 1), 1),
    ("d", datetime(2021, 1, 1, 23), datetime(2021, 1, 2, 1), 0),
    ("d", datetime(2021, 1, 2, 1), datetime(2021, 1, 1, 0), -1),
    ("ww", datetime(2021, 8, 21), datetime(2021, 8, 22), 1),  # Saturday → Sunday crosses a week
    ("w", datetime(2021, 8, 21), datetime(2021, 8, 22), 0),
    ("h", datetime(2021, 1, 1, 0, 59), datetime(2021, 1, 1, 1, 58), 0),
    ("n", datetime(2021, 1, 1, 0, 0, 59), datetime(2021, 1, 1, 0, 1, 58), 0),
    ("s", datetime(2021, 1, 1), datetime(2021, 1, 1, 0, 0, 1, 999999), 1),
])
def test_diff_interval(interval, first, second, expected):
    assert dates.diff_interval(interval, first.replace(tzinfo=UTC), second.replace(tzinfo=UTC)) == expected


def test_add_interval_clamps_month_ends():
    assert dates.add_interval("m", 1, datetime(2020, 1, 31, tzinfo=UTC)) == datetime(2020, 2, 29, tzinfo=UTC)
    assert dates.add_interval("m", -1, datetime(2020, 3, 31, tzinfo=UTC)) == datetime(2020, 2, 29, tzinfo=UTC)
    assert dates.add_interval("YYYY", -1, datetime(2020, 2, 29, tzinfo=UTC)) == datetime(2019, 2, 28, tzinfo=UTC)
