"""The engine's side of campaign ownership: each round, pace exactly the campaigns it holds.

The rules are in ``ownership.py``, the statements in ``campaign_leases.py``. A campaign this
engine stops holding stops dialling after the tick in progress (its runner stays while its calls
last); one it holds gets a runner, and its agents left in wrap-up under another engine are
handed to this engine's listeners (their wrap-up timers died with, or left with, that engine).
"""

import asyncio
import logging
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.engine.campaign_leases import ownership_round, release
from opendialer.engine.campaign_runner import CampaignRunner
from opendialer.engine.context import EngineContext
from opendialer.engine.live import Phase
from opendialer.models import AgentSession, AgentState, CampaignMember

log = logging.getLogger(__name__)

# Calls the next holder's pacing could not see: dials still to be answered or matched with an
# agent. Calls that are talking hold agents, and their state is in the database for anyone.
UNSEEN_PHASES = (Phase.DIALLING, Phase.WAITING, Phase.CONNECTING)


class OwnerContext(EngineContext, Protocol):
    """The engine as its campaign ownership sees it: a runner's context, its lease and runners."""

    @property
    def lease_seconds(self) -> float: ...

    @property
    def runners(self) -> dict[int, CampaignRunner]: ...

    @property
    def stopping(self) -> bool: ...


class CampaignOwner:
    def __init__(self, engine: OwnerContext) -> None:
        self.engine = engine
        self.pacing: dict[int, asyncio.Task[None]] = {}  # pacing loops by campaign
        self._owned_until = 0.0  # monotonic: when the last renewed leases run out
        self._adopted: set[tuple[int, datetime]] = set()  # (agent, wrap-up since) handed on

    async def round(self) -> None:
        """Renew, take and give back leases; pace what is held."""
        engine = self.engine
        now, seconds = engine.clock.now(), engine.lease_seconds
        busy = {c.campaign_id for c in engine.calls.values() if c.phase in UNSEEN_PHASES}
        busy.update(r.campaign_id for r in engine.runners.values() if r.previews)
        try:
            owned = await engine.db.renew(  # a renewal: never behind the engine's other work
                lambda s: ownership_round(s, engine.engine_id, now, seconds, busy)
            )
        except Exception:  # database unreachable: stop pacing once the leases have run out
            log.exception("engine %s: campaign lease round failed", engine.engine_id)
            if engine.clock.monotonic() > self._owned_until:
                await self.pace(set())
            return
        self._owned_until = engine.clock.monotonic() + seconds
        for campaign_id in owned.released:
            log.info("engine %s gave campaign %s back", engine.engine_id, campaign_id)
        self._forget_idle_runners(owned.dialling | owned.giving_back)
        if engine.stopping:  # stop() ran meanwhile: hold nothing
            await engine.db.run(lambda s: release(s, engine.engine_id))
            return
        await self.pace(owned.dialling)
        await self._adopt_wrap_ups(owned.dialling)

    async def pace(self, campaign_ids: set[int]) -> None:
        """Run the pacing loops of ``campaign_ids`` and end every other one after its tick."""
        for campaign_id, runner in list(self.engine.runners.items()):
            if campaign_id not in campaign_ids and runner.paced:
                runner.paced = False  # its loop ends after the tick in progress: no new dials
                runner.wake(stale=False)  # a loop waiting for its next look ends now
                for agent_id in list(runner.previews):
                    await runner.skip_preview(agent_id)
        for campaign_id in campaign_ids:
            try:
                await self._start_pacing(campaign_id)
            except Exception:  # deleted meanwhile, database down: the next round retries
                log.exception(
                    "engine %s: starting campaign %s failed", self.engine.engine_id, campaign_id
                )

    async def _start_pacing(self, campaign_id: int) -> None:
        engine = self.engine
        runner = engine.runners.get(campaign_id)
        if runner is None:
            runner = engine.runners[campaign_id] = await CampaignRunner.start(engine, campaign_id)
            log.info("engine %s paces campaign %s", engine.engine_id, campaign_id)
        runner.paced = True
        loop = self.pacing.get(campaign_id)
        if loop is None or loop.done():
            self.pacing[campaign_id] = asyncio.create_task(runner.loop(None))

    async def _adopt_wrap_ups(self, campaign_ids: set[int]) -> None:
        """Agents of these campaigns in a wrap-up begun under another engine (stopped, dead,
        or the campaign's previous holder) get this engine's wrap-up timer: theirs is gone."""
        me = self.engine.engine_id

        def foreign(session: Session) -> list[tuple[int, int, int, datetime]]:
            rows = session.execute(
                select(
                    AgentSession.tenant_id,
                    AgentSession.user_id,
                    CampaignMember.campaign_id,
                    AgentSession.since,
                )
                .join(CampaignMember, CampaignMember.user_id == AgentSession.user_id)
                .where(
                    CampaignMember.campaign_id.in_(campaign_ids),
                    AgentSession.state == AgentState.WRAP_UP,
                    AgentSession.engine_id.is_distinct_from(me),
                )
            )
            return [(t, u, c, since) for t, u, c, since in rows]

        if not campaign_ids:
            return
        rows = await self.engine.db.run(foreign, writes=False)
        for tenant_id, user_id, campaign_id, since in rows:
            if (user_id, since) not in self._adopted:
                self._adopted.add((user_id, since))
                self.engine.listener.agent_wrap_up(tenant_id, user_id, campaign_id)
        self._adopted &= {(user_id, since) for _, user_id, _, since in rows}  # still wrapping up

    def _forget_idle_runners(self, held: set[int]) -> None:
        """Runners of campaigns no longer held, once their last call has ended."""
        engine = self.engine
        live = {c.campaign_id for c in engine.calls.values()}
        for campaign_id in [c for c in engine.runners if c not in held and c not in live]:
            loop = self.pacing.get(campaign_id)
            if loop is None or loop.done():  # no tick of it in flight either
                del engine.runners[campaign_id]
                self.pacing.pop(campaign_id, None)
