"""FILE parameters: from the path WorkflowGen sent to the bytes this host may read.

WorkflowGen passes files by reference (a Windows path such as ``C:\\wfgen\\storage\\...`` or
``\\\\server\\share\\...``, never the content), so reading one takes three steps, each a clear
error before anything is sent upstream:

1. **map** the path with ``WorkflowAppPathMap`` (longest prefix first, prefixes compared
   case-insensitively with ``\\`` and ``/`` alike, the rest of the path taken with ``/``);
2. **allow** it only inside ``WorkflowAppAllowedFolders``, once symlinks and ``..`` are resolved
   (``realpath``), so neither a crafted path nor a link can reach other files; with no folder
   configured nothing is read at all;
3. **read** it, refusing a missing or unreadable file and one over its limit
   (``WorkflowAppMaxFileBytes`` for transcription; OPENAICHAT's attachments have their own), the
   size taken from ``stat`` first so an oversized file is never read whole.
"""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import Sequence
from typing import NamedTuple

from ..context.model import FileRef
from ..errors import (
    ConfigurationError,
    FileNotAllowed,
    FileNotFound,
    FileTooLarge,
    ParameterError,
)
from ..kinds import PathMapping
from ..settings import Settings

#: Content types of the audio formats OpenAI accepts, for systems whose mimetypes lack them.
AUDIO_TYPES = {
    "flac": "audio/flac", "m4a": "audio/mp4", "mp3": "audio/mpeg", "mp4": "audio/mp4",
    "mpeg": "audio/mpeg", "mpga": "audio/mpeg", "oga": "audio/ogg", "ogg": "audio/ogg",
    "wav": "audio/wav", "webm": "audio/webm",
}
GENERIC_TYPE = "application/octet-stream"
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\|//)")


class LocalFile(NamedTuple):
    """A FILE parameter read from disk: its name, content type, bytes and local path."""

    name: str
    content_type: str
    data: bytes
    path: str


def read_file(ref: FileRef, settings: Settings, *, parameter: str) -> LocalFile:
    """Map, check and read the file ``ref`` names; every refusal names ``parameter``."""
    real = locate(ref, settings, parameter=parameter)
    limit = settings.get_int("WorkflowAppMaxFileBytes")
    data = read_limited(real, ref.path, limit, parameter=parameter,
                        over=f"the limit of {limit} bytes (setting WorkflowAppMaxFileBytes)")
    name = file_name(ref)
    return LocalFile(name, content_type(ref, name), data, real)


def locate(ref: FileRef, settings: Settings, *, parameter: str) -> str:
    """The resolved local path of the file ``ref`` names: mapped, then allowed (steps 1, 2)."""
    local = map_path(ref.path, settings.path_map, parameter=parameter)
    return allowed_path(local, settings.allowed_folders, ref.path, parameter=parameter)


def map_path(path: str, mappings: Sequence[PathMapping], *, parameter: str) -> str:
    """The local path of WorkflowGen's ``path`` after ``WorkflowAppPathMap``.

    An unmapped path is used as is, so it must already be absolute on this host (a Windows
    path on a POSIX host is not: the error says which setting maps it).
    """
    if any(part == ".." for part in re.split(r"[\\/]", path)):
        raise FileNotAllowed(
            f"Parameter {parameter}: the path {path!r} contains '..'; WorkflowGen never sends "
            "such paths.", parameter=parameter,
        )
    slashed = path.replace("\\", "/")
    for mapping in mappings:
        source = mapping.source.replace("\\", "/").rstrip("/")
        head, rest = slashed[:len(source)], slashed[len(source):]
        if head.casefold() == source.casefold() and (not rest or rest.startswith("/")):
            rest = rest.lstrip("/")
            return os.path.join(mapping.target, rest) if rest else mapping.target
    if (_WINDOWS_PATH.match(path) and os.sep == "/") or not os.path.isabs(path):
        raise FileNotFound(
            f"Parameter {parameter}: the path {path!r} is not a path on this host; map its "
            r"prefix with the WorkflowAppPathMap setting (e.g. \\wfgen\storage=/mnt/wfgen).",
            parameter=parameter,
        )
    return path


def allowed_path(local: str, folders: list[str], original: str, *, parameter: str) -> str:
    """``local`` with links resolved, if inside one of ``folders``; else a refusal."""
    if not folders:
        raise ConfigurationError(
            f"Parameter {parameter}: this host reads no file until the WorkflowAppAllowedFolders "
            "setting lists the folders FILE parameters may come from (';'-separated)."
        )
    real = os.path.realpath(local)
    for folder in folders:
        root = os.path.realpath(folder)
        if _inside(real, root):
            return real
    raise FileNotAllowed(
        f"Parameter {parameter}: the file {original!r} is outside the folders this host may "
        "read (setting WorkflowAppAllowedFolders).", parameter=parameter,
    )


def file_name(ref: FileRef) -> str:
    """The file's name: WorkflowGen's ``name``, else the last part of its path."""
    if ref.name:
        return ref.name
    return re.split(r"[\\/]", ref.path.rstrip("\\/"))[-1] or "file"


def content_type(ref: FileRef, name: str) -> str:
    """WorkflowGen's content type when specific, else one guessed from the extension."""
    if ref.content_type and ref.content_type.lower() != GENERIC_TYPE:
        return ref.content_type
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return AUDIO_TYPES.get(extension) or mimetypes.guess_type(name)[0] or GENERIC_TYPE


def file_size(real: str, original: str, *, parameter: str) -> int:
    """The size of an existing regular file, from ``stat`` (nothing read)."""
    if not os.path.isfile(real):
        raise FileNotFound(
            f"Parameter {parameter}: the file {original!r} does not exist on this host "
            f"(looked for {real}).", parameter=parameter,
        )
    try:
        return os.path.getsize(real)
    except OSError as exc:
        raise _unreadable(original, exc, parameter) from None


def read_limited(real: str, original: str, limit: int, *, parameter: str, over: str) -> bytes:
    """The file's bytes when it holds 1 to ``limit`` bytes; ``over`` ends the too-large message
    (which limit, which setting). The size is checked from ``stat`` before reading and again
    on a read bounded by it, so a file that grows meanwhile is still refused."""
    size = file_size(real, original, parameter=parameter)
    data = b""
    if size <= limit:
        try:
            with open(real, "rb") as handle:
                data = handle.read(size + 1)
                if len(data) > size and len(data) <= limit:  # grew since stat: read the rest
                    data += handle.read(limit + 1 - len(data))
        except OSError as exc:
            raise _unreadable(original, exc, parameter) from None
        size = len(data)
    if size > limit:
        raise FileTooLarge(
            f"Parameter {parameter}: the file {original!r} is {size} bytes, over {over}.",
            parameter=parameter,
        )
    if not data:
        raise ParameterError(f"Parameter {parameter}: the file {original!r} is empty.",
                             parameter=parameter)
    return data


def _unreadable(original: str, exc: OSError, parameter: str) -> FileNotFound:
    return FileNotFound(
        f"Parameter {parameter}: the file {original!r} cannot be read ({exc.strerror}).",
        parameter=parameter,
    )


def _inside(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or below it (both already resolved)."""
    path, root = os.path.normcase(path), os.path.normcase(root)
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives on Windows
        return False
