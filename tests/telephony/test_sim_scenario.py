import json
import random
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from opendialer.telephony.sim_scenario import (
    Distribution,
    Reach,
    Scenario,
    Schedule,
    second_of_day,
)

EXAMPLE = """
name = "evening push"
timezone = "Europe/Berlin"
announcement_length = 7

[customers]
p_live = { "09:00" = 0.15, "18:00" = 0.30, "21:00" = 0.20 }
p_machine = 0.12
busy_share = 0.10
live_answer_after = { dist = "gamma", mean = 8, sd = 4 }
talk_time = { dist = "lognormal", mean = { "09:00" = 150, "18:00" = 210 }, sd = 90 }
patience = { dist = "uniform", mean = 4, sd = 1 }

[amd]
delay = { dist = "gamma", mean = 2.5, sd = 0.5 }
false_positive = 0.03
false_negative = 0.12

[agents]
wrap_up = { dist = "gamma", mean = 12, sd = 6 }
break_every = { dist = "exponential", mean = 3600 }
break_length = 300
"""


def test_a_toml_scenario_loads() -> None:
    scenario = Scenario.from_toml(EXAMPLE)
    assert scenario.name == "evening push"
    assert scenario.announcement_length == Distribution(mean=7)
    assert isinstance(scenario.customers.p_live, Schedule)
    assert scenario.customers.busy_after == Distribution(mean=4)  # a default
    assert scenario.amd.false_negative == 0.12


def test_json_round_trip_and_files(tmp_path: Path) -> None:
    scenario = Scenario.from_toml(EXAMPLE)
    assert Scenario.from_json(scenario.model_dump_json()) == scenario
    as_json = tmp_path / "s.json"
    as_json.write_text(json.dumps(scenario.model_dump()))
    as_toml = tmp_path / "s.toml"
    as_toml.write_text(EXAMPLE)
    assert Scenario.load(as_json) == Scenario.load(as_toml) == scenario


def test_schedules_interpolate_and_wrap_round_midnight() -> None:
    schedule = Schedule.model_validate({"06:00": 0.0, "12:00": 0.6, "18:00": 0.3})
    assert schedule.at(second_of_day("09:00")) == pytest.approx(0.3)
    assert schedule.at(second_of_day("12:00")) == pytest.approx(0.6)
    assert schedule.at(second_of_day("00:00")) == pytest.approx(0.15)  # 18:00 → 06:00 next day
    assert schedule.at(second_of_day("21:00")) == pytest.approx(0.225)
    assert Schedule.model_validate([["10:30", 0.2]]).at(0) == 0.2


def test_parameters_follow_local_time_of_day() -> None:
    scenario = Scenario.from_toml(EXAMPLE)
    winter_evening = datetime(2025, 1, 6, 17, 0, tzinfo=UTC)  # 18:00 in Berlin
    assert scenario.second_of_day(winter_evening) == second_of_day("18:00")


@pytest.mark.parametrize(
    ("customers", "message"),
    [
        ({"p_live": 0.9, "p_machine": 0.2}, "p_live \\+ p_machine exceeds 1 at 00:00"),
        ({"p_live": {"12:00": 0.8}, "p_machine": {"06:00": 0.1, "12:00": 0.3}}, "at 12:00"),
        ({"p_live": 1.5}, "probability"),
        ({"talk_time": {"dist": "gamma", "mean": -1}}, "negative"),
        ({"talk_time": {"dist": "weibull", "mean": 3}}, "dist"),
        ({"p_live": {"25:00": 0.1}}, "time of day"),
        ({"unknown": 1}, "Extra inputs"),
    ],
)
def test_bad_scenarios_are_rejected(customers: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Scenario.model_validate({"customers": customers})


def test_an_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        Scenario(timezone="Mars/Olympus")


@pytest.mark.parametrize("dist", ["gamma", "lognormal", "uniform", "exponential"])
def test_distributions_have_the_stated_mean_and_sd(dist: str) -> None:
    distribution = Distribution.model_validate({"dist": dist, "mean": 30, "sd": 10})
    rng = random.Random(4)
    draws = [distribution.draw(rng, 0) for _ in range(20_000)]
    assert min(draws) >= 0
    assert statistics.mean(draws) == pytest.approx(30, rel=0.03)
    expected_sd = 30 if dist == "exponential" else 10
    assert statistics.stdev(draws) == pytest.approx(expected_sd, rel=0.05)


def test_a_constant_needs_no_randomness() -> None:
    assert Distribution.model_validate(4).draw(random.Random(), 0) == 4
    assert Distribution(dist="gamma", mean=5, sd=0).draw(random.Random(), 0) == 5


def test_reach_is_monotone_in_the_uniform_draw() -> None:
    customers = Scenario.model_validate(
        {"customers": {"p_live": 0.2, "p_machine": 0.1, "busy_share": 0.5, "invalid_share": 0.2}}
    ).customers
    reaches = [customers.reach((u + 0.5) / 100, 0) for u in range(100)]
    assert reaches[:20] == [Reach.PERSON] * 20
    assert reaches[20:30] == [Reach.MACHINE] * 10
    assert reaches[30:65] == [Reach.BUSY] * 35
    assert reaches[65:79] == [Reach.INVALID] * 14
    assert reaches[79:] == [Reach.NO_ANSWER] * 21


def test_agent_draws_for_the_engine_driver() -> None:
    scenario = Scenario.from_toml(EXAMPLE)
    at = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
    rng = random.Random(1)
    wrap_ups = [scenario.draw_wrap_up(rng, at) for _ in range(5000)]
    assert statistics.mean(wrap_ups) == pytest.approx(12, rel=0.05)
    assert scenario.draw_break_length(rng, at) == 300
    gap = scenario.draw_break_every(rng, at)
    assert gap is not None and gap > 0
    assert Scenario().draw_break_every(rng, at) is None
