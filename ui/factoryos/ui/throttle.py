"""``SignInThrottle``: failed token attempts are rate-limited per client address.

The dashboard token is 256 random bits, so guessing it is hopeless; the throttle
makes sure nobody can try at speed either. Each client address may fail
``limit`` times within ``window`` seconds (the sign-in form, a wrong
``Authorization: Bearer`` on the API or a WebSocket); after that every token
attempt from that address is refused with 429 and ``Retry-After`` until its
oldest failure leaves the window, without the offered token being compared at
all (so a guess made while refused tells nothing). Sessions (the cookie) are not
token attempts and are never throttled, so a signed-in browser keeps working.
``AuthMiddleware`` and the sign-in page share one throttle per app.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

#: Failures allowed per address within the window.
SIGN_IN_LIMIT = 10
#: The window, in seconds.
SIGN_IN_WINDOW = 60.0
#: Addresses remembered at most (the oldest are forgotten first).
MAX_CLIENTS = 4096


class SignInThrottle:
    """Failures per client address in a sliding window (thread-safe: pages run in threads)."""

    def __init__(
        self,
        *,
        limit: int = SIGN_IN_LIMIT,
        window: float = SIGN_IN_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until ``client`` may try a token again, or None when it may now."""
        with self._lock:
            now = self._clock()
            failures = self._recent(client, now)
            if failures is None or len(failures) < self.limit:
                return None
            return max(1, math.ceil(failures[0] + self.window - now))

    def failed(self, client: str) -> None:
        """Record one wrong token from ``client``."""
        with self._lock:
            now = self._clock()
            failures = self._recent(client, now)
            if failures is None:
                if len(self._failures) >= self._max_clients:
                    del self._failures[next(iter(self._failures))]
                failures = self._failures[client] = deque()
            failures.append(now)
            while len(failures) > self.limit:
                failures.popleft()

    def _recent(self, client: str, now: float) -> deque[float] | None:
        failures = self._failures.get(client)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return None
        return failures


def too_many_message(seconds: int) -> str:
    return f"too many failed sign-ins from this address: try again in {seconds} s"
