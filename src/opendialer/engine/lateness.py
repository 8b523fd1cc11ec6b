"""How late the engine's scheduled work runs: the delay between a tick's due time and its start.

A loop that is blocked (by database work on it, say) shows up here first: ticks run late.
The engine keeps the delays of its recent ticks; the live view reports them.
"""

from collections import deque

RECENT_TICKS = 120  # a minute of one campaign's ticks at the default half second


class TickLateness:
    def __init__(self, keep: int = RECENT_TICKS) -> None:
        self._delays: deque[float] = deque(maxlen=keep)
        self.ticks = 0

    def record(self, due: float, started: float) -> None:
        self._delays.append(max(0.0, started - due))
        self.ticks += 1

    def percentile(self, fraction: float) -> float | None:
        """The delay (seconds) that ``fraction`` of the recent ticks stayed within."""
        if not self._delays:
            return None
        ordered = sorted(self._delays)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
