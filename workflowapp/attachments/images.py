"""Images the provider would refuse, made to fit: downscaled keeping their proportions.

Pillow is imported on first use. An image within the limits is sent as received, byte for
byte; one over the longest-edge or byte limit is decoded (JPEGs at a reduced DCT scale, so a
12-megapixel photo never needs its full pixel buffer; one that lands within 5 % under the
limit is sent at that size, without a resize), turned upright (EXIF orientation), resized a
band of rows at a time and re-encoded in its own format (GIF as PNG), shrinking further until
it fits.
"""

from __future__ import annotations

import io
import math
import warnings
from typing import Any, NamedTuple

from .sniff import JPEG, PNG, WEBP

#: Pixels above which Pillow refuses to decode at all (a decompression bomb).
MAX_PIXELS = 100_000_000
_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
#: Rows of the result resized at a time (see :func:`_resized`).
_BAND = 64
#: A JPEG may be decoded this much under the size asked for, and then sent as decoded
#: (:func:`_draft`): 5 % fewer pixels on an edge for a third of the memory and no resize.
_NEAR = 0.95


class ImageLimits(NamedTuple):
    """What a provider accepts per image: longest edge in pixels, size in bytes (None: any)."""

    max_edge: int | None = None
    max_bytes: int | None = None

    def fits(self, size: tuple[int, int], length: int) -> bool:
        """Whether an image of ``size`` pixels and ``length`` bytes is within the limits."""
        return (self.max_edge is None or max(size) <= self.max_edge) and \
            (self.max_bytes is None or length <= self.max_bytes)


class BadImage(Exception):
    """The image cannot be decoded; the message says why (no content in it)."""


def dimensions(data: bytes) -> tuple[int, int]:
    """Width and height from the image's header (nothing decoded).

    :raises BadImage: a damaged image, or one with more pixels than any provider takes.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():  # our own pixel limit below says it better
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... on bad files
        raise BadImage(f"it is not an image Pillow can read ({type(exc).__name__})") from None
    if width * height > MAX_PIXELS:
        raise BadImage(f"it has {width}x{height} pixels, more than the {MAX_PIXELS} "
                       "an image may have")
    return width, height


def fit(data: bytes, media_type: str, size: tuple[int, int], limits: ImageLimits
        ) -> tuple[bytes, str, tuple[int, int]]:
    """(bytes, media type, pixel size) of the image within ``limits``; unchanged if it fits."""
    if limits.fits(size, len(data)):
        return data, media_type, size
    from PIL import Image

    scale = 1.0 if limits.max_edge is None else min(1.0, limits.max_edge / max(size))
    if limits.max_bytes is not None and len(data) > limits.max_bytes:
        scale = min(scale, math.sqrt(limits.max_bytes / len(data)))
    out_type = media_type if media_type in _FORMATS else PNG
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        with image:
            if media_type == JPEG:
                _draft(image, size, scale)
            upright = _upright(image)
            if (upright.width >= upright.height) != (size[0] >= size[1]):
                size = size[1], size[0]  # turned a quarter by its EXIF orientation
            for _ in range(8):
                target = _scaled(size, scale)
                if target[0] >= upright.width:  # decoded just under the limit: sent as decoded
                    target = upright.size
                resized = upright if target == upright.size else _resized(upright, target)
                encoded = _encode(resized, out_type)
                if limits.fits(target, len(encoded)):
                    return encoded, out_type, target
                scale *= 0.8 * math.sqrt((limits.max_bytes or len(encoded)) / len(encoded))
    except Exception as exc:
        raise BadImage(f"it could not be downscaled ({type(exc).__name__})") from None
    raise BadImage("it could not be made small enough for the provider")


def _draft(image: Any, size: tuple[int, int], scale: float) -> None:
    """Have the JPEG decoded at the smallest DCT scale that keeps ``scale`` of ``size`` or
    comes within :data:`_NEAR` of it: 1/8, 1/4 or 1/2 (Pillow's choice), or 3/8 where
    libjpeg-turbo decodes (Pillow asks it for 1/n; turbo rounds 1/3 up to 3/8).

    A 4000x3000 photo for a 1568-px limit is then decoded at 1500x1125 (6.8 MB of pixels, sent
    as decoded) instead of 2000x1500 (12 MB, then resized): 4 % fewer pixels on each edge."""
    from PIL import ImageFile, features

    wanted = _scaled(size, scale * _NEAR)
    image.draft("RGB", wanted)
    three_eighths = (size[0] * 3 + 7) // 8, (size[1] * 3 + 7) // 8
    if image.size[0] * 2 >= size[0] and min(three_eighths[0] - wanted[0],
                                              three_eighths[1] - wanted[1]) >= 0 \
            and features.check_feature("libjpeg_turbo"):
        try:
            codec, _, offset, args = image.tile[0]
            tile = ImageFile._Tile(codec, (0, 0, *three_eighths), offset, args)
        except (AttributeError, IndexError, TypeError, ValueError):  # another Pillow's inside
            return  # its own draft stands
        image._size = three_eighths
        image.tile = [tile]
        image.decoderconfig = (3, 0)


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _resized(image: Any, size: tuple[int, int]) -> Any:
    """``image`` resized to ``size`` (Lanczos) a band of rows at a time.

    Pillow resizes in two passes through an intermediate image as wide as the result and as
    tall as the source (9 MB for a photo decoded at 2000x1500); band by band that intermediate
    is a few hundred kilobytes. Each band is resampled from the source rows around it (the same
    Lanczos weights); Pillow may run a band's two passes in the other order, so the 8-bit
    intermediate rounds differently: within 3 levels of 255 of one whole resize on photographs.
    """
    from PIL import Image

    result = Image.new(image.mode, size)
    rows = image.height / size[1]
    for top in range(0, size[1], _BAND):
        bottom = min(size[1], top + _BAND)
        band = image.resize((size[0], bottom - top), Image.Resampling.LANCZOS,
                            box=(0, top * rows, image.width, bottom * rows))
        result.paste(band, (0, top))
    return result


def _upright(image: Any) -> Any:
    """The image turned by its EXIF orientation, in place (a copy would double the pixels)."""
    from PIL import ImageOps

    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    return image


def _encode(image: Any, media_type: str) -> bytes:
    buffer = io.BytesIO()
    if media_type == JPEG:
        (image if image.mode == "RGB" else image.convert("RGB")).save(buffer, "JPEG", quality=85)
    elif media_type == WEBP:
        image.save(buffer, "WEBP", quality=85)
    else:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
            image = image.convert("RGBA")
        image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()
