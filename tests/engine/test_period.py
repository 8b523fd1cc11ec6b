from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.live import CampaignTally
from opendialer.engine.period import Counts, Ledger, count_period, count_since, day_start
from opendialer.engine.simulation import SimulationResult, simulate
from opendialer.models import (
    CallAttempt,
    CallOutcome,
    Campaign,
    DialMode,
    PacingDecision,
    ResultCode,
)
from opendialer.telephony.sim_scenario import Scenario
from tests.engine.helpers import NOW, make_campaign

START = datetime.fromisoformat("2026-11-23T09:00:00+00:00")


def _history(
    session: Session, tenant_id: int, campaign_id: int, at: datetime, live: int, abandoned: int
) -> None:
    """``live`` person-answered attempts at ``at``, ``abandoned`` of them abandoned."""
    rows = [
        {
            "tenant_id": tenant_id,
            "campaign_id": campaign_id,
            "b_number": "+4930123456",
            "started_at": at,
            "answered_at": at,
            "ended_at": at,
            "outcome": CallOutcome.ABANDONED if i < abandoned else CallOutcome.CONNECTED,
        }
        for i in range(live)
    ]
    session.execute(insert(CallAttempt), rows)


def test_count_period_counts_person_answers_and_abandons_of_the_last_30_days(
    session: Session, tenant: NewTenant
) -> None:
    campaign = make_campaign(session, tenant)
    other = make_campaign(session, tenant, "Other")
    tid = tenant.tenant.id
    _history(session, tid, campaign.id, NOW - timedelta(days=29), live=10, abandoned=2)
    _history(session, tid, campaign.id, NOW - timedelta(days=31), live=50, abandoned=50)
    _history(session, tid, other.id, NOW - timedelta(days=1), live=7, abandoned=7)
    session.add_all(
        [
            CallAttempt(
                tenant_id=tid,
                campaign_id=campaign.id,
                b_number="+4930123456",
                started_at=NOW,
                answered_at=NOW,
                answered_by_machine=True,
                outcome=CallOutcome.MACHINE,
            ),
            CallAttempt(
                tenant_id=tid,
                campaign_id=campaign.id,
                b_number="+4930123456",
                started_at=NOW,
                outcome=CallOutcome.NO_ANSWER,
            ),
        ]
    )
    session.flush()
    assert count_period(session, campaign.id, NOW) == (10, 2)


def test_the_ledger_adds_the_running_tally_since_the_last_recount(
    session: Session, tenant: NewTenant
) -> None:
    campaign = make_campaign(session, tenant)
    _history(session, tenant.tenant.id, campaign.id, NOW - timedelta(days=1), live=100, abandoned=3)
    _history(
        session, tenant.tenant.id, campaign.id, NOW - timedelta(minutes=5), live=10, abandoned=1
    )
    tally = CampaignTally(live_answers=40, abandoned=1)
    ledger = Ledger()
    since = day_start(campaign, NOW)
    assert ledger.due(NOW, since)
    ledger.apply(ledger.recount(session, campaign, NOW), tally)
    tally.live_answers, tally.abandoned, tally.machines_found = 45, 2, 1
    assert ledger.period(tally) == Counts(115, 5, 1)
    assert ledger.day(tally) == Counts(15, 2, 1)
    assert not ledger.due(NOW + timedelta(minutes=9), since)
    assert ledger.due(NOW + timedelta(minutes=10), since)


def test_the_day_is_the_calendar_day_in_the_campaigns_time_zone_or_the_rolling_24_hours(
    session: Session, tenant: NewTenant
) -> None:
    campaign = make_campaign(session, tenant)  # Europe/Berlin; NOW is 11:00 there
    assert day_start(campaign, NOW) == datetime.fromisoformat("2026-11-22T23:00:00+00:00")
    tid = tenant.tenant.id
    _history(session, tid, campaign.id, NOW - timedelta(hours=12), live=20, abandoned=5)
    _history(session, tid, campaign.id, NOW - timedelta(hours=10), live=30, abandoned=1)
    session.flush()
    assert count_since(session, campaign.id, day_start(campaign, NOW)) == Counts(30, 1)
    # Yesterday's unspent budget is not today's: a new day is a recount.
    ledger = Ledger()
    before, after = NOW - timedelta(hours=11, minutes=1), NOW - timedelta(hours=10, minutes=59)
    ledger.apply(ledger.recount(session, campaign, before), CampaignTally())
    still = before + timedelta(seconds=30)  # 23:59:30 in Berlin
    assert not ledger.due(still, day_start(campaign, still))
    assert ledger.due(after, day_start(campaign, after))  # two minutes later: a new day
    campaign.abandon_rolling_24h = True  # Ofcom
    assert day_start(campaign, NOW) == NOW - timedelta(hours=24)
    assert count_since(session, campaign.id, day_start(campaign, NOW)) == Counts(50, 6)


def test_machines_the_agents_found_count_from_their_result_codes(
    session: Session, tenant: NewTenant
) -> None:
    campaign = make_campaign(session, tenant)
    machine = ResultCode(
        tenant_id=tenant.tenant.id,
        campaign_id=campaign.id,
        code="AM",
        text_en="Answering machine",
        text_de="Anrufbeantworter",
        answering_machine=True,
    )
    sale = ResultCode(
        tenant_id=tenant.tenant.id, campaign_id=campaign.id, code="S", text_en="S", text_de="S"
    )
    session.add_all([machine, sale])
    _history(session, tenant.tenant.id, campaign.id, NOW, live=5, abandoned=0)
    session.flush()
    attempts = session.scalars(select(CallAttempt).where(CallAttempt.campaign_id == campaign.id))
    for attempt, code in zip(attempts, (machine, machine, sale), strict=False):
        attempt.result_code_id = code.id
    session.flush()
    assert count_since(session, campaign.id, NOW - timedelta(hours=1)) == Counts(5, 0, 2)


def _simulate_after(
    sessions: SessionMaker, past_abandoned: int, name: str
) -> tuple[int, SimulationResult]:
    """Half an hour of a predictive campaign whose 30 days so far had 1000 live answers."""
    clock = VirtualClock(START)
    setup = SimulationSetup(agents=4, contacts=600, dial_mode=DialMode.PREDICTIVE)
    campaign_id = prepare_campaign(sessions, setup, clock.now(), name=name)
    with unit_of_work(sessions) as session:
        tenant_id = session.get_one(Campaign, campaign_id).tenant_id
        _history(session, tenant_id, campaign_id, START - timedelta(days=2), 1000, past_abandoned)
    result = clock.run(simulate(sessions, clock, campaign_id, Scenario(), seconds=1800, seed=9))
    return campaign_id, result


def _mean_allowed_rate(sessions: SessionMaker, campaign_id: int) -> float:
    with unit_of_work(sessions) as session:
        rates = [
            float(row.inputs["allowed_rate"])
            for row in session.scalars(
                select(PacingDecision).where(PacingDecision.campaign_id == campaign_id)
            )
            if "allowed_rate" in row.inputs
        ]
    assert rates
    return sum(rates) / len(rates)


def test_a_spent_30_day_budget_makes_pacing_cautious(sessions: SessionMaker) -> None:
    fresh_id, fresh = _simulate_after(sessions, past_abandoned=0, name="Fresh")
    spent_id, spent = _simulate_after(sessions, past_abandoned=60, name="Spent")
    # 60 of 1000 leaves no budget for as many answers again: the period, not the day, limits.
    assert _mean_allowed_rate(sessions, spent_id) < 0.5 * _mean_allowed_rate(sessions, fresh_id)
    assert spent.tally.abandoned <= fresh.tally.abandoned
