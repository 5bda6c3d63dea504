"""What gunicorn's master does around the workers (hooks of ``gunicorn_conf.py``).

* :func:`metrics_folder` (called as the configuration loads, before a preloaded application
  imports prometheus_client): the folder in which the workers' Prometheus metrics meet
  (``PROMETHEUS_MULTIPROC_DIR``), a fresh one per server start (the folders of masters that
  were killed outright are removed then);
* :func:`check` (called as the configuration loads, before it reads a value) and
  ``on_starting``: refuse to start on a configuration the start-up check refuses, or a
  web.config that cannot be read: one line per reason and exit status 1, before any worker
  boots, so nothing restarts in a loop and no traceback is printed;
* ``when_ready``: warn when the host listens beyond the loopback without credentials;
* ``child_exit``: a dead worker's live gauges (calls in flight) stop counting;
* ``on_exit``: the metrics folder is removed.

The folder is created once per master process: gunicorn re-executes its configuration file on
``HUP``, but this module (imported normally) keeps its state.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import checks
from .errors import ConfigurationError
from .settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "workflowapp-metrics-"


@functools.cache
def settings() -> Settings:
    """The settings as the workers will read them (environment, .env, web.config)."""
    return Settings.load()


def setting(name: str) -> str:
    """A ``WORKFLOWAPP_*`` server variable: environment, then .env, then web.config, then its
    declared default (``settings.SERVER``); "" when it has none."""
    value, _ = settings().in_force(name)
    return (value or "").strip()


def number(name: str) -> int:
    """A whole-number server variable, parsed as the start-up check parses it."""
    return settings().get_int(name)


def check() -> None:
    """Refuse to start (SystemExit 1: gunicorn prints a traceback for any other exception in
    its configuration file) when the settings cannot be read or the start-up check refuses
    them."""
    try:
        reasons = checks.refusals(settings())
    except ConfigurationError as exc:  # a web.config that is not XML
        reasons = [exc.message]
    if reasons:
        # On a reload (SIGHUP: this master made its metrics folder already) gunicorn stops on
        # any failure of its configuration file: say so (the unit checks before it sends HUP).
        doing = "reload: the server stops" if _created else "start"
        for reason in reasons:
            print(f"workflowapp: refusing to {doing}: {reason}", file=sys.stderr, flush=True)
        on_exit(None)
        raise SystemExit(1)


_created: list[str] = []  # the folder this process made (at most one)


def metrics_folder() -> str:
    """A fresh folder for the workers' metric files, exported before any worker forks.

    Its name carries the master's pid: a master killed outright (SIGKILL) cannot remove its
    folder, so each start removes those of masters that no longer run."""
    if not _created:
        _remove_orphans(Path(tempfile.gettempdir()))
        folder = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
        _created.append(folder)
        os.environ[MULTIPROC_ENV] = folder
    return _created[0]


def _remove_orphans(parent: Path) -> None:
    for folder in parent.glob(f"{PREFIX}*-*"):
        pid = folder.name.removeprefix(PREFIX).partition("-")[0]
        if not pid.isdigit() or folder.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            continue


def on_starting(server: Any) -> None:
    """Refuse a configuration that cannot serve, before any worker boots (:func:`check`; again
    here for a configuration file of one's own that reads values before importing ours)."""
    check()


def post_fork(server: Any, worker: Any) -> None:
    """A new worker stops on SIGTERM, SIGINT or SIGQUIT even before it has set its own handlers.

    gunicorn's worker sets them only after gevent's monkey-patching (~0.1 s); until then it
    carries the master's, which merely queue the signal for the master. A stop sent in that
    window was lost: the worker booted and served on, and the master waited its graceful
    timeout (a ``systemctl stop`` right after a start hung for two minutes). A worker that has
    not booted has no call to finish, so the operating system's default, ending it, is right;
    gunicorn resets the same defaults itself before it installs its handlers."""
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(number, signal.SIG_DFL)


def when_ready(server: Any) -> None:
    """Warn when anyone on the network could spend the API key."""
    warning = checks.exposure_warning(list(server.cfg.bind), settings())
    if warning is not None:
        server.log.warning("workflowapp: WARNING: %s", warning)


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: its live gauges stop counting (prometheus_client multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    """The server stops: remove the metrics folder it created."""
    for folder in _created:
        shutil.rmtree(folder, ignore_errors=True)
