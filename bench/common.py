"""Shared pieces of the benchmarks: processes, /proc figures, contexts, the load driver, tables.

Every benchmark runs the loopback fake upstream and the host as separate processes on
127.0.0.1 and drives load from a third process (``bench/loadgen.py``, gevent + raw sockets),
so the host is measured as it runs in production and the driver never shares its GIL.
Nothing here talks to anything but 127.0.0.1, and every loop is bounded in count and time.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
CONFIG = ROOT / "workflowapp" / "gunicorn_conf.py"
PYTHON = sys.executable
HOST = "127.0.0.1"
API_KEY = "sk-bench-0123456789abcdefABCDEF"
MODEL = "gpt-4o-mini"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ first, not the repository
    sys.path.insert(0, str(ROOT))


# --- environment --------------------------------------------------------------------------


def raise_nofile(wanted: int = 65536) -> int:
    """Raise this process's open-file soft limit (children inherit it); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    versions = {}
    for name in ("flask", "werkzeug", "gunicorn", "gevent", "waitress", "requests", "lxml"):
        with contextlib.suppress(Exception):
            from importlib import metadata

            versions[name] = metadata.version(name)
    return {
        "nproc": os.cpu_count() or 0,
        "cpu": model or platform.processor() or platform.machine(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "versions": versions,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_fraction(seconds: float = 0.5) -> float:
    """Share of all CPUs busy over ``seconds`` (other people's work disturbs the figures)."""
    busy0, total0 = _cpu_times()
    time.sleep(seconds)
    busy1, total1 = _cpu_times()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_quiet(limit: float = 30.0, threshold: float = 0.15) -> float:
    """Wait (at most ``limit`` s) until the machine is mostly idle; the last busy share."""
    deadline = time.monotonic() + limit
    busy = busy_fraction()
    while busy > threshold and time.monotonic() < deadline:
        busy = busy_fraction(1.0)
    return busy


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- /proc figures ------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()  # fields from 3 (state) on


def descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it (gunicorn's master and its workers)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry))[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds consumed so far by ``pids`` (exited ones count 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = _stat_fields(pid)
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLK_TCK


def memory_kib(pids: Sequence[int]) -> tuple[int, int]:
    """(RSS, PSS) in KiB summed over ``pids``, from /proc/<pid>/smaps_rollup."""
    rss = pss = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return rss, pss


# --- processes ----------------------------------------------------------------------------


@dataclass
class Service:
    """A process this benchmark started (fake upstream or host), stopped by its own pid."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def pids(self) -> list[int]:
        return descendants(self.proc.pid)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, wait, then SIGKILL the ones left (only this service's own processes)."""
        if self.proc.poll() is not None:
            return
        pids = self.pids()
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(5)
        for pid in pids[1:]:  # workers orphaned by a killed master
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


class ServiceError(RuntimeError):
    """A service did not start."""


def _popen(command: Sequence[str], log: Path, env: Mapping[str, str], cwd: Path
           ) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            list(command), stdout=out, stderr=subprocess.STDOUT, env=dict(env), cwd=cwd,
            stdin=subprocess.DEVNULL,
        )


def start_fake(workdir: Path, delay_ms: float, name: str = "fake") -> Service:
    """The loopback fake OpenAI server (gevent, no validation), ready to answer."""
    port = free_port()
    log = workdir / f"{name}.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [
        PYTHON, "-m", "tests.fakes.openai_fake", "--host", HOST, "--port", str(port),
        "--delay-ms", str(delay_ms), "--server", "gevent", "--no-validate",
        "--record-limit", "1",
    ]
    service = Service(name, _popen(command, log, env, ROOT), port, log)
    _wait_ready(service, "/_fake/stats", "GET", None, 20.0)
    return service


def host_env(workdir: Path, fake: Service, extra: Mapping[str, str] | None = None,
             upstreams: Sequence[Service] = ()) -> dict[str, str]:
    """The host's settings as environment variables (they win over .env and web.config):
    ``fake`` is the default chat URL; it and ``upstreams`` are the allowed hosts (host:port,
    as WorkflowAppAllowedHosts entries without a port admit only the default port)."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.lower().startswith(("openai", "workflowapp", "azureopenai", "echo"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        OpenAIApiKey=API_KEY,
        OpenAIChatApiUrl=f"{fake.url}/v1/chat/completions",
        WorkflowAppAllowedHosts=",".join(
            f"{HOST}:{service.port}" for service in (fake, *upstreams)),
        WorkflowAppLogPath=str(workdir / "logs"),
        WORKFLOWAPP_WEB_CONFIG=str(workdir / "absent-web.config"),
        WORKFLOWAPP_ENV_FILE=str(workdir / "absent.env"),
    )
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class ServerModel:
    """One way of serving the host: gunicorn with workflowapp/gunicorn_conf.py and env overrides,
    or waitress (what IIS runs)."""

    name: str
    kind: str = "gunicorn"  # or "waitress"
    env: Mapping[str, str] = field(default_factory=dict)
    threads: int = 0  # waitress threads
    note: str = ""
    max_concurrency: int = 0  # compare at most this many calls (0: any)
    app: str = "workflowapp:create_app()"  # the WSGI application gunicorn serves
    kind_of_start: str = "gunicorn"  # or "serve": ``workflowapp serve`` (cold start)
    root: str = ""  # another checkout to serve (A/B runs): its package and its gunicorn config

    def command(self, port: int) -> list[str]:
        if self.kind_of_start == "serve":
            # What an administrator runs: the CLI runs gunicorn with the packaged configuration.
            return [PYTHON, "-c", "import sys; from workflowapp.cli import main; sys.exit(main())",
                    "serve", "--host", HOST, "--port", str(port)]
        if self.kind == "waitress":
            return [
                PYTHON, "-m", "waitress", f"--listen={HOST}:{port}",
                f"--threads={self.threads}", "--connection-limit=4000", "--backlog=4096",
                "--channel-timeout=900",
                # select() stops at 1,024 descriptors on Linux (waitress then dies with
                # "filedescriptor out of range"); on Windows it is 512 sockets, see
                # web.config.sample.
                "--asyncore-use-poll",
                "--call", "workflowapp:create_app",
            ]
        config = Path(self.root) / "config" / "gunicorn.conf.py" if self.root else CONFIG
        return [
            PYTHON, "-m", "gunicorn", "--config", str(config), "--bind", f"{HOST}:{port}",
            self.app,
        ]


#: The chosen model: exactly what workflowapp/gunicorn_conf.py does by default.
CHOSEN = ServerModel("gunicorn gevent (chosen)",
                     note="workflowapp/gunicorn_conf.py defaults")

#: Issue 14's baseline: the minimal Flask + requests pass-through (``bench/passthrough.py``)
#: under the same gunicorn settings as the host.
BASELINE = ServerModel("minimal pass-through", app="bench.passthrough:app",
                       note="bench/passthrough.py, config/gunicorn.conf.py")

#: The host started as administrators start it: ``workflowapp serve``.
SERVE = ServerModel("workflowapp serve", kind_of_start="serve")

#: The serving models compared by ``capacity.py --compare``.
MODELS: dict[str, ServerModel] = {
    "gevent": CHOSEN,
    "gevent-1w": ServerModel("gunicorn gevent, 1 worker", env={"WORKFLOWAPP_WORKERS": "1"}),
    "gevent-preload": ServerModel(
        "gunicorn gevent, preload", env={"WORKFLOWAPP_PRELOAD": "1"}
    ),
    "gevent-pywsgi": ServerModel(
        "gunicorn gevent_pywsgi", env={"WORKFLOWAPP_WORKER_CLASS": "gevent_pywsgi"}
    ),
    "gthread": ServerModel(
        "gunicorn gthread 2x500", env={
            "WORKFLOWAPP_WORKER_CLASS": "gthread", "WORKFLOWAPP_THREADS": "500",
        },
    ),
    # One call per process: 5 workers serve 2.5 calls/s with a 2-s upstream; measured at 200
    # only (1,000 would just time out for minutes).
    "sync": ServerModel(
        "gunicorn sync x5", env={"WORKFLOWAPP_WORKER_CLASS": "sync", "WORKFLOWAPP_WORKERS": "5"},
        max_concurrency=200,
    ),
    "waitress": ServerModel("waitress 1000 threads", kind="waitress", threads=1000),
    "waitress-250": ServerModel("waitress 250 threads", kind="waitress", threads=250),
}


def start_host(workdir: Path, fake: Service, model: ServerModel = CHOSEN,
               extra_env: Mapping[str, str] | None = None, timeout: float = 30.0,
               upstreams: Sequence[Service] = ()) -> Service:
    """The host under ``model``, answering /healthz (its workers may still be importing)."""
    port = free_port()
    log = workdir / f"host-{port}.log"
    env = host_env(workdir, fake, {**model.env, **(extra_env or {})}, upstreams)
    if model.root:
        env["PYTHONPATH"] = model.root
    service = Service("host", _popen(model.command(port), log, env, workdir), port, log)
    _wait_ready(service, "/healthz", "GET", None, timeout)
    return service


def expected_workers(model: ServerModel) -> int:
    if model.kind != "gunicorn":
        return 0
    return int(model.env.get("WORKFLOWAPP_WORKERS", "0") or 0) or (os.cpu_count() or 1)


def _wait_ready(service: Service, path: str, method: str, body: bytes | None,
                timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise ServiceError(f"{service.name} exited {service.proc.returncode}:\n"
                               f"{service.tail()}")
        status = http_status(service.port, method, path, body)
        if status == 200:
            return
        time.sleep(0.02)
    service.stop()
    raise ServiceError(f"{service.name} not ready after {timeout:.0f} s:\n{service.tail()}")


def http_status(port: int, method: str, path: str, body: bytes | None = None,
                timeout: float = 5.0) -> int:
    """One plain HTTP/1.1 exchange with 127.0.0.1:port; its status, 0 if it failed."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            data = body or b""
            sock.sendall(
                f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n"
                f"Content-Length: {len(data)}\r\n\r\n".encode() + data
            )
            head = b""
            while b"\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    return 0
                head += chunk
            return int(head.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return 0


def fake_stats(fake: Service) -> dict[str, int]:
    """The fake's counters (``max_in_flight`` shows the concurrency it saw)."""
    with socket.create_connection((HOST, fake.port), timeout=5) as sock:
        sock.sendall(f"GET /_fake/stats HTTP/1.1\r\nHost: {HOST}\r\n"
                     "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    result: dict[str, int] = json.loads(data.partition(b"\r\n\r\n")[2] or b"{}")
    return result


@contextlib.contextmanager
def workspace(prefix: str = "wfbench-") -> Iterator[Path]:
    """A temporary folder for logs (the host writes its daily log file there)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)


@contextlib.contextmanager
def running(*services: Service) -> Iterator[None]:
    try:
        yield
    finally:
        for service in reversed(services):
            service.stop()


# --- contexts -----------------------------------------------------------------------------


def chat_context(fmt: str, url: str, *, history_bytes: int = 0, user: str = "Hello there"
                 ) -> bytes:
    """An OPENAICHAT context as WorkflowGen posts it (``dataset``, ``recordset`` or ``json``)."""
    from tests.helpers import context, out, param
    from workflowapp.context.model import Format

    params = [
        param("MODEL", MODEL), param("USER_MESSAGE", user), param("URL", url),
        param("SYSTEM_MESSAGE", "You answer briefly."), param("MAX_TOKENS", 256),
        out("RESULT_CONTENT"), out("RESULT"), out("RESULT_TOTAL_TOKENS", "NUMERIC"),
        out("APP_RESPONSE_STATUS"),
    ]
    if history_bytes:
        params.append(param("MESSAGE_HISTORY", history(history_bytes), "INOUT"))
    return context(*params, fmt=Format(fmt))


def history(size: int) -> str:
    """A MESSAGE_HISTORY JSON text of about ``size`` bytes (alternating turns, some markup)."""
    turns: list[dict[str, str]] = [{"role": "system", "content": "You are a careful assistant."}]
    text = ("Le café coûte 3 € & the <b>answer</b> is \"42\"; next line:\n"
            "a longer sentence about the invoice of order #12345 and its items. ")
    length = len(json.dumps(turns))
    index = 0
    while length < size:
        role = "user" if index % 2 == 0 else "assistant"
        turn = {"role": role, "content": f"{index}: " + text * 3}
        turns.append(turn)
        length += len(json.dumps(turn, ensure_ascii=False).encode()) + 2
        index += 1
    return json.dumps(turns, ensure_ascii=False)


def direct_body(user: str = "Hello there") -> bytes:
    """The chat completion the host sends upstream for :func:`chat_context` (the baseline)."""
    body = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You answer briefly."},
            {"role": "user", "content": user},
        ],
        "max_tokens": 256,
    }
    return json.dumps(body).encode()


CONTENT_TYPES = {
    "dataset": "application/xml; charset=utf-8",
    "recordset": "application/xml; charset=utf-8",
    "json": "application/json; charset=utf-8",
}


def host_target(host: Service, fmt: str, upstream: Service, **kwargs: Any) -> dict[str, Any]:
    """A load-driver target: OPENAICHAT through the host."""
    body = chat_context(fmt, f"{upstream.url}/v1/chat/completions", **kwargs)
    return {
        "port": host.port, "path": "/OPENAICHAT", "body": _b64(body),
        "headers": {"Content-Type": CONTENT_TYPES[fmt]}, "expect": "Hello!",
    }


def baseline_target(baseline: Service, fmt: str, upstream: Service) -> dict[str, Any]:
    """A load-driver target: the minimal pass-through, posted the same context as the host
    (it reads the body and ignores it; its upstream is fixed when it starts)."""
    return {**host_target(baseline, fmt, upstream), "port": baseline.port}


def direct_target(fake: Service) -> dict[str, Any]:
    """A load-driver target: the same chat completion sent straight to the fake."""
    return {
        "port": fake.port, "path": "/v1/chat/completions", "body": _b64(direct_body()),
        "headers": {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"},
        "expect": "Hello!",
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- the load driver ----------------------------------------------------------------------


def drive(phases: Sequence[Mapping[str, Any]], *, timeout: float) -> list[dict[str, Any]]:
    """Run ``phases`` in the load-driver process (``bench/loadgen.py``); their results.

    Each phase: ``target`` (see :func:`host_target`), ``concurrency``, ``requests``, ``warmup``
    (unmeasured calls first), ``deadline`` (seconds, hard bound), ``request_timeout``,
    ``watch`` (pids whose CPU is read before/after), ``sample_memory`` (seconds between PSS
    samples of ``watch``, 0 = none), ``label``.
    """
    spec = json.dumps({"phases": list(phases)})
    completed = subprocess.run(
        [PYTHON, str(BENCH / "loadgen.py")], input=spec.encode(), capture_output=True,
        timeout=timeout, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"load driver failed ({completed.returncode}):\n"
                           f"{completed.stderr.decode(errors='replace')[-3000:]}")
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    return results


# --- figures and tables -------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 2) -> str:
    """A Markdown table (also readable as plain text): numbers right-aligned, text left."""
    cells = [[fmt(cell, digits) for cell in row] for row in rows]
    numeric = [[isinstance(cell, int | float) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row, kinds in zip(cells, numeric, strict=True):
        lines.append("| " + " | ".join(
            c.rjust(w) if number else c.ljust(w)
            for c, w, number in zip(row, widths, kinds, strict=True)) + " |")
    return "\n".join(lines)


def save(name: str, result: Mapping[str, Any]) -> Path:
    """Write ``bench/results/<name>-<stamp>.json`` and ``<name>-latest.json``; the path.
    Quick (smoke) results are saved as ``<name>-quick-...``: they never replace full ones."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    if result.get("quick"):
        name += "-quick"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = json.dumps(result, indent=2, default=str)
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(text)
    (RESULTS / f"{name}-latest.json").write_text(text)
    return path
