"""Preparing an OPENAICHAT call with a big attachment: time and peak memory.

Two files a process really sends: a 10 MB PDF (50 text pages and a scanned image) and a
12-megapixel photo (4000x3000 JPEG). Each case runs in a fresh Python process that first
imports everything (the host, Pillow, pypdf), then prepares the call as OPENAICHAT does: reads
the file (path map, allow-list, limits), identifies it, builds the content part for the
provider (a PDF file part or its text; the photo as it is, or downscaled for Anthropic) and
encodes the request body as the upstream client does. Figures: wall time, and the peak
resident memory added over the process's size before the call, as a multiple of the file
size (the target: under 4x). Nothing is sent anywhere.

    python bench/attachments.py
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: (case, file, provider-side behaviour)
CASES = (
    ("pdf-openai", "big.pdf", "PDF as a file part (base64)"),
    ("pdf-azure", "big.pdf", "PDF as its extracted text"),
    ("photo-openai", "photo.jpg", "photo as it is (base64)"),
    ("photo-anthropic", "photo.jpg", "photo downscaled to 1568 px (Anthropic)"),
)


def make_files(folder: Path) -> None:
    """The 10 MB PDF and the 12-megapixel photo."""
    from PIL import Image

    from tests.attachments.samples import pdf

    pages = [f"Page {n}\n" + "\n".join(f"Line {i}: consulting services, 12.50 EUR"
                                       for i in range(40)) for n in range(1, 51)]
    (folder / "big.pdf").write_bytes(pdf(pages, image_bytes=10 * 1000 * 1000))
    size = (4000, 3000)
    across = Image.linear_gradient("L").rotate(90).resize(size)
    down = Image.linear_gradient("L").resize(size)
    photo = Image.merge("RGB", (across, down, Image.effect_noise(size, 40)))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=92)
    (folder / "photo.jpg").write_bytes(buffer.getvalue())


def memory_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, from /proc (``ru_maxrss`` would
    count the parent's size: it survives fork and exec)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(case: str, path: str) -> None:
    """Prepare one call in this (fresh) process; print the figures as JSON."""
    import logging

    import docx  # noqa: F401  (imported up front: the import is not the call's memory)
    import PIL.Image  # noqa: F401
    import pypdf  # noqa: F401

    from workflowapp.attachments import ANTHROPIC_IMAGES, Accepts, content_part, read_attachments
    from workflowapp.context.model import FileRef
    from workflowapp.settings import Settings
    from workflowapp.upstream.client import _json_payload

    accepts = {"pdf-openai": Accepts(pdf=True), "pdf-azure": Accepts(),
               "photo-openai": Accepts(pdf=True),
               "photo-anthropic": Accepts(pdf=True, images=ANTHROPIC_IMAGES)}[case]
    settings = Settings({"WorkflowAppAllowedFolders": os.path.dirname(path)})
    log = logging.getLogger("bench")
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # the peak (VmHWM) starts again from the current size
    before = memory_kib("VmRSS")
    started = time.perf_counter()
    attachments = read_attachments([("ATTACHMENT", FileRef(path=path))], settings, log)
    parts = [content_part(a, accepts, detail="auto", log=log) for a in attachments]
    del attachments
    body = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Read the attached file."}, *parts]}]}
    del parts
    payload = _json_payload(body)
    elapsed = time.perf_counter() - started
    peak = memory_kib("VmHWM")
    print(json.dumps({"seconds": elapsed, "added_kib": peak - before,
                      "body_bytes": len(payload.data) if isinstance(payload.data, bytes) else 0}))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-attach-") as folder:
        make_files(Path(folder))
        print(f"{'case':<16} {'file':>10} {'body':>10} {'time':>8} {'added RSS':>10} "
              f"{'ratio':>6}  what")
        for case, name, what in CASES:
            path = os.path.join(folder, name)
            size = os.path.getsize(path)
            result = subprocess.run([sys.executable, __file__, "--child", case, path],
                                    capture_output=True, text=True, check=True, timeout=300)
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            added = figures["added_kib"] * 1024
            print(f"{case:<16} {size / 1e6:>8.1f}MB {figures['body_bytes'] / 1e6:>8.1f}MB "
                  f"{figures['seconds'] * 1000:>6.0f}ms {added / 1e6:>8.1f}MB "
                  f"{added / size:>5.2f}x  {what}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
