"""``workflowapp serve`` for real: gunicorn with the packaged configuration, several workers.

Metrics summed over the workers (multiprocess mode, a folder the master creates and removes),
the start-up refusal before any worker boots, and a clean stop on the first SIGTERM.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.server import FakeOpenAI
from tests.processes import running, stop

ROOT = Path(__file__).resolve().parent.parent
ECHO = (b'{"parameters": [{"name": "A", "dataType": "TEXT", "direction": "IN", "textValue": "x"},'
        b' {"name": "A_OUT", "dataType": "TEXT", "direction": "OUT"}]}')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.lower().startswith(("openai", "workflowapp", "prometheus"))}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.update(PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path / "tmp"),
               WorkflowAppLogPath=str(tmp_path / "logs"),
               WORKFLOWAPP_ENV_FILE=str(tmp_path / "absent.env"),
               WORKFLOWAPP_WEB_CONFIG=str(tmp_path / "absent.config"))
    env.update(values)
    return env


def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:  # the kernel accepts before a worker has booted: a read may wait, then retry
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError("no /healthz within 60 s")


def post_echo(base: str) -> int:
    with requests.Session() as session:  # a new connection each: any worker may accept it
        return session.post(f"{base}/ECHO", data=ECHO, timeout=30).status_code


def counters(folder: Path) -> set[str]:
    """The worker pids that wrote counters (prometheus_client names files counter_<pid>.db)."""
    return {path.name for path in folder.glob("counter_*.db")}


def echo_calls(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "workflowapp_calls_total" and sample.labels["app"] == "ECHO":
                return sample.value
    return 0.0


def test_metrics_sum_every_worker_and_the_server_stops_cleanly(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(tmp_path, WORKFLOWAPP_WORKERS="2", WorkflowAppAccessLog="off")
    command = [sys.executable, "-m", "workflowapp.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port)]
    with running(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                 stderr=subprocess.PIPE) as process:
        wait_healthy(base, process)
        folders = list((tmp_path / "tmp").glob("workflowapp-metrics-*"))
        assert len(folders) == 1
        calls = 0
        with ThreadPoolExecutor(10) as pool:
            while calls < 400 and len(counters(folders[0])) < 2:  # until both workers served
                statuses = list(pool.map(lambda _: post_echo(base), range(20)))
                assert statuses == [200] * 20
                calls += 20
        assert len(counters(folders[0])) == 2, "both workers served calls"
        for _ in range(6):  # whichever worker answers, it answers for all
            with requests.Session() as session:
                assert echo_calls(session.get(f"{base}/metrics", timeout=30).text) == calls
        began = time.monotonic()
        process.terminate()
        assert process.wait(timeout=30) == 0
        assert time.monotonic() - began < 30
        assert process.stderr is not None
        log = process.stderr.read().decode()
    assert list((tmp_path / "tmp").iterdir()) == [], "the metrics folder is removed"
    assert "WARNING" not in log, "127.0.0.1 is not exposed"


def refused_start(tmp_path: Path, **values: str) -> str:
    """Start ``workflowapp serve`` with these settings; it must exit 1 before any worker boots,
    without a traceback and without leaving its metrics folder: what it printed."""
    command = [sys.executable, "-m", "workflowapp.cli", "serve", "--host", "127.0.0.1",
               "--port", str(free_port())]
    process = subprocess.Popen(command, cwd=tmp_path, env=environment(tmp_path, **values),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        stop(process)
    text = out.decode()
    assert process.returncode == 1, text
    assert "workflowapp: refusing to start: " in text and "Booting worker" not in text
    assert "Traceback" not in text and "Failed to read config" not in text
    assert list((tmp_path / "tmp").iterdir()) == []
    return text


@pytest.mark.parametrize("half", [{"WorkflowAppUsername": "wfgen"},
                                  {"WorkflowAppPassword": "pw-half-0123"}])
def test_a_half_set_pair_stops_the_master_before_any_worker(
    tmp_path: Path, half: dict[str, str]
) -> None:
    text = refused_start(tmp_path, **half)
    assert "pw-half-0123" not in text


@pytest.mark.parametrize(("values", "named"), [
    ({"WORKFLOWAPP_WORKERS": "abc"}, "WORKFLOWAPP_WORKERS = 'abc' (in environment): expected"),
    ({"WorkflowAppPoolSize": "abc"}, "WorkflowAppPoolSize = 'abc' (in environment): expected"),
    ({"WorkflowAppAccessLog": "/nonexistent/dir/x.log"}, "WorkflowAppAccessLog = "),
])
def test_a_value_the_host_cannot_use_stops_the_master_without_a_traceback(
    tmp_path: Path, values: dict[str, str], named: str
) -> None:
    assert named in refused_start(tmp_path, **values)


def test_a_malformed_web_config_stops_the_master_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_text('<configuration><appSettings><add key="x"', encoding="utf-8")
    assert f"Cannot read {path}" in refused_start(tmp_path, WORKFLOWAPP_WEB_CONFIG=str(path))


def test_a_killed_masters_metrics_folder_is_removed_at_the_next_start(tmp_path: Path) -> None:
    from workflowapp import serving

    dead = tmp_path / f"{serving.PREFIX}{2**22 + 12345}-abc"  # above any pid_max in use
    alive = tmp_path / f"{serving.PREFIX}{os.getpid()}-def"
    other = tmp_path / "workflowapp-metrics-notapid"
    for folder in (dead, alive, other):
        folder.mkdir()
        (folder / "counter_1.db").write_bytes(b"")
    serving._remove_orphans(tmp_path)
    assert not dead.exists() and alive.exists() and other.exists()


SWALLOWED = r"""
import os, signal, sys, time
from workflowapp import serving
signal.signal(int(sys.argv[1]), lambda *_: None)  # the master's handler, inherited at fork
if sys.argv[2] == "hook":
    serving.post_fork(None, None)
os.kill(os.getpid(), int(sys.argv[1]))
time.sleep(0.5)
print("still running")
"""


@pytest.mark.parametrize("number", [15, 2, 3], ids=["SIGTERM", "SIGINT", "SIGQUIT"])
def test_a_worker_stops_on_a_signal_sent_before_its_own_handlers(number: int) -> None:
    def run(hook: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-c", SWALLOWED, str(number), hook],
                              capture_output=True, timeout=30, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})

    assert run("none").stdout.strip() == b"still running"  # what the hook prevents
    ended = run("hook")
    assert ended.returncode == -number, ended.stderr.decode()[-1000:]


SLOW_BOOT = """
import time
from workflowapp.gunicorn_conf import *  # noqa: F403
from workflowapp.gunicorn_conf import post_fork as packaged

def post_fork(server, worker):  # a worker still booting when the stop comes
    packaged(server, worker)
    time.sleep(3)
"""


def test_a_stop_sent_while_a_worker_boots_is_not_lost(tmp_path: Path) -> None:
    config = tmp_path / "slow.conf.py"
    config.write_text(SLOW_BOOT)
    env = environment(tmp_path, WORKFLOWAPP_WORKERS="1")
    command = [sys.executable, "-m", "workflowapp.cli", "serve", "--host", "127.0.0.1",
               "--port", str(free_port()), "--config", str(config)]
    with running(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                 stderr=subprocess.PIPE) as process:
        assert process.stderr is not None
        seen = b""
        while b"Booting worker" not in seen:
            line = process.stderr.readline()
            assert line, seen.decode()
            seen += line
        process.terminate()
        assert process.wait(timeout=20) == 0  # the master's graceful wait is 120 s
