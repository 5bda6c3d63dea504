"""What a setting's value must be: each kind says what it expects and whether a value is that.

A kind is declared once per setting, in the schema (:mod:`workflowapp.settings`). The start-up
check (:mod:`workflowapp.checks`) refuses a value its kind refuses, and the code that reads the
value parses it with the same kind (numbers through ``Settings.get_int``/``get_float``, the path
map, log levels), so a value the check lets through is one the host can use: no traceback in a
worker, no restart loop. The checks only read: a folder or file is never created here.

Every kind offers ``problem(value)``: None when ``value`` is fine, else what is expected, as a
phrase starting with "expected".
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import SplitResult, urlsplit


class Kind(Protocol):
    """What a setting's value must be."""

    def problem(self, value: str) -> str | None:
        """None when ``value`` is fine, else "expected ..." saying what would be."""


@dataclass(frozen=True)
class Number:
    """A number as the host parses it (Python's ``float()``: ``30``, ``2.5``, ``1e6``), finite,
    whole unless ``whole`` is False, from ``minimum`` (excluded when ``above``) to
    ``maximum``."""

    minimum: float
    maximum: float = math.inf
    whole: bool = True
    above: bool = False  # a timeout of 0 would wait for nothing

    @property
    def expected(self) -> str:
        """``expected a whole number from 1 to 100000``, ``expected a number above 0``..."""
        what = "a whole number" if self.whole else "a number"
        low = f"above {self.minimum:g}" if self.above else f"from {self.minimum:g}"
        high = "" if self.maximum == math.inf else f" to {self.maximum:g}"
        return f"expected {what} {low}{high}"

    def parse(self, value: str) -> float:
        """``value`` as a number; ValueError (its message: :attr:`expected`) when it is not."""
        try:
            number = float(value)
        except ValueError:
            raise ValueError(self.expected) from None
        low_ok = number > self.minimum if self.above else number >= self.minimum
        if not (math.isfinite(number) and low_ok and number <= self.maximum):
            raise ValueError(self.expected)
        if self.whole and number != int(number):
            raise ValueError(self.expected)
        return number

    def problem(self, value: str) -> str | None:
        try:
            self.parse(value)
        except ValueError as exc:
            return str(exc)
        return None


@dataclass(frozen=True)
class Choice:
    """One of a few words, in any case and with spaces around (``shown`` lists them)."""

    words: frozenset[str]
    shown: str

    def problem(self, value: str) -> str | None:
        return None if value.strip().lower() in self.words else f"expected {self.shown}"


@dataclass(frozen=True)
class Level:
    """A WorkflowGen log level: 0 off, 1 errors, 2 info, 3 debug. Read leniently, as the
    applications always have: anything else counts as the nearest level, or 0 (the check
    warns, it does not refuse)."""

    def number(self, value: str) -> int:
        """The level in force for ``value``: 0-3, clamped; 0 when it is not a number."""
        try:
            number = int(float(value))
        except (ValueError, OverflowError):  # "abc", "nan", "inf"
            number = 0
        return max(0, min(3, number))

    def problem(self, value: str) -> str | None:
        if value.strip() in ("0", "1", "2", "3"):
            return None
        return f"expected 0 (off), 1 (errors), 2 (info) or 3 (debug); the host uses " \
               f"{self.number(value)}"


@dataclass(frozen=True)
class Url:
    """An http(s) URL with a host, that Python's URL parser takes (a port from 0 to 65535, a
    well-formed IPv6 literal); without ``user:password@`` unless ``credentials``."""

    credentials: bool = True

    def problem(self, value: str) -> str | None:
        parts = split_url(value.strip())
        if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return "expected an http(s) URL, e.g. https://llm.example.com/v1/chat/completions"
        if not self.credentials and "@" in parts.netloc:
            return "expected an http(s) URL without a user name or password"
        return None


def split_url(url: str) -> SplitResult | None:
    """``url`` split, or None when Python cannot split it or read its host or port."""
    try:
        parts = urlsplit(url)
        parts.hostname  # noqa: B018 - raises ValueError for a bad IPv6 literal
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    return parts


def without_password(url: str) -> str:
    """``url`` with any ``user:password@`` replaced, so that it can be shown."""
    return re.sub(r"(?<=://)[^/?#]*@", "***@", url)


@dataclass(frozen=True)
class HostList:
    """``WorkflowAppAllowedHosts``: comma-separated hosts (``*``, ``*.example.com``,
    ``host:port``, ``http://host:port``), read as the upstream client reads them."""

    def problem(self, value: str) -> str | None:
        for entry in (item.strip() for item in value.split(",")):
            if entry in ("", "*"):
                continue
            parts = split_url(entry if "://" in entry else f"//{entry}")
            if parts is None or not parts.hostname or parts.scheme.lower() not in (
                "", "http", "https"
            ):
                return ("expected comma-separated hosts such as api.example.com, *.example.com, "
                        f"host:8443 or http://127.0.0.1:8001; {entry!r} is not one")
        return None


@dataclass(frozen=True)
class PathMapping:
    """One ``WorkflowAppPathMap`` entry: WorkflowGen's path prefix -> this host's path."""

    source: str
    target: str


def parse_path_map(value: str) -> tuple[PathMapping, ...]:
    """``from=to;from=to`` entries, longest prefix first; ValueError naming a bad entry."""
    entries = []
    for item in (item.strip() for item in value.split(";")):
        if not item:
            continue
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"expected ';'-separated 'from=to' entries; {item!r} is not one")
        entries.append(PathMapping(source.strip(), target.strip()))
    return tuple(sorted(entries, key=lambda entry: len(entry.source), reverse=True))


@dataclass(frozen=True)
class PathMap:
    """``WorkflowAppPathMap``'s ``from=to;from=to`` (:func:`parse_path_map`)."""

    def problem(self, value: str) -> str | None:
        try:
            parse_path_map(value)
        except ValueError as exc:
            return str(exc)
        return None


@dataclass(frozen=True)
class Folder:
    """A folder this process can write files in, or create (``WorkflowAppLogPath``: the log
    handler creates it, parents included)."""

    def problem(self, value: str) -> str | None:
        if "\0" in value:
            return "expected a folder path"
        try:
            return self._folder_problem(Path(value))
        except OSError as exc:  # a name too long, a parent this process cannot enter...
            return f"expected a folder this process can write in or create; {exc.strerror}"

    def _folder_problem(self, folder: Path) -> str | None:
        if folder.exists() and not folder.is_dir():
            return "expected a folder; this is a file"
        existing = next(path for path in (folder, *folder.absolute().parents) if path.exists())
        if not existing.is_dir() or not _writable(existing):
            return f"expected a folder this process can write in or create ({existing} is not " \
                   "writable)"
        return None


@dataclass(frozen=True)
class FileOr:
    """One of a few words (``words``: stderr, stdout, off...) or the path of a file to append
    to, whose folder exists and is writable (the file is created at start-up)."""

    words: frozenset[str]
    shown: str

    def problem(self, value: str) -> str | None:
        choice = value.strip()
        if choice.lower() in self.words:
            return None
        if "\0" in choice:
            return f"expected {self.shown}"
        try:
            return self._file_problem(Path(choice))
        except OSError as exc:  # a name too long, a folder this process cannot enter...
            return f"expected {self.shown}; {exc.strerror}"

    def _file_problem(self, path: Path) -> str | None:
        choice = str(path)
        if path.is_dir():
            return f"expected {self.shown}; {choice} is a folder"
        if path.exists():
            return None if os.access(path, os.W_OK) else \
                f"expected {self.shown}; {choice} is not writable"
        if not path.parent.is_dir():
            return f"expected {self.shown}; the folder {path.parent} does not exist"
        if not _writable(path.parent):
            return f"expected {self.shown}; the folder {path.parent} is not writable"
        return None


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


@dataclass(frozen=True)
class Bind:
    """A gunicorn bind address, as gunicorn reads it: ``host:port``, ``[::1]:port``, ``host``
    (port 8000), ``unix:/path`` or ``fd://3``; the port from 0 to 65535."""

    def problem(self, value: str) -> str | None:
        address = value.strip()
        if re.match(r"unix:(//)?", address):
            return None if re.split(r"unix:(//)?", address)[-1] else self._expected
        if address.startswith("fd://"):
            return None if address[5:].isascii() and address[5:].isdigit() else self._expected
        address = address.removeprefix("tcp://")
        pieces = address.split("]:") if "[" in address and "]" in address else address.split(":")
        port = pieces[1] if len(pieces) > 1 else None
        if port is not None and not (port.isascii() and port.isdigit() and int(port) <= 65535):
            return self._expected
        return None

    _expected = "expected host:port (port 0-65535), unix:/path or fd://N"


@dataclass(frozen=True)
class WorkerClass:
    """A gunicorn worker class: one of ``names``, or a ``module.Class`` path of your own."""

    names: tuple[str, ...]

    def problem(self, value: str) -> str | None:
        name = value.strip()
        if name in self.names or "." in name:
            return None
        return f"expected {', '.join(self.names)} or a module.Class path"


@dataclass(frozen=True)
class Addresses:
    """Comma-separated IP addresses or networks (``10.0.0.0/8``) or ``*``, as gunicorn
    validates ``forwarded_allow_ips`` (a network's host bits must be zero)."""

    def problem(self, value: str) -> str | None:
        for entry in (item.strip() for item in value.strip().split(",") if item):
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry)
            except ValueError:
                return f"expected comma-separated IP addresses or networks, or *; {entry!r} " \
                       "is not one"
        return None
