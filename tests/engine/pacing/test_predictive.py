"""The predictive policy at the edges: the contacts on hand, placed dials, low-volume days."""

from opendialer.engine.pacing.base import Observation, PacingDecision
from opendialer.engine.pacing.predictive import PredictivePolicy
from tests.engine.pacing.test_policies import snapshot, trained

HOUR = 3600.0


def _refill(policy: PredictivePolicy) -> PacingDecision:
    """The first decision once contacts are back, an hour after the list ran dry."""
    return policy.decide(snapshot(now=2 * HOUR, dialable_now=5000, dialable_soon=5000))


def test_no_more_dials_are_planned_than_there_are_contacts() -> None:
    policy = trained(PredictivePolicy())
    assert policy.decide(snapshot(now=HOUR)).dials > 10
    assert policy.decide(snapshot(now=HOUR, dialable_now=3, dialable_soon=3)).dials == 3
    empty = policy.decide(snapshot(now=HOUR, dialable_now=0, dialable_soon=0))
    assert empty.dials == 0


def test_a_dry_list_followed_by_a_refill_does_not_loosen_the_policy() -> None:
    dry, rested = trained(PredictivePolicy()), trained(PredictivePolicy())
    for tick in range(2 * 3600):  # an hour of half-second ticks with nothing to dial
        now = HOUR + tick * 0.5
        dry.decide(snapshot(now=now, dialable_now=0, dialable_soon=0))
        dry.observe(Observation(at=now, dials_placed=0))
    after_dry, after_rest = _refill(dry), _refill(rested)
    assert after_dry.dials == after_rest.dials
    assert after_dry.inputs == after_rest.inputs


def test_decisions_the_caller_could_not_place_are_not_learned_from() -> None:
    """A caller that does not know its supply in advance says how many it placed."""
    short, rested = trained(PredictivePolicy()), trained(PredictivePolicy())
    for tick in range(2 * 3600):
        now = HOUR + tick * 0.5
        assert short.decide(snapshot(now=now)).dials > 0
        short.observe(Observation(at=now, dials_placed=0))
    assert _refill(short).inputs == _refill(rested).inputs


def test_placed_dials_are_learned_from() -> None:
    placed, unplaced = trained(PredictivePolicy()), trained(PredictivePolicy())
    for policy, count in ((placed, 1000), (unplaced, 0)):
        for tick in range(200):
            now = HOUR + tick * 0.5
            policy.decide(snapshot(now=now))
            policy.observe(Observation(at=now, dials_placed=count))
    assert placed.shape != unplaced.shape
    assert placed.calibration < unplaced.calibration


def _small_day(live: int, abandoned: int, contacts: int) -> PacingDecision:
    """p is 0.2: ``contacts`` can bring a fifth as many live answers more."""
    return trained(PredictivePolicy()).decide(
        snapshot(
            now=HOUR,
            day_live_answers=live,
            day_abandoned=abandoned,
            dialable_now=contacts,
            dialable_soon=contacts,
        )
    )


def test_the_low_volume_rule_dials_only_for_ready_agents_when_one_abandon_breaks_the_day() -> None:
    # 10 live answers so far and ~10 to come: one abandon would be 5 %.
    small = _small_day(live=10, abandoned=0, contacts=50)
    assert small.dials == 10  # the ten ready agents, no more
    assert small.reason.startswith("low volume")
    assert small.inputs["room_for_one_more"] < 0
    # ~50 people in the day: one abandon fits (2 %), a second would not.
    assert _small_day(live=40, abandoned=0, contacts=50).dials > 10
    assert _small_day(live=40, abandoned=1, contacts=50).dials == 10
    # The same day on a full list is not low-volume.
    full = _small_day(live=10, abandoned=0, contacts=5000)
    assert full.dials > 10
    assert full.inputs["room_for_one_more"] > 0


def test_the_callers_day_ledger_is_the_budget() -> None:
    """A restarted engine passes the day it recounted; the policy's own memory is empty."""
    fresh = PredictivePolicy()
    spent = fresh.decide(snapshot(now=HOUR, day_live_answers=100, day_abandoned=4))
    assert spent.inputs["budget_left"] < 0
    assert spent.inputs["day_abandoned"] == 4
    assert spent.reason.startswith("brake")
    untouched = fresh.decide(snapshot(now=HOUR, day_live_answers=100, day_abandoned=0))
    assert untouched.inputs["budget_left"] > 0


def test_a_campaign_that_starts_dialling_from_rest_is_looked_at_again() -> None:
    """The snapshot is from before the decision's dials: nothing under way yet, but the dials
    placed now are (the engine wakes on the policy's recheck, not on a fixed tick)."""
    policy = trained(PredictivePolicy())
    rest = snapshot(now=HOUR)
    decision = policy.decide(rest)
    assert decision.dials > 0
    assert decision.recheck_after == policy.settings.recheck_seconds
    idle = policy.decide(snapshot(now=HOUR, agents_ready=0, agents_logged_in=0))
    assert idle.dials == 0
    assert idle.recheck_after is None  # nothing under way, nothing placed: only events matter
