"""The ways a DummyJSON-compatible server misbehaves on purpose: random faults and a rate limit.

Kept apart from the HTTP server so that what a fault or a limit is (its settings, their
validation, the fixed-window count) is one module's job; the server decides where in its
request pipeline they apply.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "FAULT_KINDS",
    "RATE_LIMIT_MESSAGE",
    "FaultConfig",
    "FixedWindowLimiter",
    "parse_rate_limit",
]

FAULT_KINDS = ("500", "503", "timeout", "truncate", "drop")
RATE_LIMIT_MESSAGE = "request limit exceeded, please wait a few seconds"


@dataclass(frozen=True)
class FaultConfig:
    """Seeded random faults on data routes (GET/HEAD ``/products...`` and ``/product...``).

    Each such request draws from ``random.Random(seed)``; a ``share`` of them gets one of
    ``kinds``:

    - ``"500"`` / ``"503"``: a JSON error answer with that status;
    - ``"timeout"``: the server holds the request for ``hang_seconds``, then closes the
      connection without answering;
    - ``"truncate"``: the real answer's status and headers (``Content-Length`` of the full body),
      then half of the body, then the connection is closed;
    - ``"drop"``: the connection is closed at once, without any answer.

    The same seed gives the same sequence of decisions, indexed by the order in which requests
    reach the fault stage. Concurrent requests can reach it in any order, so only a sequential
    client gets a reproducible fault per request.
    """

    share: float
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int | None = None
    hang_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.share) <= 1.0:
            raise ValueError(f"fault share must be between 0 and 1, got {self.share!r}")
        kinds = tuple(dict.fromkeys(str(kind) for kind in self.kinds))
        unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(
                f"fault kinds must be a non-empty subset of {', '.join(FAULT_KINDS)}; "
                f"got {', '.join(kinds) or 'nothing'}"
            )
        if not float(self.hang_seconds) >= 0:
            raise ValueError(f"hang_seconds must be >= 0, got {self.hang_seconds!r}")
        object.__setattr__(self, "share", float(self.share))
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "hang_seconds", float(self.hang_seconds))


class FixedWindowLimiter:
    """``limit`` requests per ``window`` seconds; the window starts with its first request."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._window_end: float | None = None
        self._count = 0

    def hit(self) -> tuple[bool, dict[str, str]]:
        with self._lock:
            now = self._clock()
            if self._window_end is None or now >= self._window_end:
                self._window_end = now + self.window
                self._count = 0
            self._count += 1
            allowed = self._count <= self.limit
            headers = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(max(0, self.limit - self._count)),
            }
            if not allowed:
                headers["Retry-After"] = str(max(1, math.ceil(self._window_end - now)))
            return allowed, headers


def parse_rate_limit(rate_limit: tuple[int, float]) -> tuple[int, float]:
    try:
        limit, window = rate_limit
    except (TypeError, ValueError):
        raise ValueError(
            f"rate_limit must be (max_requests, window_seconds), got {rate_limit!r}"
        ) from None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"rate limit max_requests must be an int >= 1, got {limit!r}")
    if not float(window) > 0:
        raise ValueError(f"rate limit window must be > 0 seconds, got {window!r}")
    return limit, float(window)
