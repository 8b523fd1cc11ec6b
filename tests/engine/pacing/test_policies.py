import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendialer.engine.pacing.base import (
    DialResult,
    Observation,
    PacingPolicy,
    PacingSnapshot,
    ProgressivePolicy,
)
from opendialer.engine.pacing.baselines import (
    DropRule,
    FixedRatioPolicy,
    VicidialAdaptivePolicy,
)
from opendialer.engine.pacing.predictive import PredictivePolicy
from opendialer.media import figures as amd_figures


def snapshot(**fields: object) -> PacingSnapshot:
    base: dict[str, object] = {
        "now": 1000.0,
        "agents_logged_in": 10,
        "agents_ready": 10,
        "busy_agent_ages": (),
        "dials_in_progress": (),
        "waiting_callers": 0,
        "abandon_target": 0.03,
    }
    base.update(fields)
    return PacingSnapshot(**base)  # type: ignore[arg-type]


def trained(policy: PredictivePolicy, abandoned: int = 0) -> PredictivePolicy:
    """A policy that has seen an hour of a p = 0.2 campaign."""
    for i in range(2000):
        at = i * 1.8
        human = i % 5 == 0
        policy.observe(
            Observation(
                at=at,
                dial_result=DialResult.HUMAN if human else DialResult.NO_ANSWER,
                ring_seconds=8.0 if human else 25.0,
                live_answer=human,
            )
        )
        if human:
            policy.observe(Observation(at=at, handle_seconds=150.0 + (i % 7) * 10))
    for _ in range(abandoned):
        policy.observe(Observation(at=3599.0, abandoned=True))
    return policy


def test_predictive_dials_ahead_when_agents_are_free() -> None:
    decision = trained(PredictivePolicy()).decide(snapshot(now=3600.0))
    assert 10 < decision.dials <= 60  # about ready / p, less a margin
    for key in ("p_live", "expected_releases", "budget_left", "allowed_rate"):
        assert key in decision.inputs
    assert decision.inputs["p_live"] == pytest.approx(0.2, abs=0.02)
    assert decision.reason.startswith("dial")


def trained_with_wrap_up(policy: PredictivePolicy) -> PredictivePolicy:
    """An hour of p = 0.2, calls of 150-210 s talk then exactly 30 s of wrap-up."""
    trained(policy)
    for i in range(400):
        talk = 150.0 + (i % 7) * 10
        policy.observe(Observation(at=i * 9.0, handle_seconds=talk + 30.0, wrap_up_seconds=30.0))
    return policy


def test_predictive_counts_agents_in_wrap_up_as_about_to_free() -> None:
    policy = trained_with_wrap_up(PredictivePolicy())
    ages = (190.0,) * 8  # eight agents 190 s into their calls, none ready
    busy = {"now": 3600.0, "agents_ready": 0, "busy_agent_ages": ages}
    unknown = policy.decide(snapshot(**busy))
    talking = policy.decide(snapshot(**busy, wrap_up_ages=(None,) * 8))
    wrapping = policy.decide(snapshot(**busy, wrap_up_ages=(25.0,) * 8))
    # 25 s into a 30 s wrap-up every agent frees within seconds; still talking, none can.
    assert wrapping.inputs["expected_releases"] > 6
    assert talking.inputs["expected_releases"] < 0.5
    assert talking.inputs["expected_releases"] < unknown.inputs["expected_releases"]
    assert wrapping.dials > unknown.dials >= talking.dials
    assert wrapping.inputs["agents_in_wrap_up"] == 8
    assert "8 in wrap-up" in wrapping.reason


def test_predictive_stops_when_budget_spent_and_nobody_frees() -> None:
    policy = trained(PredictivePolicy(), abandoned=40)  # 40 of 400 live answers: 10 %
    busy = snapshot(
        now=3600.0,
        agents_ready=0,
        busy_agent_ages=tuple(5.0 + i for i in range(10)),  # all just started 150 s calls
        dials_in_progress=(1.0, 2.0),
    )
    decision = policy.decide(busy)
    assert decision.dials == 0
    assert decision.inputs["allowed_rate"] == 0.0
    assert decision.inputs["budget_left"] < 0
    assert decision.reason.startswith("brake")


def test_a_fresh_campaign_has_nothing_spent_and_dials_ahead() -> None:
    decision = PredictivePolicy().decide(snapshot(now=0.0))
    assert decision.inputs["budget_left"] == 0.0
    assert decision.dials > 10  # more than the ten ready agents: not the spent-budget brake
    assert decision.reason.startswith("dial")


def test_predictive_counts_its_budget_in_people_when_agents_find_machines() -> None:
    people, machines = trained(PredictivePolicy(), 5), trained(PredictivePolicy(), 5)
    for i in range(240):  # agents found 240 of the 395 answers they took were machines
        machines.observe(Observation(at=3000.0 + i, answering_machine=True))
    plain, thinned = (p.decide(snapshot(now=3600.0)).inputs for p in (people, machines))
    assert plain["person_share"] == 1.0
    assert thinned["person_share"] == pytest.approx(156 / 396)
    # The same rate, fewer people behind it: a smaller count left, more of it left to chance.
    assert thinned["budget_left"] == pytest.approx(plain["budget_left"] * 156 / 396)
    assert 0 < thinned["allowed_rate"] < plain["allowed_rate"]


def spent(policy: PredictivePolicy) -> PredictivePolicy:
    for _ in range(40):  # 40 abandons of 400 live answers: 10 %
        policy.observe(Observation(at=3599.0, abandoned=True))
    return policy


def test_predictive_with_the_budget_spent_dials_only_for_ready_agents() -> None:
    fresh = trained_with_wrap_up(PredictivePolicy())
    over = spent(trained_with_wrap_up(PredictivePolicy()))
    state = {
        "now": 3600.0,
        "agents_ready": 6,
        "dials_in_progress": (1.0, 2.0),
        "waiting_callers": 1,
        "busy_agent_ages": (200.0,) * 10,
        "wrap_up_ages": (28.0,) * 10,  # ten agents about to free
    }
    assert fresh.decide(snapshot(**state)).dials > 3  # the model dials for them too
    decision = over.decide(snapshot(**state))
    assert decision.dials == 6 - 1 - 2  # ready agents not yet spoken for
    assert decision.inputs["budget_left"] < 0
    assert decision.reason.startswith("brake: abandonment budget spent")
    # Agents about to free add uncertainty, never fewer dials than there are ready agents.
    quiet = {**state, "dials_in_progress": (), "waiting_callers": 0, "agents_ready": 2}
    assert over.decide(snapshot(**{**quiet, "wrap_up_ages": (10.0,) * 10})).dials == 2


def test_predictive_never_dials_fewer_than_the_ready_agents_not_spoken_for() -> None:
    policy = trained_with_wrap_up(PredictivePolicy())
    for answered in range(400):  # a day hit by AMD errors: the budget left is all margin
        policy.observe(Observation(at=3000.0 + answered, live_answer=True))
    state = {"now": 3600.0, "agents_ready": 2, "amd_false_positive_rate": 0.025}
    busy = {"busy_agent_ages": (200.0,) * 8, "wrap_up_ages": (10.0,) * 8}  # freeing, or not
    decision = policy.decide(snapshot(**state, **busy))
    assert decision.inputs["allowed_rate"] == 0.0 and decision.inputs["budget_left"] > 0
    assert decision.dials >= 2


def test_a_30_day_period_over_the_cap_brakes_even_when_today_is_fine() -> None:
    policy = trained_with_wrap_up(PredictivePolicy())  # today: 400 live answers, none abandoned
    state = {
        "now": 3600.0,
        "agents_ready": 3,
        "amd_false_positive_rate": 0.02,
        "period_live_answers": 10_000,
        "period_abandoned": 200,  # 2 % seen + 2 % AMD estimate: over 3 %
    }
    decision = policy.decide(snapshot(**state))
    assert decision.inputs["budget_left"] < 0
    assert decision.dials == 3
    assert decision.reason.startswith("brake: abandonment budget spent")


def test_wrap_up_ages_must_match_the_busy_agents() -> None:
    with pytest.raises(ValueError, match="one entry per busy agent"):
        snapshot(busy_agent_ages=(1.0, 2.0), wrap_up_ages=(None,))


@settings(max_examples=60, deadline=None)
@given(
    ready=st.integers(0, 30),
    busy=st.integers(0, 30),
    flight=st.integers(0, 40),
    waiting=st.integers(0, 3),
    lines=st.none() | st.integers(0, 80),
    coefficient=st.none() | st.floats(0.5, 4.0),
    max_waiting=st.none() | st.integers(0, 3),
)
def test_no_policy_exceeds_the_line_limits(
    ready: int,
    busy: int,
    flight: int,
    waiting: int,
    lines: int | None,
    coefficient: float | None,
    max_waiting: int | None,
) -> None:
    snap = snapshot(
        agents_logged_in=ready + busy,
        agents_ready=ready,
        busy_agent_ages=tuple(float(30 * i) for i in range(busy)),
        dials_in_progress=tuple(float(i % 20) for i in range(flight)),
        waiting_callers=waiting,
        max_parallel_lines=lines,
        coefficient=coefficient,
        max_waiting_callers=max_waiting,
    )
    policies: list[PacingPolicy] = [PredictivePolicy(), ProgressivePolicy(), FixedRatioPolicy(2.5)]
    for policy in policies:
        dials = policy.decide(snap).dials
        assert dials >= 0
        if lines is not None:
            assert flight + waiting + busy + dials <= max(lines, flight + waiting + busy)
        if coefficient is not None:
            assert flight + dials <= max(int(coefficient * ready), flight)
        if max_waiting is not None and waiting >= max_waiting:
            assert dials == 0


@given(
    ready=st.integers(0, 30),
    busy=st.integers(0, 30),
    flight=st.integers(0, 40),
    waiting=st.integers(0, 3),
)
def test_progressive_never_has_more_in_flight_than_ready_agents(
    ready: int, busy: int, flight: int, waiting: int
) -> None:
    snap = snapshot(
        agents_ready=ready,
        busy_agent_ages=(10.0,) * busy,
        dials_in_progress=(3.0,) * flight,
        waiting_callers=waiting,
    )
    dials = ProgressivePolicy().decide(snap).dials
    assert dials == 0 or flight + dials <= ready - waiting


def test_fixed_ratio_keeps_level_times_working_agents_up() -> None:
    snap = snapshot(agents_ready=2, busy_agent_ages=(10.0,) * 8, dials_in_progress=(1.0,) * 3)
    # 1.5 x 10 agents = 15 lines: 8 on calls, 3 ringing, so 4 more
    assert FixedRatioPolicy(1.5).decide(snap).dials == 4
    assert FixedRatioPolicy(1.0).decide(snap).dials == 0  # 10 lines: 8 + 3 already
    with pytest.raises(ValueError):
        FixedRatioPolicy(0.5)


def test_vicidial_raises_its_level_while_agents_idle_and_drops_it_over_target() -> None:
    policy = VicidialAdaptivePolicy(rule=DropRule.HARD_LIMIT)
    for t in range(0, 61):
        policy.decide(snapshot(now=float(t), agents_ready=5, busy_agent_ages=(1.0,) * 5))
    assert policy.level > 1.5  # (5 ready / 10 agents): x1.5 every 15 s, capped at 3
    assert policy.level <= 3.0
    for i in range(60):
        policy.observe(Observation(at=61.0, dial_result=DialResult.HUMAN, live_answer=True))
        if i % 10 == 0:
            policy.observe(Observation(at=61.0, abandoned=True))
    for t in range(61, 80):
        policy.decide(snapshot(now=float(t), agents_ready=5, busy_agent_ages=(1.0,) * 5))
    assert policy.level == 1.0


def test_a_higher_false_positive_rate_counts_more_abandons_and_dials_more_carefully() -> None:
    """AMD's false positives (people hung up on as machines) count as abandoned: the measured
    rate, and a worse one, leave less of the budget and fewer dials than none."""
    state = {
        "now": 3600.0,
        "agents_ready": 6,
        "busy_agent_ages": (200.0,) * 10,
        "wrap_up_ages": (28.0,) * 10,
    }
    decisions = [
        trained_with_wrap_up(PredictivePolicy()).decide(
            snapshot(**state, amd_false_positive_rate=rate)
        )
        for rate in (0.0, amd_figures.FALSE_POSITIVE_RATE, 0.02)
    ]
    lefts = [d.inputs["budget_left"] for d in decisions]
    assert lefts[0] > lefts[1] > lefts[2]
    assert decisions[0].dials >= decisions[1].dials >= decisions[2].dials
    assert decisions[0].dials > decisions[2].dials
    assert [d.inputs["amd_false_positive_rate"] for d in decisions][1:] == [
        amd_figures.FALSE_POSITIVE_RATE,
        0.02,
    ]


def test_amd_decision_time_is_spent_from_the_wait_for_an_agent() -> None:
    """A person classified 1.2 s after their greeting ended can wait only what is left of the
    grace: fewer agents can free in time, so the policy plans fewer dials."""
    wrapping = tuple(15.0 + 0.5 * i for i in range(25))  # into a 30 s wrap-up: one frees
    state = {  # every half second
        "now": 3600.0,
        "agents_ready": 0,
        "agents_logged_in": 25,
        "busy_agent_ages": (200.0,) * 25,
        "wrap_up_ages": wrapping,
        "grace_seconds": 1.5,
    }
    quick = trained_with_wrap_up(PredictivePolicy()).decide(snapshot(**state))
    slow = trained_with_wrap_up(PredictivePolicy()).decide(
        snapshot(**state, amd_decision_seconds=1.2)
    )
    assert quick.inputs["waiting_window"] == 1.5
    assert slow.inputs["waiting_window"] == pytest.approx(0.3)
    assert slow.inputs["expected_releases"] < quick.inputs["expected_releases"]
    assert slow.dials < quick.dials
