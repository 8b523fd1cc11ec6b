"""The dialing engine: paces campaigns, claims contacts, dials, connects, records outcomes.

One :class:`Engine` per process runs any number of campaigns over one telephony backend and one
clock (real, or virtual for simulations). It talks to the database in short transactions (claims
and outcomes), to phones only through the telephony interface, and never imports the web layer.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session
from structlog.contextvars import bound_contextvars

from opendialer.clock import Clock
from opendialer.db import SessionMaker
from opendialer.engine import acd_delivery
from opendialer.engine.campaign_leases import release
from opendialer.engine.campaign_owner import UNSEEN_PHASES, CampaignOwner
from opendialer.engine.campaign_runner import CampaignRunner
from opendialer.engine.change_token import change_token
from opendialer.engine.context import EngineListener, NullListener
from opendialer.engine.database import EngineDatabase, runs_inline
from opendialer.engine.lateness import TickLateness
from opendialer.engine.live import CampaignTally, LiveCall, Phase
from opendialer.engine.outcomes import Ending
from opendialer.engine.pacing.base import DialResult, PacingPolicy, ProgressivePolicy
from opendialer.engine.recovery import (
    Recovered,
    give_up,
    recover_engine,
    renew_lease,
    take_over_dead,
)
from opendialer.models import AgentState, CallAttempt, CallOutcome, Campaign
from opendialer.recordings.service import CallRecorder, RecordedFile, link_recording
from opendialer.scoping import Scope, require_self
from opendialer.tasks import cancel_and_wait
from opendialer.telephony import CallEvent, CallEventKind, CallId, TelephonyBackend

log = logging.getLogger(__name__)

SAFE_HARBOR_SECONDS = 2.0
"""FTC TSR / Ofcom: a person not connected to an agent within 2 s of the end of their greeting
is abandoned, and must hear the information message within those 2 s."""
MESSAGE_LEAD_SECONDS = 0.5
"""What starting the message takes (the backend's round trip to the media player), kept free at
the end of the safe harbor; measured in docs/telephony.md (the abandon message's timing)."""
GRACE_SECONDS = SAFE_HARBOR_SECONDS - MESSAGE_LEAD_SECONDS
"""The longest a person waits for an agent, from the end of their greeting (or the answer)."""
END_DETAIL_LENGTH = 255  # call_attempts.end_detail
DRAIN_SECONDS = 3600.0
LEASE_SECONDS = 30.0
HANGUP_SECONDS = 5.0  # stop(): how long hung-up calls may take to report their end

_FINAL_OUTCOMES = {
    CallEventKind.BUSY: CallOutcome.BUSY,
    CallEventKind.NO_ANSWER: CallOutcome.NO_ANSWER,
    CallEventKind.FAILED: CallOutcome.FAILED,
    CallEventKind.INVALID_NUMBER: CallOutcome.INVALID_NUMBER,
    CallEventKind.CANCELLED: CallOutcome.CANCELLED,
}
_WAKING = {
    CallEventKind.ANSWERED_HUMAN,
    CallEventKind.ANSWERED_MACHINE,
    CallEventKind.BRIDGED,
    CallEventKind.AGENT_NO_ANSWER,
    CallEventKind.AGENT_LOST,
}
"""Call events after which pacing may decide otherwise (besides every final one)."""
_STALE_AFTER = {CallEventKind.ANSWERED_HUMAN, CallEventKind.AGENT_NO_ANSWER}
"""...and after which an agent's state changed in the database (reserved, released, paused)."""
_DIAL_RESULTS = {
    CallOutcome.BUSY: DialResult.BUSY,
    CallOutcome.NO_ANSWER: DialResult.NO_ANSWER,
    CallOutcome.FAILED: DialResult.FAILED,
    CallOutcome.INVALID_NUMBER: DialResult.FAILED,
}


def default_policy(campaign: Campaign) -> PacingPolicy:
    return ProgressivePolicy()


class Engine:
    def __init__(
        self,
        sessions: SessionMaker,
        backend: TelephonyBackend,
        clock: Clock,
        *,
        engine_id: str | None = None,
        tick_seconds: float = 0.5,  # the poll: see Engine.tick_seconds
        reread_seconds: float | None = None,  # see Engine.reread_seconds
        grace_seconds: float = GRACE_SECONDS,
        policy_factory: Callable[[Campaign], PacingPolicy] = default_policy,
        listener: EngineListener | None = None,
        recorder: CallRecorder | None = None,
        lease_seconds: float = LEASE_SECONDS,
        acd_seconds: float = acd_delivery.DELIVERY_INTERVAL_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.db = EngineDatabase(sessions, inline=runs_inline(clock))  # its only way to the DB
        self.recorder = recorder  # links recorded files to their attempts (backend's hook)
        self.backend = backend
        self.clock = clock
        self.engine_id = engine_id or f"engine-{uuid.uuid4().hex[:8]}"
        self.tick_seconds = tick_seconds
        """The poll: the longest a campaign goes without asking whether the database changed
        under it, the net for changes nobody tells the engine about (an agent's API call, an
        import, an edit, in this process or another). Events (calls, agents this engine hears
        of) and the pacing policy's own timer make it look sooner."""
        self.reread_seconds = reread_seconds
        """None: every poll reads the campaign's state. Else a poll first asks whether anything
        was committed since the last read (:mod:`opendialer.engine.change_token`: one small
        statement) and reads only if so, or when this long has passed since the last read at a
        poll (what time alone changes: the calling hours opening, a callback falling due)."""
        self.lease_seconds = lease_seconds
        self.acd_seconds = acd_seconds  # how often due ACD events (callbacks) are offered
        self.grace_seconds = grace_seconds
        self.policy_factory = policy_factory
        self.listener = listener or NullListener()
        self.runners: dict[int, CampaignRunner] = {}
        self.calls: dict[CallId, LiveCall] = {}
        self.tick_lateness = TickLateness()
        self._unwritten: list[_Unwritten] = []  # endings whose write failed: tried each tick
        self._loop: asyncio.AbstractEventLoop | None = None
        self.owner = CampaignOwner(self)  # serve(): which campaigns this engine paces
        self._acd: asyncio.Future[None] | None = None  # serve(): the ACD delivery loop
        self._heartbeat_task: asyncio.Future[None] | None = None  # serve(): lease renewal
        self.stopping = False
        self._forced: set[asyncio.Future[None]] = set()
        self._token: tuple[float, Hashable] | None = None  # (when, the change token then)

    # -- lifecycle

    async def run(self, campaign_ids: Iterable[int], until: datetime | None = None) -> None:
        """Run the campaigns until ``until`` (or until cancelled), then let live calls end."""
        await self._take_over()
        for campaign_id in campaign_ids:
            self.runners[campaign_id] = await CampaignRunner.start(self, campaign_id)
        await self.backend.start()
        pump = asyncio.create_task(self._pump())
        acd = acd_delivery.start(
            self, until, self.acd_seconds
        )  # offers due ACD events (callbacks) to agents
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await asyncio.gather(*(r.loop(until) for r in self.runners.values()))
            await self._drain()
        finally:
            await cancel_and_wait(heartbeat)
            await cancel_and_wait(acd)
            await self.backend.stop()
            await pump
            await self.db.close()

    async def serve(self, poll_seconds: float = 5.0) -> None:
        """Server mode: pace the enabled campaigns this engine holds the lease of (taking its
        share of the free ones, see ownership.py) until cancelled or :meth:`stop`."""
        await self._take_over()
        await self.backend.start()
        pump = asyncio.create_task(self._pump())
        self._acd = acd_delivery.start(self, None, self.acd_seconds)
        self._heartbeat_task = asyncio.create_task(self._heartbeat())
        try:
            while not self.stopping:
                await self.owner.round()
                await self.clock.sleep(min(poll_seconds, self.lease_seconds / 3))
            await asyncio.Event().wait()  # stopped: wait for the cancellation
        finally:
            for task in [self._acd, self._heartbeat_task, *self.owner.pacing.values()]:
                if task is not None:
                    await cancel_and_wait(task)
            await self.backend.stop()
            await pump
            await self.db.close()

    async def stop(self, drain_seconds: float) -> None:
        """Safe stop (serve mode): claim nothing more, let the calls in progress end by
        themselves for up to ``drain_seconds``, hang up the rest, close whatever is still open
        with a terminal state, and give back every lease so another engine takes over at once."""
        if self.stopping:
            return
        self.stopping = True
        log.info("engine %s stopping: draining %d calls", self.engine_id, len(self.calls))
        deadline = self.clock.monotonic() + drain_seconds
        if self._acd is not None:
            await cancel_and_wait(self._acd)  # no more ACD offers; the lease is still renewed
        await self.owner.pace(set())
        await asyncio.gather(*self.owner.pacing.values(), return_exceptions=True)  # ticks
        await self._wait_for_calls(deadline, unseen_only=True)
        # The other engines may pace these campaigns now: what is left is talking.
        await self.db.run(lambda s: release(s, self.engine_id))
        await self._wait_for_calls(deadline)
        for call_id in list(self.calls):
            with contextlib.suppress(Exception):  # a call that ended meanwhile
                await self.backend.hangup(call_id)
        await self._wait_for_calls(self.clock.monotonic() + HANGUP_SECONDS)
        await self.close_unwritten()
        if self._heartbeat_task is not None:
            await cancel_and_wait(self._heartbeat_task)
        now = self.clock.now()
        freed = await self.db.run(lambda s: give_up(s, self.engine_id, now))
        self._freed(freed)
        log.info("engine %s stopped: its campaigns and lease are free", self.engine_id)

    async def _wait_for_calls(self, deadline: float, unseen_only: bool = False) -> None:
        """Until ``deadline`` (monotonic), while calls (or only dials still to be answered or
        matched with an agent) remain: serve waiting callers, retry unwritten endings."""

        def remaining() -> bool:
            return any(not unseen_only or c.phase in UNSEEN_PHASES for c in self.calls.values())

        while remaining() and self.clock.monotonic() < deadline:
            for runner in list(self.runners.values()):
                await runner.serve_waiting()
            await self.close_unwritten()
            left = max(deadline - self.clock.monotonic(), 0.0)
            await self.clock.sleep(min(self.tick_seconds, left))

    async def _take_over(self) -> None:
        """Start on the running loop: close what a crash of this engine (or a dead one) left."""
        self._loop = asyncio.get_running_loop()  # where other threads send their news
        now = self.clock.now()

        def take_over(session: Session) -> Recovered:
            renew_lease(session, self.engine_id, now, self.lease_seconds)
            freed = recover_engine(session, self.engine_id, now)
            freed.add(take_over_dead(session, self.engine_id, now))
            return freed

        self._freed(await self.db.run(take_over))

    async def _heartbeat(self) -> None:
        """Renew this engine's lease and take over engines whose lease ran out."""
        while True:
            await self.clock.sleep(self.lease_seconds / 3)
            try:
                await self._renew_and_take_over()
            except Exception:
                log.exception("engine %s: lease renewal failed", self.engine_id)

    async def _renew_and_take_over(self) -> None:
        now = self.clock.now()
        renewed = await self.db.renew(
            lambda s: renew_lease(s, self.engine_id, now, self.lease_seconds)
        )
        if not renewed:
            log.error(
                "engine %s: its lease had run out; another engine may have closed its calls",
                self.engine_id,
            )
        # Taking over dead engines is ordinary work: it may wait its turn.
        freed = await self.db.run(
            lambda s: take_over_dead(s, self.engine_id, now, unleased_too=False)
        )
        self._freed(freed)

    def _freed(self, freed: Recovered) -> None:
        if freed.attempts or freed.contacts or freed.agents:
            log.warning(
                "engine %s recovered %d open attempts, %d contacts, %d agents",
                self.engine_id,
                freed.attempts,
                freed.contacts,
                len(freed.agents),
            )
        for agent in freed.agents:  # now in wrap-up, as after any call
            if agent.campaign_id is not None:
                self.listener.agent_wrap_up(agent.tenant_id, agent.user_id, agent.campaign_id)

    async def _drain(self) -> None:
        deadline = self.clock.monotonic() + DRAIN_SECONDS
        while self.calls and self.clock.monotonic() < deadline:
            for runner in self.runners.values():
                await runner.serve_waiting()
            await self.clock.sleep(self.tick_seconds)

    async def _pump(self) -> None:
        """The backend's events, handled one at a time in their order. A bridge is also told to
        the listeners the moment it arrives: the agent's screen pop does not wait until the
        events before it have had their turn at the engine's database thread."""
        pending: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        handler = asyncio.create_task(self._handle(pending))
        try:
            async for event in self.backend.events():
                self._arrived(event)
                pending.put_nowait(event)
        except BaseException:
            await cancel_and_wait(handler)
            raise
        pending.put_nowait(None)
        await handler

    async def _handle(self, pending: "asyncio.Queue[CallEvent | None]") -> None:
        while (event := await pending.get()) is not None:
            with bound_contextvars(**self._log_context(event)):  # on every line it causes
                try:
                    await self._on_event(event)
                except Exception:
                    log.exception("engine %s: failed to handle %s", self.engine_id, event)

    def _arrived(self, event: CallEvent) -> None:
        """In memory only, before the event's turn: a call bridged to its agent."""
        call = self.calls.get(event.call_id)
        if event.kind is CallEventKind.BRIDGED and call is not None and call.agent_id is not None:
            call.connected_at = event.at
            self.listener.call_connected(call)

    def _log_context(self, event: CallEvent) -> dict[str, object]:
        call = self.calls.get(event.call_id)
        if call is None or call.campaign_id not in self.runners:
            return {"call_id": event.call_id}
        return {
            "call_id": event.call_id,
            "attempt_id": call.attempt_id,
            "campaign_id": call.campaign_id,
            "tenant_id": self.runners[call.campaign_id].tenant_id,
        }

    def runner_for(self, call: LiveCall) -> CampaignRunner:
        return self.runners[call.campaign_id]

    async def agent_ready(self, campaign_id: int | None = None) -> None:
        """An agent became ready (or otherwise changed state): give waiting callers a chance
        before the grace runs out, and let pacing look again."""
        for runner in list(self.runners.values()):
            if campaign_id is None or runner.campaign_id == campaign_id:
                await runner.serve_waiting()
                runner.wake(stale=True)

    # -- call events

    async def _on_event(self, event: CallEvent) -> None:
        call = self.calls.get(event.call_id)
        if call is None:
            return
        runner = self.runner_for(call)
        kind = event.kind
        if kind is CallEventKind.RINGING:
            call.alerted_at = call.alerted_at or event.at
        elif kind is CallEventKind.ANSWERED:
            call.answered_at, call.answered_mono = event.at, self.clock.monotonic()
        elif kind is CallEventKind.ANSWERED_HUMAN:
            await runner.on_human(call, event)
        elif kind is CallEventKind.ANSWERED_MACHINE:
            await runner.on_machine(call, event)
        elif kind is CallEventKind.BRIDGED:
            await runner.on_bridged(call, event)
        elif kind is CallEventKind.AGENT_NO_ANSWER:
            await runner.on_agent_no_answer(call, event)
        elif kind is CallEventKind.AGENT_LOST:
            await runner.on_agent_lost(call, event)
        elif event.final:
            await self._on_final(call, event)
        if event.final or kind in _WAKING:
            runner.wake(stale=kind in _STALE_AFTER)

    async def _on_final(self, call: LiveCall, event: CallEvent) -> None:
        del self.calls[call.call_id]
        runner = self.runner_for(call)
        outcome = self._final_outcome(call, event)
        log.debug("call ended: %s (SIP %s, Q.850 %s)", outcome, event.sip_status, event.q850_cause)
        ending = Ending(
            outcome=outcome,
            at=event.at,
            sip_status=event.sip_status,
            cause_code=event.q850_cause,
            alerted_at=call.alerted_at,
            answered_at=call.answered_at,
            connected_at=call.connected_at,
            user_id=call.agent_id,
            caller_hangup=event.kind is CallEventKind.HANGUP_CUSTOMER,
            answered_by_machine=call.human is False or None,
            end_detail=event.detail[:END_DETAIL_LENGTH] or None,
        )
        recorded = self.recorder.take(call.call_id) if self.recorder is not None else None
        # Counted as it leaves the live calls, before the write's await: no moment in which
        # the metrics hold the call in neither (the live view settled, the ending not counted).
        runner.record(call, outcome, self.clock.monotonic())
        await self._close_attempt(_Unwritten(runner, call, ending, recorded))
        if outcome in _DIAL_RESULTS:
            runner.observe_dial(call, _DIAL_RESULTS[outcome])
        self.listener.call_ended(call, outcome)

    @staticmethod
    def _final_outcome(call: LiveCall, event: CallEvent) -> CallOutcome:
        if event.kind in _FINAL_OUTCOMES:
            return _FINAL_OUTCOMES[event.kind]
        if call.abandoned or call.phase is Phase.WAITING:
            return CallOutcome.ABANDONED
        if call.phase is Phase.TALKING:
            return CallOutcome.CONNECTED
        if call.human is False:
            return CallOutcome.MACHINE
        return CallOutcome.FAILED

    async def _close_attempt(self, job: "_Unwritten") -> None:
        """Write the call's ending (retried while the failure is transient); if it still
        fails, keep it and try again at the next tick, so no attempt is left open."""
        try:
            prior = await self.db.run(job.write)
        except Exception:
            log.exception(
                "engine %s: attempt %s not closed yet; trying again at the next tick",
                self.engine_id,
                job.call.attempt_id,
            )
            self._unwritten.append(job)
            return
        if job.call.agent_id is not None:
            job.runner.after_release(job.call.agent_id, prior)

    async def close_unwritten(self) -> None:
        """Another try for the endings whose write failed."""
        pending, self._unwritten = self._unwritten, []
        for job in pending:
            await self._close_attempt(job)

    async def change_token(self) -> Hashable:
        """The database's change token for a poll, taken at most once a half poll for all the
        campaigns: a token a little old only makes a change seen at the next poll, and a
        runner that read since compares unequal and reads again (never the other way)."""
        mono = self.clock.monotonic()
        if self._token is None or mono - self._token[0] >= self.tick_seconds / 2:
            self._token = (mono, await self.db.run(change_token, writes=False))
        return self._token[1]

    @property
    def unwritten(self) -> int:
        return len(self._unwritten)

    def _tenant_runners(self, scope: Scope) -> list[CampaignRunner]:
        return [r for r in self.runners.values() if r.tenant_id == scope.tenant_id]

    def _preview_runner(self, scope: Scope, user_id: int) -> CampaignRunner | None:
        require_self(scope, user_id)
        return next((r for r in self._tenant_runners(scope) if user_id in r.previews), None)

    async def dial_preview(self, scope: Scope, *, user_id: int) -> bool:
        runner = self._preview_runner(scope, user_id)
        return runner is not None and await runner.dial_preview(user_id)

    async def skip_preview(self, scope: Scope, *, user_id: int) -> bool:
        runner = self._preview_runner(scope, user_id)
        return runner is not None and await runner.skip_preview(user_id)

    async def hang_up_agent_call(self, scope: Scope, *, user_id: int) -> bool:
        """The agent ends their call from the agent API; False when they have none here in
        the scope's tenant (another tenant's call is never found, whatever the id)."""
        require_self(scope, user_id)
        campaigns = {r.campaign_id for r in self._tenant_runners(scope)}
        call = next(
            (
                c
                for c in self.calls.values()
                if c.agent_id == user_id and c.campaign_id in campaigns
            ),
            None,
        )
        if call is None:
            return False
        await self.backend.hangup(call.call_id)
        return True

    def answering_machine_found(self, campaign_id: int) -> None:
        """From any thread: an agent says one of the campaign's live answers was a machine."""
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody left to tell
            self._loop.call_soon_threadsafe(self._machine_found, campaign_id)

    def agent_forced_out(self, user_id: int) -> None:
        """From any thread: a supervisor logged the agent out; drop their preview and call."""
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing left to end
            self._loop.call_soon_threadsafe(self._forced_out, user_id)

    def _forced_out(self, user_id: int) -> None:
        calls = [c.call_id for c in self.calls.values() if c.agent_id == user_id]
        for call_id in calls:
            self.calls[call_id].agent_id = None  # logged out: nothing to release at its end
        task = asyncio.ensure_future(self._end_forced_out(user_id, calls))
        self._forced.add(task)
        task.add_done_callback(self._forced.discard)

    async def _end_forced_out(self, user_id: int, calls: list[CallId]) -> None:
        for runner in list(self.runners.values()):
            await runner.drop_preview(user_id)
            runner.wake(stale=True)
        for call_id in calls:
            await self.backend.hangup(call_id)

    def _machine_found(self, campaign_id: int) -> None:
        runner = self.runners.get(campaign_id)
        if runner is not None:
            runner.answering_machine_found()
            runner.wake(stale=False)

    def tally(self, campaign_id: int) -> CampaignTally:
        return self.runners[campaign_id].tally


@dataclass(frozen=True, slots=True)
class _Unwritten:
    """A call's ending to write: the attempt closed, its recording linked, its agent freed."""

    runner: CampaignRunner
    call: LiveCall
    ending: Ending
    recorded: RecordedFile | None

    def write(self, session: Session) -> AgentState | None:
        """In the engine's database thread: plain values in, the agent's prior state out."""
        call = self.call
        self.runner.close_attempt(session, call.attempt_id, self.ending)  # may be deleted
        if self.recorded is not None:
            link_recording(session, self.recorded, session.get_one(CallAttempt, call.attempt_id))
        if self.call.agent_id is None:
            return None
        return self.runner.release_agent(session, self.call.agent_id, self.ending.at)
