"""Baseline pacing policies the predictive one is measured against.

* :class:`FixedRatioPolicy`: a constant dial level, as VICIdial's ``RATIO`` method: keep
  ``level * (ready + busy agents)`` lines up, counting the calls agents are on, the callers
  waiting and the dials in flight.
* :class:`VicidialAdaptivePolicy`: VICIdial's adaptive method re-implemented from its documented
  rule (``AST_VDadapt.pl``): every 15 s the dial level is multiplied by
  ``1 + (ready agents - waiting calls) / agents`` (both averaged over the last minute), clamped to
  ``[1, max_level]``; when today's drop rate (drops ÷ answers, after 50 calls) passes the target
  it is halved (``ADAPT_AVERAGE``) or set to 1 (``ADAPT_HARD_LIMIT``). Dials then follow the
  ``RATIO`` rule at that level.
"""

import math
from collections import deque
from enum import StrEnum

from opendialer.engine.pacing.base import (
    DialResult,
    Observation,
    PacingDecision,
    PacingSnapshot,
    line_cap,
)

ADAPT_SECONDS = 15.0
SAMPLE_SECONDS = 0.5
AVERAGE_SECONDS = 60.0
MIN_CALLS_FOR_DROP_RULE = 50


def ratio_dials(snapshot: PacingSnapshot, level: float) -> tuple[int, float]:
    """VICIdial's ``RATIO`` rule: (dials to launch, lines wanted) at dial level ``level``."""
    busy = len(snapshot.busy_agent_ages)
    goal = math.ceil(level * (snapshot.agents_ready + busy) - 1e-9)
    existing = len(snapshot.dials_in_progress) + snapshot.waiting_callers + busy
    return line_cap(snapshot, goal - existing), float(goal - busy - snapshot.waiting_callers)


class FixedRatioPolicy:
    """A constant dial level (lines per working agent)."""

    def __init__(self, level: float) -> None:
        if level < 1:
            raise ValueError("a dial level below 1 leaves agents idle by design")
        self.level = level
        self.name = f"fixed {level:g}"

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        dials, wanted = ratio_dials(snapshot, self.level)
        return PacingDecision(
            dials=dials,
            target_in_flight=max(wanted, 0.0),
            reason=f"dial level {self.level:g}",
            inputs={"dial_level": self.level},
        )

    def observe(self, observation: Observation) -> None:
        return None


class DropRule(StrEnum):
    HARD_LIMIT = "hard_limit"
    """Over the target today: dial level 1."""
    AVERAGE = "average"
    """Over the target today: the suggested level is halved."""


class VicidialAdaptivePolicy:
    """VICIdial's adaptive predictive method (intensity 0, no differential target)."""

    name = "vicidial"

    def __init__(
        self,
        *,
        max_level: float = 3.0,
        rule: DropRule = DropRule.HARD_LIMIT,
        drop_target: float | None = None,
    ) -> None:
        self.max_level = max_level
        self.rule = rule
        self.drop_target = drop_target
        """Overrides the snapshot's abandonment target (VICIdial's ``adaptive_dropped_pct``)."""
        self.level = 1.0
        self._samples: deque[tuple[float, int, int]] = deque()
        self._next_adapt: float | None = None
        self.calls = 0
        self.answers = 0
        self.drops = 0

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        now = snapshot.now
        working = snapshot.agents_ready + len(snapshot.busy_agent_ages)
        self._samples.append((now, snapshot.agents_ready - snapshot.waiting_callers, working))
        while self._samples and self._samples[0][0] < now - AVERAGE_SECONDS:
            self._samples.popleft()
        if self._next_adapt is None:
            self._next_adapt = now + ADAPT_SECONDS
        elif now >= self._next_adapt:
            self._next_adapt = now + ADAPT_SECONDS
            self._adapt(snapshot)
        dials, wanted = ratio_dials(snapshot, self.level)
        return PacingDecision(
            dials=dials,
            target_in_flight=max(wanted, 0.0),
            reason=f"adaptive dial level {self.level:.3f}",
            recheck_after=SAMPLE_SECONDS,  # its minute's average is of samples at this period
            inputs={
                "dial_level": self.level,
                "drop_rate_today": self.drop_rate,
                "answers_today": float(self.answers),
            },
        )

    @property
    def drop_rate(self) -> float:
        return self.drops / self.answers if self.answers else 0.0

    def _adapt(self, snapshot: PacingSnapshot) -> None:
        count = len(self._samples)
        differential = sum(s[1] for s in self._samples) / count
        agents = sum(s[2] for s in self._samples) / count
        level = self.level * (1.0 + differential / agents) if agents > 0 else self.level
        level = min(max(level, 1.0), self.max_level)
        target = self.drop_target if self.drop_target is not None else snapshot.abandon_target
        if self.calls > MIN_CALLS_FOR_DROP_RULE and self.drop_rate > target:
            level = 1.0 if self.rule is DropRule.HARD_LIMIT else level / 2.0
        self.level = max(level, 1.0)

    def observe(self, observation: Observation) -> None:
        if observation.dial_result is not None:
            self.calls += 1
            if observation.dial_result is DialResult.HUMAN:
                self.answers += 1
        if observation.abandoned:
            self.drops += 1
