"""The load driver: a separate process that keeps thousands of HTTP/1.1 calls in flight cheaply.

gevent greenlets over raw keep-alive sockets (no HTTP library: a call costs the driver tens of
microseconds of CPU, so 1,000 concurrent 2-s calls take a few percent of one core). It reads a
JSON spec on stdin (see ``bench.common.drive``) and prints one JSON result per phase on
stdout. Every phase is bounded by its request count *and* its deadline; only 127.0.0.1 is
ever contacted.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import base64  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import HOST, cpu_seconds, memory_kib, raise_nofile  # noqa: E402


class HttpError(Exception):
    """A call that did not end in the expected answer."""


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1 (reconnects when the server closes)."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.connects = 0

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buffer = b""

    def call(self, payload: bytes) -> tuple[int, bytes]:
        """Send one request; (status, body). A kept-alive socket the server closed while idle
        is reopened once (what every HTTP client does); any other failure raises."""
        reused = self.sock is not None
        try:
            return self._exchange(payload)
        except (OSError, EOFError, HttpError) as exc:
            self.close()
            if reused and isinstance(exc, ConnectionResetError | BrokenPipeError | EOFError):
                return self._exchange(payload)
            raise

    def _exchange(self, payload: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connects += 1
        sock = self.sock
        sock.sendall(payload)
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError if not buffer else HttpError("connection closed mid-answer")
            buffer += chunk
        head, rest = buffer[:end], buffer[end + 4 :]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close, chunked = -1, lines[0].startswith(b"HTTP/1.0"), False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        if chunked:
            body, rest = self._chunked(sock, rest)
        elif length >= 0:
            while len(rest) < length:
                chunk = sock.recv(max(65536, length - len(rest)))
                if not chunk:
                    raise HttpError("connection closed mid-body")
                rest += chunk
            body, rest = rest[:length], rest[length:]
        else:
            while chunk := sock.recv(65536):
                rest += chunk
            body, rest, close = rest, b"", True
        self.buffer = rest
        if close:
            self.close()
        return status, body

    @staticmethod
    def _chunked(sock: socket.socket, data: bytes) -> tuple[bytes, bytes]:
        body = b""
        while True:
            while b"\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    raise HttpError("connection closed mid-chunk")
                data += chunk
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(data) < size + 2:
                chunk = sock.recv(65536)
                if not chunk:
                    raise HttpError("connection closed mid-chunk")
                data += chunk
            if size == 0:
                return body, data[2:]
            body, data = body + data[:size], data[size + 2 :]


def request_bytes(target: dict[str, Any]) -> bytes:
    body = base64.b64decode(target["body"])
    headers = {"Host": f"{HOST}:{target['port']}", "Content-Length": str(len(body)),
               **target.get("headers", {})}
    head = f"POST {target['path']} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    return head.encode() + body


def run_phase(phase: dict[str, Any]) -> dict[str, Any]:
    """Run one phase: ``requests`` calls (plus ``warmup``) with ``concurrency`` in flight."""
    target = phase["target"]
    payload = request_bytes(target)
    expect = target.get("expect", "").encode()
    concurrency = int(phase["concurrency"])
    total = int(phase["requests"])
    warmup = int(phase.get("warmup", 0))
    request_timeout = float(phase.get("request_timeout", 60.0))
    watch = [int(pid) for pid in phase.get("watch", [])]
    sample_every = float(phase.get("sample_memory", 0.0))

    if warmup:  # unmeasured, at the same concurrency: pools filled, lazy imports done
        run_phase({**phase, "requests": warmup, "warmup": 0, "watch": [], "sample_memory": 0})

    latencies: list[float] = []
    finished_at: list[float] = []  # completion times (s from the phase start) of good calls
    client_ends: list[float] = []
    errors: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    connects = 0
    done = Event()
    peak = {"rss": 0, "pss": 0}
    ramp = float(phase.get("ramp", 0.0))
    deadline_at = time.monotonic() + float(phase.get("deadline", 120.0))
    began = time.perf_counter()

    def client(index: int, calls: int) -> None:
        nonlocal connects
        if ramp:  # arrivals spread evenly over the ramp, then back to back
            gevent.sleep(ramp * index / concurrency)
        conn = Connection(int(target["port"]), request_timeout)
        try:
            for _ in range(calls):
                if time.monotonic() >= deadline_at:
                    break
                start = time.perf_counter()
                try:
                    status, body = conn.call(payload)
                except Exception as exc:  # every failure is counted, none stops the run
                    errors[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                    conn.close()
                    continue
                now = time.perf_counter()
                statuses[status] += 1
                if status != 200 or (expect and expect not in body):
                    errors[f"HTTP {status}: {body[:80]!r}"] += 1
                else:
                    latencies.append((now - start) * 1000.0)
                    finished_at.append(now - began)
        finally:
            client_ends.append(time.perf_counter() - began)
            connects += conn.connects
            conn.close()

    def sampler() -> None:
        while not done.is_set():
            rss, pss = memory_kib(watch)
            peak["rss"], peak["pss"] = max(peak["rss"], rss), max(peak["pss"], pss)
            done.wait(sample_every)

    cpu_before = cpu_seconds(watch)
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    sampling = gevent.spawn(sampler) if watch and sample_every > 0 else None
    share, extra = divmod(total, concurrency)
    clients = [gevent.spawn(client, i, share + (1 if i < extra else 0))
               for i in range(concurrency)]
    gevent.joinall(clients, timeout=max(1.0, deadline_at - time.monotonic() + request_timeout))
    wall = time.perf_counter() - began
    gevent.killall([c for c in clients if not c.dead], block=True, timeout=5)
    done.set()
    if sampling is not None:
        sampling.join(timeout=5)
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    unfinished = total - len(latencies) - sum(errors.values())
    # Steady state: from the end of the ramp until the first client is done, all
    # ``concurrency`` clients have a call in flight.
    window_end = min(client_ends) if len(client_ends) == concurrency else wall
    window = window_end - ramp
    in_window = sum(1 for t in finished_at if ramp <= t <= window_end)
    return {
        "label": phase.get("label", ""),
        "concurrency": concurrency,
        "requests": total,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "unfinished": max(0, unfinished),
        "error_kinds": dict(errors.most_common(5)),
        "statuses": {str(k): v for k, v in statuses.items()},
        "wall_s": wall,
        "throughput": len(latencies) / wall if wall > 0 else 0.0,
        "ramp_s": ramp,
        "window_s": window,
        "steady_throughput": in_window / window if window > 0 else 0.0,
        "latencies_ms": latencies,
        "connects": connects,
        "server_cpu_s": cpu_seconds(watch) - cpu_before if watch else None,
        "driver_cpu_s": (own_after.ru_utime + own_after.ru_stime)
        - (own_before.ru_utime + own_before.ru_stime),
        "peak_rss_kib": peak["rss"] or None,
        "peak_pss_kib": peak["pss"] or None,
    }


def main() -> int:
    raise_nofile()
    spec = json.loads(sys.stdin.read())
    results = [run_phase(phase) for phase in spec["phases"]]
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
