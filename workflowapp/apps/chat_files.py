"""OPENAICHAT's attachments: the ``ATTACHMENT``/``ATTACHMENTx`` FILE parameters as the parts of
the user message, and their short placeholders for the returned ``MESSAGE_HISTORY``.

The files are read and checked (:mod:`workflowapp.attachments`) before anything is sent; the
parts depend on what the provider takes (:class:`~workflowapp.attachments.Accepts`): PDFs as
files or as text, images within its size limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..attachments import (
    ANTHROPIC_IMAGES,
    DETAILS,
    Accepts,
    ImageLimits,
    content_part,
    placeholder,
    read_attachments,
)
from ..context.model import FileRef
from ..messages import Part, parse_part
from ..upstream import Provider
from ..upstream.providers import adapter_for
from .call import Call, coerce_input
from .registry import FILE, IN, TEXT, Param

ATTACHMENT_RE = re.compile(r"^ATTACHMENT(\d*)$")

ATTACHMENT = Param(
    "ATTACHMENT", FILE, IN,
    "A file given to the model with the user message: image (PNG, JPEG, GIF, WebP), PDF, "
    "Word .docx or text (plain, CSV, Markdown, JSON, XML, HTML); the type is told by the "
    "content. Read from a folder of WorkflowAppAllowedFolders after WorkflowAppPathMap; at "
    "most WorkflowAppMaxAttachmentBytes each, 32 MiB together.", ext=True)
NUMBERED = Param("ATTACHMENT<x>", FILE, IN,
                 "More files, like ATTACHMENT, sent after it in numeric order (x = 1, 2, ...).",
                 pattern=True, ext=True)
PARAMS = (
    ATTACHMENT,
    NUMBERED,
    Param("IMAGE_DETAIL", TEXT, IN,
          "auto, low or high: OpenAI's image detail (ignored by providers without it).",
          default="auto", choices=DETAILS, ext=True),
    Param("ATTACHMENTS_IN_HISTORY", TEXT, IN,
          "N: MESSAGE_HISTORY keeps a short [attachment: name, type, size] text in place of "
          "each file; Y: the full parts (base64).", default="N", yes_no=True, ext=True),
)


@dataclass
class UserParts:
    """The attachment parts of the user message: as sent, and as the history keeps them."""

    sent: list[Part] = field(default_factory=list)
    kept: list[Part] = field(default_factory=list)


def accepts(provider: Provider) -> Accepts:
    """What ``provider``'s adapter takes: images (within Anthropic's limits there), and PDFs
    as files where it declares the ``pdf`` part, else as their text."""
    parts = adapter_for(provider).capabilities.parts
    limits = ANTHROPIC_IMAGES if provider is Provider.ANTHROPIC else ImageLimits()
    return Accepts(image="image" in parts, pdf="pdf" in parts, images=limits)


def attachment_files(call: Call) -> list[tuple[str, FileRef]]:
    """The filled attachment parameters, ``ATTACHMENT`` first, then by number."""
    found: list[tuple[int, str, FileRef]] = []
    for parameter in call.context:
        match = ATTACHMENT_RE.match(parameter.name)
        if match is None or not parameter.is_input:
            continue
        if match.group(1):
            value = coerce_input(NUMBERED._replace(name=parameter.name), parameter.value)
        else:
            value = call.file("ATTACHMENT")
        if isinstance(value, FileRef):
            found.append((int(match.group(1) or -1), parameter.name, value))
    return [(name, ref) for _, name, ref in sorted(found, key=lambda f: (f[0], f[1]))]


def user_parts(call: Call, accepts: Accepts) -> UserParts:
    """Read every attachment and make its part; nothing is sent before this succeeds."""
    files = attachment_files(call)
    parts = UserParts()
    if not files:
        return parts
    detail = call.text("IMAGE_DETAIL") or "auto"
    in_history = call.flag("ATTACHMENTS_IN_HISTORY")
    for attachment in read_attachments(files, call.services.settings, call.log):
        part = _part(content_part(attachment, accepts, detail=detail, log=call.log))
        parts.sent.append(part)
        parts.kept.append(part if in_history else _part(placeholder(attachment)))
    return parts


def _part(value: dict[str, Any]) -> Part:
    return parse_part(value, "attachment", "ATTACHMENT")
