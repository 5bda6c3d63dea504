"""Where the host's CPU goes under load: py-spy samples one gunicorn worker while the driver
keeps OPENAICHAT calls in flight, then prints the hottest functions (self and inclusive).

    python bench/profile.py [--seconds 8] [--format dataset|json] [--concurrency 32]
                            [--delay-ms 0] [--env NAME=VALUE ...] [--flame out.svg]

Needs ``pip install py-spy`` (a benchmark tool, not a dependency of the host). One worker is
profiled (the host runs with 1 worker here so that it sees every call).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    ServerModel,
    drive,
    host_target,
    raise_nofile,
    running,
    start_fake,
    start_host,
    workspace,
)


def collapse(path: Path) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """(self samples, inclusive samples, total) per function from py-spy's raw output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame.split(" (")[0] + " " + _where(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return own, inclusive, total


def _where(frame: str) -> str:
    """``file:line`` of a py-spy frame ``func (path/to/file.py:123)`` shortened."""
    inside = frame.partition(" (")[2].rstrip(")")
    for marker in ("site-packages/", f"{ROOT}/", "lib/python3.11/"):
        if marker in inside:
            inside = inside.split(marker, 1)[1]
    return f"({inside.rsplit(':', 1)[0]})" if inside else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--format", default="dataset", choices=("dataset", "recordset", "json"))
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--env", action="append", default=[], help="host setting NAME=VALUE")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--flame", help="also write a flame graph SVG here")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        parser.error("py-spy is not installed: pip install py-spy")
    raise_nofile()
    extra = dict(item.split("=", 1) for item in args.env)
    model = ServerModel("gunicorn gevent, 1 worker", env={"WORKFLOWAPP_WORKERS": "1", **extra})
    with workspace() as work:
        fake = start_fake(work, args.delay_ms)
        host = start_host(work, fake, model)
        with running(fake, host):
            target = host_target(host, args.format, fake)
            drive([{"target": target, "concurrency": 8, "requests": 200}], timeout=60)
            worker = host.pids()[-1]
            raw = Path(tempfile.mkdtemp()) / "raw.txt"
            load: dict[str, Any] = {}

            def keep_busy() -> None:
                load["result"] = drive([{
                    "target": target, "concurrency": args.concurrency, "requests": 10**6,
                    "deadline": args.seconds + 2}], timeout=args.seconds + 60)[0]

            driver = threading.Thread(target=keep_busy)
            driver.start()
            command = [spy, "record", "--pid", str(worker), "--duration", str(int(args.seconds)),
                       "--rate", "500", "--format", "raw", "--output", str(raw), "--nonblocking"]
            subprocess.run(command, check=True, capture_output=True, timeout=args.seconds + 60)
            if args.flame:
                flame = [*command[:-4], "--format", "flamegraph", "--output", args.flame]
                flame[flame.index("--duration") + 1] = "3"
                subprocess.run(flame, check=False, capture_output=True, timeout=60)
            driver.join()
    own, inclusive, total = collapse(raw)
    result = load.get("result", {})
    print(f"{result.get('ok', 0)} calls in {result.get('wall_s', 0):.1f} s, "
          f"{total} samples of worker {worker}")
    for title, counter in (("self", own), ("inclusive", inclusive)):
        print(f"\n-- top {args.top} by {title} time (% of samples)")
        for frame, count in counter.most_common(args.top):
            print(f"{100 * count / max(total, 1):6.1f}  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
