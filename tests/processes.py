"""Processes a test starts (fake servers, the host under gunicorn): stopped for sure.

A test stops its process with SIGTERM, which every server started by the tests honours at once;
one that does not is killed after a grace period, so no test hangs on a stuck server and no
process outlives the test (and the CI run) that started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from typing import Any

GRACE_S = 10.0


def stop(process: subprocess.Popen[Any], grace: float = GRACE_S) -> int | None:
    """SIGTERM, then SIGKILL after ``grace`` seconds (the process and its group); returns the
    exit status."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # gunicorn's workers too
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(5)
    for stream in (process.stdout, process.stderr, process.stdin):
        if stream is not None:
            stream.close()
    return process.returncode


@contextlib.contextmanager
def running(command: Sequence[str], grace: float = GRACE_S, **options: Any
            ) -> Iterator[subprocess.Popen[Any]]:
    """Start ``command`` in its own process group; stop it (and its children) on exit."""
    process = subprocess.Popen(list(command), start_new_session=True, **options)
    try:
        yield process
    finally:
        stop(process, grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # nothing of the group is left behind
