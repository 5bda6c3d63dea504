"""Small real files for the attachment tests, made on the spot (nothing checked in)."""

from __future__ import annotations

import io
import random
import zipfile

from PIL import Image


def image(fmt: str = "PNG", size: tuple[int, int] = (40, 30), mode: str = "RGB",
          exif_orientation: int | None = None) -> bytes:
    """An image of gradients and a little noise (it compresses like a picture, not like a flat
    colour)."""
    across = Image.linear_gradient("L").rotate(90).resize(size)
    down = Image.linear_gradient("L").resize(size)
    picture = Image.merge("RGB", (across, down, Image.effect_noise(size, 30))).convert(mode)
    buffer = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        picture.save(buffer, fmt, exif=exif)
    else:
        picture.save(buffer, fmt)
    return buffer.getvalue()


def noisy_jpeg(size: tuple[int, int], seed: int = 1) -> bytes:
    """A JPEG that compresses badly (noise), to go over byte limits at few pixels."""
    rng = random.Random(seed)
    picture = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def pdf(pages: list[str], *, image_bytes: int = 0) -> bytes:
    """A valid PDF with one page per text (a real text layer, Helvetica), written by hand;
    ``image_bytes`` of incompressible pixels drawn on the first page make a big, realistic one."""
    count = len(pages)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(f"{4 + 2 * i} 0 R".encode()
                                                     for i in range(count))
               + f"] /Count {count} >>".encode(),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    image = 4 + 2 * count
    for index, text in enumerate(pages):
        lines = text.split("\n")
        stream = b"BT /F1 12 Tf 72 720 Td 14 TL " + b" ".join(
            b"(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            .encode("latin-1") + b") Tj T*" for line in lines) + b" ET"
        drawn = b""
        if index == 0 and image_bytes:
            stream = b"q 612 0 0 792 0 0 cm /Im1 Do Q " + stream
            drawn = f" /XObject << /Im1 {image} 0 R >>".encode()
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << "
                       b"/Font << /F1 3 0 R >>" + drawn + f" >> /Contents {5 + 2 * index} 0 R >>"
                       .encode())
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream
                       + b"\nendstream")
    if image_bytes:
        side = max(1, int((image_bytes / 3) ** 0.5))
        pixels = random.Random(7).randbytes(side * side * 3)
        objects.append(f"<< /Type /XObject /Subtype /Image /Width {side} /Height {side} "
                       f"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {len(pixels)} >>"
                       "\nstream\n".encode() + pixels + b"\nendstream")
    return _pdf_file(objects)


def scanned_pdf() -> bytes:
    """A PDF whose only page holds an image and no text (what a scanner makes)."""
    pixels = bytes(range(256)) * 3 * 4
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
               b"/Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>"]
    draw = b"q 612 0 0 792 0 0 cm /Im1 Do Q"
    objects.append(f"<< /Length {len(draw)} >>\nstream\n".encode() + draw + b"\nendstream")
    objects.append(b"<< /Type /XObject /Subtype /Image /Width 32 /Height 32 /ColorSpace "
                   b"/DeviceRGB /BitsPerComponent 8 /Length " + str(len(pixels)).encode()
                   + b" >>\nstream\n" + pixels + b"\nendstream")
    return _pdf_file(objects)


def _pdf_file(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    return bytes(out)


def docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    """A Word document made with python-docx: paragraphs, then a table."""
    import docx as python_docx

    document = python_docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def zip_bomb_docx() -> bytes:
    """A ZIP that looks like a .docx but inflates one entry 1000-fold."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (8 * 1024 * 1024))
    return buffer.getvalue()


def plain_zip() -> bytes:
    """A ZIP that is not a Word document."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()
