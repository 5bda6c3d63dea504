"""Cold start: from process start to the first successful OPENAICHAT answer.

* gunicorn: ``python -m gunicorn --config config/gunicorn.conf.py`` started, then the driver
  posts (retrying every 5 ms while the port refuses) until a 200 comes back;
* plain Python: ``python -c`` importing workflowapp, ``create_app()`` and one call through the
  WSGI application (called directly, as a server does), the upstream being the loopback fake;
* ``python -c pass``: the interpreter alone, the floor;
* ``python -X importtime``: which packages the import of the host and its applications costs;
* the worker's own part, timed by gunicorn hooks (the packaged configuration plus four hooks,
  for both applications): from its fork to its application loaded, and its first request. The
  spawn-to-answer figures above carry the master's start and the VM's noise; these do not.

    python bench/coldstart.py [--quick]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BASELINE,
    CHOSEN,
    HOST,
    PYTHON,
    SERVE,
    ServerModel,
    Service,
    chat_context,
    free_port,
    host_env,
    machine,
    median,
    running,
    save,
    start_fake,
    table,
    wait_quiet,
    workspace,
)

TARGET_RATIO = 1.0

FIRST_CALL = r"""
import io, sys, time, base64
t0 = time.perf_counter()
import workflowapp
from workflowapp import create_app
t1 = time.perf_counter()
app = create_app()
t2 = time.perf_counter()
body = base64.b64decode(sys.argv[1])
environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/OPENAICHAT", "REMOTE_ADDR": "127.0.0.1",
           "CONTENT_TYPE": "application/xml", "CONTENT_LENGTH": str(len(body)),
           "wsgi.input": io.BytesIO(body)}
status = []
data = b"".join(app(environ, lambda line, headers: status.append(line)))
t3 = time.perf_counter()
assert status[0].startswith("200") and b"Hello!" in data, data[:300]
print(f"{t1 - t0:.6f} {t2 - t1:.6f} {t3 - t2:.6f}", flush=True)
"""

IMPORTS = (
    "import workflowapp; from workflowapp import create_app; app = create_app(); "
    "import workflowapp.apps.builtins"
)


def post_until_answered(port: int, body: bytes, content_type: str, limit: float) -> float:
    """Seconds (perf_counter) at which the first 200 came back; raises after ``limit``."""
    request = (f"POST /OPENAICHAT HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: {content_type}\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=limit) as sock:
                sock.sendall(request)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            if data.startswith(b"HTTP/1.1 200") and b"Hello!" in data:
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.005)
    raise TimeoutError(f"no answer within {limit} s")


def cached_env(work: Path, fake: Service, extra: dict[str, str] | None = None,
               bytecode: bool = True) -> dict[str, str]:
    """The host's environment with a private bytecode cache (as an installed package has its
    .pyc files), or, ``bytecode=False``, with the source tree's modules compiled at each start
    (a checkout run with PYTHONDONTWRITEBYTECODE=1, as in this sandbox)."""
    env = host_env(work, fake, extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def gunicorn_start(work: Path, fake: Service, models: dict[str, ServerModel], runs: int
                   ) -> dict[str, list[float]]:
    """Seconds from spawn to the first answer, per model; the models take turns (one start
    of each, then again), so a slower minute of the VM hits them all alike."""
    body = chat_context("dataset", f"{fake.url}/v1/chat/completions")
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(runs + 1):  # the first run fills the bytecode cache: not counted
        for name, model in models.items():
            env = cached_env(work, fake, dict(model.env))
            port = free_port()
            log = (work / f"cold-{port}.log").open("wb")
            began = time.perf_counter()
            proc = subprocess.Popen(model.command(port), env=env, cwd=work, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            host = Service("host", proc, port, Path(log.name))
            with running(host):
                answered = post_until_answered(port, body, "application/xml", 30.0)
            log.close()
            times[name].append(answered - began)
    return {name: found[1:] for name, found in times.items()}


#: The packaged configuration plus hooks that print when each step of a worker's life happens.
TIMED_CONFIG = """
import resource, sys, time
from workflowapp.gunicorn_conf import *  # noqa: F403

def _mark(what, pid):
    # A forked worker's own CPU time starts at zero.
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = used.ru_utime + used.ru_stime
    sys.stderr.write(f"TIMING {what} {pid} {time.perf_counter():.6f} {cpu:.6f}\\n")

def post_fork(server, worker):
    _mark("fork", worker.pid)
    from workflowapp.serving import post_fork as packaged
    packaged(server, worker)
def post_worker_init(worker): _mark("loaded", worker.pid)
def pre_request(worker, req): _mark("request", worker.pid)
def post_request(worker, req, environ, resp): _mark("answered", worker.pid)
"""


def worker_timeline(work: Path, fake: Service, apps: dict[str, str], runs: int
                    ) -> dict[str, dict[str, list[float]]]:
    """Per application: ms from the answering worker's fork to its application loaded (wall
    and CPU time), and of its first request (the applications take turns, as in
    :func:`gunicorn_start`)."""
    config = work / "timed.conf.py"
    config.write_text(TIMED_CONFIG)
    body = chat_context("dataset", f"{fake.url}/v1/chat/completions")
    found: dict[str, dict[str, list[float]]] = {
        name: {"boot_ms": [], "boot_cpu_ms": [], "first_request_ms": []} for name in apps}
    for _ in range(runs + 1):
        for name, app in apps.items():
            port = free_port()
            log_path = work / f"timed-{port}.log"
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    [PYTHON, "-m", "gunicorn", "--config", str(config), "--bind",
                     f"{HOST}:{port}", app], env=cached_env(work, fake), cwd=work,
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                with running(Service(name, proc, port, log_path)):
                    post_until_answered(port, body, "application/xml", 30.0)
            marks: dict[tuple[str, str], tuple[float, float]] = {}
            for line in log_path.read_text(errors="replace").splitlines():
                if line.startswith("TIMING "):
                    _, what, pid, when, cpu = line.split()
                    marks.setdefault((what, pid), (float(when), float(cpu)))
            pid = next(pid for what, pid in marks if what == "answered")
            found[name]["boot_ms"].append(
                (marks["loaded", pid][0] - marks["fork", pid][0]) * 1000)
            found[name]["boot_cpu_ms"].append(marks["loaded", pid][1] * 1000)
            found[name]["first_request_ms"].append(
                (marks["answered", pid][0] - marks["request", pid][0]) * 1000)
    return {name: {key: values[1:] for key, values in figures.items()}
            for name, figures in found.items()}


def python_start(work: Path, fake: Service, runs: int, bytecode: bool = True
                 ) -> list[dict[str, float]]:
    body = chat_context("dataset", f"{fake.url}/v1/chat/completions")
    env = cached_env(work, fake, bytecode=bytecode)
    found = []
    for _ in range(runs + 1):  # the first run fills the bytecode cache: not counted
        began = time.perf_counter()
        done = subprocess.run(
            [PYTHON, "-c", FIRST_CALL, base64.b64encode(body).decode()], env=env, cwd=work,
            capture_output=True, timeout=60, check=True,
        )
        total = time.perf_counter() - began
        imports, create, first = (float(x) for x in done.stdout.split())
        found.append({"total_s": total, "import_s": imports, "create_app_s": create,
                      "first_call_s": first,
                      "interpreter_s": total - imports - create - first})
    return found[1:]


def bare_python(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([PYTHON, "-c", "pass"], check=True, timeout=30)
        times.append(time.perf_counter() - began)
    return times


def import_costs(work: Path, fake: Service) -> dict[str, Any]:
    """``-X importtime`` of the host and its applications: ms per top-level package."""
    done = subprocess.run([PYTHON, "-X", "importtime", "-c", IMPORTS], env=cached_env(work, fake),
                          cwd=work, capture_output=True, timeout=60, check=True, text=True)
    by_package: dict[str, float] = defaultdict(float)
    cumulative: dict[str, float] = {}
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    for line in done.stderr.splitlines():
        match = pattern.match(line)
        if not match:
            continue
        own, total, _indent, name = match.groups()
        root = name.split(".")[0]
        by_package[root] += int(own) / 1000
        if name in KEY_MODULES:
            cumulative.setdefault(name, int(total) / 1000)
    ranked = sorted(by_package.items(), key=lambda item: item[1], reverse=True)
    return {"self_ms_by_package": dict(ranked[:15]), "total_ms": sum(by_package.values()),
            "cumulative_ms": cumulative}


KEY_MODULES = (
    "workflowapp", "workflowapp.web", "workflowapp.settings", "workflowapp.upstream",
    "workflowapp.context", "workflowapp.apps.builtins", "workflowapp.apps.chat",
    "workflowapp.wfgen_graphql", "flask", "werkzeug", "jinja2", "requests", "urllib3", "lxml.etree",
    "jsonschema", "dotenv", "email.utils", "importlib.metadata", "gevent", "gunicorn",
)


def run(quick: bool = False, model: ServerModel = CHOSEN) -> dict[str, Any]:
    runs = 2 if quick else 15
    busy = wait_quiet(3 if quick else 60)
    with workspace() as work:
        fake = start_fake(work, 0, "fake-0ms")
        with running(fake):
            starts = gunicorn_start(
                work, fake, {"serve": SERVE, "gunicorn": model, "baseline": BASELINE}, runs)
            workers = worker_timeline(work, fake, {"host": model.app, "baseline": BASELINE.app},
                                      runs)
            python_runs = python_start(work, fake, runs)
            uncached = python_start(work, fake, max(2, runs // 2), bytecode=False)
            imports = import_costs(work, fake)
    bare = bare_python(runs)
    python_summary = {key: median([run[key] for run in python_runs]) for key in python_runs[0]}
    return {
        "benchmark": "coldstart", "quick": quick, "machine": machine(), "server": model.name,
        "busy_before": busy,
        **{f"{name}_s": {"median": median(found), "min": min(found), "runs": found}
           for name, found in starts.items()},
        "python": python_summary, "python_runs": python_runs,
        "python_no_bytecode_s": median([run["total_s"] for run in uncached]),
        "bare_python_s": median(bare), "imports": imports, "target_ratio": TARGET_RATIO,
        "worker": {name: {key: {"median": median(values), "runs": values}
                          for key, values in figures.items()}
                   for name, figures in workers.items()},
        "workers": os.cpu_count(),
    }


def report(result: dict[str, Any]) -> str:
    python = result["python"]
    rows = [
        ["workflowapp serve to first answer", result["serve_s"]["median"],
         result["serve_s"]["min"]],
        ["minimal pass-through (gunicorn, same config) to first answer",
         result["baseline_s"]["median"], result["baseline_s"]["min"]],
        ["  ratio serve / pass-through (medians)",
         result["serve_s"]["median"] / result["baseline_s"]["median"], "-"],
        ["gunicorn (config/gunicorn.conf.py) to first answer", result["gunicorn_s"]["median"],
         result["gunicorn_s"]["min"]],
        ["python -c: import + create_app + first call", python["total_s"], "-"],
        ["  interpreter start and exit", python["interpreter_s"], "-"],
        ["  import workflowapp", python["import_s"], "-"],
        ["  create_app()", python["create_app_s"], "-"],
        ["  first OPENAICHAT call (lazy imports)", python["first_call_s"], "-"],
        ["python -c ..., workflowapp/ not byte-compiled (checkout)",
         result["python_no_bytecode_s"], "-"],
        ["python -c pass", result["bare_python_s"], "-"],
    ]
    text = ("Cold start (seconds, median; .pyc files cached as in an installed package)\n"
            + table(["what", "median s", "min s"], rows, 3))
    worker = result["worker"]
    boot = [[f"{name}: fork to application loaded", figures["boot_ms"]["median"]]
            for name, figures in worker.items()]
    boot += [[f"{name}: CPU time of that", figures["boot_cpu_ms"]["median"]]
             for name, figures in worker.items()]
    boot += [[f"{name}: first request", figures["first_request_ms"]["median"]]
             for name, figures in worker.items()]
    boot.append(["  ratio host / pass-through (boot + first request)",
                 (worker["host"]["boot_ms"]["median"]
                  + worker["host"]["first_request_ms"]["median"])
                 / (worker["baseline"]["boot_ms"]["median"]
                    + worker["baseline"]["first_request_ms"]["median"])])
    text += ("\n\nThe answering worker (ms, median; same configuration plus timing hooks)\n"
             + table(["what", "median ms"], boot, 2))
    imports = result["imports"]
    packages = [[name, ms] for name, ms in imports["self_ms_by_package"].items()]
    text += ("\n\nImport cost by package (ms of -X importtime self time, total "
             f"{imports['total_ms']:.0f} ms)\n" + table(["package", "ms"], packages, 1))
    text += "\nCumulative import ms: " + json.dumps(
        {k: round(v, 1) for k, v in imports["cumulative_ms"].items()})
    return text + "\nTarget: workflowapp serve <= the minimal pass-through (ratio <= 1)."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs instead of 15")
    args = parser.parse_args(argv)
    result = run(args.quick)
    print(report(result))
    print(f"saved {save('coldstart', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
