"""One campaign inside the engine: pacing ticks, dialling, and connecting answered calls."""

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine, Hashable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any, TypeVar

from sqlalchemy import Insert, Select, Table, bindparam, insert, select
from sqlalchemy.orm import Session
from structlog.contextvars import bind_contextvars

from opendialer.agents import sessions as agent_sessions
from opendialer.agents.sessions import AgentCounts
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.busy_agents import BusyAgents, BusyRow, counts_and_busy_rows
from opendialer.engine.caller_ids import DEFAULT_CALLER_ID
from opendialer.engine.change_token import change_token
from opendialer.engine.compliance import campaign_window_open
from opendialer.engine.context import EngineContext
from opendialer.engine.kept_campaign import KeptCampaign
from opendialer.engine.live import CampaignTally, LiveCall, Phase
from opendialer.engine.outcomes import Ending, Started, close, start_attempt
from opendialer.engine.pacing.base import (
    DialResult,
    Observation,
    PacingDecision,
    PacingPolicy,
    PacingSnapshot,
)
from opendialer.engine.period import Counts, Ledger, Recount, day_start
from opendialer.engine.recovery import close_attempt
from opendialer.engine.selection import Claim, StaleCampaign, claim_next
from opendialer.engine.supply import COUNT_CAP, Supply, count_supply, next_due_at
from opendialer.engine.wakeup import Wakeup
from opendialer.errors import NotFound
from opendialer.models import (
    AgentState,
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
from opendialer.models.contact import PERSONAL_CALLBACKS_WHERE
from opendialer.scoping import Scope
from opendialer.telephony import AgentEndpoint, CallEvent, CallId, OriginateRequest
from opendialer.telephony.announcements import DEFAULT_ANNOUNCEMENT


@dataclass(frozen=True, slots=True)
class Launch:
    """A call to place once its claim has committed (plain values: no ORM objects cross it)."""

    request: OriginateRequest
    attempt_id: int
    contact_id: int
    agent_id: int | None  # agent-first: this agent is rung before the customer


def _launch_for(campaign: Campaign, attempt: Started, e164: str, agent_id: int | None) -> Launch:
    request = OriginateRequest(
        number=e164,
        caller_id=attempt.a_number or DEFAULT_CALLER_ID,
        ring_timeout=float(campaign.ring_timeout_seconds),
        campaign_id=campaign.id,
        attempt_id=attempt.id,
        record=campaign.record_calls,
        amd=campaign.amd_enabled,
    )
    return Launch(request, attempt.id, attempt.contact_id, agent_id)


def safe_harbor_left(event: CallEvent, now: datetime, grace_seconds: float) -> float:
    """Seconds left, at ``now``, of the time a person may wait for an agent: ``grace_seconds``
    from the end of their greeting when AMD heard it (``event.greeting_ended_at``), else from
    the event that says a person answered. Negative when already spent."""
    started = event.greeting_ended_at or event.at
    return grace_seconds - max((now - started).total_seconds(), 0.0)


def agent_may_be_free_within(
    seconds: float, wrap_ups: Iterable[float | None], wrap_up_limit: int | None
) -> bool:
    """Whether one of the busy agents (``wrap_ups``: seconds each has been in wrap-up, None
    while still on the call) may be free for a caller within ``seconds``: one in wrap-up whose
    limit ends by then, or who may say ready at any moment (no limit); one on a call only when
    the wrap-up limit is shorter than that. Agents ready now are not asked about."""
    if seconds <= 0:
        return False
    for wrapping_for in wrap_ups:
        if wrapping_for is None:
            if wrap_up_limit is not None and wrap_up_limit < seconds:
                return True
        elif wrap_up_limit is None or wrap_up_limit - wrapping_for <= seconds:
            return True
    return False


def _amd_false_positive_rate(campaign: Campaign) -> float:
    return campaign.amd_false_positive_rate if campaign.amd_enabled else 0.0


@dataclass(frozen=True, slots=True)
class PacingParams:
    """The campaign's pacing settings, read in the tick's transaction."""

    abandon_target: float
    max_parallel_lines: int | None
    coefficient: float | None
    max_waiting_callers: int | None
    amd_false_positive_rate: float
    amd_enabled: bool = False

    @classmethod
    def of(cls, campaign: Campaign) -> "PacingParams":
        return cls(
            campaign.abandon_target,
            campaign.max_parallel_lines,
            campaign.pacing_coefficient,
            campaign.max_waiting_callers,
            _amd_false_positive_rate(campaign),
            campaign.amd_enabled,
        )


class DecisionDelay:
    """AMD's delay between the end of a person's greeting and its verdict, as measured on the
    campaign's calls (a moving mean; 0 until a backend reports a greeting's end)."""

    WEIGHT = 0.05  # of each new call: about the last 20 calls count

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def add(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        weight = 1.0 if self.calls == 0 else self.WEIGHT
        self.seconds += weight * (seconds - self.seconds)
        self.calls += 1


@dataclass(slots=True)
class TickPlan:
    """What the tick's first transaction found and did (plain values for the loop)."""

    deleted: bool = False
    window_open: bool = True
    counts: AgentCounts | None = None
    busy: list[BusyRow] = field(default_factory=list)
    busy_asked: list[int] = field(default_factory=list)
    launches: list[Launch] = field(default_factory=list)
    previews: list[tuple[int, Claim]] = field(default_factory=list)
    preview_seconds: float = 0.0
    pacing: PacingParams | None = None  # predictive: the loop decides, a second one claims
    supply: Supply | None = None
    supply_read: bool = False
    """``supply`` was counted in this pass (else it is the runner's count less its claims)."""
    next_due: datetime | None = None
    """Nothing to dial now: when the next contact falls due (None: none waits)."""
    recount: Recount | None = None
    wrap_up_seconds: int | None = None
    """The campaign's wrap-up limit (None: agents stay in wrap-up until they say ready)."""
    announcement: str | None = None
    """The campaign's message for abandoned callers (kept so abandoning reads nothing)."""
    token: Hashable | None = None
    """The database's change token, taken before the read (with ``Engine.reread_seconds``)."""


log = logging.getLogger(__name__)
T = TypeVar("T")
PACING_DECISIONS: Table = PacingDecisionRow.__table__  # type: ignore[assignment]

NETWORK_FAILURE_CAUSE = 38  # Q.850: network out of order
QUIET_LOG_INTERVAL = timedelta(seconds=15)
SUPPLY_REFRESH_SECONDS = 60.0
"""A large supply is counted again after this long; between counts the runner takes its own
claims off it (a small one, below :data:`SUPPLY_LOW`, is counted at every read)."""
SUPPLY_LOW = 500


_FREEING = {
    AgentState.ON_CALL: AgentEvent.END_CALL,
    AgentState.RESERVED: AgentEvent.RELEASE,
    AgentState.PREVIEW: AgentEvent.RELEASE,
}
"""How a call's end frees its agent, by the agent's state."""


def _state_of(decision: PacingDecision) -> str:
    """The pacing state a decision is in: its reason's head, numbers left out."""
    return re.sub(r"\d+", "#", decision.reason.split(":", 1)[0])


def agent_endpoint(session: Session, user_id: int) -> AgentEndpoint:
    """Where the agent's phone is rung (three columns of the user, not the whole row)."""
    sip_uri, extension, username = session.execute(
        _endpoint_statement(), {"user_id": user_id}
    ).one()
    return _endpoint_of(user_id, agent_sessions.AgentPhone(sip_uri, extension, username))


def _endpoint_of(user_id: int, phone: agent_sessions.AgentPhone) -> AgentEndpoint:
    uri = phone.sip_uri or f"sip:{phone.extension or phone.username}@agents.invalid"
    return AgentEndpoint(id=str(user_id), sip_uri=uri)


@cache
def _endpoint_statement() -> Select[str | None, str | None, str]:
    return select(User.sip_uri, User.extension, User.username).where(
        User.id == bindparam("user_id")
    )


def _assign_call(session: Session, scope: Scope, agent_id: int, attempt: Started) -> None:
    """The agent dialled first (progressive, preview) holds the call's attempt and contact, as
    one reserved for a waiting caller does: their console shows it, their result code uses it."""
    row = agent_sessions.agent_session(session, scope, user_id=agent_id)
    row.call_attempt_id, row.contact_id = attempt.id, attempt.contact_id


def _write_decisions(session: Session, rows: list[dict[str, Any]]) -> None:
    """Pacing decisions' rows, in their order (one plain ``INSERT``: rows are written with
    most claims)."""
    if len(rows) == 1:
        session.execute(_decision_insert(), rows[0])
    elif rows:
        session.execute(_decision_insert(), rows)


@cache
def _decision_insert() -> Insert:
    return insert(PACING_DECISIONS)


class CampaignRunner:
    def __init__(
        self, engine: EngineContext, campaign_id: int, tenant_id: int, policy: PacingPolicy
    ) -> None:
        self.engine = engine
        self.campaign_id = campaign_id
        self.tenant_id = tenant_id
        self.scope = Scope.system(tenant_id)
        self.policy = policy
        self.tally = CampaignTally()
        self.ledger = Ledger()
        self.state = "starting"
        self.busy = BusyAgents(campaign_id)
        self._tasks: set[asyncio.Future[Any]] = set()
        self.previews: dict[int, Claim] = {}  # agent id -> the contact offered to them
        self._last_logged: datetime | None = None
        self._logged_state: str | None = None
        self._reserving: set[CallId] = set()  # waiting callers an agent is being found for
        self.paced = True  # False: the loop ends after its tick (the campaign's lease is going)
        self.wakeup = Wakeup(engine.clock)
        self._seen: TickPlan | None = None  # the last read of the database
        self._seen_at = 0.0
        self._polled_at: float | None = None  # the last poll (a read, or a change token)
        self._reread_at = 0.0  # the last read at a poll (that also looked for callbacks)
        self._token: Hashable | None = None  # the database's change token at the last read
        self._supply: Supply | None = None
        self._supply_at = 0.0
        self._claimed = 0  # contacts claimed since the supply was counted
        self._recheck_at: float | None = None  # the policy wants to be asked again then
        self.wrap_up_seconds: int | None = None  # the campaign's, as of the last read
        self.announcement: str | None = None  # its abandon message, as of the last read
        self.amd_decision = DecisionDelay()
        self.settings = KeptCampaign(campaign_id)  # the database thread's, not the loop's
        self._contact_due_at: float | None = None
        self._unlogged: list[dict[str, Any]] = []
        """Rows of decisions that dialled nothing, written with the runner's next transaction
        (a read or a claim) rather than in one of their own."""

    @classmethod
    async def start(cls, engine: EngineContext, campaign_id: int) -> "CampaignRunner":
        def load(session: Session) -> tuple[int, PacingPolicy]:
            campaign = session.get_one(Campaign, campaign_id)
            return campaign.tenant_id, engine.policy_factory(campaign)

        tenant_id, policy = await engine.db.run(load, writes=False)
        return cls(engine, campaign_id, tenant_id, policy)

    # -- the pacing loop

    async def loop(self, until: datetime | None) -> None:
        """Look at the campaign whenever something happened or a timer of its asks (see
        :mod:`opendialer.engine.wakeup`), until ``until``."""
        bind_contextvars(campaign_id=self.campaign_id, tenant_id=self.tenant_id)  # its log lines
        try:
            await self._look_until(until)
        finally:
            if self._unlogged:
                await self._with_unlogged(lambda _session, _rows: None)

    async def _look_until(self, until: datetime | None) -> None:
        clock = self.engine.clock
        while self.paced and (until is None or clock.now() < until):
            began = clock.monotonic()
            try:
                await self.tick()
            except Exception:
                log.exception("campaign %s: tick failed", self.campaign_id)
                self.wakeup.stale = True
                await clock.sleep(self.engine.tick_seconds)
                continue
            self.engine.tick_lateness.took(clock.monotonic() - began)
            if self.state == "deleted":
                log.info("campaign %s was deleted: its runner stops", self.campaign_id)
                return
            due = await self.wakeup.wait(self._next_look(until))
            self.engine.tick_lateness.record(due, clock.monotonic())

    def wake(self, *, stale: bool) -> None:
        """Something happened that may change a decision; ``stale``: in the database too."""
        self.wakeup.wake(stale=stale)

    def _next_look(self, until: datetime | None) -> float:
        """The earliest of: the poll for changes nobody tells the engine about, the policy's
        recheck, the next contact due, the end of the run."""
        clock = self.engine.clock
        looks = [(self._polled_at or 0.0) + self.engine.tick_seconds]
        if self._recheck_at is not None:
            looks.append(self._recheck_at)
        if self._contact_due_at is not None:
            looks.append(self._contact_due_at)
        if until is not None:
            looks.append(clock.monotonic() + (until - clock.now()).total_seconds())
        return min(looks)

    async def _must_read(self, mono: float) -> bool:
        due = self._contact_due_at
        return (
            self.wakeup.stale
            or self._seen is None
            or (due is not None and mono >= due)
            or (self._poll_due(mono) and await self._changed_since_read(mono))
        )

    async def _changed_since_read(self, mono: float) -> bool:
        """At a poll: was anything committed since the last read (or is a read due anyway)?
        If not, the poll is done without one."""
        reread = self.engine.reread_seconds
        if reread is None or self._token is None or mono >= self._reread_at + reread:
            return True
        if await self.engine.change_token() != self._token:
            return True
        self._polled_at = mono
        return False

    def _poll_due(self, mono: float) -> bool:
        return self._polled_at is None or mono >= self._polled_at + self.engine.tick_seconds

    async def tick(self) -> None:
        await self.engine.close_unwritten()
        await self.serve_waiting()
        now, mono = self.engine.clock.now(), self.engine.clock.monotonic()
        self._recheck_at = None
        plan = await self._read(now, mono) if await self._must_read(mono) else self._from_memory()
        if plan is None:
            return  # nothing to decide until the next read
        if plan.deleted:
            self.state = "deleted"
            return
        if not plan.window_open or plan.counts is None:
            self.state = "outside_hours_or_disabled"
            return
        self._observe_releases(plan.busy, plan.busy_asked)
        if plan.counts.logged_in == 0:
            self.state = "no_agents"
            return
        launches = plan.launches + await self._predictive(plan, now)
        self._remember_previews(plan)
        self.state = "running" if launches or self.engine.calls else "idle"
        for launch in launches:
            await self._launch(launch)

    async def _read(self, now: datetime, mono: float) -> TickPlan:
        """Read the campaign's state (and claim what needs no pacing decision)."""
        self.wakeup.stale = False  # an event during the read makes it stale again
        busy_ids = self.busy.ids()
        count, poll = self._supply_due(mono), self._poll_due(mono)

        def first_pass(session: Session, _rows: list[dict[str, Any]]) -> TickPlan:
            # The token first (when the polls ask for one): a commit during the read is then
            # read again at the next poll.
            token = change_token(session) if self.engine.reread_seconds is not None else None
            plan = self._first_pass(session, now, busy_ids, count, poll)
            plan.token = token
            return plan

        plan = await self._with_unlogged(first_pass)
        self._seen, self._seen_at = plan, mono
        if plan.counts is not None:
            self.wrap_up_seconds, self.announcement = plan.wrap_up_seconds, plan.announcement
        self._token = plan.token
        if poll:
            self._polled_at = self._reread_at = mono
        if plan.supply_read:
            self._supply, self._supply_at, self._claimed = plan.supply, mono, 0
        plan.supply = self._supply_left() if plan.supply is not None else None
        due = plan.next_due
        self._contact_due_at = None if due is None else mono + (due - now).total_seconds()
        if plan.launches or plan.previews:
            self.wakeup.stale = True  # agents were reserved after they were counted
        return plan

    def _from_memory(self) -> TickPlan | None:
        """A predictive look with nothing changed in the database since the last read: the
        policy decides again on what the runner knows (calls, agents' ages, its claims)."""
        seen = self._seen
        if seen is None or seen.pacing is None or seen.counts is None or not seen.window_open:
            return None
        return TickPlan(counts=seen.counts, pacing=seen.pacing, supply=self._supply_left())

    def _supply_due(self, mono: float) -> bool:
        supply = self._supply
        return (
            supply is None
            or supply.now - self._claimed < SUPPLY_LOW
            or mono >= self._supply_at + SUPPLY_REFRESH_SECONDS
        )

    def _supply_left(self) -> Supply | None:
        """The last count less the claims since; a count at the cap stays there (as good as
        unlimited, as the count itself says) until the next count."""
        supply, claimed = self._supply, self._claimed
        if supply is None:
            return None
        now = supply.now if supply.now >= COUNT_CAP else max(0, supply.now - claimed)
        soon = supply.soon if supply.soon >= COUNT_CAP else max(0, supply.soon - claimed)
        return Supply(now, soon)

    def _first_pass(
        self,
        session: Session,
        now: datetime,
        busy_ids: list[int],
        count_contacts: bool,
        poll: bool,
    ) -> TickPlan:
        """In the engine's database thread: the campaign's state, and every claim that needs no
        pacing decision (callbacks, progressive, previews). Dialled after it commits.
        ``count_contacts``: count the supply (else the runner keeps its own count); ``poll``:
        look for due personal callbacks too (a scan of the due contacts, so only at the poll:
        they are scheduled to the minute)."""
        campaign = self.settings.peek(session)
        counted = None
        if campaign is not None and campaign_window_open(campaign, now):
            counted = counts_and_busy_rows(session, self.campaign_id, busy_ids)
            if not self.settings.confirm(session, counted[2]):
                campaign = self.settings.get(session)  # loaded anew by confirm: no read
        else:
            campaign = self.settings.get(session)  # a closed window is confirmed first
        if campaign is None:
            return TickPlan(deleted=True, window_open=False)
        if not campaign_window_open(campaign, now):
            return TickPlan(window_open=False)
        if counted is None:
            counted = counts_and_busy_rows(session, self.campaign_id, busy_ids)
        counts, busy, _version = counted
        plan = TickPlan(counts=counts, busy=busy, busy_asked=busy_ids)
        plan.wrap_up_seconds = campaign.wrap_up_seconds
        plan.announcement = campaign.abandon_announcement_uri
        if counts.logged_in == 0:
            return plan
        plan.launches = self._callbacks(session, campaign, now) if poll else []
        ready = counts.ready - len(plan.launches)
        if campaign.dial_mode is DialMode.PREVIEW:
            plan.previews = self._offer_previews(session, campaign, ready, now)
            plan.preview_seconds = campaign.preview_seconds
        elif campaign.dial_mode is DialMode.PREDICTIVE:
            plan.pacing = PacingParams.of(campaign)
            if count_contacts:
                plan.supply, plan.supply_read = count_supply(session, self.campaign_id, now), True
                if plan.supply.now == 0:
                    plan.next_due = next_due_at(session, self.campaign_id, now)
            else:
                plan.supply = Supply(0, 0)  # a placeholder: the runner's own count replaces it
            if self.ledger.due(now, day_start(campaign, now)):
                plan.recount = self.ledger.recount(session, campaign, now)
        else:
            plan.launches += self._progressive(session, campaign, ready, now)
            if ready > 0 and len(plan.launches) < ready:
                plan.next_due = next_due_at(session, self.campaign_id, now)
        return plan

    async def _predictive(self, plan: TickPlan, now: datetime) -> list[Launch]:
        """Decide on the loop (the policy is the loop's), then claim in a second transaction."""
        if plan.pacing is None or plan.counts is None:
            return []
        if plan.recount is not None:
            self.ledger.apply(plan.recount, self.tally)
        ready = plan.counts.ready - len(plan.launches)
        decision = self.policy.decide(self._snapshot(plan.pacing, ready, plan.supply))
        if decision.recheck_after is not None:
            self._recheck_at = self.engine.clock.monotonic() + decision.recheck_after
        row = self._decision_row(decision, now)
        launches = await self._claim_decided(decision.dials, row, now) if decision.dials else []
        if launches is None:  # closed or gone since the last read
            self.wakeup.stale, launches = True, []
        elif row is not None and not decision.dials:
            self._unlogged.append(row)
        placed = Observation(at=self.engine.clock.monotonic(), dials_placed=len(launches))
        self.policy.observe(placed)  # only dials placed are learned from
        self._claimed += len(launches)
        if len(launches) < decision.dials:  # the list gave fewer: count it again
            self._supply = None
            self.wakeup.stale = True
        return launches

    async def _claim_decided(
        self, dials: int, row: dict[str, Any] | None, now: datetime
    ) -> list[Launch] | None:
        """Claim the decided dials; None if the campaign is closed or gone (the window is
        checked here, in the claim's transaction, as the decision may come from memory)."""

        def claim(session: Session, unlogged: list[dict[str, Any]]) -> list[Launch] | None:
            while True:  # again only when the kept campaign turns out to have changed
                campaign = self.settings.peek(session)
                if campaign is None:
                    return None  # the rows not written yet are dropped with the campaign
                if not campaign_window_open(campaign, now):
                    if not self.settings.checked(session):
                        self.settings.get(session)  # a closed window is confirmed first
                        continue
                    _write_decisions(session, unlogged)
                    return None
                try:
                    claimed = self._claim(session, campaign, dials, now)
                except StaleCampaign:
                    continue  # nothing was written
                if self.settings.checked(session) or self.settings.get(session) is campaign:
                    break  # nothing was due, so the version came with no candidate: read
            if row is not None:  # what was placed, not what was wanted
                unlogged = [*unlogged, {**row, "dials": len(claimed)}]
            _write_decisions(session, unlogged)
            return [_launch_for(campaign, a, e164, None) for a, e164 in claimed]

        return await self._with_unlogged(claim, writes_rows=True)

    async def _with_unlogged(
        self,
        work: Callable[[Session, list[dict[str, Any]]], T],
        *,
        writes_rows: bool = False,
    ) -> T:
        """``work`` in one transaction that writes the decisions not written yet (kept for the
        next try if it fails; dropped, as the log's other rows are, once the campaign is
        deleted): after ``work`` (which has mostly checked the campaign by then: no read of its
        own), or with ``writes_rows`` by ``work`` itself, which is given them (a claim writes
        them with its own decision's row: one ``INSERT``, the same rows in the same order)."""
        rows, self._unlogged = self._unlogged, []

        def logged_then(session: Session) -> T:
            if writes_rows:
                return work(session, rows)
            done = work(session, [])
            if rows and self.settings.get(session) is not None:  # mostly checked by ``work``
                _write_decisions(session, rows)
            return done

        try:
            return await self.engine.db.run(logged_then)
        except BaseException:
            self._unlogged[:0] = rows
            raise

    def _remember_previews(self, plan: TickPlan) -> None:
        for agent_id, claim in plan.previews:
            self.previews[agent_id] = claim
            dial = partial(self._dial_preview_later, agent_id)
            self.engine.clock.call_later(plan.preview_seconds, dial)
            self.engine.listener.preview_offered(self.tenant_id, agent_id, self.campaign_id)

    def _progressive(
        self, session: Session, campaign: Campaign, ready: int, now: datetime
    ) -> list[Launch]:
        launches: list[Launch] = []
        for _ in range(ready):
            agent_id = agent_sessions.reserve_longest_idle(
                session, self.campaign_id, now, self.engine.engine_id
            )
            if agent_id is None:
                break
            claimed = self._claim(session, campaign, 1, now)
            if not claimed:
                agent_sessions.act(
                    session, self.scope, user_id=agent_id, event=AgentEvent.RELEASE, at=now
                )
                break
            attempt, e164 = claimed[0]
            _assign_call(session, self.scope, agent_id, attempt)
            launches.append(_launch_for(campaign, attempt, e164, agent_id))
        return launches

    def _offer_previews(
        self, session: Session, campaign: Campaign, ready: int, now: datetime
    ) -> list[tuple[int, Claim]]:
        """Offer each ready agent a contact; it is dialled when the preview time runs out."""
        offers: list[tuple[int, Claim]] = []
        for _ in range(ready):
            agent_id = agent_sessions.reserve_longest_idle(
                session, self.campaign_id, now, self.engine.engine_id, as_state=AgentState.PREVIEW
            )
            if agent_id is None:
                break
            claim = claim_next(session, campaign, now, self.engine.engine_id)
            if claim is None:
                agent_sessions.act(
                    session, self.scope, user_id=agent_id, event=AgentEvent.RELEASE, at=now
                )
                break
            agent_sessions.agent_session(
                session, self.scope, user_id=agent_id
            ).contact_id = claim.contact_id
            offers.append((agent_id, claim))
        return offers

    def _dial_preview_later(self, agent_id: int) -> None:
        self._spawn(self.dial_preview(agent_id))

    async def dial_preview(self, agent_id: int) -> bool:
        """Dial the contact offered to ``agent_id`` (agent first); False if none is offered."""
        claim = self.previews.pop(agent_id, None)
        if claim is None:
            return False
        now = self.engine.clock.now()

        def start(session: Session) -> Launch:
            campaign = self.settings.get_one(session)
            attempt = start_attempt(session, campaign, claim, now, self.engine.engine_id)
            _assign_call(session, self.scope, agent_id, attempt)
            return _launch_for(campaign, attempt, claim.e164, agent_id)

        await self._launch(await self.engine.db.run(start))
        return True

    async def skip_preview(self, agent_id: int) -> bool:
        """The agent passes: the contact goes back to the queue, the agent is ready again."""
        return await self._end_preview(agent_id, release_agent=True)

    async def drop_preview(self, agent_id: int) -> None:
        """The agent was forced out: the contact offered to them goes back to the queue."""
        await self._end_preview(agent_id, release_agent=False)

    async def _end_preview(self, agent_id: int, release_agent: bool) -> bool:
        claim = self.previews.pop(agent_id, None)
        if claim is None:
            return False
        now = self.engine.clock.now()
        await self.engine.db.run(
            lambda session: self._unclaim(session, claim, agent_id, now, release_agent)
        )
        self.wake(stale=True)  # the agent is ready again, the contact back in the queue
        return True

    def _unclaim(
        self, session: Session, claim: Claim, agent_id: int, now: datetime, release_agent: bool
    ) -> None:
        campaign = self.settings.get_one(session)
        contact = session.get_one(Contact, claim.contact_id)
        contact.status, contact.claimed_by, contact.claimed_at = (
            ContactStatus.PENDING,
            None,
            None,
        )
        contact.next_try_at = now + timedelta(seconds=campaign.retry_delay_seconds)
        if release_agent:
            agent_sessions.act(
                session, self.scope, user_id=agent_id, event=AgentEvent.RELEASE, at=now
            )

    def _callbacks(self, session: Session, campaign: Campaign, now: datetime) -> list[Launch]:
        """Due personal callbacks: their own agent, when ready, is rung first."""
        owners = session.scalars(
            select(Contact.reserved_user_id)
            .where(
                Contact.campaign_id == campaign.id,
                PERSONAL_CALLBACKS_WHERE,  # literally the index predicate: the planner uses it
                Contact.next_try_at <= now,
            )
            .distinct()
        ).all()
        launches: list[Launch] = []
        for owner in owners:
            agent_id = agent_sessions.reserve_longest_idle(
                session, self.campaign_id, now, self.engine.engine_id, only_user=owner
            )
            if agent_id is None:
                continue
            claimed = self._claim(session, campaign, 1, now, reserved_for=agent_id)
            if claimed:
                _assign_call(session, self.scope, agent_id, claimed[0][0])
                launches.append(_launch_for(campaign, claimed[0][0], claimed[0][1], agent_id))
            else:
                agent_sessions.act(
                    session, self.scope, user_id=agent_id, event=AgentEvent.RELEASE, at=now
                )
        return launches

    def _claim(
        self,
        session: Session,
        campaign: Campaign,
        count: int,
        now: datetime,
        reserved_for: int | None = None,
    ) -> list[tuple[Started, str]]:
        claimed: list[tuple[Started, str]] = []
        for _ in range(count):
            claim: Claim | None = claim_next(
                session,
                campaign,
                now,
                self.engine.engine_id,
                reserved_for=reserved_for,
                confirm=partial(self.settings.confirm, session),
            )
            if claim is None:
                break
            attempt = start_attempt(session, campaign, claim, now, self.engine.engine_id)
            claimed.append((attempt, claim.e164))
        return claimed

    def _snapshot(
        self, campaign: PacingParams, ready: int, supply: Supply | None = None
    ) -> PacingSnapshot:
        mono = self.engine.clock.monotonic()
        mine = self.calls()
        # Abandoned callers still hearing the message count already (their attempt closes later).
        announcing = Counts(abandoned=sum(1 for c in mine if c.abandoned))
        day, period = self.ledger.day(self.tally), self.ledger.period(self.tally)
        day, period = day + announcing, period + announcing
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
            coefficient=campaign.coefficient,
            max_waiting_callers=campaign.max_waiting_callers,
            grace_seconds=self.engine.grace_seconds,
            amd_decision_seconds=self.amd_decision.seconds if campaign.amd_enabled else 0.0,
            amd_false_positive_rate=campaign.amd_false_positive_rate,
            period_live_answers=period.live_answers,
            period_abandoned=period.abandoned,
            day_live_answers=day.live_answers,
            day_abandoned=day.abandoned,
            day_machines=day.machines,
            dialable_now=supply.now if supply is not None else None,
            dialable_soon=supply.soon if supply is not None else None,
        )

    def _decision_row(self, decision: PacingDecision, now: datetime) -> dict[str, Any] | None:
        """Every decision that dials; one that does not when the pacing state changes (hold,
        brake, no contacts, ...), and while calls are live one every 15 s to show the
        estimates. Nothing else: an empty list or an idle campaign writes no more rows."""
        state = _state_of(decision)
        recent = self._last_logged is not None and now - self._last_logged < QUIET_LOG_INTERVAL
        unchanged = state == self._logged_state
        if decision.dials == 0 and unchanged and (recent or not self.calls()):
            return None
        self._last_logged, self._logged_state = now, state
        return {
            "tenant_id": self.tenant_id,
            "campaign_id": self.campaign_id,
            "decided_at": now,
            "algorithm": self.policy.name,
            "dials": decision.dials,
            "target_in_flight": decision.target_in_flight,
            "inputs": {k: float(v) for k, v in decision.inputs.items()},
            "reason": decision.reason[:500],
        }

    def _observe_releases(self, rows: list[BusyRow], asked: list[int]) -> None:
        """Agents free of their call since the last tick: their talk and wrap-up are known now."""
        for observation in self.busy.apply(rows, asked, self.engine.clock.monotonic()):
            self.policy.observe(observation)

    async def _launch(self, launch: Launch) -> None:
        # An agent's phone lost within the grace after the bridge: the caller is abandoned.
        request = replace(launch.request, agent_lost_within=self.engine.grace_seconds)
        try:
            if launch.agent_id is None:
                call_id = await self.engine.backend.originate(request)
            else:
                endpoint = await self._endpoint(launch.agent_id)
                call_id = await self.engine.backend.originate_agent_first(endpoint, request)
        except Exception as exc:
            await self._launch_failed(launch, exc)
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

    async def _launch_failed(self, launch: Launch, exc: Exception) -> None:
        log.warning("campaign %s: originate failed: %s", self.campaign_id, exc)
        self.wake(stale=True)
        now = self.engine.clock.now()
        await self.engine.db.run(lambda session: self._failed(session, launch, now))
        self.tally.outcomes["failed"] = self.tally.outcomes.get("failed", 0) + 1

    def _failed(self, session: Session, launch: Launch, now: datetime) -> None:
        ending = Ending(CallOutcome.FAILED, now, cause_code=NETWORK_FAILURE_CAUSE)
        self.close_attempt(session, launch.attempt_id, ending)
        if launch.agent_id is not None:
            self._move(session, launch.agent_id, AgentEvent.RELEASE, now)

    async def _endpoint(self, agent_id: int) -> AgentEndpoint:
        return await self.engine.db.run(
            lambda session: agent_endpoint(session, agent_id), writes=False
        )

    # -- answered calls

    async def on_human(self, call: LiveCall, event: CallEvent) -> None:
        """A person: to an agent now, or within what is left of the safe-harbor time (2 s from
        the end of their greeting); when no agent can be free by then, abandoned at once, so
        the message starts within those 2 s."""
        call.human = True
        self.tally.live_answers += 1
        self.observe_dial(call, DialResult.HUMAN)
        if call.agent_first:
            return  # the backend joins the already-ringing agent
        call.phase = Phase.WAITING
        if event.greeting_ended_at is not None:
            self.amd_decision.add((event.at - event.greeting_ended_at).total_seconds())
        left = safe_harbor_left(event, self.engine.clock.now(), self.engine.grace_seconds)
        call.wait_deadline = self.engine.clock.monotonic() + left
        await self._seat_or_abandon(call)

    async def _seat_or_abandon(self, call: LiveCall) -> None:
        """A waiting caller: an agent now, or the wait until its deadline (an agent freed
        meanwhile takes it, see :meth:`serve_waiting`), or abandoned at once when no agent can
        be free by then."""
        left = (call.wait_deadline or 0.0) - self.engine.clock.monotonic()
        _, wrap_ups = self.busy.ages(self.engine.clock.monotonic())
        free_in_time = agent_may_be_free_within(left, wrap_ups, self.wrap_up_seconds)
        if not await self._connect(call) and not free_in_time:
            await self.abandon(call, "no agent can be free within the safe-harbor time")
            return
        self.engine.clock.call_later(max(left, 0.0), lambda: self._spawn(self._grace_over(call)))

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
        self.tally.machines_found += 1
        self.policy.observe(Observation(at=self.engine.clock.monotonic(), answering_machine=True))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_machine(self, call: LiveCall, event: CallEvent) -> None:
        """The campaign's machine action: leave its message after the beep, or hang up."""
        call.human = False
        self.tally.machines += 1
        self.observe_dial(call, DialResult.MACHINE)
        call.phase = Phase.HANGING_UP
        message = await self.engine.db.run(
            lambda session: self._machine_message_uri(session), writes=False
        )
        if message:
            await self.engine.backend.play_and_hangup(call.call_id, message)
        else:
            await self.engine.backend.hangup(call.call_id)

    async def on_bridged(self, call: LiveCall, event: CallEvent) -> None:
        call.phase = Phase.TALKING
        call.connected_at = event.at
        self.tally.connects += 1
        if call.answered_mono is not None:
            self.tally.wait_seconds += self.engine.clock.monotonic() - call.answered_mono
        if call.agent_id is not None:  # the listeners heard of it on arrival (Engine._pump)
            earlier = self.busy.connected(call.agent_id, self.engine.clock.monotonic())
            if earlier is not None:
                self.policy.observe(earlier)
            agent_id = call.agent_id
            reserved = agent_sessions.Believed(AgentState.RESERVED, self.campaign_id)
            await self.engine.db.run(
                lambda session: self._move(
                    session, agent_id, AgentEvent.CONNECT, event.at, believed=reserved
                )
            )

    async def on_agent_no_answer(self, call: LiveCall, event: CallEvent) -> None:
        agent_id, call.agent_id = call.agent_id, None
        if agent_id is not None:

            def release_and_pause(session: Session) -> None:
                self._move(session, agent_id, AgentEvent.RELEASE, event.at)
                self._move(session, agent_id, AgentEvent.PAUSE, event.at, "did not answer")

            await self.engine.db.run(release_and_pause)
        if not call.agent_first:
            call.phase = Phase.WAITING
            await self._seat_or_abandon(call)

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
        attempt_id, contact_id = call.attempt_id, call.contact_id

        def reserve(session: Session) -> tuple[int | None, AgentEndpoint | None]:
            reserved = agent_sessions.reserve_longest_idle_with_phone(
                session,
                self.campaign_id,
                now,
                self.engine.engine_id,
                attempt_id=attempt_id,
                contact_id=contact_id,
            )
            if reserved is None:
                return None, None
            agent_id, phone = reserved
            return agent_id, _endpoint_of(agent_id, phone)

        if call.call_id in self._reserving:
            return True  # another task is finding this caller an agent
        self._reserving.add(call.call_id)
        try:
            agent_id, endpoint = await self.engine.db.run(reserve)
        finally:
            self._reserving.discard(call.call_id)
        if agent_id is None or endpoint is None:
            return False
        if call.phase is not Phase.WAITING or call.call_id not in self.engine.calls:
            await self._unreserve(agent_id)  # the caller hung up or was given up meanwhile
            return True
        call.agent_id, call.phase = agent_id, Phase.CONNECTING
        await self.engine.backend.bridge(call.call_id, endpoint)
        return True

    async def _unreserve(self, agent_id: int) -> None:
        at = self.engine.clock.now()
        self.wake(stale=True)
        await self.engine.db.run(
            lambda session: self._move(session, agent_id, AgentEvent.RELEASE, at)
        )

    def _move(
        self,
        session: Session,
        agent_id: int,
        event: AgentEvent,
        at: datetime,
        reason: str | None = None,
        *,
        believed: agent_sessions.Believed | None = None,
    ) -> None:
        """The engine's move of an agent of the campaign's tenant (an agent of another
        tenant, or without a row, is a 404 as through the agent API); ``believed``: the row
        as the runner's last move left it (``agent_sessions.move``)."""
        moved = agent_sessions.move(
            session, self.scope, agent_id, event, at, reason, believed=believed
        )
        if moved is None:
            raise NotFound("agent", agent_id)

    async def _grace_over(self, call: LiveCall) -> None:
        if call.phase is Phase.WAITING:
            await self.abandon(call, "the safe-harbor time ran out")

    async def abandon(self, call: LiveCall, why: str) -> None:
        """The one abandon path: the caller counts as abandoned (pacing's budget, the 72 h
        redial block) and hears the campaign's message, then the call ends. Nothing if the
        call has ended or is already abandoned."""
        if call.abandoned or call.call_id not in self.engine.calls:
            return
        log.info("call %s abandoned: %s", call.call_id, why)
        call.abandoned, call.phase = True, Phase.ANNOUNCING
        try:  # the message first: it must start within the safe harbor (no database read)
            await self.engine.backend.play_and_hangup(
                call.call_id, self.announcement or DEFAULT_ANNOUNCEMENT
            )
        finally:
            self.policy.observe(
                Observation(at=self.engine.clock.monotonic(), live_answer=False, abandoned=True)
            )
            self.wake(stale=False)  # the budget changed

    async def on_agent_lost(self, call: LiveCall, event: CallEvent) -> None:
        """The agent's phone went away within the grace after the bridge (a browser closed or
        cut off): the caller never reached a person, so the call is abandoned like one no
        agent took: the campaign's message, counted against the abandonment budget."""
        if call.phase is Phase.TALKING:  # connected_at stays: the bridge did happen
            await self.abandon(call, "the agent's phone went away within the grace")

    def _machine_message_uri(self, session: Session) -> str | None:
        campaign = self.settings.get(session)
        return campaign.machine_message_uri if campaign is not None else None

    # -- endings

    def close_attempt(self, session: Session, attempt_id: int, ending: Ending) -> None:
        """Close one of this campaign's attempts with the retry settings the runner kept at its
        last read of the campaign (a tick ago at most), reading nothing of the campaign. When
        that closes nothing (the campaign deleted, its attempts' campaign cleared; or the
        attempt already ended), :func:`close_attempt` reads the campaign and sees why."""
        kept = self.settings.last
        if kept is None or not close(session, kept, attempt_id, ending):
            close_attempt(session, attempt_id, self.campaign_id, ending)

    def release_agent(self, session: Session, agent_id: int, at: datetime) -> AgentState | None:
        """In the call's closing transaction: free the agent; their state before (None when
        they held no call any more: logged out meanwhile)."""
        on_call = agent_sessions.Believed(AgentState.ON_CALL, self.campaign_id)
        return agent_sessions.move(session, self.scope, agent_id, _FREEING, at, believed=on_call)

    def after_release(self, agent_id: int, prior: AgentState | None) -> None:
        """On the loop, once the release has committed: pacing's and the listener's part."""
        if prior is AgentState.ON_CALL:
            self.busy.call_ended(agent_id, self.engine.clock.monotonic())
            self.engine.listener.agent_wrap_up(self.tenant_id, agent_id, self.campaign_id)
        elif prior in (AgentState.RESERVED, AgentState.PREVIEW):
            self.busy.forget(agent_id)
            self.wakeup.stale = True  # ready again: the counts changed

    def record(self, call: LiveCall, outcome: CallOutcome, mono: float) -> None:
        key = outcome.value
        self.tally.outcomes[key] = self.tally.outcomes.get(key, 0) + 1
        if outcome is CallOutcome.ABANDONED:
            self.tally.abandoned += 1

    def calls(self) -> list[LiveCall]:
        return [c for c in self.engine.calls.values() if c.campaign_id == self.campaign_id]


__all__ = ["CallId", "CampaignRunner"]
