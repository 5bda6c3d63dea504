"""Large contexts: peak added memory of the worker and /healthz latency while one ~29 MB
DataSet (or JSON) context is read, echoed and written back (ECHO: each value in P<n>, again
in P<n>_OUT).

One gunicorn gevent worker (config/gunicorn.conf.py, WORKFLOWAPP_WORKERS=1), so /healthz is
served by the very worker that handles the large post. Printed figures, no pass/fail:

* peak added memory: the worker's VmHWM (peak resident set) after the post minus its resident
  set before it, and that as a multiple of the body size (goal: <= 6x);
* /healthz: the slowest of the answers requested every 50 ms during the post (goal: < 1 s);
* the post's own duration; with ``--level 3`` the same at log level 3, and the log size.

    python bench/bigcontext.py [--mb 29] [--level 0|3] [--shape text|many] [--format dataset|json]
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    HOST,
    ServerModel,
    machine,
    running,
    start_fake,
    start_host,
    wait_quiet,
    workspace,
)


def big_context(megabytes: float, shape: str, fmt: str = "dataset") -> bytes:
    """A context (DataSet or JSON) of about ``megabytes`` MB: a few long texts of ~8 MB (the
    XML parser refuses text nodes over 10 MB), or many small parameters; accents and
    characters XML or JSON escape."""
    from functools import partial

    from tests import helpers
    from tests.helpers import out, param
    from workflowapp.context.model import Format

    context = partial(helpers.context, fmt=Format.JSON if fmt == "json" else Format.DATASET)

    line = "Le café coûte 3 € & the <b>answer</b> is \"42\"; a longer sentence follows.\n"
    value = line * (100_000 if shape == "text" else 4)  # ~8 MB on the wire, or ~300 bytes
    one = len(context(param("P0", value), out("P0_OUT")))
    count = max(1, round(megabytes * 1_000_000 / one))
    params = [param(f"P{i}", value) for i in range(count)]
    return context(*params, *(out(f"P{i}_OUT") for i in range(count)))


def _status(sock_file: Path) -> dict[str, int]:
    figures = {}
    for line in sock_file.read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            figures[key] = int(value.split()[0])
    return figures


def post(port: int, body: bytes, fmt: str = "dataset") -> tuple[int, int, float]:
    """(status, reply bytes, seconds) of one raw POST /ECHO."""
    began = time.perf_counter()
    media = b"application/json" if fmt == "json" else b"application/xml"
    with socket.create_connection((HOST, port), timeout=300) as sock:
        sock.sendall(b"POST /ECHO HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Type: " + media + b"\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        data = bytearray()
        while chunk := sock.recv(1 << 20):
            data += chunk
    status = int(bytes(data[9:12]) or b"0")
    return status, len(data), time.perf_counter() - began


def healthz_latencies(port: int, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        try:
            with socket.create_connection((HOST, port), timeout=60) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while sock.recv(4096):
                    pass
            out.append(time.perf_counter() - began)
        except OSError:
            out.append(float("inf"))
        time.sleep(0.05)


def run(megabytes: float, level: str, shape: str, fmt: str) -> None:
    body = big_context(megabytes, shape, fmt)
    model = ServerModel("gevent-1w", env={"WORKFLOWAPP_WORKERS": "1"})
    settings = {"EchoLogLevel": level, "WorkflowAppMaxRequestBytes": str(len(body) * 2)}
    with workspace() as folder:
        fake = start_fake(folder, 0)
        host = start_host(folder, fake, model, settings)
        with running(fake, host):
            worker = host.pids()[-1]
            post(host.port, b"")  # warm the worker's imports on a small refused post
            time.sleep(0.5)
            before = _status(Path(f"/proc/{worker}/status"))["VmRSS"]
            wait_quiet(10)
            latencies: list[float] = []
            stop = threading.Event()
            poller = threading.Thread(target=healthz_latencies,
                                      args=(host.port, stop, latencies))
            poller.start()
            time.sleep(0.2)
            status, size, seconds = post(host.port, body, fmt)
            time.sleep(0.2)
            stop.set()
            poller.join()
            peak = _status(Path(f"/proc/{worker}/status"))["VmHWM"]
            logged = sum(p.stat().st_size for p in (folder / "logs").glob("*.log"))
    added = (peak - before) / 1024
    mb = len(body) / 1e6
    print(f"body {mb:.1f} MB ({fmt}, {shape}), log level {level}: status {status}, reply "
          f"{size / 1e6:.1f} MB in {seconds:.2f} s")
    print(f"  worker peak added memory {added:.0f} MiB = {added * 1.048576 / mb:.1f}x the body")
    median = sorted(latencies)[len(latencies) // 2]
    print(f"  /healthz during the post: {len(latencies)} answers, slowest "
          f"{max(latencies) * 1000:.0f} ms, median {median * 1000:.0f} ms")
    print(f"  log written: {logged / 1e6:.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=29.0)
    parser.add_argument("--level", default="0", choices=("0", "1", "2", "3"))
    parser.add_argument("--shape", default="text", choices=("text", "many"))
    parser.add_argument("--format", default="dataset", choices=("dataset", "json"))
    args = parser.parse_args()
    print(machine()["cpu"], machine()["versions"].get("gevent"))
    run(args.mb, args.level, args.shape, args.format)


if __name__ == "__main__":
    main()
