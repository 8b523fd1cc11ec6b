"""One producer per tenant builds the wallboard and hands the same document to every open
wallboard of that tenant: the database is read once per tick, however many people watch. The
producer runs while someone watches and stops with the last viewer."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from opendialer.console.wallboard_schemas import Wallboard
from opendialer.console.wallboard_service import SlowParts, build
from opendialer.db import SessionMaker, run_unit_of_work
from opendialer.engine.runner import Engine
from opendialer.scoping import Scope

log = logging.getLogger(__name__)
TICK_SECONDS = 0.5  # a change reaches the page within this plus one build


@dataclass(slots=True)
class Feed:
    """The latest document of one tenant (JSON), and a counter that moves with each one."""

    viewers: int = 0
    version: int = 0
    document: str | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None


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
        self._tick = tick_seconds
        self._feeds: dict[int, Feed] = {}
        self.builds = 0  # documents built since start (the bench reads it)

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
        slow: SlowParts | None = None

        def read(session: Session) -> tuple[Wallboard, SlowParts]:
            return build(session, scope, self._clock(), self._engine(), slow)

        while True:
            try:
                document, slow = await run_unit_of_work(self._sessions, read, writes=False)
            except Exception:  # the database went away for a moment: the next tick tries again
                log.exception("wallboard of tenant %s not built", scope.tenant_id)
                await asyncio.sleep(self._tick * 4)
                continue
            self.builds += 1
            async with feed.changed:
                feed.document = document.model_dump_json()
                feed.version += 1
                feed.changed.notify_all()
            await asyncio.sleep(self._tick)


async def next_document(feed: Feed, seen: int, timeout: float) -> tuple[int, str] | None:
    """The feed's version and document newer than version ``seen``; None when none came
    within ``timeout``."""
    async with feed.changed:
        try:
            await asyncio.wait_for(feed.changed.wait_for(lambda: feed.version > seen), timeout)
        except TimeoutError:
            return None
        assert feed.document is not None
        return feed.version, feed.document
