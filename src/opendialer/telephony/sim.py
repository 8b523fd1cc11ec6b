"""The simulated telephone network: customers and agent phones as timers on a :class:`Clock`.

On a ``VirtualClock()`` a day of dialling takes as long as its events take to process; on a
``VirtualClock(speed=60)`` or the real clock it drives the demo.

Common random numbers: every random quantity of the n-th dial comes from its own stream seeded
by (seed, n, quantity name), so two dialers run under one seed meet the same customer on their
n-th dial (same reach, same ring time, same talk time) whatever else they do differently.

Simulated agents' readiness, wrap-up and breaks belong to the engine's agent state machine:
its driver draws them from ``network.scenario`` (``draw_wrap_up``, ``draw_break_every``,
``draw_break_length``) with ``network.agent_rng(agent_id)``. The network itself only models the
agents' phones, which answer after ``scenario.agents.answer_delay``.
"""

import asyncio
import math
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, auto
from functools import partial
from pathlib import Path
from typing import Any

from opendialer.clock import Clock
from opendialer.telephony.base import (
    AgentEndpoint,
    CallEvent,
    CallEventKind,
    CallId,
    CallStateError,
    OriginateRequest,
    RecordingHook,
    UnknownCallError,
)
from opendialer.telephony.causes import (
    NO_ANSWER_FROM_USER,
    NORMAL_CLEARING,
    failure_kind,
    q850_for_sip,
)
from opendialer.telephony.sim_scenario import Distribution, Reach, Scenario, value_at

CALL_ID_PREFIX = "sim-"
_RELEASE_STATUS = {Reach.BUSY: 486, Reach.INVALID: 404, Reach.FAILED: 503}

TruthObserver = Callable[[CallEvent, Reach | None], None]
"""Sees every event with the truth of its call (``None`` before the customer is dialled)."""


class _Phase(Enum):
    AGENT_RINGING = auto()
    DIALLING = auto()
    ANSWERED = auto()  # up, being classified
    WAITING = auto()  # classified, no agent yet
    CONNECTING = auto()  # an agent phone is being rung
    BRIDGED = auto()
    ANNOUNCING = auto()


_BEFORE_ANSWER = frozenset({_Phase.AGENT_RINGING, _Phase.DIALLING})
_AWAITING_AGENT = frozenset({_Phase.ANSWERED, _Phase.WAITING, _Phase.CONNECTING})


@dataclass(eq=False, slots=True)
class _Call:
    id: CallId
    dial: int
    request: OriginateRequest
    phase: _Phase
    agent: AgentEndpoint | None = None
    agent_first: bool = False
    reach: Reach | None = None
    recording: bool = False
    steps: list[asyncio.TimerHandle] = field(default_factory=list)
    patience: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class SimStats:
    dials: int = 0
    reached: Counter[Reach] = field(default_factory=Counter)
    amd_false_positives: int = 0
    amd_false_negatives: int = 0


def dial_rng(seed: int, dial: int, quantity: str) -> random.Random:
    return random.Random(f"opendialer-sim:{seed}:{dial}:{quantity}")


class SimNetwork:
    """A :class:`~opendialer.telephony.base.TelephonyBackend` with simulated customers."""

    def __init__(
        self,
        clock: Clock,
        scenario: Scenario | None = None,
        *,
        seed: int = 0,
        recording_hook: RecordingHook | None = None,
        observer: TruthObserver | None = None,
    ) -> None:
        self.clock = clock
        self.scenario = scenario or Scenario()
        self.seed = seed
        self.stats = SimStats()
        self._recording_hook = recording_hook
        self._observer = observer
        self._calls: dict[CallId, _Call] = {}
        self._queue: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        self._running = False

    def set_recording_hook(self, hook: RecordingHook | None) -> None:
        """Who writes the audio of recorded calls (the server sets it after loading us)."""
        self._recording_hook = hook

    def agent_rng(self, agent_id: str) -> random.Random:
        """A stream for the engine's driver of simulated agents (wrap-up, breaks)."""
        return random.Random(f"opendialer-sim:{self.seed}:agent:{agent_id}")

    async def start(self) -> None:
        self._running = True

    def healthy(self) -> bool:
        """Up between start and stop (/readyz)."""
        return self._running

    async def stop(self) -> None:
        for call in list(self._calls.values()):
            self._end_by_dialer(call, "backend stopped")
        if self._running:
            self._running = False
            self._queue.put_nowait(None)

    async def originate(self, request: OriginateRequest) -> CallId:
        call = self._new_call(request, _Phase.DIALLING)
        self._dial_customer(call)
        return call.id

    async def originate_agent_first(
        self, agent: AgentEndpoint, request: OriginateRequest
    ) -> CallId:
        call = self._new_call(request, _Phase.AGENT_RINGING)
        call.agent, call.agent_first = agent, True
        self._ring_agent(call, self._agent_answered)
        return call.id

    async def cancel(self, call_id: CallId) -> None:
        call = self._live(call_id)
        if call is not None and call.phase in _BEFORE_ANSWER:
            self._end_by_dialer(call, "cancelled by the dialer")

    async def bridge(self, call_id: CallId, agent: AgentEndpoint) -> None:
        call = self._live(call_id)
        if call is None:
            return
        if call.phase not in (_Phase.ANSWERED, _Phase.WAITING):
            raise CallStateError(f"cannot bridge {call_id} while {call.phase.name.lower()}")
        self._cancel_steps(call)  # bridging before classification ends the detection
        call.agent, call.phase = agent, _Phase.CONNECTING
        self._ring_agent(call, self._connect)

    async def play_and_hangup(self, call_id: CallId, announcement: str) -> None:
        call = self._live(call_id)
        if call is None:
            return
        if call.phase in _BEFORE_ANSWER:
            raise CallStateError(f"cannot play to {call_id}: not answered")
        self._cancel_steps(call)
        self._cancel_patience(call)
        call.phase = _Phase.ANNOUNCING
        length = self._draw(call, "announcement", self.scenario.announcement_length)
        done = partial(
            self._finish, kind=CallEventKind.HANGUP_DIALER, detail=f"played {announcement}"
        )
        self._schedule(call, length, done)

    async def hangup(self, call_id: CallId) -> None:
        call = self._live(call_id)
        if call is not None:
            self._end_by_dialer(call, "hung up by the dialer")

    async def events(self) -> AsyncIterator[CallEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

    # -- the customer's side

    def _dial_customer(self, call: _Call) -> None:
        customers, second = self.scenario.customers, self._second_of_day()
        reach = customers.reach(dial_rng(self.seed, call.dial, "reach").random(), second)
        call.reach = reach
        self.stats.reached[reach] += 1
        ends_after, end = self._customer_end(call, reach)
        timeout = call.request.ring_timeout
        if ends_after >= timeout:
            ends_after, end = timeout, self._ring_timeout
        if reach in (Reach.PERSON, Reach.MACHINE, Reach.NO_ANSWER):
            ringing_after = self._draw(call, "post_dial_delay", customers.post_dial_delay)
            if ringing_after < ends_after:
                self._schedule(call, ringing_after, self._ringing)
        self._schedule(call, ends_after, end)

    def _customer_end(self, call: _Call, reach: Reach) -> tuple[float, Callable[[_Call], None]]:
        customers = self.scenario.customers
        if reach is Reach.NO_ANSWER:
            return math.inf, self._ring_timeout
        if reach is Reach.PERSON:
            return self._draw(call, "answer_after", customers.live_answer_after), self._answer
        if reach is Reach.MACHINE:
            return self._draw(call, "answer_after", customers.machine_answer_after), self._answer
        after = {
            Reach.BUSY: customers.busy_after,
            Reach.INVALID: customers.invalid_after,
            Reach.FAILED: customers.failed_after,
        }[reach]
        return self._draw(call, "release_after", after), self._release

    def _ringing(self, call: _Call) -> None:
        self._emit(call, CallEventKind.RINGING, sip_status=180)

    def _ring_timeout(self, call: _Call) -> None:
        self._finish(
            call, CallEventKind.NO_ANSWER, 487, NO_ANSWER_FROM_USER, "ring timeout reached"
        )

    def _release(self, call: _Call) -> None:
        assert call.reach is not None
        status = _RELEASE_STATUS[call.reach]
        self._finish(call, failure_kind(status), status, q850_for_sip(status))

    def _answer(self, call: _Call) -> None:
        call.phase = _Phase.ANSWERED
        self._emit(call, CallEventKind.ANSWERED, sip_status=200)
        patience = self.scenario.customers.patience
        if call.reach is Reach.PERSON and patience is not None:
            waited = self._draw(call, "patience", patience)
            call.patience = self.clock.call_later(waited, partial(self._gives_up, call))
        if call.request.amd:
            self._schedule(
                call, self._draw(call, "amd_delay", self.scenario.amd.delay), self._classify
            )
        else:
            self._classify(call)

    def _classify(self, call: _Call) -> None:
        heard = self._amd_verdict(call) if call.request.amd else Reach.PERSON
        kind = CallEventKind.ANSWERED_HUMAN
        if heard is Reach.MACHINE:
            kind = CallEventKind.ANSWERED_MACHINE
        call.phase = _Phase.WAITING
        self._emit(call, kind, sip_status=200, detail="amd" if call.request.amd else "amd off")
        if call.agent_first:
            self._connect(call)

    def _amd_verdict(self, call: _Call) -> Reach:
        amd, second = self.scenario.amd, self._second_of_day()
        wrong = dial_rng(self.seed, call.dial, "amd_error").random()
        if call.reach is Reach.PERSON and wrong < value_at(amd.false_positive, second):
            self.stats.amd_false_positives += 1
            return Reach.MACHINE
        if call.reach is Reach.MACHINE and wrong < value_at(amd.false_negative, second):
            self.stats.amd_false_negatives += 1
            return Reach.PERSON
        assert call.reach is not None
        return call.reach

    def _gives_up(self, call: _Call) -> None:
        if call.phase in _AWAITING_AGENT:
            self._finish(call, CallEventKind.HANGUP_CUSTOMER, detail="hung up waiting in silence")

    # -- the agent's side

    def _ring_agent(self, call: _Call, then: Callable[[_Call], None]) -> None:
        self._schedule(
            call, self._draw(call, "agent_answer", self.scenario.agents.answer_delay), then
        )

    def _agent_answered(self, call: _Call) -> None:
        call.phase = _Phase.DIALLING
        self._emit(call, CallEventKind.AGENT_ANSWERED, sip_status=200)
        self._dial_customer(call)

    def _connect(self, call: _Call) -> None:
        self._cancel_patience(call)
        call.phase = _Phase.BRIDGED
        self._emit(call, CallEventKind.BRIDGED, sip_status=200)
        if call.request.record and self._recording_hook is not None:
            call.recording = True
            self._recording_hook.recording_started(call.id, self.clock.now())
        customers = self.scenario.customers
        if call.reach is Reach.MACHINE:
            handling = self._draw(call, "machine_handling", customers.machine_handling)
            end = partial(self._finish, kind=CallEventKind.HANGUP_AGENT, detail="machine")
            self._schedule(call, handling, end)
        else:
            talk = self._draw(call, "talk_time", customers.talk_time)
            self._schedule(call, talk, partial(self._finish, kind=CallEventKind.HANGUP_CUSTOMER))

    # -- bookkeeping

    def _new_call(self, request: OriginateRequest, phase: _Phase) -> _Call:
        if not self._running:
            raise CallStateError("the sim telephony backend is not running")
        dial = self.stats.dials
        self.stats.dials += 1
        call = _Call(CallId(f"{CALL_ID_PREFIX}{dial}"), dial, request, phase)
        self._calls[call.id] = call
        return call

    def _live(self, call_id: CallId) -> _Call | None:
        call = self._calls.get(call_id)
        if call is None and not self._issued(call_id):
            raise UnknownCallError(f"no call {call_id!r} on this sim network")
        return call

    def _issued(self, call_id: str) -> bool:
        number = call_id.removeprefix(CALL_ID_PREFIX)
        is_ours = call_id.startswith(CALL_ID_PREFIX) and number.isdigit()
        return is_ours and int(number) < self.stats.dials

    def _end_by_dialer(self, call: _Call, detail: str) -> None:
        if call.phase in _BEFORE_ANSWER:
            self._finish(call, CallEventKind.CANCELLED, 487, NORMAL_CLEARING, detail)
        else:
            self._finish(call, CallEventKind.HANGUP_DIALER, None, NORMAL_CLEARING, detail)

    def _finish(
        self,
        call: _Call,
        kind: CallEventKind,
        sip_status: int | None = None,
        q850_cause: int | None = NORMAL_CLEARING,
        detail: str = "",
    ) -> None:
        self._cancel_steps(call)
        self._cancel_patience(call)
        del self._calls[call.id]
        if call.recording and self._recording_hook is not None:
            self._recording_hook.recording_stopped(call.id, self.clock.now())
        self._emit(call, kind, sip_status=sip_status, q850_cause=q850_cause, detail=detail)

    def _emit(
        self,
        call: _Call,
        kind: CallEventKind,
        *,
        sip_status: int | None = None,
        q850_cause: int | None = None,
        detail: str = "",
    ) -> None:
        agent_id = call.agent.id if call.agent is not None else None
        event = CallEvent(call.id, kind, self.clock.now(), sip_status, q850_cause, agent_id, detail)
        self._queue.put_nowait(event)
        if self._observer is not None:
            self._observer(event, call.reach)

    def _schedule(self, call: _Call, delay: float, action: Callable[[_Call], None]) -> None:
        call.steps.append(self.clock.call_later(delay, partial(action, call)))

    def _cancel_steps(self, call: _Call) -> None:
        for handle in call.steps:
            handle.cancel()
        call.steps.clear()

    def _cancel_patience(self, call: _Call) -> None:
        if call.patience is not None:
            call.patience.cancel()
            call.patience = None

    def _draw(self, call: _Call, quantity: str, distribution: Distribution) -> float:
        return distribution.draw(dial_rng(self.seed, call.dial, quantity), self._second_of_day())

    def _second_of_day(self) -> float:
        return self.scenario.second_of_day(self.clock.now())


def create_backend(clock: Clock, options: Mapping[str, Any]) -> SimNetwork:
    """Entry point ``sim``: options ``scenario`` (a TOML/JSON path or a mapping) and ``seed``."""
    unknown = set(options) - {"scenario", "seed"}
    if unknown:
        raise ValueError(f"unknown sim options: {', '.join(sorted(unknown))}")
    scenario = options.get("scenario")
    if isinstance(scenario, str | Path):
        loaded = Scenario.load(Path(scenario))
    else:
        loaded = Scenario.model_validate(scenario or {})
    return SimNetwork(clock, loaded, seed=int(options.get("seed", 0)))
