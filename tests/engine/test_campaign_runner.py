"""A predictive campaign in the engine: its day ledger across a restart, and a quiet log."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.campaign_runner import (
    DecisionDelay,
    agent_may_be_free_within,
    safe_harbor_left,
)
from opendialer.engine.period import count_since, day_start
from opendialer.engine.simulation import simulate
from opendialer.models import Campaign, PacingDecision
from opendialer.telephony import CallEvent, CallEventKind, CallId
from opendialer.telephony.sim_scenario import Scenario
from tests.engine.helpers import predictive_campaign
from tests.engine.test_period import _history

START = datetime.fromisoformat("2026-11-23T09:00:00+00:00")  # 10:00 in Berlin


def _decisions(sessions: SessionMaker, campaign_id: int) -> list[PacingDecision]:
    with unit_of_work(sessions) as session:
        rows = session.scalars(
            select(PacingDecision)
            .where(PacingDecision.campaign_id == campaign_id)
            .order_by(PacingDecision.decided_at, PacingDecision.id)
        ).all()
        session.expunge_all()
        return list(rows)


def test_a_restarted_engine_goes_on_with_the_days_ledger(sessions: SessionMaker) -> None:
    clock, campaign_id = predictive_campaign(sessions, START, 600, "Restarted")
    with unit_of_work(sessions) as session:
        tenant_id = session.get_one(Campaign, campaign_id).tenant_id
        # 01:00 in Berlin today, and 23:30 yesterday (not today's budget)
        _history(session, tenant_id, campaign_id, START - timedelta(hours=8), 50, abandoned=2)
        _history(session, tenant_id, campaign_id, START - timedelta(hours=10.5), 20, abandoned=5)
    clock.run(simulate(sessions, clock, campaign_id, Scenario(), seconds=900, seed=3))
    restart = clock.now()
    clock.run(simulate(sessions, clock, campaign_id, Scenario(), seconds=30, seed=4))

    rows = _decisions(sessions, campaign_id)
    before = [r for r in rows if r.decided_at < restart]
    after = [r for r in rows if r.decided_at >= restart]
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        since_restart = count_since(session, campaign_id, restart)  # the second engine's
        today = count_since(session, campaign_id, day_start(campaign, restart)) - since_restart
        last_24h = count_since(session, campaign_id, restart - timedelta(hours=24)) - since_restart
    assert today.live_answers > 50  # the first engine's calls are in the history
    assert last_24h.abandoned == today.abandoned + 5  # yesterday's are not today's
    first = after[0].inputs
    assert (first["day_live"], first["day_abandoned"]) == (today.live_answers, today.abandoned)
    # Nothing of the day is forgotten: the new engine starts where the old one stopped.
    assert first["day_live"] >= before[-1].inputs["day_live"]
    assert first["day_abandoned"] >= before[-1].inputs["day_abandoned"] >= 2


def test_an_empty_list_logs_its_state_once_not_every_tick(sessions: SessionMaker) -> None:
    clock, campaign_id = predictive_campaign(sessions, START, 0, "Empty")
    result = clock.run(simulate(sessions, clock, campaign_id, Scenario(), seconds=600, seed=1))
    rows = _decisions(sessions, campaign_id)
    assert result.tally.attempts == 0
    assert len(rows) == 1  # 1,200 ticks
    assert rows[0].reason.startswith("no contacts to dial")
    assert rows[0].dials == 0


def test_a_list_that_runs_dry_logs_the_dials_placed_and_then_falls_quiet(
    sessions: SessionMaker,
) -> None:
    clock, campaign_id = predictive_campaign(sessions, START, 40, "Dry")
    result = clock.run(simulate(sessions, clock, campaign_id, Scenario(), seconds=3600, seed=2))
    rows = _decisions(sessions, campaign_id)
    assert sum(r.dials for r in rows) == result.tally.attempts
    assert sum(r.dials for r in rows) >= 40
    last_dial = max(r.decided_at for r in rows if r.dials > 0)
    quiet = [r for r in rows if r.decided_at > last_dial + timedelta(minutes=15)]
    assert len(quiet) <= 2  # retries rest an hour: the list is empty for 15+ minutes
    assert len(rows) < 400  # of 7,200 ticks


def _human(at: datetime, greeting_ended_at: datetime | None = None) -> CallEvent:
    kind = CallEventKind.ANSWERED_HUMAN
    return CallEvent(CallId("c"), kind, at, 200, greeting_ended_at=greeting_ended_at)


def test_the_safe_harbor_counts_from_the_end_of_the_greeting_when_amd_heard_it() -> None:
    verdict = START + timedelta(seconds=3)
    # without AMD (or a backend that cannot tell) from the event: all of the grace is left
    assert safe_harbor_left(_human(verdict), verdict, 1.5) == 1.5
    # AMD decided 0.7 s after the greeting ended: that much of the grace is gone
    heard = _human(verdict, greeting_ended_at=verdict - timedelta(seconds=0.7))
    assert safe_harbor_left(heard, verdict, 1.5) == pytest.approx(0.8)
    assert safe_harbor_left(heard, verdict + timedelta(seconds=1), 1.5) < 0


@pytest.mark.parametrize(
    ("wrap_ups", "limit", "free"),
    [
        ((), None, False),  # nobody busy (and nobody ready, or the caller would have one)
        ((None, None), None, False),  # all on calls, then a wrap-up of unknown length
        ((None,), 1, True),  # on a call, with a wrap-up shorter than the time left
        ((None,), 30, False),
        ((12.0,), None, True),  # in wrap-up without a limit: may say ready at any moment
        ((29.0,), 30, True),  # its 30 s wrap-up ends within the 1.5 s left
        ((20.0,), 30, False),
    ],
)
def test_an_agent_may_be_free_within_the_time_left_only_by_what_the_engine_knows(
    wrap_ups: tuple[float | None, ...], limit: int | None, free: bool
) -> None:
    assert agent_may_be_free_within(1.5, wrap_ups, limit) is free
    assert agent_may_be_free_within(0.0, wrap_ups, limit) is False  # the time is spent


def test_the_amd_decision_delay_is_a_moving_mean_of_the_campaigns_calls() -> None:
    delay = DecisionDelay()
    assert delay.seconds == 0.0  # nothing measured: nothing taken off the wait
    delay.add(0.7)
    assert delay.seconds == 0.7  # the first call sets it
    for _ in range(100):
        delay.add(1.0)
    assert delay.seconds == pytest.approx(1.0, abs=0.01)
