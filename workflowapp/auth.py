"""HTTP Basic authentication of WorkflowGen's posts, and the limit on failed attempts.

Credentials are compared in constant time. Each worker process counts the failures of each
client address over the last minute (:class:`FailureLimiter`); past ``WorkflowAppAuthFailureLimit``
that address gets 429 with ``Retry-After`` until its oldest counted failure is a minute old,
whatever it sends, so a password cannot be guessed at speed. The count is per worker, not
shared between processes: with N workers an address can try up to N times the limit a minute.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
#: Client addresses tracked at most; the least recently failing are forgotten first, so a
#: flood from many addresses cannot grow the table without bound.
MAX_CLIENTS = 10_000


def credentials_match(header: str, expected: tuple[str, str]) -> bool:
    """Whether an ``Authorization`` header carries exactly these Basic credentials."""
    scheme, _, encoded = header.partition(" ")
    given = b""
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            given = b""
    wanted = f"{expected[0]}:{expected[1]}".encode()
    return hmac.compare_digest(given, wanted)


class FailureLimiter:
    """Failed attempts per client address within a sliding window (thread-safe).

    :param limit: failures allowed per address and window; 0 disables the limit.
    """

    def __init__(self, limit: int, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 max_clients: int = MAX_CLIENTS) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Whole seconds ``client`` must wait before trying again (0: it may try now)."""
        if self.limit <= 0:
            return 0
        with self._lock:
            times = self._recent(client)
            if times is None or len(times) < self.limit:
                return 0
            wait = times[-self.limit] + self.window - self._clock()
            return max(1, min(math.ceil(self.window), math.ceil(wait)))

    def failed(self, client: str) -> None:
        """Count one failure of ``client``."""
        if self.limit <= 0:
            return
        with self._lock:
            times = self._recent(client)
            if times is None:
                times = self._failures[client] = deque(maxlen=self.limit)
                while len(self._failures) > self._max_clients:
                    self._failures.popitem(last=False)
            self._failures.move_to_end(client)
            times.append(self._clock())

    def _recent(self, client: str) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        horizon = self._clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times
