"""The pacing interface: a policy sees a snapshot of the campaign and decides how many to dial.

Policies are pure and clock-free (times are seconds on whatever clock the caller runs), so the
engine, ``opendialer simulate`` and ``bench/pacing`` all run the very same code.
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class DialResult(enum.StrEnum):
    HUMAN = "human"  # answered by a person (as classified)
    MACHINE = "machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    now: float
    """Seconds on the caller's clock (monotonic, virtual in simulations)."""
    agents_logged_in: int
    agents_ready: int
    """Idle agents, free to take a call now."""
    busy_agent_ages: tuple[float, ...]
    """For each agent on a call or in wrap-up: seconds since that call was connected."""
    dials_in_progress: tuple[float, ...]
    """For each dial not yet resolved (ringing, or answered and being classified): its age."""
    waiting_callers: int
    """Answered people waiting for an agent right now."""
    abandon_target: float
    """The campaign's cap on abandoned / live answers, e.g. 0.03."""
    max_parallel_lines: int | None = None
    coefficient: float | None = None
    """Voicenter-style dial ratio cap: at most this many dials in flight per ready agent."""
    max_waiting_callers: int | None = None
    grace_seconds: float = 2.0
    """How long an answered person may wait for an agent, from the end of their greeting,
    before the call counts as abandoned (the engine passes the 2 s safe harbor less the time
    its message takes to start)."""
    amd_decision_seconds: float = 0.0
    """With AMD on: the measured delay between the end of a person's greeting and the verdict
    that makes them a waiting caller. It is spent from ``grace_seconds`` before the policy
    sees the caller, so agents must free within what is left."""
    amd_false_positive_rate: float = 0.0
    """With AMD on: the reasoned estimate (Ofcom) of the share of live answers that AMD judges a
    machine and hangs up on. They count as abandoned but are never observed one by one."""
    period_live_answers: int | None = None
    """Live answers in the campaign's 30-day period (FTC), when the caller keeps that tally."""
    period_abandoned: int | None = None
    """Abandoned calls in the same 30-day period."""
    wrap_up_ages: tuple[float | None, ...] | None = None
    """Aligned with ``busy_agent_ages``, when the caller knows: seconds since that agent's call
    ended (in wrap-up), or None while the call goes on."""
    dialable_now: int | None = None
    """Contacts the caller could dial right now (None: not known, as good as unlimited). No
    policy plans more dials than this."""
    dialable_soon: int | None = None
    """Contacts dialable now or within the next minutes: the supply the day can count on, which
    bounds the live answers still to come (the low-volume rule)."""
    day_live_answers: int | None = None
    """Live answers in the campaign's day so far (its calendar day in its time zone, or the
    rolling 24 h where Ofcom's rule is configured), when the caller keeps that ledger; the
    policy's own in-memory ledger otherwise."""
    day_abandoned: int | None = None
    """Abandoned calls in the same day."""
    day_machines: int | None = None
    """Live answers of the same day that agents found were answering machines."""

    def __post_init__(self) -> None:
        if self.wrap_up_ages is not None and len(self.wrap_up_ages) != len(self.busy_agent_ages):
            raise ValueError("wrap_up_ages must have one entry per busy agent")


@dataclass(frozen=True, slots=True)
class Observation:
    """Something that happened, for the policy's online estimates."""

    at: float
    dial_result: DialResult | None = None
    ring_seconds: float | None = None
    """Dial to resolution (answer, busy, no answer) for ``dial_result``."""
    handle_seconds: float | None = None
    """Connect to the agent being free again (talk + wrap-up), for a finished human call."""
    wrap_up_seconds: float | None = None
    """The wrap-up part of ``handle_seconds``, when the caller knows it."""
    live_answer: bool = False
    """This dial was answered by a person (sent once, with ``dial_result=HUMAN``)."""
    abandoned: bool = False
    """A separate, later observation: one of the live answers was not given an agent in time
    (or AMD hung up on a person). Abandonment = abandoned observations ÷ live answers."""
    answering_machine: bool = False
    """A separate, later observation: an agent found that one of the live answers was an
    answering machine (its result code says so). Only people count for the abandonment rate,
    so this tells the policy what share of its live answers the law counts."""
    dials_placed: int | None = None
    """Sent after each decision: how many of its dials the caller actually placed (fewer than
    decided when contacts ran out or another engine took them). Only placed dials are learned
    from."""


@dataclass(frozen=True, slots=True)
class PacingDecision:
    dials: int
    """New calls to launch now (0 or more)."""
    target_in_flight: float
    """How many dials the policy wants in progress, after this decision."""
    reason: str
    inputs: Mapping[str, float] = field(default_factory=dict)
    """The estimates used (live-answer probability, expected releases, budget left, ...)."""
    recheck_after: float | None = None
    """Seconds after which the policy wants to be asked again although nothing happened (its
    forecasts move with time: dials age toward an answer, calls toward their end); None when
    only an event (an agent freed, a call answered or ended, ...) can change its answer. The
    engine asks at the first event or at this time, whichever comes first."""


class PacingPolicy(Protocol):
    name: str

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision: ...

    def observe(self, observation: Observation) -> None: ...


def line_cap(snapshot: PacingSnapshot, wanted: int) -> int:
    """Apply the campaign's hard limits (max lines, coefficient, waiting callers) and the
    contacts there are to dial to ``wanted``."""
    in_flight = len(snapshot.dials_in_progress)
    dials = max(0, wanted)
    if snapshot.dialable_now is not None:
        dials = min(dials, max(0, snapshot.dialable_now))
    if snapshot.max_parallel_lines is not None:
        busy_lines = in_flight + snapshot.waiting_callers + len(snapshot.busy_agent_ages)
        dials = min(dials, max(0, snapshot.max_parallel_lines - busy_lines))
    if snapshot.coefficient is not None:
        ratio_cap = int(snapshot.coefficient * max(snapshot.agents_ready, 0))
        dials = min(dials, max(0, ratio_cap - in_flight))
    if snapshot.max_waiting_callers is not None and (
        snapshot.waiting_callers >= snapshot.max_waiting_callers
    ):
        dials = 0
    return dials


class ProgressivePolicy:
    """One call per free agent: never more dials in flight than ready agents."""

    name = "progressive"

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        free = snapshot.agents_ready - snapshot.waiting_callers
        wanted = free - len(snapshot.dials_in_progress)
        dials = line_cap(snapshot, wanted)
        return PacingDecision(
            dials=dials,
            target_in_flight=float(max(free, 0)),
            reason=f"{free} free agent(s), {len(snapshot.dials_in_progress)} dial(s) in flight",
            inputs={"agents_ready": snapshot.agents_ready, "waiting": snapshot.waiting_callers},
        )

    def observe(self, observation: Observation) -> None:
        return None
