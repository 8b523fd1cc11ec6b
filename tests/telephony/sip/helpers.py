"""Driving a sip backend in tests: record its events per call, bridge answered calls."""

import asyncio
from collections import defaultdict
from typing import Any

from opendialer.clock import RealClock
from opendialer.telephony import AgentEndpoint, CallEvent, CallEventKind, CallId, OriginateRequest
from opendialer.telephony.sip import SipBackend, load_options


def make_backend(options: dict[str, Any]) -> SipBackend:
    return SipBackend(RealClock(), load_options(options))


def request(number: str, ring_timeout: float = 5.0, **fields: Any) -> OriginateRequest:
    return OriginateRequest(
        number=number, caller_id="+4930999", ring_timeout=ring_timeout, **fields
    )


class Recorder:
    """Consumes ``backend.events()``; bridges calls registered in ``bridge_to`` on answer."""

    def __init__(self, backend: SipBackend) -> None:
        self.backend = backend
        self.events: dict[CallId, list[CallEvent]] = defaultdict(list)
        self.bridge_to: dict[CallId, AgentEndpoint] = {}
        self._changed = asyncio.Condition()
        self.task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for event in self.backend.events():
            self.events[event.call_id].append(event)
            agent = self.bridge_to.get(event.call_id)
            if event.kind is CallEventKind.ANSWERED_HUMAN and agent is not None:
                await self.backend.bridge(event.call_id, agent)
            async with self._changed:
                self._changed.notify_all()

    async def wait_for(
        self, call_id: CallId, kind: CallEventKind | None = None, timeout: float = 10.0
    ) -> CallEvent:
        """The call's first event of ``kind`` (``None``: its final event)."""

        def found() -> CallEvent | None:
            for event in self.events.get(call_id, []):
                if (kind is None and event.final) or event.kind is kind:
                    return event
            return None

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        event = found()
        assert event is not None
        return event

    def kinds(self, call_id: CallId) -> list[CallEventKind]:
        return [e.kind for e in self.events[call_id]]

    def seconds_between(self, call_id: CallId, first: CallEventKind, then: CallEventKind) -> float:
        times = {e.kind: e.at for e in self.events[call_id]}
        return (times[then] - times[first]).total_seconds()
