"""Value conversions between the wire text of a context and the model's Python values.

Pure functions, shared by the three codecs (and usable by applications). Every parser raises a
plain :class:`ValueError` whose message describes the value, never the parameter: the codecs
add the parameter and field names when they turn it into a
:class:`~workflowapp.errors.ContextError`.

Rules (protocol notes §8, §9):

* NUMERIC is an ``xsd:double``: ``.`` decimal separator, optional exponent, no thousands
  separator; ``INF``/``NaN`` are refused because WorkflowGen's columns cannot carry them
  usefully. Written in shortest round-trip form (``1000``, ``1.5E+21``, ``0.30000000000000004``).
* DATETIME is an ``xsd:dateTime``; offsets are converted to UTC and a value without a zone is
  taken as UTC. The model always holds timezone-aware UTC datetimes (microsecond precision:
  a 7th fractional digit is truncated).
* TEXT: the empty string means "no value".
* FILE travels as a path in XML and as a ``file:`` URL in JSON.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit

from workflowapp.context.model import DataType, Direction

__all__ = [
    "check_finite",
    "expect_number",
    "expect_type",
    "file_url_to_path",
    "format_datetime",
    "format_json_datetime",
    "format_numeric",
    "format_recordset_datetime",
    "parse_data_type",
    "parse_datetime",
    "parse_direction",
    "parse_numeric",
    "parse_text",
    "path_to_file_url",
    "to_utc",
]

_XML_SPACE = " \t\r\n"
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL_NUMBERS = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan"})
_DATETIME = re.compile(
    r"(?P<y>-?[0-9]{4,})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:T(?P<h>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]+))?)?)?"
    r"(?P<z>Z|[+-][0-9]{2}:[0-9]{2})?"
)
_T = TypeVar("_T")
_DATA_TYPES = {t.value: t for t in DataType}
_DIRECTIONS = {d.value: d for d in Direction}
# Characters left as-is in a file: URL path (RFC 3986 pchar sub-delims, plus "/" and ":").
_URL_SAFE = "/:!$&'()*+,;=@~"
_URL_DRIVE = re.compile(r"[A-Za-z][:|](?:/|\Z)")
_PATH_DRIVE = re.compile(r"[A-Za-z]:(?:[\\/]|\Z)")


def parse_text(text: str | None) -> str | None:
    """A TEXT value: the text itself, or ``None`` for an absent or empty value."""
    return text or None


def parse_data_type(text: object) -> DataType:
    """A data type, exactly as WorkflowGen writes it (upper case): TEXT, NUMERIC, DATETIME, FILE."""
    found = _DATA_TYPES.get(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"unknown data type {text!r} (expected TEXT, NUMERIC, DATETIME or FILE)")
    return found


def parse_direction(text: object) -> Direction:
    """A direction, exactly as WorkflowGen writes it (upper case): IN, OUT, INOUT."""
    found = _DIRECTIONS.get(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"unknown direction {text!r} (expected IN, OUT or INOUT)")
    return found


def parse_numeric(text: str) -> float:
    """Parse an ``xsd:double`` lexical value (surrounding XML whitespace allowed).

    :raises ValueError: not a number (``1,5``, ``12 kg``), infinity/NaN, or out of range.
    """
    stripped = text.strip(_XML_SPACE)
    if not _NUMBER.fullmatch(stripped):
        if stripped.lower() in _SPECIAL_NUMBERS:
            raise ValueError(f"{stripped!r} is not accepted: infinity and NaN are not allowed")
        raise ValueError(
            f"{_shorten(text)!r} is not a number (use '.' as decimal separator, e.g. 1.5)"
        )
    value = float(stripped)
    if math.isinf(value):
        raise ValueError(f"{_shorten(text)!r} is out of range for a double")
    return value


def format_numeric(value: float) -> str:
    """Write a NUMERIC in shortest round-trip ``xsd:double`` form: ``1000``, ``1.5E+21``, ``-0``.

    :raises ValueError: infinity or NaN (WorkflowGen cannot use them).
    """
    text = repr(check_finite(value))
    if text.endswith(".0"):
        return text[:-2]
    return text.upper() if "e" in text else text


def check_finite(value: float) -> float:
    """Return ``value`` as a float, refusing infinity and NaN (JSON has no way to carry them)."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{number!r} cannot be sent: infinity and NaN are not allowed")
    return number


def parse_datetime(text: str) -> datetime:
    """Parse an ``xsd:dateTime`` (or date) into a timezone-aware UTC datetime.

    Offsets are converted to UTC; a value without a zone is taken as UTC (as WorkflowGen's
    UTC-mode columns do). Fractions beyond microseconds are truncated; ``24:00:00`` is the
    next midnight.

    :raises ValueError: not a date, or a field out of range.
    """
    stripped = text.strip(_XML_SPACE)
    match = _DATETIME.fullmatch(stripped)
    if match is None:
        raise ValueError(f"{_shorten(text)!r} is not a date and time (expected e.g. "
                         "2024-03-15T14:30:00Z)")
    try:
        return _build_datetime(match)
    except (ValueError, OverflowError):
        raise ValueError(
            f"{_shorten(text)!r} is not a valid date and time (a field is out of range)"
        ) from None


def _build_datetime(match: re.Match[str]) -> datetime:
    hour, minute, second = (int(match[g] or 0) for g in ("h", "mi", "s"))
    extra_day = hour == 24 and minute == 0 and second == 0 and not (match["f"] or "").strip("0")
    fraction = (match["f"] or "")[:6].ljust(6, "0")
    value = datetime(
        int(match["y"]), int(match["mo"]), int(match["d"]),
        0 if extra_day else hour, minute, second, int(fraction), tzinfo=_zone(match["z"]),
    )
    if extra_day:
        value += timedelta(days=1)
    return value.astimezone(UTC)


def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


def to_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken as already being UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range once converted to UTC") from None


def format_datetime(value: datetime) -> str:
    """XML (DataSet) form: UTC with ``Z``, fraction only when non-zero (``…12:00:00.25Z``)."""
    return format_recordset_datetime(value) + "Z"


def format_recordset_datetime(value: datetime) -> str:
    """Recordset form: UTC without zone suffix, fraction only when non-zero."""
    utc = to_utc(value)
    text = _seconds(utc)
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text


def format_json_datetime(value: datetime) -> str:
    """JSON form, as WorkflowGen's library writes it: ``YYYY-MM-DDTHH:MM:SSZ``, fraction dropped."""
    return _seconds(to_utc(value)) + "Z"


def _seconds(v: datetime) -> str:
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d}"
            f"T{v.hour:02d}:{v.minute:02d}:{v.second:02d}")


def file_url_to_path(url: str) -> str:
    """Turn a ``file:`` URL back into the path WorkflowGen means.

    ``file:///C:/x/a%20b.txt`` -> ``C:\\x\\a b.txt``; ``file://srv/share/a`` ->
    ``\\\\srv\\share\\a``; ``file:///tmp/a.wav`` -> ``/tmp/a.wav`` (``localhost`` = local).

    :raises ValueError: not a ``file:`` URL, a query or fragment, or no absolute path.
    """
    parts = urlsplit(url.strip())
    if parts.scheme != "file":
        raise ValueError(f"{_shorten(url)!r} is not supported: only file: URLs are accepted")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError(f"{_shorten(url)!r} has a query or fragment; encode '?' and '#' as "
                         "%3F and %23")
    try:
        path = unquote(parts.path, errors="strict")
        host = unquote(parts.netloc, errors="strict")
    except UnicodeDecodeError:
        raise ValueError(f"{_shorten(url)!r} has %-escapes that are not UTF-8") from None
    if "\x00" in path or "\x00" in host:
        raise ValueError(f"{_shorten(url)!r} contains a NUL character")
    if _URL_DRIVE.fullmatch(parts.netloc):  # file://C:/x, an old but seen form
        host, path = "", "/" + host + path
    if host and host.lower() != "localhost":
        return "\\\\" + host + path.replace("/", "\\")
    windows = path.lstrip("/")
    if _URL_DRIVE.match(windows):
        drive, rest = windows[0] + ":", windows[2:]
        return drive + (rest.replace("/", "\\") or "\\")
    if not path.startswith("/"):
        raise ValueError(f"{_shorten(url)!r} does not hold an absolute path")
    return path


def path_to_file_url(path: str) -> str:
    """Turn a path into the ``file:`` URL WorkflowGen expects in JSON (inverse of the above).

    :raises ValueError: a relative path, or a UNC path without a host.
    """
    if path.startswith("\\\\?\\UNC\\"):
        path = "\\\\" + path[8:]
    elif path.startswith("\\\\?\\"):
        path = path[4:]
    if _PATH_DRIVE.match(path):
        return "file:///" + quote(path[0] + ":" + path[2:].replace("\\", "/"), safe=_URL_SAFE)
    if path.startswith("\\\\"):
        host, _, rest = path[2:].replace("\\", "/").partition("/")
        if not host:
            raise ValueError(f"{_shorten(path)!r} is a UNC path without a server name")
        return "file://" + quote(host, safe="") + "/" + quote(rest, safe=_URL_SAFE)
    if path.startswith("/"):
        return "file://" + quote(path, safe=_URL_SAFE)
    raise ValueError(f"{_shorten(path)!r} is not an absolute path")


def expect_type(value: object, kind: type[_T], data_type: str) -> _T:
    """``value`` if it is a ``kind``, else a TypeError naming the data type."""
    if not isinstance(value, kind):
        raise TypeError(f"a {data_type} value must be a {kind.__name__}, "
                        f"not {type(value).__name__}")
    return value


def expect_number(value: object) -> float:
    """A NUMERIC value: int or float (bool refused), as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a NUMERIC value must be a number, not {type(value).__name__}")
    return float(value)


def _shorten(text: str, limit: int = 80) -> str:
    """Keep error messages short even when the offending value is huge."""
    return text if len(text) <= limit else text[:limit] + "…"
