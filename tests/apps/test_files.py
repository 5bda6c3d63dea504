"""FILE parameters: path mapping, the allow-list (links and '..' resolved), reading limits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workflowapp.apps.files import (
    allowed_path,
    content_type,
    file_name,
    map_path,
    read_file,
)
from workflowapp.context.model import FileRef
from workflowapp.errors import (
    ConfigurationError,
    FileNotAllowed,
    FileNotFound,
    FileTooLarge,
    ParameterError,
)
from workflowapp.kinds import PathMapping
from workflowapp.settings import Settings

MAPS = [PathMapping(r"C:\wfgen\storage\special", "/srv/special"),
        PathMapping(r"C:\wfgen\storage", "/mnt/wfgen"),
        PathMapping(r"\\fs01\share\\", "/mnt/share")]


@pytest.mark.parametrize(("given", "expected"), [
    (r"C:\wfgen\storage\1\a.wav", "/mnt/wfgen/1/a.wav"),
    (r"c:\WFGEN\Storage\1\A.wav", "/mnt/wfgen/1/A.wav"),
    ("C:/wfgen/storage/1/a.wav", "/mnt/wfgen/1/a.wav"),
    (r"C:\wfgen\storage\special\b.mp3", "/srv/special/b.mp3"),
    (r"\\fs01\share\audio\c.ogg", "/mnt/share/audio/c.ogg"),
    (r"\\FS01\Share\d e.wav", "/mnt/share/d e.wav"),
    ("/tmp/already/local.wav", "/tmp/already/local.wav"),
])
def test_map_path_longest_prefix_case_insensitive(given: str, expected: str) -> None:
    assert map_path(given, sorted(MAPS, key=lambda m: -len(m.source)), parameter="FILE") \
        == expected


def test_prefix_matches_whole_folder_names_only() -> None:
    with pytest.raises(FileNotFound, match="WorkflowAppPathMap") as caught:
        map_path(r"C:\wfgen\storage2\a.wav", MAPS, parameter="FILE")
    assert caught.value.parameter == "FILE"


@pytest.mark.parametrize("given", [r"D:\other\a.wav", r"\\elsewhere\x\a.wav", "relative/a.wav"])
def test_unmapped_foreign_paths_name_the_setting(given: str) -> None:
    with pytest.raises(FileNotFound, match="WorkflowAppPathMap"):
        map_path(given, MAPS, parameter="FILE")


@pytest.mark.parametrize("given", [r"C:\wfgen\storage\..\..\Windows\win.ini",
                                   "/tmp/allowed/../etc/passwd"])
def test_dot_dot_is_refused(given: str) -> None:
    with pytest.raises(FileNotAllowed, match=r"contains '\.\.'"):
        map_path(given, MAPS, parameter="FILE")


def test_nothing_is_read_without_allowed_folders(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="WorkflowAppAllowedFolders") as caught:
        allowed_path(str(tmp_path / "a.wav"), [], "a.wav", parameter="FILE")
    assert caught.value.code == "missing_setting"


def test_allow_list_resolves_links(tmp_path: Path) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (outside / "secret.wav").write_bytes(b"x")
    (allowed / "inner.wav").write_bytes(b"x")
    (allowed / "escape.wav").symlink_to(outside / "secret.wav")
    (allowed / "alias.wav").symlink_to(allowed / "inner.wav")
    (tmp_path / "linked").symlink_to(allowed)
    folders = [str(tmp_path / "linked")]  # an allowed folder given through a link works too
    assert allowed_path(str(allowed / "alias.wav"), folders, "x", parameter="FILE") \
        == os.path.realpath(allowed / "inner.wav")
    with pytest.raises(FileNotAllowed, match="WorkflowAppAllowedFolders"):
        allowed_path(str(allowed / "escape.wav"), folders, "x", parameter="FILE")
    with pytest.raises(FileNotAllowed):
        allowed_path(str(outside / "secret.wav"), folders, "x", parameter="FILE")
    with pytest.raises(FileNotAllowed):  # a sibling whose name starts like the folder
        allowed_path(str(tmp_path / "allowed2" / "a.wav"), [str(allowed)], "x", parameter="FILE")


def settings_for(tmp_path: Path, **extra: str) -> Settings:
    return Settings({"WorkflowAppPathMap": rf"C:\wfgen\storage={tmp_path}",
                     "WorkflowAppAllowedFolders": str(tmp_path), **extra})


def test_read_file(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "a.wav").write_bytes(b"RIFF....WAVE")
    ref = FileRef(path=r"C:\wfgen\storage\1\a.wav")
    local = read_file(ref, settings_for(tmp_path), parameter="FILE")
    assert (local.name, local.content_type, local.data) == ("a.wav", "audio/wav", b"RIFF....WAVE")
    assert local.path == os.path.realpath(tmp_path / "1" / "a.wav")


@pytest.mark.parametrize(("setup", "error", "fragment"), [
    ("missing", FileNotFound, "does not exist on this host"),
    ("folder", FileNotFound, "does not exist on this host"),
    ("large", FileTooLarge, "is 11 bytes, over the limit of 10 bytes (setting "
                            "WorkflowAppMaxFileBytes)"),
    ("empty", ParameterError, "is empty"),
])
def test_read_refusals(tmp_path: Path, setup: str, error: type[Exception],
                       fragment: str) -> None:
    target = tmp_path / "a.wav"
    if setup == "folder":
        target.mkdir()
    elif setup == "large":
        target.write_bytes(b"x" * 11)
    elif setup == "empty":
        target.write_bytes(b"")
    settings = settings_for(tmp_path, WorkflowAppMaxFileBytes="10")
    with pytest.raises(error, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        read_file(FileRef(path=r"C:\wfgen\storage\a.wav"), settings, parameter="FILE")


def test_size_limit_default_is_25_mib() -> None:
    assert Settings().get_int("WorkflowAppMaxFileBytes") == 25 * 1024 * 1024


@pytest.mark.parametrize(("ref", "expected_name", "expected_type"), [
    (FileRef(path=r"C:\x\call.MP3"), "call.MP3", "audio/mpeg"),
    (FileRef(path=r"\\srv\s\rec.m4a", name="Meeting.m4a"), "Meeting.m4a", "audio/mp4"),
    (FileRef(path="/x/a.webm", content_type="application/octet-stream"), "a.webm", "audio/webm"),
    (FileRef(path="/x/a.bin", content_type="audio/x-custom"), "a.bin", "audio/x-custom"),
    (FileRef(path="/x/noext"), "noext", "application/octet-stream"),
])
def test_name_and_content_type(ref: FileRef, expected_name: str, expected_type: str) -> None:
    name = file_name(ref)
    assert name == expected_name
    assert content_type(ref, name) == expected_type
