"""When a campaign's runner looks again: at the first event, or at the earliest of its timers.

The runner does not tick on a fixed period. It sleeps until something it is told about happens
(an agent freed or ready, a call answered or ended) or until the earliest time it asked for (the
pacing policy's recheck, the next contact due, the poll for changes it is not told about). An
event says whether the runner's view of the database is now stale (an agent's state changed), so
a look after an event that changed nothing there decides from memory, without a query.
"""

import asyncio

from opendialer.clock import Clock


class Wakeup:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.stale = True
        """The database may have changed under the runner's view: read it at the next look."""
        self._woken_at: float | None = None
        self._future: asyncio.Future[None] | None = None

    def wake(self, *, stale: bool) -> None:
        """Something happened: look now (at once if waiting, else right after the current look)."""
        self.stale = self.stale or stale
        if self._woken_at is None:
            self._woken_at = self.clock.monotonic()
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    async def wait(self, deadline: float) -> float:
        """Until an event or ``deadline`` (monotonic); returns when the look became due."""
        if self._woken_at is None and deadline > self.clock.monotonic():
            future = self._future = asyncio.get_running_loop().create_future()
            timer = self.clock.call_at(deadline, lambda: _settle(future))
            try:
                await future
            finally:
                timer.cancel()
                self._future = None
        due, self._woken_at = self._woken_at, None
        return min(deadline, due) if due is not None else deadline


def _settle(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)
