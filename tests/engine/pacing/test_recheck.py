"""When the predictive policy asks to be looked at again with nothing happening: a hold
forecasts the instant its next dial would be placed, on the grid of looks the engine made
every ``recheck_seconds`` before (docs/engine.md, session 17)."""

import copy
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from opendialer.engine.pacing.base import PacingDecision, PacingSnapshot
from opendialer.engine.pacing.predictive import PredictivePolicy, PredictiveSettings
from tests.engine.pacing.test_policies import snapshot, trained_with_wrap_up

HOUR = 3600.0


def _policy() -> PredictivePolicy:
    """p = 0.2, 150-210 s of talk then exactly 30 s of wrap-up."""
    return trained_with_wrap_up(PredictivePolicy())


def _aged(state: PacingSnapshot, seconds: float) -> PacingSnapshot:
    """The same campaign ``seconds`` later, nothing having happened: every age grown."""
    wrapping = state.wrap_up_ages
    return replace(
        state,
        now=state.now + seconds,
        busy_agent_ages=tuple(a + seconds for a in state.busy_agent_ages),
        wrap_up_ages=None
        if wrapping is None
        else tuple(None if w is None else w + seconds for w in wrapping),
        dials_in_progress=tuple(a + seconds for a in state.dials_in_progress),
    )


def _one_wrapping(wrap_age: float) -> PacingSnapshot:
    """Ten agents, none ready: nine early in their calls, one ``wrap_age`` into its wrap-up."""
    return snapshot(
        now=HOUR,
        agents_ready=0,
        busy_agent_ages=(60.0,) * 9 + (200.0,),
        wrap_up_ages=(None,) * 9 + (wrap_age,),
    )


def _old_looks(policy: PredictivePolicy, state: PacingSnapshot, looks: int) -> list[int]:
    """The dials of the looks the engine made every 0.5 s before, nothing happening between:
    each decided by the policy as it stood at the first."""
    return [copy.deepcopy(policy).decide(_aged(state, 0.5 * k)).dials for k in range(1, looks)]


def test_a_hold_is_looked_at_again_when_its_next_dial_would_be_placed() -> None:
    policy = _policy()
    state = _one_wrapping(18.0)  # the wrapping agent is free 12 s from now
    hold = copy.deepcopy(policy).decide(state)
    assert hold.dials == 0
    assert hold.recheck_after == 2.0
    # The old looks at 0.5, 1.0 and 1.5 s held; the one at 2.0 s dialled.
    assert _old_looks(policy, state, 6) == [0, 0, 0, 1, 1]


def test_a_hold_that_stays_a_hold_is_looked_at_again_at_the_horizon() -> None:
    policy = _policy()
    state = _one_wrapping(0.0)
    hold = copy.deepcopy(policy).decide(state)
    horizon = policy.settings.recheck_seconds * policy.settings.recheck_steps
    assert hold.dials == 0
    assert hold.recheck_after == horizon == 4.0
    assert _old_looks(policy, state, 9) == [0] * 8


def test_a_decision_that_dials_is_looked_at_again_after_the_recheck_period() -> None:
    policy = _policy()
    decision = policy.decide(_one_wrapping(20.0))
    assert decision.dials == 1
    assert decision.recheck_after == policy.settings.recheck_seconds == 0.5


def test_a_caller_on_a_fixed_tick_can_do_without_the_forecast() -> None:
    """``recheck_steps=0``: the recheck period while anything is under way, and the same
    decision otherwise (the forecast changes nothing but ``recheck_after``)."""
    ticking = trained_with_wrap_up(PredictivePolicy(PredictiveSettings(recheck_steps=0)))
    state = _one_wrapping(18.0)
    hold, forecast = ticking.decide(state), _policy().decide(state)
    assert hold.recheck_after == 0.5
    assert forecast.recheck_after == 2.0
    assert (hold.dials, hold.inputs, hold.reason) == (0, forecast.inputs, forecast.reason)


def test_a_braked_hold_is_looked_at_again_at_the_horizon() -> None:
    """The budget spent: only dials agents are ready for, which only an event changes; the
    horizon is a heartbeat (a rolling day's window lets abandons go with time)."""
    spent = replace(_one_wrapping(18.0), day_live_answers=100, day_abandoned=4)
    decision = _policy().decide(spent)
    assert decision.reason.startswith("brake")
    assert decision.dials == 0
    assert decision.recheck_after == 4.0


def _risk(decision: PacingDecision) -> float:
    return decision.inputs["next_dial_risk"]


@st.composite
def campaigns(draw: st.DrawFn) -> PacingSnapshot:
    """A campaign of a few agents, most of them busy, a few dials ringing; whether the caller
    tells who is in wrap-up, drawn too."""
    busy = draw(st.lists(st.floats(0.0, 400.0), min_size=1, max_size=12))
    wrapping = draw(st.lists(st.none() | st.floats(0.0, 40.0), min_size=len(busy)))
    told = draw(st.booleans())
    return snapshot(
        now=HOUR,
        agents_logged_in=len(busy) + 2,
        agents_ready=draw(st.integers(0, 2)),
        busy_agent_ages=tuple(busy),
        wrap_up_ages=tuple(wrapping[: len(busy)]) if told else None,
        dials_in_progress=tuple(draw(st.lists(st.floats(0.0, 30.0), max_size=6))),
        waiting_callers=draw(st.integers(0, 1)),
    )


@settings(max_examples=150, deadline=None)
@given(campaigns(), st.integers(1, 8))
def test_the_forecast_is_the_risk_each_look_would_have_computed(
    state: PacingSnapshot, step: int
) -> None:
    """At offset 0 the forecast is the decision's own next-dial risk, bit for bit; at a later
    grid instant, the risk the look at that instant computes (its calibration aged)."""
    policy = _policy()
    offset = 0.5 * step
    risks = policy.next_dial_risks(state, np.array([0.0, offset]))
    now, later = copy.deepcopy(policy).decide(state), policy.decide(_aged(state, offset))
    if now.dials == 0:
        assert _risk(now) == min(risks[0] * now.inputs["calibration"], 1.0)
    if later.dials == 0:
        assert _risk(later) == min(risks[1] * later.inputs["calibration"], 1.0)
