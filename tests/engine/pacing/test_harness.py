import pytest
from bench.pacing.harness import DaySim, draw_customer
from bench.pacing.scenario import BenchScenario

from opendialer.engine.pacing.base import Observation, PacingDecision, PacingSnapshot
from opendialer.engine.pacing.predictive import PredictivePolicy


class Script:
    """Dials ``first`` calls on the first tick and nothing after."""

    name = "script"

    def __init__(self, first: int) -> None:
        self.first = first
        self.seen: list[Observation] = []
        self.snapshots: list[PacingSnapshot] = []

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        self.snapshots.append(snapshot)
        dials, self.first = self.first, 0
        return PacingDecision(dials, float(dials), "script")

    def observe(self, observation: Observation) -> None:
        self.seen.append(observation)


def sure_answers(**overrides: object) -> BenchScenario:
    """One agent; every dial is a person answering after exactly 5 s; calls last 100 s."""
    data: dict[str, object] = {
        "name": "hand",
        "agents": 1,
        "hours": 1.0,
        "sim": {
            "customers": {
                "p_live": 1.0,
                "p_machine": 0.0,
                "live_answer_after": 5.0,
                "talk_time": 100.0,
            },
            "agents": {"wrap_up": 0.0},
        },
    }
    data.update(overrides)
    return BenchScenario.model_validate(data)


def test_second_answer_waits_the_grace_then_is_abandoned() -> None:
    policy = Script(2)
    day = DaySim(sure_answers(), policy, seed=1).run()
    assert (day.dials, day.live, day.connects, day.abandoned) == (2, 2, 1, 1)
    assert day.abandon_rate == 0.5
    assert day.occupancy == 100 / 3600
    abandoned = [o for o in policy.seen if o.abandoned]
    assert len(abandoned) == 1 and abandoned[0].at == day_start(sure_answers()) + 5 + 2
    handled = [o.handle_seconds for o in policy.seen if o.handle_seconds is not None]
    assert handled == [100.0]


def test_the_policy_sees_who_is_in_wrap_up_and_hears_how_long_it_took() -> None:
    customers = {"p_live": 1.0, "p_machine": 0.0, "live_answer_after": 5.0, "talk_time": 100.0}
    scenario = sure_answers(sim={"customers": customers, "agents": {"wrap_up": 20.0}})
    policy = Script(1)
    day = DaySim(scenario, policy, seed=1).run()
    assert day.occupancy == 120 / 3600  # 100 s talk + 20 s wrap-up
    start = day_start(scenario)
    by_time = {s.now - start: s for s in policy.snapshots}
    assert by_time[50.0].busy_agent_ages == (45.0,) and by_time[50.0].wrap_up_ages == (None,)
    assert by_time[115.0].busy_agent_ages == (110.0,) and by_time[115.0].wrap_up_ages == (10.0,)
    assert by_time[130.0].busy_agent_ages == () and by_time[130.0].wrap_up_ages == ()
    handled = [(o.handle_seconds, o.wrap_up_seconds) for o in policy.seen if o.handle_seconds]
    assert handled == [(120.0, 20.0)]


def test_amd_false_positives_count_as_abandoned_but_are_not_reported() -> None:
    scenario = sure_answers(
        amd=True,
        sim={
            "customers": {"p_live": 1.0, "p_machine": 0.0, "live_answer_after": 5.0},
            "amd": {"delay": 2.5, "false_positive": 1.0},
        },
    )
    policy = Script(3)
    day = DaySim(scenario, policy, seed=1).run()
    assert (day.live, day.abandoned, day.amd_abandoned, day.connects) == (3, 3, 3, 0)
    assert not any(o.abandoned for o in policy.seen)
    assert all(o.ring_seconds == 7.5 for o in policy.seen if o.dial_result is not None)


def test_without_amd_a_machine_reaches_an_agent_who_says_so_when_done() -> None:
    customers = {
        "p_live": 0.0,
        "p_machine": 1.0,
        "machine_answer_after": 5.0,
        "machine_handling": 12.0,
    }
    scenario = sure_answers(sim={"customers": customers, "agents": {"wrap_up": 0.0}})
    policy = Script(1)
    day = DaySim(scenario, policy, seed=1).run()
    assert (day.live, day.connects, day.abandoned) == (0, 1, 0)
    [answer] = [o for o in policy.seen if o.dial_result is not None]
    assert answer.live_answer  # the dialer cannot tell it from a person yet
    [machine] = [o for o in policy.seen if o.answering_machine]
    assert machine.at == day_start(scenario) + 5 + 12


def day_start(scenario: BenchScenario) -> float:
    return scenario.start_second


def test_a_short_day_is_reproducible_and_customers_are_shared() -> None:
    scenario = BenchScenario.model_validate(
        {"name": "small", "agents": 5, "hours": 1.0, "sim": {"customers": {"p_live": 0.2}}}
    )
    first = DaySim(scenario, PredictivePolicy(), seed=7).run()
    again = DaySim(scenario, PredictivePolicy(), seed=7).run()
    assert (first.dials, first.live, first.abandoned, first.busy_seconds) == (
        again.dials,
        again.live,
        again.abandoned,
        again.busy_seconds,
    )
    assert first.dials > 100 and 0.3 < first.occupancy <= 1.0
    assert first.short_rings == 0
    second = scenario.start_second
    assert draw_customer(scenario, 7, 0, 42, second) == draw_customer(scenario, 7, 0, 42, second)
    assert draw_customer(scenario, 7, 0, 42, second) != draw_customer(scenario, 8, 0, 42, second)


def test_predictive_follows_a_day_whose_answer_rate_and_talk_times_drift() -> None:
    scenario = BenchScenario.model_validate(
        {
            "name": "drift",
            "agents": 10,
            "hours": 3.0,
            "sim": {
                "customers": {
                    "p_live": {"09:00": 0.1, "10:00": 0.3},
                    "p_machine": 0.0,
                    "talk_time": {"dist": "gamma", "mean": {"09:00": 60.0, "10:00": 240.0}},
                },
                "agents": {"wrap_up": 10.0},
            },
        }
    )
    policy = PredictivePolicy()
    day = DaySim(scenario, policy, seed=3).run()
    # Two hours after the drift stopped, the estimates are those of the afternoon.
    assert policy.answer.mean == pytest.approx(0.3, abs=0.04)
    assert policy.talk.table().mean == pytest.approx(240.0, rel=0.15)
    assert policy.wrap.table().quantile(0.5) == pytest.approx(10.0, abs=1.0)
    assert day.abandon_rate <= 0.03 and day.short_rings == 0
