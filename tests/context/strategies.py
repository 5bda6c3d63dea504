"""Hypothesis strategies for contexts each format can carry exactly (so read(write(ctx)) == ctx).

What differs per format: XML cannot carry C0 control characters or lone surrogates; JSON drops
datetime fractions and ``FileRef.original_path`` and has only ``replyTo`` in the session;
Recordset has no session; JSON FILE paths must survive the path -> ``file:`` URL -> path trip.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from workflowapp.context.model import Context, DataType, Direction, FileRef, Format, Parameter

_NOT_XML = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17" \
    "\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\ufffe\uffff"

xml_chars = st.characters(exclude_categories=["Cs"], exclude_characters=_NOT_XML)
#: Text XML can carry, biased towards the characters that need escaping.
xml_text = st.one_of(
    st.text(xml_chars, min_size=1),
    st.text(st.sampled_from('<>&"\'\r\n\t ]]>éà€😀\u2028'), min_size=1),
)
json_text = st.text(min_size=1)  # any Unicode scalar value; JSON escapes what it must

numbers = st.floats(allow_nan=False, allow_infinity=False)

_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_aware = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
    timezones=st.one_of(st.just(UTC), _offsets),
)
xml_dates = _aware.map(lambda value: value.astimezone(UTC))
json_dates = xml_dates.map(lambda value: value.replace(microsecond=0))

_segment = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/\\\x00"), min_size=1, max_size=12
)
_segments = st.lists(_segment, min_size=1, max_size=4)
_host = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.\-_]{0,15}", fullmatch=True).filter(
    lambda host: host.lower() != "localhost"
)
windows_paths = st.builds(
    lambda drive, parts: f"{drive}:\\" + "\\".join(parts),
    st.sampled_from("CDEZcz"), _segments,
)
unc_paths = st.builds(lambda host, parts: f"\\\\{host}\\" + "\\".join(parts), _host, _segments)
posix_paths = _segments.filter(lambda parts: not (len(parts[0]) == 2 and parts[0][1] in ":|")).map(
    lambda parts: "/" + "/".join(parts)
)
#: Paths that survive path -> file: URL -> path unchanged.
url_paths = st.one_of(windows_paths, unc_paths, posix_paths)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def file_refs(fmt: Format) -> st.SearchStrategy[FileRef]:
    """FILE values the format carries exactly."""
    if fmt is Format.JSON:
        return st.builds(
            FileRef, path=url_paths, name=_optional(json_text), size=_optional(numbers),
            content_type=_optional(json_text), description=_optional(json_text),
            original_path=st.none(), last_modified=_optional(json_dates),
        )
    return st.builds(
        FileRef, path=xml_text, name=_optional(xml_text), size=_optional(numbers),
        content_type=_optional(xml_text), description=_optional(xml_text),
        original_path=_optional(xml_text), last_modified=_optional(xml_dates),
    )


def _value(fmt: Format, data_type: DataType) -> st.SearchStrategy[Any]:
    text = json_text if fmt is Format.JSON else xml_text
    dates = json_dates if fmt is Format.JSON else xml_dates
    by_type: dict[DataType, st.SearchStrategy[Any]] = {
        DataType.TEXT: text, DataType.NUMERIC: numbers, DataType.DATETIME: dates,
        DataType.FILE: file_refs(fmt),
    }
    return _optional(by_type[data_type])


def parameters(fmt: Format) -> st.SearchStrategy[Parameter]:
    """One parameter of any data type and direction, with or without a value."""
    name = json_text if fmt is Format.JSON else xml_text
    return st.sampled_from(list(DataType)).flatmap(
        lambda data_type: st.builds(
            Parameter, name=name, data_type=st.just(data_type),
            direction=st.sampled_from(list(Direction)), value=_value(fmt, data_type),
        )
    )


_session_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,12}", fullmatch=True).filter(
    lambda key: not key.lower().startswith("xml")
)


def _session(fmt: Format) -> st.SearchStrategy[dict[str, str]]:
    if fmt is Format.RECORDSET:
        return st.just({})
    if fmt is Format.JSON:
        return st.one_of(st.just({}), st.builds(lambda url: {"replyTo": url}, st.text()))
    return st.dictionaries(_session_keys, st.text(xml_chars), max_size=6)


def _build(fmt: Format, params: list[Parameter], session: dict[str, str], schema: bool) -> Context:
    ctx = Context(format=fmt, session=session, with_schema=schema and fmt is Format.DATASET)
    for parameter in params:
        ctx.parameters.setdefault(parameter.name, parameter)
    return ctx


def contexts(fmt: Format) -> st.SearchStrategy[Context]:
    """Whole contexts the format carries exactly (unique names, format-appropriate session)."""
    return st.builds(
        _build, st.just(fmt), st.lists(parameters(fmt), max_size=6), _session(fmt), st.booleans()
    )


def same(left: Context, right: Context) -> bool:
    """Equality including order (dict equality ignores the order of parameters and session)."""
    return (
        left == right
        and list(left.parameters) == list(right.parameters)
        and list(left.session) == list(right.session)
    )
