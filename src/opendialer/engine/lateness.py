"""How late the engine's scheduled work runs: the delay between a tick's due time and its start.

A loop that is blocked (by database work on it, say) shows up here first: ticks run late.
The engine keeps the delays of its recent ticks; the live view reports them.
"""

from collections import deque
from typing import Protocol

RECENT_TICKS = 120  # a minute of one campaign's ticks at the default half second


class TickObserver(Protocol):
    """Told of every tick (the metrics, observability/metrics.py)."""

    def tick_late(self, seconds: float) -> None: ...

    def tick_took(self, seconds: float) -> None: ...


class TickLateness:
    def __init__(self, keep: int = RECENT_TICKS) -> None:
        self._delays: deque[float] = deque(maxlen=keep)
        self.ticks = 0
        self.observer: TickObserver | None = None

    def record(self, due: float, started: float) -> None:
        delay = max(0.0, started - due)
        self._delays.append(delay)
        self.ticks += 1
        if self.observer is not None:
            self.observer.tick_late(delay)

    def took(self, seconds: float) -> None:
        if self.observer is not None:
            self.observer.tick_took(seconds)

    def percentile(self, fraction: float) -> float | None:
        """The delay (seconds) that ``fraction`` of the recent ticks stayed within."""
        if not self._delays:
            return None
        ordered = sorted(self._delays)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
