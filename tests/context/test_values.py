"""Value conversions (protocol notes §8, §9): NUMERIC, DATETIME, TEXT, FILE URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings

from tests.context import strategies as s
from workflowapp.context import values
from workflowapp.context.model import DataType, Direction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.2", 0.2), ("21", 21.0), ("-3", -3.0), ("+4.5", 4.5), ("1.5E+21", 1.5e21),
        ("1e-5", 1e-5), (".5", 0.5), ("5.", 5.0), (" 12.5\n", 12.5), ("-0", -0.0),
        ("0.30000000000000004", 0.30000000000000004),
        ("1.7976931348623157E+308", 1.7976931348623157e308),
    ],
)
def test_parse_numeric(text: str, expected: float) -> None:
    assert values.parse_numeric(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,5", "not a number"), ("1 000", "not a number"), ("12 kg", "not a number"),
        ("", "not a number"), ("0x10", "not a number"), ("١٢", "not a number"),
        ("1_000", "not a number"), ("INF", "infinity and NaN"), ("-INF", "infinity and NaN"),
        ("NaN", "infinity and NaN"), ("Infinity", "infinity and NaN"), ("1e999", "out of range"),
    ],
)
def test_parse_numeric_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values.parse_numeric(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1000.0, "1000"), (21.0, "21"), (0.2, "0.2"), (1.5e21, "1.5E+21"), (1e16, "1E+16"),
        (1e-5, "1E-05"), (0.1 + 0.2, "0.30000000000000004"), (-0.0, "-0"), (-2.5, "-2.5"),
        (123456789012345.0, "123456789012345"), (5e-324, "5E-324"), (7, "7"),
    ],
)
def test_format_numeric_shortest_round_trip(value: float, text: str) -> None:
    assert values.format_numeric(value) == text
    assert values.parse_numeric(text) == value


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_format_numeric_refuses_non_finite(value: float) -> None:
    with pytest.raises(ValueError, match="infinity and NaN"):
        values.format_numeric(value)
    with pytest.raises(ValueError, match="infinity and NaN"):
        values.check_finite(value)


@settings(max_examples=300, deadline=None)
@given(s.numbers)
def test_numeric_round_trip(value: float) -> None:
    assert values.parse_numeric(values.format_numeric(value)) == value


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-15T14:30:00Z", _utc(2024, 3, 15, 14, 30)),
        ("2013-11-18T16:11:51-05:00", _utc(2013, 11, 18, 21, 11, 51)),
        ("2024-03-15T14:30:00+02:00", _utc(2024, 3, 15, 12, 30)),
        ("2024-03-15T14:30:00", _utc(2024, 3, 15, 14, 30)),  # zone-less: UTC
        ("2024-06-30T12:00:00.25Z", _utc(2024, 6, 30, 12, 0, 0, 250000)),
        ("2024-06-30T12:00:00.1234567Z", _utc(2024, 6, 30, 12, 0, 0, 123456)),  # .NET ticks
        ("2024-06-30T12:00Z", _utc(2024, 6, 30, 12)),
        ("2024-06-30", _utc(2024, 6, 30)),
        ("2024-12-31T24:00:00Z", _utc(2025, 1, 1)),
        ("  2024-03-15T14:30:00Z \n", _utc(2024, 3, 15, 14, 30)),
        ("0001-01-01T00:00:00Z", _utc(1, 1, 1)),
    ],
)
def test_parse_datetime(text: str, expected: datetime) -> None:
    parsed = values.parse_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("15/03/2024", "not a date"), ("2024-03-15 14:30:00", "not a date"), ("", "not a date"),
        ("2024-02-30T00:00:00Z", "out of range"), ("2024-03-15T25:00:00Z", "out of range"),
        ("2024-03-15T14:30:00+25:00", "out of range"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
        ("2024-03-15T14:30:00.Z", "not a date"), ("yesterday", "not a date"),
    ],
)
def test_parse_datetime_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values.parse_datetime(text)


def test_format_datetime_per_format() -> None:
    value = _utc(2024, 6, 30, 12, 0, 0, 250000)
    assert values.format_datetime(value) == "2024-06-30T12:00:00.25Z"
    assert values.format_recordset_datetime(value) == "2024-06-30T12:00:00.25"
    assert values.format_json_datetime(value) == "2024-06-30T12:00:00Z"  # fraction dropped
    whole = _utc(2024, 3, 15, 14, 30)
    assert values.format_datetime(whole) == "2024-03-15T14:30:00Z"
    assert values.format_recordset_datetime(whole) == "2024-03-15T14:30:00"
    assert values.format_datetime(_utc(5, 1, 2)) == "0005-01-02T00:00:00Z"


def test_format_datetime_converts_to_utc() -> None:
    eastern = datetime(2013, 11, 18, 16, 11, 51, tzinfo=timezone(timedelta(hours=-5)))
    assert values.format_datetime(eastern) == "2013-11-18T21:11:51Z"
    assert values.format_datetime(datetime(2024, 1, 1, 8)) == "2024-01-01T08:00:00Z"  # naive=UTC
    with pytest.raises(ValueError, match="out of range"):
        values.to_utc(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))


@settings(max_examples=300, deadline=None)
@given(s.xml_dates)
def test_datetime_round_trip(value: datetime) -> None:
    assert values.parse_datetime(values.format_datetime(value)) == value
    assert values.parse_datetime(values.format_recordset_datetime(value)) == value
    assert values.parse_datetime(values.format_json_datetime(value)) == value.replace(
        microsecond=0
    )


def test_text_empty_is_no_value() -> None:
    assert values.parse_text("") is None
    assert values.parse_text(None) is None
    assert values.parse_text(" ") == " "


def test_data_type_and_direction_are_exact() -> None:
    assert values.parse_data_type("NUMERIC") is DataType.NUMERIC
    assert values.parse_direction("INOUT") is Direction.INOUT
    for bad in ("text", "Text", " TEXT", "", None, 1):
        with pytest.raises(ValueError, match="unknown data type"):
            values.parse_data_type(bad)
    for bad in ("out", "In", "BOTH", None):
        with pytest.raises(ValueError, match="unknown direction"):
            values.parse_direction(bad)


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("C:\\x\\a b.txt", "file:///C:/x/a%20b.txt"),
        ("\\\\srv\\share\\a", "file://srv/share/a"),
        ("/tmp/a.wav", "file:///tmp/a.wav"),
        ("C:\\ILLUSTRATIVE\\storage\\1234\\5\\report.pdf",
         "file:///C:/ILLUSTRATIVE/storage/1234/5/report.pdf"),
        ("D:\\données\\été #1 (v2)%.txt", "file:///D:/donn%C3%A9es/%C3%A9t%C3%A9%20%231%20(v2)%25.txt"),
        ("/tmp/a?b", "file:///tmp/a%3Fb"),
    ],
)
def test_file_urls(path: str, url: str) -> None:
    assert values.path_to_file_url(path) == url
    assert values.file_url_to_path(url) == path


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("FILE:///C:/x/y.txt", "C:\\x\\y.txt"),
        ("file:/C:/x/y.txt", "C:\\x\\y.txt"),
        ("file:///C|/x/y.txt", "C:\\x\\y.txt"),
        ("file://C:/x/y.txt", "C:\\x\\y.txt"),
        ("file://localhost/tmp/a", "/tmp/a"),
        ("file:/tmp/a", "/tmp/a"),
        ("file:///C:", "C:\\"),
    ],
)
def test_file_url_variants(url: str, path: str) -> None:
    assert values.file_url_to_path(url) == path


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/a.txt", "only file: URLs"),
        ("https://x/a", "only file: URLs"),
        ("C:\\x\\a.txt", "only file: URLs"),
        ("file:///tmp/a?x=1", "query or fragment"),
        ("file:///tmp/a#b", "query or fragment"),
        ("file:relative/a", "absolute path"),
        ("file:///tmp/%00", "NUL"),
        ("file:///tmp/%ff", "not UTF-8"),
    ],
)
def test_file_url_rejects(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values.file_url_to_path(url)


def test_path_to_file_url_rejects_relative_paths() -> None:
    for path in ("a.txt", "", "..\\x", "\\\\", "\\\\\\share"):
        with pytest.raises(ValueError):
            values.path_to_file_url(path)


def test_long_path_prefixes() -> None:
    assert values.path_to_file_url("\\\\?\\C:\\x\\a") == "file:///C:/x/a"
    assert values.path_to_file_url("\\\\?\\UNC\\srv\\s\\a") == "file://srv/s/a"


@settings(max_examples=300, deadline=None)
@given(s.url_paths)
def test_file_url_round_trip(path: str) -> None:
    url = values.path_to_file_url(path)
    assert url.startswith("file:")
    assert values.file_url_to_path(url) == path


def test_error_messages_stay_short() -> None:
    with pytest.raises(ValueError) as caught:
        values.parse_numeric("x" * 100_000)
    assert len(str(caught.value)) < 200
