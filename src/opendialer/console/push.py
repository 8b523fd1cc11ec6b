"""Pushing an agent's state to their open consoles.

Every committed change of the agent's row wakes their event streams (``engine.state_log``'s
publication, whatever made the change), which then read and send the state. The bridge is also
told straight from the engine's in-memory event, before the engine has written it: the screen
pop does not wait behind the engine's queue of writes (the stream shows the reserved agent on
the bridged call at once; the write, when it commits, wakes the stream again).
Everything here runs on the server's event loop; ``notify_from_thread`` hops onto it.
"""

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from opendialer.engine.live import LiveCall
from opendialer.models import CallOutcome


@dataclass(frozen=True, slots=True)
class Bridged:
    """The agent's current call, bridged to them at ``at`` (known before it is written)."""

    attempt_id: int
    at: datetime


class AgentPush:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: defaultdict[int, set[asyncio.Event]] = defaultdict(set)
        self._bridged: dict[int, Bridged] = {}  # agent -> their call in progress
        self._observers: list[Callable[[int], None]] = []  # told of every agent (wallboards)

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

    def observe(self, observer: Callable[[int], None]) -> None:
        """``observer(user_id)`` on the loop whenever any agent's state may have changed."""
        self._observers.append(observer)

    def notify(self, user_id: int) -> None:
        for changed in self._waiting.get(user_id, ()):
            changed.set()
        for observer in self._observers:
            observer(user_id)

    def notify_from_thread(self, user_id: int) -> None:
        """From any thread (a transaction's commit): wake the agent's streams on the loop."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is watching
            self._loop.call_soon_threadsafe(self.notify, user_id)

    def watchers(self) -> int:
        return sum(len(events) for events in self._waiting.values())

    def bridged(self, user_id: int) -> Bridged | None:
        return self._bridged.get(user_id)

    # -- the engine's moments (an engine listener)

    def call_connected(self, call: LiveCall) -> None:
        if call.agent_id is not None and call.connected_at is not None:
            self._bridged[call.agent_id] = Bridged(call.attempt_id, call.connected_at)
            self.notify(call.agent_id)

    def call_ended(self, call: LiveCall, outcome: CallOutcome) -> None:
        agent_id = call.agent_id
        bridged = self._bridged.get(agent_id) if agent_id is not None else None
        if agent_id is not None and bridged is not None and bridged.attempt_id == call.attempt_id:
            del self._bridged[agent_id]

    def agent_wrap_up(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        return None  # written, so published

    def preview_offered(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        return None  # written, so published
