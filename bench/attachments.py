"""Preparing an OPENAICHAT call with a big attachment: time and peak memory.

Two files a process really sends: a 10 MB PDF (50 text pages and a scanned image) and a
12-megapixel photo (4000x3000 JPEG). Each case runs in a fresh Python process that first
imports everything (the host, Pillow, pypdf), then prepares the call as OPENAICHAT does: reads
the file (path map, allow-list, limits), identifies it, builds the content part for the
provider (a PDF file part or its text; the photo as it is, or downscaled for Anthropic) and
encodes the request body as the provider's adapter and the upstream client do. Figures: wall
time, and the peak resident memory added over the process's size before the call, as a
multiple of the file size (the target: under 4x). Nothing is sent anywhere.

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

#: (case, file, provider, what is sent)
CASES = (
    ("pdf-openai", "big.pdf", "openai", "PDF as a file part (base64)"),
    ("pdf-anthropic", "big.pdf", "anthropic", "PDF as a document block (base64)"),
    ("pdf-azure", "big.pdf", "azure", "PDF as its extracted text"),
    ("photo-openai", "photo.jpg", "openai", "photo as it is (base64)"),
    ("photo-anthropic", "photo.jpg", "anthropic", "photo downscaled to 1568 px"),
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


def child(provider_name: str, path: str) -> None:
    """Prepare one call in this (fresh) process; print the figures as JSON."""
    import logging

    import docx  # noqa: F401  (imported up front: the import is not the call's memory)
    import PIL.Image  # noqa: F401
    import pypdf  # noqa: F401

    from workflowapp.apps.chat_files import accepts
    from workflowapp.attachments import content_part, read_attachments
    from workflowapp.context.model import FileRef
    from workflowapp.messages import Message, TextPart, parse_part
    from workflowapp.settings import Settings
    from workflowapp.upstream import CallOptions, ChatRequest, Endpoint, Provider
    from workflowapp.upstream.client import _json_payload
    from workflowapp.upstream.providers import ChatProfile, adapter_for

    provider = Provider(provider_name)
    settings = Settings({"WorkflowAppAllowedFolders": os.path.dirname(path)})
    log = logging.getLogger("bench")
    endpoint = Endpoint(provider, "https://127.0.0.1/v1/chat/completions", "key", CallOptions())
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # the peak (VmHWM) starts again from the current size
    before = memory_kib("VmRSS")
    started = time.perf_counter()
    # as OPENAICHAT does: read and check, make the part, the user message, the adapter's body
    attachments = read_attachments([("ATTACHMENT", FileRef(path=path))], settings, log)
    parts = [parse_part(content_part(a, accepts(provider), detail="auto", log=log), "x", "x")
             for a in attachments]
    del attachments
    request = ChatRequest("m", (Message("user", (TextPart("Read the file."), *parts)),))
    del parts
    encoded = adapter_for(provider).encode(request, endpoint, ChatProfile())
    payload = _json_payload(encoded.body)
    elapsed = time.perf_counter() - started
    peak = memory_kib("VmHWM")
    print(json.dumps({"seconds": elapsed, "added_kib": peak - before,
                      "body_bytes": len(payload.data) if not isinstance(payload.data, list)
                      else 0}))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-attach-") as folder:
        make_files(Path(folder))
        print(f"{'case':<16} {'file':>10} {'body':>10} {'time':>8} {'added RSS':>10} "
              f"{'ratio':>6}  what")
        for case, name, provider, what in CASES:
            path = os.path.join(folder, name)
            size = os.path.getsize(path)
            result = subprocess.run([sys.executable, __file__, "--child", provider, path],
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
