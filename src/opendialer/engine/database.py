"""The engine's only way to the database: ``await engine.db.run(work)``.

``work`` takes a session and returns plain values; it runs in one transaction in the engine's own
database thread, never on the event loop, so the loop (and the API it serves) keeps running
while the database is slow or another writer holds SQLite. One thread, first in first out:
the engine's transactions happen in the order the engine asked for them, as they did when they
ran on the loop. ``work`` must not touch the engine's in-memory state (the loop owns it): read
it before, apply the result after.

Lease renewals (this engine's lease and its campaign leases) take another way, :meth:`renew`:
a thread and connection of their own, and on SQLite a place at the writer gate ahead of every
waiting writer. So a renewal never queues behind the engine's ordinary work, however much of it
is waiting (claims under load once queued a renewal until the engine's lease ran out).

A transaction that fails for a passing reason (a lost connection, a locked database) is tried
again after a growing pause; ``work`` was rolled back, so running it again is safe.

Under a virtual clock that jumps (simulations), the work runs inline instead: time stands still
while the loop is busy, so the result is the same, and a thread would let time jump while the
work runs and make runs with one seed differ.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from opendialer.clock import Clock, VirtualClock
from opendialer.db import KeptConnections, SessionMaker, WriterBusy, on_loop_allowed, unit_of_work

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)  # seconds between tries: about 4 s in all


def transient(error: BaseException) -> bool:
    """A failure that may pass: the connection was lost, or the database was busy."""
    if isinstance(error, WriterBusy):
        return True
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or isinstance(error, OperationalError)
    return False


def runs_inline(clock: Clock) -> bool:
    """True for a virtual clock that jumps whenever the loop waits (see the module's doc)."""
    return isinstance(clock, VirtualClock) and clock.speed is None


class EngineDatabase:
    def __init__(
        self,
        sessions: SessionMaker,
        *,
        inline: bool,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.sessions = sessions
        self.inline = inline
        self.retry_delays = retry_delays
        self._kept = KeptConnections(sessions)  # the run/submit thread's (see _with_retries)
        self._executor: ThreadPoolExecutor | None = None
        self._lease_executor: ThreadPoolExecutor | None = None

    async def run(self, work: Callable[[Session], T], *, writes: bool = True) -> T:
        """``work`` in one transaction (retried while the failure is transient)."""
        if self.inline:
            with on_loop_allowed():
                return self._with_retries(work, writes)
        return await asyncio.wrap_future(self._thread().submit(self._with_retries, work, writes))

    async def renew(self, work: Callable[[Session], T]) -> T:
        """Lease work (short: a few statements) in one transaction, never behind :meth:`run`'s
        queue nor behind writers waiting at SQLite's gate (see the module's doc)."""
        if self.inline:
            with on_loop_allowed():
                return self._with_retries(work, True, urgent=True)
        if self._lease_executor is None:
            self._lease_executor = ThreadPoolExecutor(1, thread_name_prefix="engine-lease")
        future = self._lease_executor.submit(self._with_retries, work, True, urgent=True)
        return await asyncio.wrap_future(future)

    def submit(self, work: Callable[[Session], object], *, writes: bool = True) -> None:
        """``work`` in its turn, without waiting for it (a failure is logged)."""
        if self.inline:
            with on_loop_allowed():
                self._logged(work, writes)
        else:
            self._thread().submit(self._logged, work, writes)

    async def close(self) -> None:
        """Let queued work finish (waited for off the loop), then stop the thread."""
        executors = (self._executor, self._lease_executor)
        self._executor = self._lease_executor = None
        for executor in executors:
            if executor is not None:
                await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)
        self._kept.close()  # no work left to run on it

    def _thread(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="engine-db")
        return self._executor

    def _with_retries(
        self, work: Callable[[Session], T], writes: bool, *, urgent: bool = False
    ) -> T:
        for delay in (*self.retry_delays, None):
            try:
                # run and submit: one thread (this engine's database thread, or the loop
                # inline), so on its kept connection; a renewal in its own thread, pooled
                transaction = (
                    unit_of_work(self.sessions, writes=True, immediate=True, urgent=True)
                    if urgent
                    else self._kept.unit_of_work(writes=writes)
                )
                with transaction as session:
                    return work(session)
            except Exception as error:
                if delay is None or not transient(error):
                    raise
                log.warning("engine database work failed (%s); again in %.2f s", error, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _logged(self, work: Callable[[Session], object], writes: bool) -> None:
        try:
            self._with_retries(work, writes)
        except Exception:
            log.exception("engine database work failed for good")
