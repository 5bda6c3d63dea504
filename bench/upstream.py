"""The benchmarks' upstream: the loopback fake (``tests.fakes.server.FakeOpenAI``) under gevent,
on a listening socket with TCP_NODELAY.

``python -m tests.fakes.openai_fake --server gevent`` binds through ``gevent.pywsgi``, which
writes the status+headers and the body of an answer in two ``send()`` calls on a socket with
Nagle's algorithm on: on a kept-alive connection the body then waits for the client's delayed
ACK, and every answer after the first takes ~40 ms more (measured: 44 ms p50 for a 0-ms
answer). Real OpenAI endpoints do not do that, so the benchmarks serve the same fake
application here, on a listener whose accepted sockets inherit TCP_NODELAY (what gunicorn and
waitress do for their own sockets).

    python bench/upstream.py --port 0 --delay-ms 2000      # prints "listening on URL/v1"
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from tests.fakes.server import FakeOpenAI  # noqa: E402


def listener(host: str, port: int) -> socket.socket:
    """A listening socket whose accepted connections have Nagle's algorithm off."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(4096)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    if not args.host.startswith("127."):
        parser.error("the benchmark upstream listens on the loopback only")
    fake = FakeOpenAI(args.host, args.port, delay=args.delay_ms / 1000, validate=False,
                      record_limit=1, server="gevent")
    sock = listener(args.host, args.port)
    server = WSGIServer(sock, fake, log=None)
    server.start()
    fake.port = server.server_port
    gevent.signal_handler(signal.SIGTERM, lambda: gevent.spawn(server.stop, 1))
    print(f"listening on {fake.url}/v1", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
