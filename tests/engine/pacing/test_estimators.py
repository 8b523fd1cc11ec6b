import math
import random

import numpy as np
import pytest

from opendialer.engine.pacing.estimators import (
    AbandonLedger,
    BudgetState,
    DecayingDistribution,
    DecayingProportion,
    SurvivalTable,
    allowed_rate,
    person_share,
)


def test_proportion_converges_and_forgets() -> None:
    rng = random.Random(1)
    share = DecayingProportion(prior=0.5, prior_weight=20, half_life=600)
    for i in range(4000):
        share.add(i * 0.5, rng.random() < 0.2)
    assert share.mean == pytest.approx(0.2, abs=0.03)
    for i in range(4000, 8000):  # the answer rate drifts to 0.35
        share.add(i * 0.5, rng.random() < 0.35)
    assert share.mean == pytest.approx(0.35, abs=0.03)


def test_distribution_matches_known_gamma() -> None:
    rng = random.Random(2)
    durations = DecayingDistribution(
        (100.0,), prior_weight=1, half_life=3600, step=1.0, horizon=3600
    )
    for i in range(2000):
        durations.add(i * 5.0, rng.gammavariate(4.0, 45.0))  # mean 180, sd 90
    table = durations.table()
    assert table.mean == pytest.approx(180, rel=0.05)
    assert table.quantile(0.5) == pytest.approx(165, rel=0.06)  # gamma(4, 45) median ~165
    assert table.at(0) < 0.01
    assert table.at(10_000) == 1.0


def test_distribution_follows_drift() -> None:
    durations = DecayingDistribution((), prior_weight=0, half_life=300, step=0.25, horizon=120)
    for i in range(600):
        durations.add(float(i), 10.0)
    for i in range(600, 3000):
        durations.add(float(i), 20.0)
    assert durations.table().mean == pytest.approx(20.0, abs=0.5)


def exponential(mean: float, step: float = 0.25, horizon: float = 2000.0) -> SurvivalTable:
    grid = np.arange(int(horizon / step) + 1) * step
    return SurvivalTable(step, 1.0 - np.exp(-(grid + step) / mean), mean)


def point_mass(value: float, step: float = 0.25, horizon: float = 2000.0) -> SurvivalTable:
    grid = np.arange(int(horizon / step) + 1) * step
    return SurvivalTable(step, (grid >= value).astype(np.float64), value)


def test_ends_within_is_memoryless_for_an_exponential() -> None:
    table = exponential(100.0)
    chance = table.ends_within(np.array([0.0, 50.0, 300.0]), np.array([10.0, 30.0]))
    expected = [1.0 - math.exp(-h / 100.0) for h in (10.0, 30.0)]
    for row in chance:
        assert row == pytest.approx(expected, abs=0.005)


def test_ends_within_past_the_longest_duration_seen_falls_back_to_the_mean() -> None:
    table = point_mass(60.0)  # every call lasted exactly 60 s
    chance = table.ends_within(np.array([30.0, 90.0]), np.array([20.0, 40.0]))
    assert chance[0] == pytest.approx([0.0, 1.0])  # at 30 s: ends at 60 s, 30 s from now
    assert chance[1] == pytest.approx([20 / 60, 40 / 60])  # longer than ever: h / mean


def test_ends_within_then_adds_the_second_duration() -> None:
    talk, wrap = exponential(100.0), point_mass(20.0)
    ages, horizons = np.array([0.0, 120.0]), np.array([10.0, 25.0, 60.0])
    chance = talk.ends_within(ages, horizons, then=wrap)
    # The call must end within h - 20 s: never for h = 10 s, then memoryless.
    expected = [0.0, 1.0 - math.exp(-5 / 100.0), 1.0 - math.exp(-40 / 100.0)]
    for row in chance:
        assert row == pytest.approx(expected, abs=0.005)
    assert np.all(chance <= talk.ends_within(ages, horizons) + 1e-12)


def test_ends_within_then_past_the_longest_call_falls_back_to_both_means() -> None:
    talk, wrap = point_mass(60.0), point_mass(20.0)
    chance = talk.ends_within(np.array([90.0]), np.array([40.0]), then=wrap)
    assert chance[0] == pytest.approx([40 / 80])


def test_ledger_rolls_over_the_window() -> None:
    ledger = AbandonLedger(window=100)
    for t in range(10):
        ledger.live_answer(float(t))
    ledger.abandoned(5.0)
    ledger.answering_machine(8.0)
    assert ledger.counts(50) == (10, 1, 1)
    assert ledger.counts(106) == (4, 0, 1)
    assert ledger.counts(109) == (1, 0, 0)


def test_person_share_from_the_calls_agents_heard() -> None:
    assert person_share(live=0, abandoned=0, machines=0) == 1.0
    assert person_share(live=1, abandoned=0, machines=1) == pytest.approx(0.5)
    # 100 answers: 10 abandoned (never heard), 54 of the 90 heard were machines: 40 % people.
    assert person_share(live=100, abandoned=10, machines=54) == pytest.approx(37 / 91)
    assert person_share(live=2, abandoned=2, machines=3) == pytest.approx(1 / 4)


def test_budget_counts_amd_false_positives() -> None:
    budget = BudgetState(live=980, abandoned=5, target=0.03, amd_false_positive=0.02)
    assert budget.persons == pytest.approx(1000)
    assert budget.left == pytest.approx(30 - 20 - 5)


def test_allowed_rate_shrinks_to_zero_as_the_budget_is_spent() -> None:
    def rate(abandoned: int) -> float:
        budget = BudgetState(live=1000, abandoned=abandoned, target=0.03, amd_false_positive=0.0)
        return allowed_rate(budget, confidence=1.5, lookahead=300, max_factor=2)

    rates = [rate(a) for a in (0, 20, 40, 55, 60, 80)]
    assert rates == sorted(rates, reverse=True)
    assert 0.03 < rates[0] <= 0.06  # spends the saved budget, at most twice the steady rate
    assert rates[-1] == 0.0


def test_budget_in_people_when_some_live_answers_were_machines() -> None:
    budget = BudgetState(
        live=1000, abandoned=20, target=0.03, amd_false_positive=0.0, person_share=0.4
    )
    assert budget.persons == pytest.approx(400)
    assert budget.left == pytest.approx(12 - 8)


def test_allowed_rate_keeps_a_margin_for_which_abandons_were_people() -> None:
    def rate(share: float) -> float:
        budget = BudgetState(
            live=1000, abandoned=10, target=0.03, amd_false_positive=0.0, person_share=share
        )
        return allowed_rate(budget, confidence=3.0, lookahead=300, max_factor=10)

    # Fewer people behind the same answers: the same rate is a smaller count, more at chance.
    rates = [rate(q) for q in (1.0, 0.7, 0.4, 0.2)]
    assert rates == sorted(rates, reverse=True) and rates[-1] < rates[0] - 0.003
    # The planned people plus 3 standard deviations (planned, and which of the 10 abandons
    # were people) fill what 3 % of the people allows.
    planned = rate(0.4) * 1000 * 0.4
    spare = 0.03 * 0.4 * 2000 - 0.4 * 10
    assert planned + 3.0 * math.sqrt(10 * 0.4 * 0.6 + planned) == pytest.approx(spare)
    assert rate(1.0) == allowed_rate(
        BudgetState(live=1000, abandoned=10, target=0.03, amd_false_positive=0.0),
        confidence=3.0,
        lookahead=300,
        max_factor=10,
    )


def test_allowed_rate_keeps_a_margin_for_unseen_amd_false_positives() -> None:
    def rate(amd_false_positive: float, confidence: float) -> float:
        budget = BudgetState(
            live=2000, abandoned=0, target=0.03, amd_false_positive=amd_false_positive
        )
        return allowed_rate(budget, confidence=confidence, lookahead=300, max_factor=10)

    # Without AMD and without a margin, the whole window's 3 % goes to the next answers.
    assert rate(0.0, 0.0) == pytest.approx(0.03 * 4000 / 2000)
    # With 2 % of people hung up on by AMD, only the 1 % left can be spent, less a margin
    # that grows with the confidence asked for.
    assert rate(0.02, 0.0) == pytest.approx(0.01 * 4000 / 0.98 / 2000)
    # What is planned plus z standard deviations of what is random fills the spare budget.
    planned = rate(0.02, 3.0) * 2000
    persons = 4000 / 0.98
    spare, unseen = 0.01 * persons, persons * 0.02 * 0.98
    assert planned + 3.0 * math.sqrt(unseen + planned) == pytest.approx(spare)
    margins = [rate(0.02, z) for z in (0.0, 1.0, 2.0, 3.0)]
    assert margins == sorted(margins, reverse=True)
    assert margins[-1] < margins[0] - 0.005
