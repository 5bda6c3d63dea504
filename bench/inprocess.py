"""CPU per call of the host's WSGI application in one process, the upstream send stubbed: no
sockets, no gunicorn, no other process, so it stays readable when the machine is busy (an A/B
of the application's own code, not a figure of the served host).

Each round runs ``--calls`` OPENAICHAT calls (DataSet and JSON contexts) through
``create_app()`` with ``Client._send`` answering a canned chat completion; the median of the
rounds is printed. ``--against DIR`` runs the same measurement on another checkout in turns
with this one (each in its own interpreter, ``git worktree add DIR COMMIT``).

    python bench/inprocess.py [--rounds 5] [--calls 1500] [--against OTHER_CHECKOUT]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FORMATS = {"dataset": "application/xml; charset=utf-8",
           "json": "application/json; charset=utf-8"}
URL = "http://127.0.0.1:9/v1/chat/completions"  # never contacted: the send is stubbed
ANSWER = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}).encode()


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                    ) -> Callable[[bytes], object]:
    return len


def measure(rounds: int, calls: int) -> dict[str, float]:
    """Median µs of CPU per call, per format, of this interpreter's ``workflowapp``."""
    import requests

    os.environ.update(
        OpenAIApiKey="sk-bench-0123456789abcdefABCDEF", OpenAIChatApiUrl=URL,
        WorkflowAppAllowedHosts="127.0.0.1:9", WorkflowAppLogPath=str(ROOT / "bench/results/logs"),
        WORKFLOWAPP_WEB_CONFIG="absent-web.config", WORKFLOWAPP_ENV_FILE="absent.env",
    )
    from bench.common import chat_context
    from workflowapp import create_app
    from workflowapp.upstream import client

    def send(*_: Any, **__: Any) -> requests.Response:
        response = requests.Response()
        response.status_code, response._content = 200, ANSWER
        response.headers["Content-Type"] = "application/json"
        return response

    client.Client._send = send  # type: ignore[method-assign]
    app = create_app()
    found: dict[str, float] = {}
    for fmt, content_type in FORMATS.items():
        body = chat_context(fmt, URL)

        def call(body: bytes = body, content_type: str = content_type) -> bytes:
            environ = {
                "REQUEST_METHOD": "POST", "PATH_INFO": "/OPENAICHAT", "QUERY_STRING": "",
                "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
                "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                "CONTENT_TYPE": content_type, "HTTP_HOST": "127.0.0.1:8000",
                "REMOTE_ADDR": "127.0.0.1", "wsgi.errors": sys.stderr,
            }
            return b"".join(app(environ, _start_response))

        assert b"Hello!" in call(), call()[:300]
        for _ in range(min(300, calls)):
            call()
        times = []
        for _ in range(rounds):
            began = time.process_time()
            for _ in range(calls):
                call()
            times.append((time.process_time() - began) / calls * 1e6)
        found[fmt] = statistics.median(times)
    return found


def in_child(root: Path, rounds: int, calls: int) -> dict[str, float]:
    """:func:`measure` of the checkout at ``root``, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(root), "--rounds", str(rounds), "--calls",
         str(calls)], cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, check=True,
        timeout=600,
    )
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--turns", type=int, default=3, help="alternations with --against")
    parser.add_argument("--against", help="another checkout, measured in turns with this one")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # measure the checkout at CHILD
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.rounds, args.calls)))
        return 0
    roots = {"this": ROOT}
    if args.against:
        roots["other"] = Path(args.against).resolve()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in roots}
    for _ in range(args.turns if args.against else 1):
        for name, root in roots.items():
            runs[name].append(in_child(root, args.rounds, args.calls))
    print("µs of CPU per call, WSGI app in-process, upstream send stubbed (median of rounds)")
    for name, found in runs.items():
        for fmt in FORMATS:
            values = [run[fmt] for run in found]
            print(f"{name:5} {fmt:7} median {statistics.median(values):7.0f}  "
                  f"runs {', '.join(f'{v:.0f}' for v in values)}")
    return 0


if __name__ == "__main__":
    # The checkout measured comes first on the path: this one, or --child's.
    sys.path.insert(0, sys.argv[sys.argv.index("--child") + 1] if "--child" in sys.argv
                    else str(ROOT))
    sys.exit(main())
