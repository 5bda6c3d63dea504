"""gunicorn settings of the workflowapp host: ``workflowapp serve`` uses this file, which ships
inside the package, whatever the install (editable, wheel, ``pip install '<checkout>[server]'``).

Chosen by measurement (``bench/capacity.py --compare``; figures in ``bench/README.md`` and
README.md "Hosting"). A workflow call spends >99 % of its time waiting for the LLM, so the
host must hold many idle calls cheaply. On 2 cores, with 1,000 concurrent calls to an upstream
answering in 2 s: gevent workers (one greenlet per call) kept the direct rate (99-100 % in
five runs, 0 errors, p99 2.04 s, ~150 MiB PSS for master + 2 workers, ~1.8 ms CPU per call);
gthread (2 x 500 threads) reached 90-95 % with a 2.9-s p99 and more CPU per call; waitress
(1 process x 1,000 threads) 77-98 % with a p99 up to 7 s; sync workers serve one call per
process (5 workers: 2.5 calls/s, the rest time out).

Every value can be overridden without editing this file, by variables read like the host's
settings (environment first, then ``./.env`` or ``WORKFLOWAPP_ENV_FILE``, then web.config:
systemd ``EnvironmentFile=``, ``config/example.env``), by gunicorn's own command-line flags, or
by a configuration file of your own (``config/gunicorn.conf.py`` is a sample) given with
``workflowapp serve --config`` or ``WORKFLOWAPP_GUNICORN_CONF``:

==============================  ==========================  ======================================
variable                        default                     meaning
==============================  ==========================  ======================================
WORKFLOWAPP_BIND                0.0.0.0:8000                address:port (or unix:/path)
WORKFLOWAPP_WORKERS             number of CPUs              worker processes
WORKFLOWAPP_WORKER_CLASS        gevent                      gevent | gevent_pywsgi | gthread | sync
WORKFLOWAPP_WORKER_CONNECTIONS  1000                        concurrent calls per gevent worker
WORKFLOWAPP_THREADS             1                           threads per gthread worker
WORKFLOWAPP_TIMEOUT             960                         worker heartbeat timeout (s)
WORKFLOWAPP_GRACEFUL_TIMEOUT    120                         time in-flight calls get on restart
WORKFLOWAPP_KEEPALIVE           5                           idle keep-alive connection (s)
WORKFLOWAPP_PRELOAD             0                           1: load the app in the master
WORKFLOWAPP_ACCESSLOG           (off)                       ``-`` for stdout, or a file path
WORKFLOWAPP_FORWARDED_ALLOW_IPS 127.0.0.1,::1               proxies trusted for X-Forwarded-*
WORKFLOWAPP_GUNICORN_LOGLEVEL   info                        gunicorn's own log (stderr)
==============================  ==========================  ======================================

The defaults above are declared once, with what each value must be, in
``workflowapp.settings.SERVER`` (``workflowapp config`` shows the values in force); a value that
is not what its variable expects, or any setting the start-up check refuses, stops the server
here with "refusing to start: ..." and exit status 1, before any worker boots.

The host's own settings (OpenAIApiKey, WorkflowAppPoolSize...) come from web.config/.env/the
environment as usual; keep ``WorkflowAppPoolSize`` (pooled upstream connections per worker,
default 1000) at least equal to ``WORKFLOWAPP_WORKER_CONNECTIONS``, or calls beyond the pool
open and drop a new upstream connection (and TLS handshake) each time.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource

from workflowapp import serving
from workflowapp.serving import child_exit, on_exit, on_starting, post_fork, when_ready
from workflowapp.settings import ON

__all__ = [  # what ``from workflowapp.gunicorn_conf import *`` gives an override file
    "accesslog", "backlog", "bind", "child_exit", "control_socket_disable", "errorlog",
    "forwarded_allow_ips", "graceful_timeout", "keepalive", "loglevel", "max_requests",
    "on_exit", "on_starting", "post_fork", "preload_app", "proc_name", "threads", "timeout",
    "when_ready",
    "worker_class", "worker_connections", "worker_tmp_dir", "workers",
]


def _flag(name: str) -> bool:
    return serving.setting(name).lower() in ON


# The variables as they are now (gunicorn re-reads this file on HUP), checked before any is
# read: a refusal ends the server here.
serving.settings.cache_clear()
serving.check()

# Where the workers' Prometheus metrics meet (GET /metrics sums them): created now, before a
# preloaded application could import prometheus_client, and removed by on_exit.
serving.metrics_folder()


# --- sockets ----------------------------------------------------------------------------------

bind = [serving.setting("WORKFLOWAPP_BIND")]
# Connections waiting to be accepted. A burst of 1,000 WorkflowGen actions must not be refused
# while workers accept; the kernel caps it at net.core.somaxconn (4096 on recent kernels).
backlog = 2048

# --- workers ----------------------------------------------------------------------------------

# gevent: one greenlet per call; a call waiting for the LLM costs ~50 KiB (with its two
# sockets) and no CPU. "gevent_pywsgi" measured ~0.07 ms less CPU per call, but gevent's pywsgi
# never closes an idle kept-alive connection (each holds a pool slot); this worker closes them
# after `keepalive` seconds.
worker_class = serving.setting("WORKFLOWAPP_WORKER_CLASS")
# One worker per core: the per-call CPU (HTTP, contexts, JSON, TLS) is spread over the cores (at
# 1,000 calls all starting at once, one worker measured 89 % of the direct rate, two 93 %) and
# a worker that dies takes only its share of the calls in flight with it. More workers than
# cores only add memory (~45 MiB each).
workers = serving.number("WORKFLOWAPP_WORKERS")  # default: os.cpu_count()
# Concurrent calls per gevent worker (gevent's pool size); beyond it, connections wait in the
# backlog. 2 workers x 1000 = 2,000 calls in flight.
worker_connections = serving.number("WORKFLOWAPP_WORKER_CONNECTIONS")
# Only used by the gthread class (WORKFLOWAPP_WORKER_CLASS=gthread): threads per worker.
threads = serving.number("WORKFLOWAPP_THREADS")

# --- time limits ------------------------------------------------------------------------------

# Heartbeat: a worker silent this long is killed and replaced. gevent (and gthread) workers
# beat from their event loop every second, whatever their calls are waiting for, so this only
# catches a worker whose loop is stuck; it still outlasts the longest call the host allows
# (WorkflowAppDeadline, 900 s) in case someone switches to sync workers, which cannot beat
# while a call runs.
timeout = serving.number("WORKFLOWAPP_TIMEOUT")
# On SIGTERM/SIGHUP (systemctl stop/reload, deploys) workers stop accepting and give calls in
# flight this long to finish; most LLM answers come within 2 minutes. systemd's TimeoutStopSec
# must be longer (config/workflowapp.service: 150 s).
graceful_timeout = serving.number("WORKFLOWAPP_GRACEFUL_TIMEOUT")
# Idle keep-alive connections hold a gevent pool slot and delay a graceful stop, so keep them
# short. Behind nginx, the upstream keepalive_timeout must be shorter (config/nginx.conf: 4 s)
# so that nginx, not gunicorn, closes idle connections and no request races a close.
keepalive = serving.number("WORKFLOWAPP_KEEPALIVE")

# --- application loading ----------------------------------------------------------------------

# Each worker imports the application itself, after gevent has patched it (gunicorn's
# standard order). Preloading in the master was measured to save no memory (PSS 93 vs 91 MiB
# idle, 148 vs 147 MiB with 1,000 calls in flight: CPython's reference counts dirty the
# shared pages) and would need gevent patched in the master; without it, ``systemctl reload``
# (SIGHUP) starts new workers on new code and settings while the old ones finish their calls.
# WORKFLOWAPP_PRELOAD=1 preloads anyway (import errors then stop the master at once).
preload_app = _flag("WORKFLOWAPP_PRELOAD")
if preload_app and worker_class.startswith("gevent"):
    # Preloaded code imports requests/urllib3/ssl before gunicorn patches the worker: patch
    # here, in the master, first.
    from gevent import monkey

    monkey.patch_all()

# The heartbeat file is fchmod'ed every second; on tmpfs that never blocks on a busy disk.
worker_tmp_dir = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
# Workers are not recycled: an in-flight LLM call would have to finish within graceful_timeout.
max_requests = 0

# --- logs and proxies -------------------------------------------------------------------------

# The host writes its own access line per call (WorkflowAppAccessLog: application, status,
# error code, upstream status, tokens); gunicorn's would be a second line per call, so it is
# off unless asked for.
accesslog = serving.setting("WORKFLOWAPP_ACCESSLOG") or None
errorlog = "-"
loglevel = serving.setting("WORKFLOWAPP_GUNICORN_LOGLEVEL")
forwarded_allow_ips = serving.setting("WORKFLOWAPP_FORWARDED_ALLOW_IPS")
proc_name = "workflowapp"
# gunicorn's runtime control socket (gunicornc) is not used; not creating it keeps two
# instances on one machine from fighting over ~/.gunicorn/gunicorn.ctl.
control_socket_disable = True

# --- limits -----------------------------------------------------------------------------------

# Each call in flight holds two sockets (WorkflowGen's and the upstream one): raise the
# open-file soft limit to the hard limit (systemd unit: LimitNOFILE=65536). Workers inherit it.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
_wanted = 65536 if _hard == resource.RLIM_INFINITY else min(65536, _hard)
if _soft < _wanted:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_wanted, _hard))

# --- memory -----------------------------------------------------------------------------------

# glibc raises its mmap threshold each time a large block is freed (up to 32 MiB); blocks below
# it then come from the heap, which is not given back to the system. A worker that read a
# 28 MB context then stayed ~30 MiB larger and peaked higher: bench/bigcontext.py measured
# 6.7x the body's size in peak added memory, 5.5x with the threshold fixed at glibc's initial
# 128 KiB (set here, in the master, before the workers are forked; a no-op without glibc).
with contextlib.suppress(OSError, AttributeError):
    ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
