"""What a setting's value must be: each kind accepts what the code that reads it can use, and
refuses the rest with what is expected (checked against gunicorn's own parsers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflowapp.kinds import (
    Addresses,
    Bind,
    Choice,
    FileOr,
    Folder,
    HostList,
    Level,
    Number,
    PathMap,
    PathMapping,
    Url,
    WorkerClass,
    parse_path_map,
    without_password,
)
from workflowapp.upstream.client import _host_patterns

#: Texts shaped like the values people write, and their near misses.
values = st.one_of(
    st.text(),
    st.text(st.sampled_from("0123456789.:,-+e[]/*abcfx: "), max_size=24),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "1_000", " 5 ", "0x10", "", "*"]),
)


@pytest.mark.parametrize(("kind", "good", "bad"), [
    (Number(1), ["1", "30000000", " 7 ", "1e3", "2.0"], ["0", "-1", "1.5", "abc", "nan", "inf",
                                                        "1e400", ""]),
    (Number(0, 10), ["0", "10"], ["11", "-0.5"]),
    (Number(0, 86400, whole=False, above=True), ["0.5", "600", "86400"], ["0", "86401", "-inf"]),
])
def test_numbers(kind: Number, good: list[str], bad: list[str]) -> None:
    for value in good:
        assert kind.problem(value) is None, value
        assert kind.parse(value) == float(value)
    for value in bad:
        assert kind.problem(value) == kind.expected, value
        with pytest.raises(ValueError, match="^expected "):
            kind.parse(value)


def test_a_number_says_what_it_expects() -> None:
    assert Number(1).expected == "expected a whole number from 1"
    assert Number(1, 100000).expected == "expected a whole number from 1 to 100000"
    assert Number(0, 86400, whole=False, above=True).expected == \
        "expected a number above 0 to 86400"


def test_choices_ignore_case_and_spaces() -> None:
    switch = Choice(frozenset({"on", "off"}), "on or off")
    assert switch.problem(" ON ") is None
    assert switch.problem("maybe") == "expected on or off"


def test_log_levels_are_read_leniently_and_never_crash() -> None:
    level = Level()
    assert [level.number(v) for v in ("0", "3", "2.9", "7", "-2", "abc", "nan", "inf")] == \
        [0, 3, 2, 3, 0, 0, 0, 0]
    assert level.problem(" 2 ") is None
    assert str(level.problem("inf")).endswith("; the host uses 0")


@pytest.mark.parametrize(("value", "fine"), [
    ("https://api.openai.com/v1/chat/completions", True), ("http://127.0.0.1:8001/v1", True),
    ("https://u:p@proxy.example/v1", True), ("ftp://x/y", False), ("api.openai.com", False),
    ("http://[::1/v1", False), ("http://host:99999/", False), ("https:///path", False),
])
def test_urls(value: str, fine: bool) -> None:
    assert (Url().problem(value) is None) is fine


def test_a_url_without_credentials_and_how_one_is_shown() -> None:
    assert Url(credentials=False).problem("http://wfgen/graphql") is None
    assert "without a user name" in str(Url(credentials=False).problem("http://u:p@wfgen/g"))
    assert without_password("http://u:secret@wfgen/g?x=@") == "http://***@wfgen/g?x=@"


@given(values)
def test_a_host_list_the_kind_takes_is_one_the_client_reads(value: str) -> None:
    if HostList().problem(value) is None:
        _host_patterns(value.split(","))  # never raises


def test_host_lists() -> None:
    assert HostList().problem("a.example, *.b.example,host:8443,http://127.0.0.1:8001,*") is None
    assert "'http://[::1' is not one" in str(HostList().problem("a.example,http://[::1"))
    assert HostList().problem("host:99999") is not None


def test_path_maps() -> None:
    assert parse_path_map(r"\\wfgen=/mnt/a; \\wfgen\storage=/mnt/b;") == (
        PathMapping(r"\\wfgen\storage", "/mnt/b"), PathMapping(r"\\wfgen", "/mnt/a"))
    assert PathMap().problem(r"C:\storage=/mnt") is None
    assert PathMap().problem("a=b;nonsense") == \
        "expected ';'-separated 'from=to' entries; 'nonsense' is not one"
    assert PathMap().problem("=/mnt") is not None


def test_folders(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("x")
    assert Folder().problem(str(tmp_path)) is None
    assert Folder().problem(str(tmp_path / "new" / "logs")) is None  # created at start-up
    assert Folder().problem(str(afile)) == "expected a folder; this is a file"
    assert "is not writable" in str(Folder().problem(str(afile / "logs")))
    assert Folder().problem("a\0b") is not None


def test_files_or_words(tmp_path: Path) -> None:
    kind = FileOr(frozenset({"on", "off"}), "on, off or a file path")
    afile = tmp_path / "file"
    afile.write_text("x")
    assert kind.problem(" On ") is None
    assert kind.problem(str(tmp_path / "access.log")) is None
    assert kind.problem(str(afile)) is None
    assert kind.problem(str(tmp_path)) == f"expected on, off or a file path; {tmp_path} is a folder"
    assert kind.problem(str(tmp_path / "no" / "a.log")) == \
        f"expected on, off or a file path; the folder {tmp_path / 'no'} does not exist"
    assert kind.problem(str(afile / "a.log")) is not None  # its "folder" is a file


def test_paths_the_system_cannot_look_at_are_problems_not_errors(tmp_path: Path) -> None:
    """A name over the system's limit raises OSError on a mere exists(): said, not raised."""
    long_name = str(tmp_path / ("x" * 300))
    assert "File name too long" in str(Folder().problem(long_name + "/logs"))
    kind = FileOr(frozenset({"on", "off"}), "on, off or a file path")
    assert "File name too long" in str(kind.problem(long_name))


@pytest.mark.parametrize(("value", "fine"), [
    ("0.0.0.0:8000", True), ("127.0.0.1", True), ("[::1]:8000", True), ("[::]", True),
    ("unix:/run/workflowapp.sock", True), ("fd://3", True), ("tcp://host:80", True),
    (":8000", True), ("0.0.0.0:abc", False), ("host:65536", False), ("::1", False),
    ("unix:", False), ("fd://x", False), ("[::1]:", False),
])
def test_binds(value: str, fine: bool) -> None:
    assert (Bind().problem(value) is None) is fine


@given(values)
def test_a_bind_the_kind_takes_is_one_gunicorn_takes(value: str) -> None:
    util = pytest.importorskip("gunicorn.util")
    if Bind().problem(value) is None:
        address = util.parse_address(value.strip())
        assert not isinstance(address, tuple) or 0 <= address[1] <= 65535


@given(values)
def test_addresses_are_gunicorn_s(value: str) -> None:
    config = pytest.importorskip("gunicorn.config")
    try:
        config.validate_string_to_addr_list(value)
    except ValueError:
        assert Addresses().problem(value) is not None
    else:
        assert Addresses().problem(value) is None


def test_worker_classes() -> None:
    kind = WorkerClass(("gevent", "sync"))
    assert kind.problem("gevent") is None and kind.problem("my.module.Worker") is None
    assert kind.problem("nope") == "expected gevent, sync or a module.Class path"
