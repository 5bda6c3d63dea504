"""Attachments as OpenAI-shaped content parts, for what the provider takes.

* images: ``image_url`` parts with a ``data:`` URL and ``detail`` (downscaled first when over
  the provider's :class:`~.images.ImageLimits`, and the log says so);
* PDFs: a ``file`` part (``filename``, ``file_data`` data URL) where the provider reads PDFs,
  else their extracted text (a PDF without a text layer is then refused);
* text files and ``.docx``: a ``text`` part headed by the file name.

A provider adapter turns these parts into its own wire shape (Anthropic: image and document
blocks). :func:`placeholder` is the short text a returned ``MESSAGE_HISTORY`` keeps instead.
Every text made from a file is concealed from the call's logs (as its placeholder), in each
spelling a log may show it: raw, in JSON, in JSON inside JSON, in XML; so is such a text
carried by a later call's ``MESSAGE_HISTORY`` (:func:`conceal_file_texts`).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any, NamedTuple

from ..context._xml import NOT_XML, escape_text
from ..errors import ParameterError
from ..logs import conceal
from .extract import NAMED, Unreadable, pdf_text
from .images import BadImage, ImageLimits, fit
from .read import Attachment
from .sniff import PDF

DETAILS = ("auto", "low", "high")
#: Anthropic: images over 8000 px are refused and those over 1568 px on the long edge are
#: downscaled by the API anyway (so sending more only costs bandwidth); 5 MB of base64 per
#: image, i.e. 3,750,000 bytes (providers.md §2.7).
ANTHROPIC_IMAGES = ImageLimits(max_edge=1568, max_bytes=3_750_000)


class Accepts(NamedTuple):
    """The attachment parts a provider takes: images or not, PDFs as files or not, and its
    image limits."""

    image: bool = True
    pdf: bool = False
    images: ImageLimits = ImageLimits()


def content_part(attachment: Attachment, accepts: Accepts, *, detail: str,
                 log: logging.Logger) -> dict[str, Any]:
    """The content part that carries ``attachment`` to a provider that ``accepts`` these."""
    if attachment.text is not None:
        return _text_part(attachment, attachment.text)
    if attachment.pixels is not None:
        if not accepts.image:
            raise ParameterError(
                f"Parameter {attachment.parameter}: {attachment.name!r} is an image and this "
                "provider takes no images.", parameter=attachment.parameter)
        return _image_part(attachment, attachment.pixels, accepts.images, detail, log)
    if attachment.media_type == PDF and accepts.pdf:
        return {"type": "file", "file": {"filename": attachment.name,
                                         "file_data": data_url(PDF, attachment.data)}}
    try:
        text = pdf_text(attachment.data, attachment.name)
    except Unreadable as exc:
        raise ParameterError(
            f"Parameter {attachment.parameter}: the PDF {attachment.name!r} cannot be given "
            f"to this provider, which takes PDFs only as text: {exc}.",
            parameter=attachment.parameter,
        ) from None
    log.info("%s: %s sent as its text (%d characters): this provider takes no PDF files",
             attachment.parameter, attachment.name, len(text))
    return _text_part(attachment, text)


def placeholder(attachment: Attachment) -> dict[str, Any]:
    """The text part a returned history keeps instead of the file."""
    return {"type": "text", "text": f"[attachment: {attachment.describe()}]"}


def data_url(media_type: str, data: bytes) -> str:
    """``data:<type>;base64,<data>``."""
    return f"data:{media_type};base64," + base64.b64encode(data).decode("ascii")


def conceal_file_texts(value: str) -> None:
    """Conceal from the call's logs each text made from a file that ``value`` carries: a JSON
    parameter such as ``MESSAGE_HISTORY`` holding an earlier call's attachments
    (``ATTACHMENTS_IN_HISTORY=Y``), whose texts start as :mod:`.extract` heads them."""
    if "[file: " not in value:
        return
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):  # not JSON: the application will say so
        return
    for text in _strings(document):
        match = NAMED.match(text)
        if match:
            _conceal(f"[file text: {match.group(1)}, {len(text)} characters]", text)


def _strings(document: Any) -> Iterator[str]:
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _text_part(attachment: Attachment, text: str) -> dict[str, Any]:
    _conceal(placeholder(attachment)["text"], text)
    return {"type": "text", "text": text}


def _conceal(label: str, text: str) -> None:
    """Log ``label`` instead of ``text`` in each spelling a log may show: raw, in JSON, in
    JSON inside JSON, in XML."""
    in_json = json.dumps(text, ensure_ascii=False)[1:-1]
    in_json_twice = json.dumps(in_json, ensure_ascii=False)[1:-1]
    in_xml = escape_text(NOT_XML.sub("\ufffd", text))  # as a DataSet reply carries it
    conceal(label, text, in_json, in_json_twice, in_xml, escape_text(in_json))


def _image_part(attachment: Attachment, size: tuple[int, int], limits: ImageLimits,
                detail: str, log: logging.Logger) -> dict[str, Any]:
    try:
        data, media_type, pixels = fit(attachment.data, attachment.media_type, size, limits)
    except BadImage as exc:
        raise ParameterError(
            f"Parameter {attachment.parameter}: the image {attachment.name!r} cannot be given "
            f"to the model: {exc}.", parameter=attachment.parameter,
        ) from None
    if data is not attachment.data:
        width, height = size
        log.info("%s: %s downscaled from %dx%d px, %d bytes to %dx%d px, %d bytes (%s) to fit "
                 "the provider's limits (longest edge %s px, %s bytes)", attachment.parameter,
                 attachment.name, width, height, attachment.size, pixels[0], pixels[1],
                 len(data), media_type, limits.max_edge or "any", limits.max_bytes or "any")
    return {"type": "image_url", "image_url": {"url": data_url(media_type, data),
                                               "detail": detail}}
