"""Predictive pacing under an abandonment cap: a model of the next half minute, and a budget.

Each decision predicts, for one more dial launched now, the probability that it is answered by
a person who then finds no agent within the grace period: the calls ahead of it (waiting
callers, and answers from the dials already in flight, each weighted by its age) against the
agents free now plus those whose calls are about to end (from each busy agent's age, whether
the agent is in wrap-up, and the talk and wrap-up time distributions). The n-th extra dial is
launched while that risk stays below a threshold; the threshold follows the abandonment rate
the campaign may still spend (its budget over the rolling 24 h, and over 30 days when the
caller keeps that tally), which shrinks to nothing as the budget runs out; once the budget is
spent, only dials an agent is ready for are launched. The policy never plans more dials than
there are contacts to dial, learns only from the dials the caller reports placed, and on a day
whose remaining volume is small (the supply bounds it) dials only for ready agents whenever one
more abandon could take the day over the cap. See ``docs/pacing.md``.
"""

import math
from dataclasses import dataclass, replace
from functools import cache
from typing import NamedTuple

import numpy as np

from opendialer.engine.pacing.base import (
    DialResult,
    Observation,
    PacingDecision,
    PacingSnapshot,
    line_cap,
)
from opendialer.engine.pacing.estimators import (
    AbandonLedger,
    BudgetState,
    DecayingDistribution,
    DecayingProportion,
    FloatArray,
    SurvivalTable,
    allowed_rate,
    decay,
    person_share,
)

SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True, slots=True)
class PredictiveSettings:
    """One set of defaults for every campaign; only the abandonment target comes from it."""

    answer_prior: float = 0.4
    answer_prior_weight: float = 20.0
    answer_half_life: float = 1800.0
    ring_half_life: float = 1800.0
    handle_half_life: float = 2700.0
    handle_prior: tuple[float, ...] = (60.0, 120.0, 180.0, 240.0, 300.0, 420.0, 600.0)
    wrap_prior: tuple[float, ...] = (5.0, 10.0, 20.0, 30.0, 45.0, 60.0)
    """Wrap-up times, when the caller tells them from talk time."""
    handle_prior_weight: float = 3.0
    quantiles: int = 6
    confidence: float = 3.0
    """z for the margin on the budget for what is still random: the abandons to come and the
    AMD false positives, which are never seen one by one."""
    lookahead: float = 300.0
    """The budget is spread over at least this many more live answers (or as many as so far)."""
    max_rate_factor: float = 2.0
    """Never plan more than this times the campaign's steady abandonment rate."""
    brake_risk: float = 0.001
    """With no budget to plan with, a dial is launched only if its abandonment risk is below
    this; with the budget spent, also only if an agent is ready for it."""
    shape_prior: float = 0.5
    shape_gain: float = 0.01
    calibration_prior: float = 5.0
    """Weight, in predicted abandons, of the prior ratio of observed to predicted abandons."""
    calibration_start: float = 2.0
    """The prior ratio: one dial's risk, taken alone, misses the dials launched after it."""
    calibration_half_life: float = 7200.0
    max_new_per_decision: int = 500
    recheck_seconds: float = 0.5
    """The grid of a campaign's looks between events (the engine ticked at this period before
    it woke on events): a decision that dials asks again after this long."""
    recheck_steps: int = 8
    """A hold forecasts the next dial's risk at this many grid instants ahead (4 s) and asks
    to be looked at again at the first where it would dial, or at the last. Nine in ten of the
    simulator's gaps between events are shorter, so a quiet stretch costs about one forecast;
    a longer horizon saves few looks more and costs more per forecast (docs/engine.md,
    session 17). 0: no forecast, every ``recheck_seconds`` while anything is under way (for a
    caller that decides on its own fixed tick and never reads ``recheck_after``)."""


class Pool(NamedTuple):
    """What the next ``tau`` seconds hold, at a few answer times ``tau``."""

    taus: tuple[float, ...]
    demand_mean: tuple[float, ...]
    """Waiting callers plus expected answers (needing an agent) from dials in flight by tau."""
    demand_var: tuple[float, ...]
    new_answer: tuple[float, ...]
    """P(a dial launched now has been answered by a person by tau)."""
    releases: tuple[float, ...]
    """Expected agents freed by tau + grace."""
    releases_var: tuple[float, ...]


class Ahead(NamedTuple):
    """The dials in flight's answers and the busy agents' releases (expected, and their
    variances) by each answer time (columns) as seen from now and from each later grid instant
    of a forecast (rows; ``offsets[0]`` is 0: now)."""

    offsets: FloatArray
    demand: FloatArray
    demand_var: FloatArray
    releases: FloatArray
    releases_var: FloatArray


def _tail(mean: float, var: float, free: float) -> float:
    """P(integer Y >= free) for Y with this mean and variance, by a normal approximation."""
    if var < 1e-12:
        return 1.0 if mean >= free - 0.5 else 0.0
    z = (free - 0.5 - mean) / math.sqrt(var)
    return 0.5 * math.erfc(z / SQRT2)


@cache
def _erfc() -> np.ufunc:
    """``math.erfc`` over an array (numpy has no erfc, and scipy is only the benchmarks'
    dependency): the very function :func:`_tail` calls."""
    return np.frompyfunc(math.erfc, 1, 1)


def _tails(mean: FloatArray, var: FloatArray, free: float) -> FloatArray:
    """:func:`_tail` of each element: the same floating-point operations in the same order."""
    flat = var < 1e-12
    z = (free - 0.5 - mean) / np.sqrt(np.where(flat, 1.0, var)) / SQRT2
    tails = 0.5 * _erfc()(z).astype(np.float64)
    return np.where(flat, np.where(mean >= free - 0.5, 1.0, 0.0), tails)


def _aged(ages: FloatArray, offsets: FloatArray) -> FloatArray:
    """Each of ``ages`` at each offset later (offset-major, flat; at offset 0, the very
    ages: 0.0 + a is a)."""
    return (offsets[:, None] + ages[None, :]).ravel()


def _summed(chance: FloatArray, offsets: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Sums over the rows of ``chance`` (one per dial or agent) and of its variances, per
    offset (:func:`_aged` stacked the rows of the offsets): a row per offset."""
    chance = chance.reshape(len(offsets), -1, chance.shape[-1])
    return chance.sum(axis=1), (chance * (1.0 - chance)).sum(axis=1)


def _nothing(taus: FloatArray, offsets: FloatArray) -> tuple[FloatArray, FloatArray]:
    shape = (len(offsets), len(taus))
    return np.zeros(shape), np.zeros(shape)


def _ring_times(prior: tuple[float, ...], half_life: float) -> DecayingDistribution:
    return DecayingDistribution(
        prior, prior_weight=2.0, half_life=half_life, step=0.25, horizon=180.0
    )


def waiting_window(snapshot: PacingSnapshot) -> float:
    """How long a person, once classified, may wait for an agent: the grace less what AMD's
    decision has already spent of it."""
    return max(snapshot.grace_seconds - snapshot.amd_decision_seconds, 0.0)


def guaranteed_dials(snapshot: PacingSnapshot) -> int:
    """Dials that cannot be abandoned: no more in flight than agents ready for them."""
    in_flight = len(snapshot.dials_in_progress)
    return max(0, snapshot.agents_ready - snapshot.waiting_callers - in_flight)


def _durations(prior: tuple[float, ...], s: PredictiveSettings) -> DecayingDistribution:
    """Handle, talk or wrap-up times of the recent past."""
    return DecayingDistribution(
        prior,
        prior_weight=s.handle_prior_weight,
        half_life=s.handle_half_life,
        step=1.0,
        horizon=4 * 3600.0,
    )


class PredictivePolicy:
    name = "predictive"

    def __init__(self, settings: PredictiveSettings | None = None) -> None:
        s = self.settings = settings or PredictiveSettings()
        self.answer = DecayingProportion(s.answer_prior, s.answer_prior_weight, s.answer_half_life)
        self.human_ring = _ring_times((4.0, 6.0, 8.0, 10.0, 13.0, 17.0), s.ring_half_life)
        self.other_ring = _ring_times((4.0, 12.0, 25.0, 30.0), s.ring_half_life)
        self.handle = _durations(s.handle_prior, s)
        self.talk = _durations(s.handle_prior, s)
        self.wrap = _durations(s.wrap_prior, s)
        self.day = AbandonLedger(86_400.0)
        self.shape = s.shape_prior
        self._realized = 0.0
        self._predicted = 0.0
        self._calibrated_at = 0.0
        self._taus: tuple[SurvivalTable, FloatArray, FloatArray] | None = None
        self._unplaced: tuple[list[float], float, float] = ([], 0.0, 0.0)
        """The last decision's dial risks, threshold and p, until the caller says how many of
        its dials it placed."""

    # -- observations

    def observe(self, observation: Observation) -> None:
        at = observation.at
        if observation.dial_result is not None:
            human = observation.dial_result is DialResult.HUMAN
            self.answer.add(at, human)
            if observation.ring_seconds is not None:
                ring = self.human_ring if human else self.other_ring
                ring.add(at, observation.ring_seconds)
        if observation.live_answer:
            self.day.live_answer(at)
        if observation.handle_seconds is not None:
            self.handle.add(at, observation.handle_seconds)
            if observation.wrap_up_seconds is not None:
                wrap = observation.wrap_up_seconds
                self.talk.add(at, observation.handle_seconds - wrap)
                self.wrap.add(at, wrap)
        if observation.answering_machine:
            self.day.answering_machine(at)
        if observation.abandoned:
            self.day.abandoned(at)
            self._age_calibration(at)
            self._realized += 1.0
        if observation.dials_placed is not None:
            risks, threshold, p = self._unplaced
            self._learn_launched(risks[: observation.dials_placed], threshold, p)
            self._unplaced = ([], 0.0, 0.0)

    def _age_calibration(self, now: float) -> None:
        kept = decay(now - self._calibrated_at, self.settings.calibration_half_life)
        self._realized *= kept
        self._predicted *= kept
        self._calibrated_at = max(now, self._calibrated_at)

    @property
    def calibration(self) -> float:
        """Observed ÷ predicted abandons (with a prior), within [0.5, 4]."""
        s = self.settings
        ratio = (self._realized + s.calibration_prior * s.calibration_start) / (
            self._predicted + s.calibration_prior
        )
        return min(max(ratio, 0.5), 4.0)

    # -- the decision

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        if snapshot.dialable_now == 0:
            return self._no_contacts(snapshot)
        now = snapshot.now
        self._age_calibration(now)
        p = self.answer.mean
        budget, rate = self._budget(snapshot)
        day = self._day(snapshot)
        kappa = self.calibration
        threshold = rate / self.shape if rate > 0 else self.settings.brake_risk
        room = self._room_for_one_more(day, snapshot, p)
        braked = budget.left < 0 or room < 0  # over the cap, or one abandon from it on a small day
        ahead = self._ahead(snapshot, p, self._look_offsets(braked))
        pool = self._pool(snapshot, p, ahead)
        free = snapshot.agents_ready
        dials, risks = self._count_dials(pool, free, threshold, kappa)
        # Braked, only the dials agents are ready for; else never fewer (they cannot be abandoned).
        dials = guaranteed_dials(snapshot) if braked else max(dials, guaranteed_dials(snapshot))
        capped = line_cap(snapshot, dials)
        self._unplaced = (risks[:capped], threshold, p)
        next_risk = risks[min(capped, len(risks) - 1)]
        mid = len(pool.taus) // 2
        wrap_ups = snapshot.wrap_up_ages or ()
        inputs = {
            "p_live": p,
            "expected_releases": pool.releases[mid],
            "agents_in_wrap_up": float(len(wrap_ups) - wrap_ups.count(None)),
            "expected_answers": pool.demand_mean[mid] - snapshot.waiting_callers,
            "answer_delay": pool.taus[mid],
            "waiting_window": waiting_window(snapshot),
            "amd_false_positive_rate": snapshot.amd_false_positive_rate,
            "handle_mean": self.handle.table().mean,
            "budget_left": budget.left,
            "person_share": budget.person_share,
            "allowed_rate": rate,
            "risk_threshold": threshold,
            "next_dial_risk": min(next_risk * kappa, 1.0),
            "calibration": kappa,
            "day_live": float(day.live),
            "day_abandoned": float(day.abandoned),
            "room_for_one_more": room,
        }
        in_flight = len(snapshot.dials_in_progress)
        limits = None if braked else (kappa, threshold)
        return PacingDecision(
            dials=capped,
            target_in_flight=float(in_flight + capped),
            reason=self._reason(snapshot, capped, dials, inputs),
            inputs=inputs,
            recheck_after=self._recheck_after(snapshot, capped, limits, ahead),
        )

    def _look_offsets(self, braked: bool) -> FloatArray:
        """0 (the decision's own look), then the forecast's grid instants unless no hold can
        need them (braked, or no forecast): the forecast of a hold and the decision share one
        pass over the dials and agents, the decision's numbers its first row."""
        s = self.settings
        if braked or s.recheck_steps < 1:
            return np.zeros(1)
        return s.recheck_seconds * np.arange(s.recheck_steps + 1, dtype=np.float64)

    def _recheck_after(
        self,
        snapshot: PacingSnapshot,
        dials: int,
        limits: tuple[float, float] | None,
        ahead: Ahead,
    ) -> float | None:
        """When to look again if nothing happens before (an event is looked at anyway).

        A decision that dials: after ``recheck_seconds`` (the snapshot is from before its
        dials: a campaign that starts dialling from rest would otherwise not look again until
        its first call resolved). With nothing under way (no dial, call, wrap-up or waiting
        caller), only an event changes the answer: never. A hold: at the first grid instant
        where the next dial's forecast risk (times ``kappa``) is within the ``threshold`` of
        ``limits``, else at the horizon; with the brake on (``limits`` None) the dials are
        those agents are ready for, which only an event changes: at the horizon, a heartbeat
        for a day's window that rolls on. The forecast's rows are ``ahead``'s after the first.
        """
        s = self.settings
        if dials:
            return s.recheck_seconds
        if not (snapshot.dials_in_progress or snapshot.busy_agent_ages or snapshot.waiting_callers):
            return None
        if s.recheck_steps < 1:
            return s.recheck_seconds
        offsets = s.recheck_seconds * np.arange(1, s.recheck_steps + 1, dtype=np.float64)
        if limits is None:
            return float(offsets[-1])
        kappa, threshold = limits
        dialling = np.flatnonzero(self._risks(snapshot, ahead)[1:] * kappa <= threshold)
        return float(offsets[dialling[0]] if len(dialling) else offsets[-1])

    def next_dial_risks(self, snapshot: PacingSnapshot, offsets: FloatArray) -> FloatArray:
        """The risk of one new dial (none before it) at ``snapshot.now + offset`` for each
        offset, were nothing to happen until then: every dial, call and wrap-up aged by the
        offset, the estimates as they are (they move only with observations, which come with
        events). At offset 0 it is :meth:`decide`'s next-dial risk of a hold, bit for bit."""
        return self._risks(snapshot, self._ahead(snapshot, self.answer.mean, offsets))

    def _risks(self, snapshot: PacingSnapshot, ahead: Ahead) -> FloatArray:
        """:meth:`next_dial_risks` at ``ahead``'s offsets."""
        mean = ahead.demand + snapshot.waiting_callers - ahead.releases
        tails = _tails(mean, ahead.demand_var + ahead.releases_var, snapshot.agents_ready)
        total = np.zeros(len(ahead.offsets))
        for column in tails.T:  # in decide's order: a sum of the taus' tails, left to right
            total += column
        return total / float(tails.shape[1])

    def _no_contacts(self, snapshot: PacingSnapshot) -> PacingDecision:
        """Nothing to dial: no model to run, nothing to learn."""
        self._unplaced = ([], 0.0, 0.0)
        day = self._day(snapshot)
        in_flight = len(snapshot.dials_in_progress)
        return PacingDecision(
            dials=0,
            target_in_flight=float(in_flight),
            reason=f"no contacts to dial: {snapshot.agents_ready} ready, {in_flight} in flight; "
            f"budget left {day.left:.1f}",
            inputs={
                "p_live": self.answer.mean,
                "budget_left": day.left,
                "day_live": float(day.live),
                "day_abandoned": float(day.abandoned),
            },
        )

    def _day(self, snapshot: PacingSnapshot) -> BudgetState:
        """The day's ledger: the caller's (calendar day, kept across restarts) or our own."""
        if snapshot.day_live_answers is not None and snapshot.day_abandoned is not None:
            live, abandoned = snapshot.day_live_answers, snapshot.day_abandoned
            machines = snapshot.day_machines or 0
        else:
            live, abandoned, machines = self.day.counts(snapshot.now)
        share = person_share(live, abandoned, machines)
        return BudgetState(
            live, abandoned, snapshot.abandon_target, snapshot.amd_false_positive_rate, share
        )

    def _budget(self, snapshot: PacingSnapshot) -> tuple[BudgetState, float]:
        """The binding window, the day or the 30-day period, and the rate it allows."""
        day = self._day(snapshot)
        windows = [day]
        if snapshot.period_live_answers is not None and snapshot.period_abandoned is not None:
            period_live, period_abandoned = snapshot.period_live_answers, snapshot.period_abandoned
            # The period's person share is not kept: today's stands for it.
            windows.append(replace(day, live=period_live, abandoned=period_abandoned))
        supply = self._answers_ahead(snapshot, self.answer.mean)
        # Least room first; with none in either, the one that is over the cap (if one is).
        return min(
            ((w, self._allowed(w, supply)) for w in windows), key=lambda wr: (wr[1], wr[0].left)
        )

    def _allowed(self, budget: BudgetState, supply: float | None) -> float:
        s = self.settings
        return allowed_rate(
            budget,
            confidence=s.confidence,
            lookahead=s.lookahead,
            max_factor=s.max_rate_factor,
            supply=supply,
        )

    @staticmethod
    def _answers_ahead(snapshot: PacingSnapshot, p: float) -> float | None:
        """Live answers the contacts on hand can still bring (None: no limit known)."""
        if snapshot.dialable_soon is None:
            return None
        return p * max(snapshot.dialable_soon, 0)

    def _room_for_one_more(self, day: BudgetState, snapshot: PacingSnapshot, p: float) -> float:
        """The low-volume rule: abandoned people the day could still take at its expected
        final volume, after one more abandon (negative: that abandon would break the cap).

        The volume still to come is the live answers the supply can bring, or the usual
        lookahead when the supply is not known; so on a full list it never binds.
        """
        ahead = max(float(day.live), self.settings.lookahead)
        supply = self._answers_ahead(snapshot, p)
        if supply is not None:
            ahead = min(ahead, supply)
        coming = day.person_share * ahead / (1.0 - day.amd_false_positive)
        return day.left + (day.target - day.amd_false_positive) * coming - 1.0

    def _count_dials(
        self, pool: Pool, free: int, threshold: float, kappa: float
    ) -> tuple[int, list[float]]:
        """Launch the k-th new dial while its predicted risk (times calibration) <= threshold."""
        risks: list[float] = []
        count = len(pool.taus)
        limit = self.settings.max_new_per_decision
        while len(risks) <= limit:
            ahead = len(risks)
            total = 0.0
            for i in range(count):
                n = pool.new_answer[i]
                mean = pool.demand_mean[i] + ahead * n - pool.releases[i]
                var = pool.demand_var[i] + ahead * n * (1 - n) + pool.releases_var[i]
                total += _tail(mean, var, free)
            risk = total / count
            risks.append(risk)
            if risk * kappa > threshold:
                return ahead, risks
        return limit, risks

    def _learn_launched(self, risks: list[float], threshold: float, p: float) -> None:
        if threshold <= 0:
            return
        gain = self.settings.shape_gain
        for risk in risks:
            ratio = min(max(risk * self.calibration / threshold, 0.05), 1.0)
            self.shape += gain * (ratio - self.shape)
            self._predicted += p * risk

    def _ahead(self, snapshot: PacingSnapshot, p: float, offsets: FloatArray) -> Ahead:
        human = self.human_ring.table()
        taus, _ = self._answer_times(human)
        demand, demand_var = self._in_flight(snapshot, p, human, taus, offsets)
        releases, releases_var = self._releases(snapshot, taus, offsets)
        return Ahead(offsets, demand, demand_var, releases, releases_var)

    def _pool(self, snapshot: PacingSnapshot, p: float, ahead: Ahead) -> Pool:
        """The decision's look: ``ahead``'s first row (offset 0)."""
        taus, answered = self._answer_times(self.human_ring.table())
        return Pool(
            taus=tuple(taus.tolist()),
            demand_mean=tuple((ahead.demand[0] + snapshot.waiting_callers).tolist()),
            demand_var=tuple(ahead.demand_var[0].tolist()),
            new_answer=tuple((p * answered).tolist()),
            releases=tuple(ahead.releases[0].tolist()),
            releases_var=tuple(ahead.releases_var[0].tolist()),
        )

    def _answer_times(self, human: SurvivalTable) -> tuple[FloatArray, FloatArray]:
        """Answer times at evenly spaced quantiles, and the table's P(answered by then) at
        each (cached with the table they come from)."""
        if self._taus is None or self._taus[0] is not human:
            count = self.settings.quantiles
            taus = np.array([human.quantile((i + 0.5) / count) for i in range(count)])
            self._taus = (human, taus, human.at_many(taus))
        return self._taus[1], self._taus[2]

    def _in_flight(
        self,
        snapshot: PacingSnapshot,
        p: float,
        human: SurvivalTable,
        taus: FloatArray,
        offsets: FloatArray,
    ) -> tuple[FloatArray, FloatArray]:
        """Expected answers (and their variance) by each tau from the dials in flight, a row
        for each of ``offsets``, the dials aged by it.

        A dial of age ``a`` is still unresolved with probability ``S(a)``; it is answered by a
        person within ``tau`` with probability ``p (G(a + tau) - G(a)) / S(a)``.
        """
        if not snapshot.dials_in_progress:
            return _nothing(taus, offsets)
        ages = _aged(np.array(snapshot.dials_in_progress, dtype=np.float64), offsets)
        answered = human.at_many(ages)
        other = self.other_ring.table().at_many(ages)
        alive = np.maximum(p * (1.0 - answered) + (1.0 - p) * (1.0 - other), 1e-9)
        later = human.at_many_consuming(ages[:, None] + taus[None, :])
        np.subtract(later, answered[:, None], out=later)
        chance = p * later
        np.divide(chance, alive[:, None], out=chance)
        chance.clip(0.0, 1.0, out=chance)
        return _summed(chance, offsets)

    def _releases(
        self, snapshot: PacingSnapshot, taus: FloatArray, offsets: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Expected agents freed (and variance) by each tau + grace, from busy agents' ages, a
        row for each of ``offsets``, every age grown by it.

        An agent busy for ``a`` seconds is free by ``a + h`` with probability
        ``1 - S_H(a + h) / S_H(a)``. When the caller tells talk from wrap-up, an agent in
        wrap-up for ``w`` seconds is free with probability ``1 - S_W(w + h) / S_W(w)``, and one
        still talking after ``a`` seconds must end the call and then the wrap-up.
        """
        if not snapshot.busy_agent_ages:
            return _nothing(taus, offsets)
        horizons = taus + waiting_window(snapshot)
        ages = _aged(np.array(snapshot.busy_agent_ages, dtype=np.float64), offsets)
        phases = snapshot.wrap_up_ages
        if phases is None:
            chance = self.handle.table().ends_within(ages, horizons)
        else:
            wrapping = np.array([w is not None for w in phases], dtype=bool)
            wrap_ages = _aged(np.array([w or 0.0 for w in phases], dtype=np.float64), offsets)
            wrapping = np.tile(wrapping, len(offsets))
            talk, wrap = self.talk.table(), self.wrap.table()
            chance = np.empty((len(ages), len(horizons)))
            chance[wrapping] = wrap.ends_within(wrap_ages[wrapping], horizons)
            chance[~wrapping] = talk.ends_within(ages[~wrapping], horizons, then=wrap)
        return _summed(chance, offsets)

    def _reason(
        self, snapshot: PacingSnapshot, dials: int, wanted: int, inputs: dict[str, float]
    ) -> str:
        state = (
            f"{snapshot.agents_ready} ready, {len(snapshot.dials_in_progress)} in flight "
            f"(~{inputs['expected_answers']:.1f} answers due), "
            f"~{inputs['expected_releases']:.1f} agents freeing "
            f"({inputs['agents_in_wrap_up']:.0f} in wrap-up), p_live {inputs['p_live']:.3f}"
        )
        risk = (
            f"next dial's abandon risk {inputs['next_dial_risk']:.2%} vs "
            f"{inputs['risk_threshold']:.2%} allowed"
        )
        if inputs["budget_left"] < 0:
            head = "brake: abandonment budget spent, dialling only for ready agents"
        elif inputs["room_for_one_more"] < 0:
            head = "low volume: one more abandon could break the day's cap; only for ready agents"
        elif inputs["allowed_rate"] <= 0:
            head = "brake: what is left of the budget is the margin for chance"
        elif dials == 0:
            head = "hold"
        else:
            head = f"dial {dials}"
        capped = f" (wanted {wanted}, line limits)" if wanted > dials else ""
        return f"{head}{capped}: {state}; {risk}; budget left {inputs['budget_left']:.1f}"
