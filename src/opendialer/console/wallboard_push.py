"""One producer per tenant keeps the wallboard and hands the same pushes to every open wallboard
of that tenant: the database is read once per tick, however many people watch. The producer
runs while someone watches and stops with the last viewer.

Each tick reads only what may have moved (``wallboard_service.refresh``) and pushes what changed
(a :class:`WallboardDelta`); nothing when nothing did. The slow part is read on its own, every
``SLOW_SECONDS`` after the last such read ended, and the next tick starts from it. A published
agent change wakes the producer at once (bursts coalesce for ``GATHER_SECONDS``); the calls and
counters are re-read every ``TICK_SECONDS``. A stream that opens, or that fell further behind
than the deltas kept, gets the whole document."""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar

from sqlalchemy.orm import Session

from opendialer.console.wallboard_schemas import Wallboard, WallboardDelta
from opendialer.console.wallboard_service import SLOW_SECONDS, Live, read_slow, refresh
from opendialer.db import SessionMaker, run_unit_of_work
from opendialer.engine.runner import Engine
from opendialer.scoping import Scope

log = logging.getLogger(__name__)
TICK_SECONDS = 0.5  # the calls and counters reach the page within this plus one read
GATHER_SECONDS = 0.1  # after a push, changes gather this long before the next read
KEPT_DELTAS = 32  # a stream further behind than this gets the whole document again

T = TypeVar("T")
K = TypeVar("K")
Push = tuple[Literal["wallboard", "wallboard_delta"], str]  # an event's name and its data


@dataclass(slots=True)
class Feed:
    """The latest document of one tenant, the last deltas that led to it, and a counter that
    moves with each delta."""

    viewers: int = 0
    version: int = 0
    document: Wallboard | None = None
    deltas: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=KEPT_DELTAS))
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    agents_changed: set[int] = field(default_factory=set)
    fresh: Live | None = None  # the latest slow read, not yet taken by the ticks
    has_fresh: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    _whole: tuple[int, str] | None = None  # the document's JSON, made once per version

    def take(self, board: Wallboard) -> bool:
        """Make ``board`` the document; whether there is something to push."""
        previous, self.document = self.document, board
        if previous is None or previous.time_zone != board.time_zone:  # every stream: it whole
            self.version += 1
            self.deltas.clear()
            return True
        delta = changes(previous, board)
        if delta is None:
            self._whole = None  # the same but for its time: a newcomer gets the newer one
            return False
        self.version += 1
        self.deltas.append((self.version, delta.model_dump_json()))
        return True

    def whole(self) -> str:
        if self._whole is None or self._whole[0] != self.version:
            assert self.document is not None
            self._whole = (self.version, self.document.model_dump_json())
        return self._whole[1]


class WallboardHub:
    def __init__(
        self,
        sessions: SessionMaker,
        engine: Callable[[], Engine | None],
        clock: Callable[[], datetime],
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self._clock = clock
        self._tick_seconds = tick_seconds
        self._feeds: dict[int, Feed] = {}
        self.builds = 0  # reads since start (the bench reads it)

    def agent_changed(self, user_id: int) -> None:
        """On the loop: an agent's state was published (any tenant's: the read is scoped)."""
        for feed in self._feeds.values():
            feed.agents_changed.add(user_id)
            feed.wake.set()

    @asynccontextmanager
    async def watch(self, viewer: Scope) -> AsyncIterator[Feed]:
        """The feed of the viewer's tenant (a supervisor or an admin: the same document)."""
        tenant_id = viewer.tenant_id
        feed = self._feeds.setdefault(tenant_id, Feed())
        feed.viewers += 1
        if feed.task is None:
            feed.task = asyncio.create_task(self._produce(Scope.system(tenant_id), feed))
        try:
            yield feed
        finally:
            feed.viewers -= 1
            if feed.viewers == 0:
                self._feeds.pop(tenant_id, None)
                feed.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed.task

    async def _produce(self, scope: Scope, feed: Feed) -> None:
        slow = asyncio.create_task(self._read_slow_parts(scope, feed))
        try:
            await self._tick(scope, feed)
        finally:
            slow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await slow

    async def _read_slow_parts(self, scope: Scope, feed: Feed) -> None:
        """Every ``SLOW_SECONDS`` after the last read ended: a fresh start for the ticks."""

        def read(session: Session) -> Live:
            return read_slow(session, scope, self._clock())

        while True:
            try:
                feed.fresh = await run_unit_of_work(self._sessions, read, writes=False)
                feed.has_fresh.set()
            except Exception:  # the database went away for a moment: the next read tries again
                log.exception("wallboard of tenant %s: slow part not read", scope.tenant_id)
            await asyncio.sleep(SLOW_SECONDS)

    async def _tick(self, scope: Scope, feed: Feed) -> None:
        live: Live | None = None
        while True:
            if live is None:
                await feed.has_fresh.wait()
            if feed.fresh is not None:
                live, feed.fresh = feed.fresh, None
                feed.has_fresh.clear()
            assert live is not None
            changed, feed.agents_changed = feed.agents_changed, set()
            feed.wake.clear()
            try:
                board = await self._read(scope, live, changed)
            except Exception:  # the database went away for a moment: the next tick tries again
                log.exception("wallboard of tenant %s not read", scope.tenant_id)
                live = None  # it may be half updated: start from the next slow read
                continue
            self.builds += 1
            async with feed.changed:
                if feed.take(board):
                    feed.changed.notify_all()
            await asyncio.sleep(GATHER_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    feed.wake.wait(), max(0.0, self._tick_seconds - GATHER_SECONDS)
                )

    async def _read(self, scope: Scope, live: Live, changed: set[int]) -> Wallboard:
        def read(session: Session) -> Wallboard:
            return refresh(session, scope, self._clock(), self._engine(), live, changed)

        return await run_unit_of_work(self._sessions, read, writes=False)


def changes(old: Wallboard, new: Wallboard) -> WallboardDelta | None:
    """What changed from ``old`` to ``new``, None when nothing did but the time."""
    campaigns, removed_campaigns = _changed(old.campaigns, new.campaigns, lambda c: c.id)
    agents, removed_agents = _changed(old.agents, new.agents, lambda a: a.user_id)
    quarters, removed_quarters = _changed(old.quarters, new.quarters, lambda q: q.at)
    pacing = new.pacing if new.pacing != old.pacing else None
    moved = (campaigns, removed_campaigns, agents, removed_agents, quarters, removed_quarters)
    if not any(moved) and pacing is None:
        return None
    return WallboardDelta(
        at=new.at,
        campaigns=campaigns,
        removed_campaigns=removed_campaigns,
        agents=agents,
        removed_agents=removed_agents,
        quarters=quarters,
        removed_quarters=removed_quarters,
        pacing=pacing,
    )


def _changed(old: Sequence[T], new: Sequence[T], key: Callable[[T], K]) -> tuple[list[T], list[K]]:
    """The items of ``new`` not equal to ``old``'s of the same key, and the keys gone."""
    before = {key(item): item for item in old}
    now = {key(item) for item in new}
    changed = [item for item in new if before.get(key(item)) != item]
    return changed, [k for k in before if k not in now]


async def next_pushes(feed: Feed, seen: int, timeout: float) -> tuple[int, list[Push]] | None:
    """The feed's version and what a stream that has seen version ``seen`` (0: nothing) is to
    be sent: the deltas since, or the whole document; None when nothing came within
    ``timeout``."""
    async with feed.changed:
        try:
            await asyncio.wait_for(feed.changed.wait_for(lambda: feed.version > seen), timeout)
        except TimeoutError:
            return None
        oldest = feed.deltas[0][0] if feed.deltas else None
        if seen == 0 or oldest is None or oldest > seen + 1:
            return feed.version, [("wallboard", feed.whole())]
        return feed.version, [("wallboard_delta", d) for v, d in feed.deltas if v > seen]
