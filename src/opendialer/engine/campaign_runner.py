"""One campaign inside the engine: pacing ticks, dialling, and connecting answered calls."""

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.db import unit_of_work
from opendialer.engine import agents
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.busy_agents import BusyAgents
from opendialer.engine.compliance import campaign_window_open
from opendialer.engine.live import CampaignTally, LiveCall, Phase
from opendialer.engine.outcomes import Ending, finish_attempt, start_attempt
from opendialer.engine.pacing.base import (
    DialResult,
    Observation,
    PacingDecision,
    PacingSnapshot,
)
from opendialer.engine.period import PeriodTally
from opendialer.engine.selection import Claim, claim_next
from opendialer.models import (
    AgentState,
    CallAttempt,
    CallOutcome,
    Campaign,
    Contact,
    ContactStatus,
    DialMode,
    User,
)
from opendialer.models import (
    PacingDecision as PacingDecisionRow,
)
from opendialer.telephony import AgentEndpoint, CallEvent, CallId, OriginateRequest

if TYPE_CHECKING:
    from opendialer.engine.runner import Engine


@dataclass(frozen=True, slots=True)
class Launch:
    """A call to place once its claim has committed (plain values: no ORM objects cross it)."""

    request: OriginateRequest
    attempt_id: int
    contact_id: int
    agent_id: int | None  # agent-first: this agent is rung before the customer


def _launch_for(
    campaign: Campaign, attempt: CallAttempt, e164: str, agent_id: int | None
) -> Launch:
    assert attempt.contact_id is not None
    request = OriginateRequest(
        number=e164,
        caller_id=campaign.caller_id or DEFAULT_CALLER_ID,
        ring_timeout=float(campaign.ring_timeout_seconds),
        campaign_id=campaign.id,
        attempt_id=attempt.id,
        record=campaign.record_calls,
        amd=campaign.amd_enabled,
    )
    return Launch(request, attempt.id, attempt.contact_id, agent_id)


def _amd_false_positive_rate(campaign: Campaign) -> float:
    return campaign.amd_false_positive_rate if campaign.amd_enabled else 0.0


log = logging.getLogger(__name__)

DEFAULT_CALLER_ID = "+10000000000"
DEFAULT_ANNOUNCEMENT = "announcement:abandoned"
NETWORK_FAILURE_CAUSE = 38  # Q.850: network out of order
QUIET_LOG_INTERVAL = timedelta(seconds=15)


class EngineListener(Protocol):
    """Told about the engine's moments; the simulator's agent driver is one."""

    def call_connected(self, call: LiveCall) -> None: ...

    def call_ended(self, call: LiveCall, outcome: CallOutcome) -> None: ...

    def agent_wrap_up(self, tenant_id: int, user_id: int, campaign_id: int) -> None: ...


class NullListener:
    def call_connected(self, call: LiveCall) -> None:
        return None

    def call_ended(self, call: LiveCall, outcome: CallOutcome) -> None:
        return None

    def agent_wrap_up(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        return None


def agent_endpoint(user: User) -> AgentEndpoint:
    uri = user.sip_uri or f"sip:{user.extension or user.username}@agents.invalid"
    return AgentEndpoint(id=str(user.id), sip_uri=uri)


class CampaignRunner:
    def __init__(self, engine: "Engine", campaign_id: int) -> None:
        self.engine = engine
        self.campaign_id = campaign_id
        self.tally = CampaignTally()
        self.period = PeriodTally()
        self.state = "starting"
        self.busy = BusyAgents(campaign_id)
        self._tasks: set[asyncio.Future[Any]] = set()
        self.previews: dict[int, Claim] = {}  # agent id -> the contact offered to them
        self._last_logged: datetime | None = None
        with unit_of_work(engine.sessions) as session:
            campaign = session.get_one(Campaign, campaign_id)
            self.tenant_id = campaign.tenant_id
            self.policy = engine.policy_factory(campaign)

    # -- the pacing loop

    async def loop(self, until: datetime | None) -> None:
        while until is None or self.engine.clock.now() < until:
            try:
                await self.tick()
            except Exception:
                log.exception("campaign %s: tick failed", self.campaign_id)
            if self.state == "deleted":
                log.info("campaign %s was deleted: its runner stops", self.campaign_id)
                return
            await self.engine.clock.sleep(self.engine.tick_seconds)

    async def tick(self) -> None:
        await self.serve_waiting()
        now = self.engine.clock.now()
        with unit_of_work(self.engine.sessions) as session:
            campaign = session.get(Campaign, self.campaign_id)
            if campaign is None:
                self.state = "deleted"
                return
            if not campaign_window_open(campaign, now):
                self.state = "outside_hours_or_disabled"
                return
            counts = agents.campaign_agent_counts(session, self.campaign_id)
            self._observe_releases(session)
            if counts.logged_in == 0:
                self.state = "no_agents"
                return
            launches = self._plan(session, campaign, counts.ready, now)
        self.state = "running" if launches or self.engine.calls else "idle"
        for launch in launches:
            await self._launch(launch)

    def _plan(
        self, session: Session, campaign: Campaign, ready: int, now: datetime
    ) -> list[Launch]:
        """Claim contacts and open attempts in this transaction; dial after it commits."""
        launches = self._callbacks(session, campaign, now)
        ready -= len(launches)
        if campaign.dial_mode is DialMode.PREVIEW:
            self._offer_previews(session, campaign, ready, now)
            return launches
        if campaign.dial_mode is DialMode.PREDICTIVE:
            if self.period.due(now):
                self.period.recount(session, self.campaign_id, now, self.tally)
            decision = self.policy.decide(self._snapshot(campaign, ready))
            self._log_decision(session, decision, now)
            claimed = self._claim(session, campaign, decision.dials, now)
            return launches + [_launch_for(campaign, a, e164, None) for a, e164 in claimed]
        for _ in range(ready):
            agent_id = agents.reserve_longest_idle(
                session, self.campaign_id, now, self.engine.engine_id
            )
            if agent_id is None:
                break
            claimed = self._claim(session, campaign, 1, now)
            if not claimed:
                agents.act(session, self.tenant_id, agent_id, AgentEvent.RELEASE, now)
                break
            attempt, e164 = claimed[0]
            launches.append(_launch_for(campaign, attempt, e164, agent_id))
        return launches

    def _offer_previews(
        self, session: Session, campaign: Campaign, ready: int, now: datetime
    ) -> None:
        """Offer each ready agent a contact; it is dialled when the preview time runs out."""
        for _ in range(ready):
            agent_id = agents.reserve_longest_idle(
                session, self.campaign_id, now, self.engine.engine_id, as_state=AgentState.PREVIEW
            )
            if agent_id is None:
                return
            claim = claim_next(session, campaign, now, self.engine.engine_id)
            if claim is None:
                agents.act(session, self.tenant_id, agent_id, AgentEvent.RELEASE, now)
                return
            agents.agent_session(session, self.tenant_id, agent_id).contact_id = claim.contact_id
            self.previews[agent_id] = claim
            dial = partial(self._dial_preview_later, agent_id)
            self.engine.clock.call_later(campaign.preview_seconds, dial)

    def _dial_preview_later(self, agent_id: int) -> None:
        self._spawn(self.dial_preview(agent_id))

    async def dial_preview(self, agent_id: int) -> bool:
        """Dial the contact offered to ``agent_id`` (agent first); False if none is offered."""
        claim = self.previews.pop(agent_id, None)
        if claim is None:
            return False
        with unit_of_work(self.engine.sessions) as session:
            campaign = session.get_one(Campaign, self.campaign_id)
            now = self.engine.clock.now()
            attempt = start_attempt(session, campaign, claim, now, self.engine.engine_id)
            launch = _launch_for(campaign, attempt, claim.e164, agent_id)
        await self._launch(launch)
        return True

    def skip_preview(self, agent_id: int) -> bool:
        """The agent passes: the contact goes back to the queue, the agent is ready again."""
        return self._end_preview(agent_id, release_agent=True)

    def drop_preview(self, agent_id: int) -> None:
        """The agent was forced out: the contact offered to them goes back to the queue."""
        self._end_preview(agent_id, release_agent=False)

    def _end_preview(self, agent_id: int, release_agent: bool) -> bool:
        claim = self.previews.pop(agent_id, None)
        if claim is None:
            return False
        with unit_of_work(self.engine.sessions) as session:
            campaign = session.get_one(Campaign, self.campaign_id)
            now = self.engine.clock.now()
            contact = session.get_one(Contact, claim.contact_id)
            contact.status, contact.claimed_by, contact.claimed_at = (
                ContactStatus.PENDING,
                None,
                None,
            )
            contact.next_try_at = now + timedelta(seconds=campaign.retry_delay_seconds)
            if release_agent:
                agents.act(session, self.tenant_id, agent_id, AgentEvent.RELEASE, now)
        return True

    def _callbacks(self, session: Session, campaign: Campaign, now: datetime) -> list[Launch]:
        """Due personal callbacks: their own agent, when ready, is rung first."""
        owners = session.scalars(
            select(Contact.reserved_user_id)
            .where(
                Contact.campaign_id == campaign.id,
                Contact.reserved_user_id.is_not(None),
                Contact.status == ContactStatus.PENDING,
                Contact.locked.is_(False),
                Contact.next_try_at <= now,
            )
            .distinct()
        ).all()
        launches: list[Launch] = []
        for owner in owners:
            agent_id = agents.reserve_longest_idle(
                session, self.campaign_id, now, self.engine.engine_id, only_user=owner
            )
            if agent_id is None:
                continue
            claimed = self._claim(session, campaign, 1, now, reserved_for=agent_id)
            if claimed:
                launches.append(_launch_for(campaign, claimed[0][0], claimed[0][1], agent_id))
            else:
                agents.act(session, self.tenant_id, agent_id, AgentEvent.RELEASE, now)
        return launches

    def _claim(
        self,
        session: Session,
        campaign: Campaign,
        count: int,
        now: datetime,
        reserved_for: int | None = None,
    ) -> list[tuple[CallAttempt, str]]:
        claimed: list[tuple[CallAttempt, str]] = []
        for _ in range(count):
            claim: Claim | None = claim_next(
                session, campaign, now, self.engine.engine_id, reserved_for=reserved_for
            )
            if claim is None:
                self.state = "no_eligible_contacts"
                break
            attempt = start_attempt(session, campaign, claim, now, self.engine.engine_id)
            claimed.append((attempt, claim.e164))
        return claimed

    def _snapshot(self, campaign: Campaign, ready: int) -> PacingSnapshot:
        mono = self.engine.clock.monotonic()
        mine = [c for c in self.engine.calls.values() if c.campaign_id == self.campaign_id]
        period_live, period_abandoned = self.period.current(self.tally)
        busy_ages, wrap_up_ages = self.busy.ages(mono)
        return PacingSnapshot(
            now=mono,
            agents_logged_in=ready + len(self.busy),
            agents_ready=ready,
            busy_agent_ages=busy_ages,
            wrap_up_ages=wrap_up_ages,
            dials_in_progress=tuple(mono - c.dialled_at for c in mine if c.phase is Phase.DIALLING),
            waiting_callers=sum(1 for c in mine if c.phase is Phase.WAITING),
            abandon_target=campaign.abandon_target,
            max_parallel_lines=campaign.max_parallel_lines,
            coefficient=campaign.pacing_coefficient,
            max_waiting_callers=campaign.max_waiting_callers,
            grace_seconds=self.engine.grace_seconds,
            amd_false_positive_rate=_amd_false_positive_rate(campaign),
            period_live_answers=period_live,
            period_abandoned=period_abandoned,
        )

    def _log_decision(self, session: Session, decision: PacingDecision, now: datetime) -> None:
        """Every decision that dials, and a quiet one every 15 s to show the estimates."""
        quiet = self._last_logged is not None and now - self._last_logged < QUIET_LOG_INTERVAL
        if decision.dials == 0 and quiet:
            return
        self._last_logged = now
        session.add(
            PacingDecisionRow(
                tenant_id=self.tenant_id,
                campaign_id=self.campaign_id,
                decided_at=now,
                algorithm=self.policy.name,
                dials=decision.dials,
                target_in_flight=decision.target_in_flight,
                inputs={k: float(v) for k, v in decision.inputs.items()},
                reason=decision.reason[:500],
            )
        )

    def _observe_releases(self, session: Session) -> None:
        """Agents free of their call since the last tick: their talk and wrap-up are known now."""
        for observation in self.busy.releases(session, self.engine.clock.monotonic()):
            self.policy.observe(observation)

    async def _launch(self, launch: Launch) -> None:
        try:
            if launch.agent_id is None:
                call_id = await self.engine.backend.originate(launch.request)
            else:
                endpoint = self._endpoint(launch.agent_id)
                call_id = await self.engine.backend.originate_agent_first(endpoint, launch.request)
        except Exception as exc:
            self._launch_failed(launch, exc)
            return
        self.tally.attempts += 1
        self.engine.calls[call_id] = LiveCall(
            call_id=call_id,
            campaign_id=self.campaign_id,
            attempt_id=launch.attempt_id,
            contact_id=launch.contact_id,
            dialled_at=self.engine.clock.monotonic(),
            agent_id=launch.agent_id,
            agent_first=launch.agent_id is not None,
        )

    def _launch_failed(self, launch: Launch, exc: Exception) -> None:
        log.warning("campaign %s: originate failed: %s", self.campaign_id, exc)
        now = self.engine.clock.now()
        with unit_of_work(self.engine.sessions) as session:
            campaign = session.get_one(Campaign, self.campaign_id)
            ending = Ending(CallOutcome.FAILED, now, cause_code=NETWORK_FAILURE_CAUSE)
            attempt = session.get_one(CallAttempt, launch.attempt_id)
            finish_attempt(session, campaign, attempt, ending)
            if launch.agent_id is not None:
                agents.act(session, self.tenant_id, launch.agent_id, AgentEvent.RELEASE, now)
        self.tally.outcomes["failed"] = self.tally.outcomes.get("failed", 0) + 1

    def _endpoint(self, agent_id: int) -> AgentEndpoint:
        with unit_of_work(self.engine.sessions) as session:
            return agent_endpoint(session.get_one(User, agent_id))

    # -- answered calls

    async def on_human(self, call: LiveCall, event: CallEvent) -> None:
        call.human = True
        self.tally.live_answers += 1
        self.observe_dial(call, DialResult.HUMAN)
        if call.agent_first:
            return  # the backend joins the already-ringing agent
        call.phase = Phase.WAITING
        call.wait_deadline = self.engine.clock.monotonic() + self.engine.grace_seconds
        self.engine.clock.call_later(
            self.engine.grace_seconds, lambda: self._spawn(self._grace_over(call))
        )
        await self._connect(call)

    def observe_dial(self, call: LiveCall, result: DialResult) -> None:
        """Tell the pacing policy how a dial resolved and how long it took."""
        now = self.engine.clock.monotonic()
        self.policy.observe(
            Observation(
                at=now,
                dial_result=result,
                ring_seconds=now - call.dialled_at,
                live_answer=result is DialResult.HUMAN,
            )
        )

    def answering_machine_found(self) -> None:
        """Pacing counts only people: tell it a live answer was a machine (agent's result)."""
        self.policy.observe(Observation(at=self.engine.clock.monotonic(), answering_machine=True))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_machine(self, call: LiveCall, event: CallEvent) -> None:
        call.human = False
        self.tally.machines += 1
        self.observe_dial(call, DialResult.MACHINE)
        call.phase = Phase.HANGING_UP
        await self.engine.backend.hangup(call.call_id)

    def on_bridged(self, call: LiveCall, event: CallEvent) -> None:
        call.phase = Phase.TALKING
        call.connected_at = event.at
        self.tally.connects += 1
        if call.answered_mono is not None:
            self.tally.wait_seconds += self.engine.clock.monotonic() - call.answered_mono
        if call.agent_id is not None:
            earlier = self.busy.connected(call.agent_id, self.engine.clock.monotonic())
            if earlier is not None:
                self.policy.observe(earlier)
            with unit_of_work(self.engine.sessions) as session:
                agents.act(session, self.tenant_id, call.agent_id, AgentEvent.CONNECT, event.at)
        self.engine.listener.call_connected(call)

    async def on_agent_no_answer(self, call: LiveCall, event: CallEvent) -> None:
        agent_id, call.agent_id = call.agent_id, None
        if agent_id is not None:
            with unit_of_work(self.engine.sessions) as session:
                agents.act(session, self.tenant_id, agent_id, AgentEvent.RELEASE, event.at)
                agents.act(
                    session,
                    self.tenant_id,
                    agent_id,
                    AgentEvent.PAUSE,
                    event.at,
                    reason="did not answer",
                )
        if not call.agent_first:
            call.phase = Phase.WAITING
            await self._connect(call)

    async def serve_waiting(self) -> None:
        waiting = [
            c
            for c in self.engine.calls.values()
            if c.campaign_id == self.campaign_id and c.phase is Phase.WAITING
        ]
        for call in sorted(waiting, key=lambda c: c.wait_deadline or 0.0):
            if not await self._connect(call):
                break

    async def _connect(self, call: LiveCall) -> bool:
        """Reserve the longest-idle member for a waiting caller and bridge; False if none."""
        now = self.engine.clock.now()
        with unit_of_work(self.engine.sessions) as session:
            agent_id = agents.reserve_longest_idle(
                session,
                self.campaign_id,
                now,
                self.engine.engine_id,
                attempt_id=call.attempt_id,
                contact_id=call.contact_id,
            )
            endpoint = agent_endpoint(session.get_one(User, agent_id)) if agent_id else None
        if agent_id is None or endpoint is None:
            return False
        call.agent_id, call.phase = agent_id, Phase.CONNECTING
        await self.engine.backend.bridge(call.call_id, endpoint)
        return True

    async def _grace_over(self, call: LiveCall) -> None:
        if call.phase is not Phase.WAITING or call.call_id not in self.engine.calls:
            return
        call.abandoned, call.phase = True, Phase.ANNOUNCING
        with unit_of_work(self.engine.sessions) as session:
            campaign = session.get(Campaign, self.campaign_id)
            uri = campaign.abandon_announcement_uri if campaign is not None else None
            announcement = uri or DEFAULT_ANNOUNCEMENT
        self.policy.observe(
            Observation(at=self.engine.clock.monotonic(), live_answer=False, abandoned=True)
        )
        await self.engine.backend.play_and_hangup(call.call_id, announcement)

    # -- endings

    def release_agent_after(
        self, session: Session, call: LiveCall, outcome: CallOutcome, at: datetime
    ) -> None:
        assert call.agent_id is not None
        row = agents.agent_session(session, self.tenant_id, call.agent_id)
        if row.state is AgentState.ON_CALL:
            agents.act(session, self.tenant_id, call.agent_id, AgentEvent.END_CALL, at)
            self.busy.call_ended(call.agent_id, self.engine.clock.monotonic())
            self.engine.listener.agent_wrap_up(self.tenant_id, call.agent_id, self.campaign_id)
        elif row.state in (AgentState.RESERVED, AgentState.PREVIEW):
            agents.act(session, self.tenant_id, call.agent_id, AgentEvent.RELEASE, at)
            self.busy.forget(call.agent_id)

    def record(self, call: LiveCall, outcome: CallOutcome, mono: float) -> None:
        key = outcome.value
        self.tally.outcomes[key] = self.tally.outcomes.get(key, 0) + 1
        if outcome is CallOutcome.ABANDONED:
            self.tally.abandoned += 1

    def calls(self) -> list[LiveCall]:
        return [c for c in self.engine.calls.values() if c.campaign_id == self.campaign_id]


__all__ = ["CallId", "CampaignRunner", "EngineListener", "NullListener"]
