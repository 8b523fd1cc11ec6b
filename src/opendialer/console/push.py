"""Pushing an agent's state to their open consoles: the engine's moments (a call bridged to
them, ended, a preview offered, wrap-up over) wake the agent's event streams, which then read
and send the state. An engine listener; everything runs on the server's event loop."""

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from opendialer.engine.live import LiveCall
from opendialer.models import CallOutcome


class AgentPush:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: defaultdict[int, set[asyncio.Event]] = defaultdict(set)
        self.bridged_at: dict[int, datetime] = {}  # agent -> when their current call bridged

    @contextmanager
    def subscribe(self, user_id: int) -> Iterator[asyncio.Event]:
        """An event set whenever the agent's state may have changed (one per open console)."""
        changed = asyncio.Event()
        self._waiting[user_id].add(changed)
        try:
            yield changed
        finally:
            self._waiting[user_id].discard(changed)
            if not self._waiting[user_id]:
                del self._waiting[user_id]

    def notify(self, user_id: int) -> None:
        for changed in self._waiting.get(user_id, ()):
            changed.set()

    def notify_from_thread(self, user_id: int) -> None:
        """From a worker thread (a request's commit): wake the agent's streams on the loop."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is watching
            self._loop.call_soon_threadsafe(self.notify, user_id)

    def watchers(self) -> int:
        return sum(len(events) for events in self._waiting.values())

    def call_connected(self, call: LiveCall) -> None:
        if call.agent_id is not None:
            if call.connected_at is not None:
                self.bridged_at[call.agent_id] = call.connected_at
            self.notify(call.agent_id)

    def call_ended(self, call: LiveCall, outcome: CallOutcome) -> None:
        if call.agent_id is not None:
            self.notify(call.agent_id)

    def agent_wrap_up(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        self.notify(user_id)

    def preview_offered(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        self.notify(user_id)
