"""Images over a provider's limits are downscaled keeping proportions; others pass untouched."""

from __future__ import annotations

import io
import random
import struct
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from tests.attachments import samples
from workflowapp.attachments.images import BadImage, ImageLimits, _resized, dimensions, fit
from workflowapp.attachments.sniff import GIF, JPEG, PNG, WEBP


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_an_image_within_limits_is_sent_byte_for_byte() -> None:
    data = samples.image("PNG", (300, 200))
    assert fit(data, PNG, (300, 200), ImageLimits(max_edge=300, max_bytes=len(data))) \
        == (data, PNG, (300, 200))
    assert fit(data, PNG, (300, 200), ImageLimits())[0] is data


@pytest.mark.parametrize(("fmt", "media_type", "sent_type"), [
    ("PNG", PNG, PNG), ("JPEG", JPEG, JPEG), ("WEBP", WEBP, WEBP), ("GIF", GIF, PNG),
])
def test_long_edge_is_brought_to_the_limit(fmt: str, media_type: str, sent_type: str) -> None:
    data = samples.image(fmt, (400, 100))
    out, out_type, size = fit(data, media_type, (400, 100), ImageLimits(max_edge=200))
    assert (out_type, size) == (sent_type, (200, 50))
    with opened(out) as image:
        assert image.size == (200, 50)
        assert image.format == sent_type.split("/")[1].upper()


def test_byte_limit_shrinks_until_it_fits() -> None:
    data = samples.noisy_jpeg((600, 400))
    limit = len(data) // 5
    out, out_type, (width, height) = fit(data, JPEG, (600, 400), ImageLimits(max_bytes=limit))
    assert len(out) <= limit and out_type == JPEG
    assert width < 600 and abs(width / height - 1.5) < 0.02  # proportions kept


def test_exif_rotation_is_applied_before_scaling() -> None:
    data = samples.image("JPEG", (400, 200), exif_orientation=6)  # stored landscape, shown portrait
    out, _, size = fit(data, JPEG, (400, 200), ImageLimits(max_edge=100))
    assert size == (50, 100)
    with opened(out) as image:
        assert image.size == (50, 100)


@pytest.mark.parametrize(("size", "limit", "sent"), [
    ((4000, 3000), 1568, (1500, 1125)),  # libjpeg-turbo's 3/8 scale, within 5 % of the limit
    ((3000, 1500), 1568, (1500, 750)),  # half scale, within 5 %
    ((2400, 1200), 1568, (1568, 784)),  # nothing near: decoded whole, resized to the limit
    ((4000, 3000), 1000, (1000, 750)),  # quarter scale is exactly the limit
    ((4000, 3000), 700, (700, 525)),  # quarter scale (1000 px), resized
])
def test_jpegs_are_decoded_at_a_dct_scale_near_the_limit(
        size: tuple[int, int], limit: int, sent: tuple[int, int]) -> None:
    source = photo("RGB", size, random.Random(7))
    buffer = io.BytesIO()
    source.save(buffer, "JPEG", quality=90)
    out, _, fitted = fit(buffer.getvalue(), JPEG, size, ImageLimits(max_edge=limit))
    assert fitted == sent
    with opened(out) as image, opened(buffer.getvalue()) as whole:
        assert image.size == sent
        expected = whole.resize(sent, Image.Resampling.LANCZOS)  # decoded whole, resized
        difference = ImageChops.difference(image.convert("RGB"), expected).split()
        for band in difference:  # within 2 levels of 255 on average
            histogram = band.histogram()
            assert sum(level * n for level, n in enumerate(histogram)) / sum(histogram) < 2


@pytest.mark.parametrize("missing", ["libjpeg-turbo", "Pillow's tile type"])
def test_without_libjpeg_turbo_the_photo_is_decoded_at_half_scale_and_resized(
        monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    from PIL import ImageFile, features

    if missing == "libjpeg-turbo":
        monkeypatch.setattr(features, "check_feature", lambda name: False)
    else:  # a Pillow whose insides differ: its own draft stands
        real = ImageFile._Tile

        def other_tile(*args: Any) -> object:
            if args[1] == (0, 0, 1500, 1125):  # ours; Pillow's own draft still works
                raise TypeError("another Pillow")
            return real(*args)

        monkeypatch.setattr(ImageFile, "_Tile", other_tile)
    source = photo("RGB", (4000, 3000), random.Random(7))
    buffer = io.BytesIO()
    source.save(buffer, "JPEG", quality=90)
    assert fit(buffer.getvalue(), JPEG, (4000, 3000), ImageLimits(max_edge=1568))[2] \
        == (1568, 1176)


def photo(mode: str, size: tuple[int, int], rng: random.Random) -> Image.Image:
    """Gradients with a little noise: what photographs look like to a resampler."""
    across = Image.linear_gradient("L").resize(size)
    down = Image.linear_gradient("L").rotate(90).resize(size)
    grain = Image.blend(across, Image.frombytes("L", size, rng.randbytes(size[0] * size[1])), 0.1)
    return Image.merge(mode, {"L": [grain], "RGB": [across, down, grain],
                              "RGBA": [across, down, grain, Image.new("L", size, 255)]}[mode])


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["RGB", "RGBA", "L"]), st.integers(1, 300), st.integers(1, 300),
       st.floats(0.01, 1.0), st.floats(0.01, 1.0), st.integers(0, 2**32))
def test_banded_resize_matches_one_whole_resize(mode: str, width: int, height: int, across: float,
                                                down: float, seed: int) -> None:
    source = photo(mode, (width, height), random.Random(seed))
    size = max(1, round(width * across)), max(1, round(height * down))  # fit() only shrinks
    banded = _resized(source, size)
    whole = source.resize(size, Image.Resampling.LANCZOS)
    assert banded.size == whole.size and banded.mode == whole.mode
    bands = ImageChops.difference(banded, whole).split()
    assert max(level for band in bands for level, n in enumerate(band.histogram()) if n) <= 3


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_dimensions_and_refusals() -> None:
    assert dimensions(samples.image("WEBP", (33, 21))) == (33, 21)
    with pytest.raises(BadImage, match="not an image Pillow can read"):
        dimensions(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    huge = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 12000, 9000, 8, 2, 0,
                                                              0, 0)) \
        + chunk(b"IDAT", b"") + chunk(b"IEND", b"")  # claims 108 megapixels in 57 bytes
    with pytest.raises(BadImage, match="12000x9000 pixels"):
        dimensions(huge)
