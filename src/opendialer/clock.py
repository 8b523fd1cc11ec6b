"""Clocks: the real one, and a virtual one on which asyncio code runs as fast as the CPU allows.

Everything time-related in the engine and the telephony backends goes through a :class:`Clock`,
so the same code serves production (``RealClock``), the demo (``VirtualClock(speed=60)``: one
minute a second) and simulations and benchmarks (``VirtualClock()``: time jumps to the next
wake-up whenever every task is waiting, so an 8-hour shift takes as long as its events take to
process).

Why our own event loop rather than ``aiotools.VirtualClock`` or ``looptime``: both patch private
attributes of a running loop (``loop._selector``, ``loop._clock_resolution``); aiotools spins the
CPU when every task waits on the outside world; looptime spends dozens of idle loop cycles per
jump by default; neither runs at "speed x". Here the loop is an ordinary ``SelectorEventLoop``
built through its public constructor with a wrapping selector, and ``time()`` (documented as
overridable) returns the virtual time. Timers are the loop's own heap, so the same program with
the same seed gives the same event order.
"""

import asyncio
import selectors
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

T = TypeVar("T")

VIRTUAL_EPOCH = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
"""Where a virtual clock starts unless told otherwise: a Monday morning, the same every run."""


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; the time base of ``call_at``."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> asyncio.TimerHandle: ...

    def call_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle: ...

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to completion on an event loop that keeps this clock's time."""
        ...


async def sleep_until(clock: Clock, when: datetime) -> None:
    await clock.sleep(max(0.0, (when - clock.now()).total_seconds()))


class RealClock:
    """The ordinary clock: production and real-time demos."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)

    def call_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        # Through call_later: a loop's own time base (uvloop's, say) need not be time.monotonic().
        return self.call_later(when - self.monotonic(), callback)

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(main)


class VirtualClock:
    """Virtual time for code run with :meth:`run` (or on a loop from :meth:`new_event_loop`).

    ``speed=None``: whenever no task is ready to run, time jumps to the next timer. Real I/O still
    works (it is polled before every jump), but a thread or socket that is *not* ready at that
    moment does not hold time back. ``speed=x``: time follows the real clock x times faster.
    """

    def __init__(self, start: datetime = VIRTUAL_EPOCH, *, speed: float | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start.astimezone(UTC)
        self._speed = speed
        self._elapsed = 0.0
        self._real_origin: float | None = None

    @property
    def speed(self) -> float | None:
        return self._speed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        if self._speed is None:
            return self._elapsed
        if self._real_origin is None:
            return 0.0
        return (time.monotonic() - self._real_origin) * self._speed

    async def sleep(self, seconds: float) -> None:
        self._own_loop()
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        return self._own_loop().call_later(delay, callback)

    def call_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        return self._own_loop().call_at(when, callback)

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        if self._real_origin is None:
            self._real_origin = time.monotonic()
        return _VirtualTimeLoop(self)

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=self.new_event_loop) as runner:
            return runner.run(main)

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if not (isinstance(loop, _VirtualTimeLoop) and loop.clock is self):
            raise RuntimeError("a VirtualClock works only on its own loop: use clock.run(...)")
        return loop

    def _select(
        self, inner: selectors.BaseSelector, timeout: float | None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        if self._speed is not None:
            return inner.select(None if timeout is None else timeout / self._speed)
        ready = inner.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timers at all: only the outside world can wake us
            return inner.select(None)
        self._elapsed += timeout
        return ready


class _VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        super().__init__(_JumpingSelector(selectors.DefaultSelector(), clock))

    def time(self) -> float:
        return self.clock.monotonic()


class _JumpingSelector(selectors.BaseSelector):
    """Delegates to a real selector; its ``select(timeout)`` lets the clock jump instead of wait."""

    def __init__(self, inner: selectors.BaseSelector, clock: VirtualClock) -> None:
        self._inner = inner
        self._clock = clock

    def register(
        self, fileobj: "FileDescriptorLike", events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: "FileDescriptorLike") -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(
        self, fileobj: "FileDescriptorLike", events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        return self._clock._select(self._inner, timeout)

    def get_map(self) -> Mapping["FileDescriptorLike", selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()
