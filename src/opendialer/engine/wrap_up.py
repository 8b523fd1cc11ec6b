"""The campaign's wrap-up time: an agent still in wrap-up when it runs out is made ready (an
engine listener; without ``Campaign.wrap_up_seconds`` the agent stays until they say ready)."""

import asyncio
from datetime import datetime

from sqlalchemy.orm import Session

from opendialer.agents import sessions as agent_sessions
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.live import LiveCall
from opendialer.engine.runner import Engine
from opendialer.models import AgentSession, AgentState, CallOutcome, Campaign
from opendialer.scoping import Scope
from opendialer.tasks import cancel_and_wait


class WrapUpTimer:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.readied: list[tuple[int, datetime]] = []  # agents made ready by this timer, and when
        self._tasks: set[asyncio.Future[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()

    def call_connected(self, call: LiveCall) -> None:
        return None

    def call_ended(self, call: LiveCall, outcome: CallOutcome) -> None:
        return None

    def preview_offered(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        return None

    def agent_wrap_up(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        task = asyncio.ensure_future(self._arm(tenant_id, user_id, campaign_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _arm(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        def read(session: Session) -> tuple[int | None, datetime | None]:
            campaign = session.get(Campaign, campaign_id)
            row = session.get(AgentSession, user_id)
            seconds = campaign.wrap_up_seconds if campaign is not None else None
            return seconds, row.since if row is not None else None

        seconds, since = await self.engine.db.run(read, writes=False)
        if seconds is None or since is None:
            return

        def over() -> None:
            self._timers.discard(handle)
            self.agent_wrap_up_over(tenant_id, user_id, campaign_id, since)

        handle = self.engine.clock.call_later(seconds, over)
        self._timers.add(handle)

    @property
    def pending(self) -> int:
        """Wrap-ups being looked up or timed."""
        return len(self._tasks) + len(self._timers)

    async def close(self) -> None:
        """Forget the wrap-ups still running (the engine has stopped): a restarted server's
        simulated agents, or the agents themselves, make them ready."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            await cancel_and_wait(task)

    def agent_wrap_up_over(
        self, tenant_id: int, user_id: int, campaign_id: int, since: datetime
    ) -> None:
        task = asyncio.ensure_future(self._ready(tenant_id, user_id, campaign_id, since))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ready(self, tenant_id: int, user_id: int, campaign_id: int, since: datetime) -> None:
        at = self.engine.clock.now()

        def ready(session: Session) -> bool:
            row = session.get(AgentSession, user_id)
            # The same wrap-up still: not ended by the agent and begun again by another call.
            if row is None or row.state is not AgentState.WRAP_UP or row.since != since:
                return False
            agent_sessions.act(
                session, Scope.system(tenant_id), AgentEvent.READY, user_id=user_id, at=at
            )
            return True

        if await self.engine.db.run(ready):
            self.readied.append((user_id, at))
            await self.engine.agent_ready(campaign_id)
