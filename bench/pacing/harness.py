"""One simulated call-centre day driving a pacing policy through ``PacingPolicy``.

A heap of timed events (seconds as floats): pacing ticks, dial resolutions, grace periods, calls
ending (the agent's wrap-up begins) and agents coming free. The policy sees exactly what the
engine shows it (``PacingSnapshot``) and hears exactly what the engine tells it
(``Observation``): with AMD off a machine is "human" to the dialer, and the people AMD hangs up
on are never reported. The truth is kept apart for the measurements. Common random numbers: the
n-th dial of a day under a seed meets the same customer (outcome, delays, talk and wrap-up)
whatever the dialer.
"""

import heapq
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

from bench.pacing.contacts import DAY, ContactList, Outcome
from bench.pacing.scenario import BenchScenario
from opendialer.engine.pacing.base import (
    DialResult,
    Observation,
    PacingDecision,
    PacingPolicy,
    PacingSnapshot,
)
from opendialer.telephony.sim_scenario import Reach

MIN_RING = 15.0
_TICK, _RESOLVE, _GRACE, _FREE, _HANG_UP = range(5)


@dataclass(frozen=True, slots=True)
class Customer:
    """Everything random about one dial, drawn when it is launched."""

    reach: Reach
    resolve_after: float
    """Seconds from the dial to its classification (answered) or release (busy, no answer)."""
    heard: DialResult
    """What the dialer is told."""
    handle: float
    """Seconds an agent is busy with it (talk or machine message, plus wrap-up)."""
    wrap_up: float = 0.0
    """The wrap-up part of ``handle``."""


def draw_customer(
    scenario: BenchScenario, seed: int, day: int, dial: int, second: float
) -> Customer:
    rng = random.Random((seed << 44) ^ (day << 32) ^ dial)
    sim = scenario.sim
    customers = sim.customers
    u_reach, u_amd = rng.random(), rng.random()
    answer = {
        Reach.PERSON: customers.live_answer_after.draw(rng, second),
        Reach.MACHINE: customers.machine_answer_after.draw(rng, second),
        Reach.BUSY: customers.busy_after.draw(rng, second),
    }
    amd_delay = sim.amd.delay.draw(rng, second)
    talk = customers.talk_time.draw(rng, second)
    machine = customers.machine_handling.draw(rng, second)
    wrap = sim.agents.wrap_up.draw(rng, second)
    reach = customers.reach(u_reach, second)
    return _customer(scenario, reach, answer, amd_delay, u_amd, (talk, machine, wrap), second)


def _customer(
    scenario: BenchScenario,
    reach: Reach,
    answer: dict[Reach, float],
    amd_delay: float,
    u_amd: float,
    agent_times: tuple[float, float, float],
    second: float,
) -> Customer:
    """``agent_times``: talk with a person, with a machine, and the wrap-up after either."""
    timeout = scenario.ring_timeout
    if reach in (Reach.PERSON, Reach.MACHINE) and answer[reach] < timeout:
        classify = answer[reach] + (amd_delay if scenario.amd else 0.0)
        heard = _heard(scenario, reach, u_amd, second)
        talk, machine, wrap = agent_times
        spoken = talk if reach is Reach.PERSON else machine
        return Customer(reach, classify, heard, spoken + wrap, wrap)
    if reach is Reach.BUSY and answer[Reach.BUSY] < timeout:
        return Customer(reach, answer[Reach.BUSY], DialResult.BUSY, 0.0)
    if reach in (Reach.INVALID, Reach.FAILED):
        return Customer(reach, 1.0, DialResult.FAILED, 0.0)
    return Customer(Reach.NO_ANSWER, timeout, DialResult.NO_ANSWER, 0.0)


def _heard(scenario: BenchScenario, reach: Reach, u_amd: float, second: float) -> DialResult:
    if not scenario.amd:
        return DialResult.HUMAN
    amd = scenario.sim.amd
    if reach is Reach.PERSON:
        fp = amd.false_positive
        wrong = u_amd < (fp if isinstance(fp, float | int) else fp.at(second))
        return DialResult.MACHINE if wrong else DialResult.HUMAN
    fn = amd.false_negative
    wrong = u_amd < (fn if isinstance(fn, float | int) else fn.at(second))
    return DialResult.HUMAN if wrong else DialResult.MACHINE


@dataclass(slots=True)
class DayResult:
    scenario: str
    dialer: str
    seed: int
    day: int = 0
    dials: int = 0
    live: int = 0
    """Live answers in truth (persons answering, AMD's false positives included)."""
    abandoned: int = 0
    """Persons abandoned: left waiting past the grace, or hung up on by AMD."""
    amd_abandoned: int = 0
    connects: int = 0
    busy_seconds: float = 0.0
    agent_seconds: float = 0.0
    short_rings: int = 0
    """Unanswered dials given up before 15 s (a compliance violation)."""
    dials_outside_shift: int = 0
    redials: int = 0
    """Contacts dialled within 72 h of their abandoned call (with a contact list)."""
    list_dry_seconds: float = 0.0
    """Time the contact list had nothing to dial (with a contact list)."""
    decisions: int = 0
    max_in_flight: int = 0
    log: list[tuple[float, PacingDecision]] = field(default_factory=list)

    @property
    def occupancy(self) -> float:
        return self.busy_seconds / self.agent_seconds if self.agent_seconds else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0


class DaySim:
    """Runs one day; ``run()`` returns its :class:`DayResult`."""

    def __init__(
        self,
        scenario: BenchScenario,
        policy: PacingPolicy,
        *,
        seed: int,
        day: int = 0,
        hours: float | None = None,
        keep_log: int = 0,
        contacts: ContactList | None = None,
        restart: Callable[[], PacingPolicy] | None = None,
    ) -> None:
        self.s = scenario
        self.policy = policy
        self.seed, self.day = seed, day
        self.t0 = scenario.start_second
        self.clock0 = day * DAY + self.t0
        """The policy's clock runs across days."""
        self.contacts = contacts
        self._contact_of: dict[int, tuple[int, int]] = {}
        self._restart = restart
        self._day_live = self._day_abandoned = self._day_machines = 0
        """The day's ledger as the engine keeps it (what the dialer was told), kept across a
        restart."""
        self.end = (hours * 3600.0) if hours is not None else scenario.seconds
        self.keep_log = keep_log
        self.result = DayResult(scenario.name, policy.name, seed, day)
        self._heap: list[tuple[float, int, int, int]] = []
        self._seq = count()
        self._customers: dict[int, Customer] = {}
        self._in_flight: dict[int, float] = {}
        self._waiting: dict[int, float] = {}
        self._queue: deque[int] = deque()
        self._ready: deque[int] = deque()
        self._busy: dict[int, float] = {}
        self._wrapping: dict[int, float] = {}
        self._on_machine: set[int] = set()
        """Agents whose call is an answering machine (AMD off or wrong): they will say so."""
        self._next_agent = 0
        self._leaving: set[int] = set()
        """Agents on a call who leave (a break, end of shift) when it ends: out of the policy's
        view, as the engine leaves out an agent who asked for a pause."""
        self._logged_in = 0

    # -- the loop

    def run(self) -> DayResult:
        self._push(0.0, _TICK, 0)
        handlers = (self._tick, self._resolve, self._grace_over, self._free, self._hang_up)
        while self._heap:
            at, _, kind, key = heapq.heappop(self._heap)
            handlers[kind](at, key)
        return self.result

    def _push(self, at: float, kind: int, key: int) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), kind, key))

    def _observe(self, observation: Observation) -> None:
        self.policy.observe(observation)

    # -- pacing

    def _tick(self, now: float, _: int) -> None:
        if now >= self.end:
            return
        self._staff(now)
        self._maybe_restart(now)
        if self.contacts is not None:
            self.contacts.refill(self.day, self.clock0 + now - self.s.tick, self.clock0 + now)
        self.result.agent_seconds += self._logged_in * min(self.s.tick, self.end - now)
        decision = self.policy.decide(self._snapshot(now))
        self.result.decisions += 1
        if len(self.result.log) < self.keep_log:
            self.result.log.append((now, decision))
        placed = sum(self._dial(now) for _ in range(decision.dials))
        self._observe(Observation(at=self.clock0 + now, dials_placed=placed))
        self.result.max_in_flight = max(self.result.max_in_flight, len(self._in_flight))
        self._push(now + self.s.tick, _TICK, 0)

    def _maybe_restart(self, now: float) -> None:
        at = self.s.restart_second
        if self._restart is not None and at is not None and self.t0 + now >= at:
            self.policy, self._restart = self._restart(), None

    def _snapshot(self, now: float) -> PacingSnapshot:
        second = self.t0 + now
        busy = [a for a in self._busy if a not in self._leaving]
        contacts, at = self.contacts, self.clock0 + now
        if contacts is not None and contacts.dialable(at) == 0:
            self.result.list_dry_seconds += self.s.tick
        return PacingSnapshot(
            now=at,
            agents_logged_in=len(self._ready) + len(busy),
            agents_ready=len(self._ready),
            busy_agent_ages=tuple(now - self._busy[a] for a in busy),
            wrap_up_ages=tuple(
                (now - self._wrapping[a]) if a in self._wrapping else None for a in busy
            ),
            dials_in_progress=tuple(now - t for t in self._in_flight.values()),
            waiting_callers=len(self._waiting),
            abandon_target=self.s.abandon_target,
            grace_seconds=self.s.grace,
            amd_false_positive_rate=self.s.amd_false_positive_at(second),
            day_live_answers=self._day_live,
            day_abandoned=self._day_abandoned,
            day_machines=self._day_machines,
            dialable_now=contacts.dialable(at) if contacts is not None else None,
            dialable_soon=contacts.soon(at) if contacts is not None else None,
        )

    def _dial(self, now: float) -> bool:
        """Place one dial; False when the contact list has nobody to dial."""
        index = self.result.dials
        if self.contacts is None:
            customer = draw_customer(self.s, self.seed, self.day, index, self.t0 + now)
        else:
            taken = self.contacts.take(self.clock0 + now)
            if taken is None:
                return False
            self._contact_of[index] = taken
            contact, attempt = taken  # the same contact's n-th try meets the same customer
            customer = draw_customer(self.s, self.seed, 1000 + attempt, contact, self.t0 + now)
        self.result.dials += 1
        self._customers[index] = customer
        self._in_flight[index] = now
        self._push(now + customer.resolve_after, _RESOLVE, index)
        return True

    def _finish(self, now: float, dial: int, outcome: Outcome) -> None:
        taken = self._contact_of.pop(dial, None)
        if self.contacts is not None and taken is not None:
            self.contacts.finish(taken[0], outcome, self.clock0 + now)

    # -- agents

    def _staff(self, now: float) -> None:
        wanted = self.s.agents_at(self.t0 + now)
        while self._logged_in < wanted:
            if self._leaving:
                self._leaving.pop()
            else:
                self._ready.append(self._next_agent)
                self._next_agent += 1
            self._logged_in += 1
        while self._logged_in > wanted:
            if self._ready:
                self._ready.popleft()
            else:
                staying = [a for a in self._busy if a not in self._leaving]
                if not staying:
                    break
                self._leaving.add(staying[0])
            self._logged_in -= 1

    def _hang_up(self, now: float, agent: int) -> None:
        self._wrapping[agent] = now

    def _free(self, now: float, agent: int) -> None:
        started = self._busy.pop(agent)
        wrap = now - self._wrapping.pop(agent, now)
        self._observe(
            Observation(at=self.clock0 + now, handle_seconds=now - started, wrap_up_seconds=wrap)
        )
        if agent in self._on_machine:
            self._on_machine.remove(agent)
            self._day_machines += 1
            self._observe(Observation(at=self.clock0 + now, answering_machine=True))
        if agent in self._leaving:
            self._leaving.remove(agent)
            return
        while self._queue:
            dial = self._queue.popleft()
            if dial in self._waiting:
                del self._waiting[dial]
                self._connect(now, dial, agent)
                return
        self._ready.append(agent)

    def _connect(self, now: float, dial: int, agent: int) -> None:
        customer = self._customers.pop(dial)
        self._busy[agent] = now
        if customer.reach is Reach.MACHINE:
            self._on_machine.add(agent)
        reached = customer.reach is Reach.PERSON
        self._finish(now, dial, Outcome.REACHED if reached else Outcome.UNREACHED)
        self._push(now + customer.handle - customer.wrap_up, _HANG_UP, agent)
        self._push(now + customer.handle, _FREE, agent)
        self.result.connects += 1
        if now < self.end:
            self.result.busy_seconds += min(customer.handle, self.end - now)

    # -- calls

    def _resolve(self, now: float, dial: int) -> None:
        launched = self._in_flight.pop(dial)
        customer = self._customers[dial]
        ring = now - launched
        heard = customer.heard
        person = customer.reach is Reach.PERSON
        self.result.live += person
        if heard is DialResult.NO_ANSWER and ring < MIN_RING:
            self.result.short_rings += 1
        live = heard is DialResult.HUMAN
        self._day_live += live
        self._observe(
            Observation(
                at=self.clock0 + now, dial_result=heard, ring_seconds=ring, live_answer=live
            )
        )
        if heard is not DialResult.HUMAN:
            del self._customers[dial]
            self._finish(now, dial, Outcome.UNREACHED)  # AMD's false positives look unreached
            if person:  # AMD hung up on a person
                self.result.abandoned += 1
                self.result.amd_abandoned += 1
            return
        if self._ready:
            self._connect(now, dial, self._ready.popleft())
        elif self.s.grace > 0:
            self._waiting[dial] = now
            self._queue.append(dial)
            self._push(now + self.s.grace, _GRACE, dial)
        else:
            self._abandon(now, dial)

    def _grace_over(self, now: float, dial: int) -> None:
        if self._waiting.pop(dial, None) is not None:
            self._abandon(now, dial)

    def _abandon(self, now: float, dial: int) -> None:
        customer = self._customers.pop(dial)
        if customer.reach is Reach.PERSON:
            self.result.abandoned += 1
        self._day_abandoned += 1
        self._finish(now, dial, Outcome.ABANDONED)
        self._observe(Observation(at=self.clock0 + now, abandoned=True))


def run_day(
    scenario: BenchScenario, policy: PacingPolicy, seed: int, *, hours: float | None = None
) -> DayResult:
    return DaySim(scenario, policy, seed=seed, hours=hours).run()


def run_days(
    scenario: BenchScenario,
    new_policy: Callable[[], PacingPolicy],
    seed: int,
    *,
    hours: float | None = None,
) -> list[DayResult]:
    """The scenario's days in a row: one policy (fresh only at a restart) and one contact list."""
    contacts = ContactList(scenario.contacts) if scenario.contacts is not None else None
    policy, days = new_policy(), []
    for day in range(scenario.days):
        before = contacts.redials if contacts is not None else 0
        restart = new_policy if scenario.restart_at is not None else None
        sim = DaySim(
            scenario, policy, seed=seed, day=day, hours=hours, contacts=contacts, restart=restart
        )
        result = sim.run()
        result.redials = (contacts.redials if contacts is not None else 0) - before
        days.append(result)
        policy = sim.policy
    return days
