"""Reading attachments: the FILE parameters of a call, checked, read and identified.

Each file goes through :mod:`workflowapp.apps.files` (``WorkflowAppPathMap``,
``WorkflowAppAllowedFolders``, the same errors as OPENAITRANSCRIPTION's ``FILE``). Every file is
located and measured (``stat``) before any is read, so a call over the per-file limit
(``WorkflowAppMaxAttachmentBytes``) or the per-call limit (:data:`CALL_LIMIT`) is refused
without reading anything; each read is bounded by its limit. The type comes from the content;
a declared content type that disagrees is logged and loses. The log names each file by name,
type, size and SHA-256, never by its content.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import NamedTuple

from ..apps.files import file_name, file_size, locate, read_limited
from ..context.model import FileRef
from ..errors import FileTooLarge, ParameterError
from ..settings import Settings
from .extract import Unreadable, docx_text, with_name
from .images import BadImage, dimensions
from .sniff import DOCX, IMAGE_TYPES, PDF, binary_type, decode_text, text_type

#: All attachments of one call together (OpenAI's and Anthropic's request limit).
CALL_LIMIT = 32 * 1024 * 1024
KINDS = "an image (PNG, JPEG, GIF, WebP), a PDF, a Word .docx or a text file"
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-pdf": PDF,
            "text/xml": "application/xml"}


class Attachment(NamedTuple):
    """One file given to the model: what it is (from its content) and its bytes.

    ``text`` is the text sent for text files and ``.docx`` (headed by the name); ``pixels``
    the width and height of an image.
    """

    parameter: str
    name: str
    media_type: str
    data: bytes
    sha256: str
    text: str | None = None
    pixels: tuple[int, int] | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def describe(self) -> str:
        """``name, type, N bytes``: how logs and placeholders name the file."""
        return f"{self.name}, {self.media_type}, {self.size} bytes"


def read_attachments(files: Sequence[tuple[str, FileRef]], settings: Settings,
                     log: logging.Logger) -> list[Attachment]:
    """The files of ``(parameter, ref)`` pairs, in that order; every refusal names both."""
    per_file = settings.get_int("WorkflowAppMaxAttachmentBytes")
    located = [(parameter, ref, locate(ref, settings, parameter=parameter))
               for parameter, ref in files]
    _check_sizes(located, per_file)
    attachments: list[Attachment] = []
    left = CALL_LIMIT
    for parameter, ref, real in located:
        over = _over(per_file, left)
        data = read_limited(real, ref.path, min(per_file, left), parameter=parameter, over=over)
        left -= len(data)
        attachments.append(identify(parameter, ref, data, log))
    return attachments


def identify(parameter: str, ref: FileRef, data: bytes, log: logging.Logger) -> Attachment:
    """The attachment ``data`` is, by its content; a refusal for anything we do not send."""
    name = file_name(ref)
    media_type = binary_type(data) or ""
    text, pixels = None, None
    try:
        if media_type in IMAGE_TYPES:
            pixels = dimensions(data)
        elif media_type == DOCX:
            text = docx_text(data, name)
        elif not media_type:
            decoded = decode_text(data)
            if decoded is None:
                raise Unreadable(f"it is not {KINDS} (the type is told by the content, not "
                                 "the name)")
            if not decoded.strip():
                raise Unreadable("it holds only white space")
            media_type, text = text_type(name, decoded), with_name(decoded, name)
    except (Unreadable, BadImage) as exc:
        raise ParameterError(f"Parameter {parameter}: the file {ref.path!r} cannot be given to "
                             f"the model: {exc}.", parameter=parameter) from None
    attachment = Attachment(parameter, name, media_type, data,
                            hashlib.sha256(data).hexdigest(), text, pixels)
    _check_declared(attachment, ref.content_type, log)
    log.info("%s: %s, sha256 %s%s", parameter, attachment.describe(), attachment.sha256,
             f", {pixels[0]}x{pixels[1]} px" if pixels else "")
    return attachment


def _check_sizes(located: Sequence[tuple[str, FileRef, str]], per_file: int) -> None:
    """Refuse, from ``stat`` alone, a file over the per-file limit or a call over the total."""
    total = 0
    for parameter, ref, real in located:
        size = file_size(real, ref.path, parameter=parameter)
        total += size
        if size > per_file or total > CALL_LIMIT:
            raise FileTooLarge(
                f"Parameter {parameter}: the file {ref.path!r} is {size} bytes, over "
                f"{_over(per_file, CALL_LIMIT - total + size)}.", parameter=parameter,
            )


def _over(per_file: int, left: int) -> str:
    if per_file <= left:
        return f"the limit of {per_file} bytes per attachment (setting " \
               "WorkflowAppMaxAttachmentBytes)"
    return f"the {left} bytes left of the {CALL_LIMIT} bytes all attachments of a call may " \
           "hold together"


def _check_declared(attachment: Attachment, declared: str | None, log: logging.Logger) -> None:
    """Log a declared content type that disagrees with the content (the content wins)."""
    if not declared:
        return
    given = declared.split(";", 1)[0].strip().lower()
    given = _ALIASES.get(given, given)
    actual = attachment.media_type
    textual = attachment.text is not None and attachment.media_type != DOCX
    if given in ("", "application/octet-stream", actual) or \
            (textual and (given.startswith("text/") or given in ("application/json",
                                                                 "application/xml"))):
        return
    log.info("%s: %s is declared %s but its content is %s; sent as %s", attachment.parameter,
             attachment.name, given, actual, actual)
