"""The report rollups: exact against the history alone wherever the watermark stands, held back
by a call still open, moved on by housekeeping, one tenant's never another's."""

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import delete, func, select

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.compliance import NO_TENANT_RULES
from opendialer.housekeeping import roll_up
from opendialer.models import (
    AgentStateMark,
    AgentStateQuarter,
    AttemptQuarter,
    CallAttempt,
    CallOutcome,
    Campaign,
    ReportWatermark,
    Tenant,
)
from opendialer.reports import rollups, service
from opendialer.reports.schemas import ReportFilter
from opendialer.scoping import Scope, owned
from tests.reports.history import seed_day
from tests.reports.test_service import assert_close, every_report

DAY = datetime(2026, 11, 24, tzinfo=UTC)
END_OF_DAY = DAY + timedelta(days=1)
SETTLED = END_OF_DAY + rollups.SETTLE  # the whole day can be rolled


def _reports(sessions: SessionMaker, scope: Scope, now: datetime) -> list[list[dict[str, object]]]:
    return every_report(sessions, scope, "Europe/Berlin", now, DAY)


def test_every_report_is_the_same_before_and_after_rolling_up(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    seed_day(sessions, tenant.tenant.id, DAY)  # 09:10-17:10 UTC, a Berlin tenant
    scope = Scope.system(tenant.tenant.id)
    from_history = _reports(sessions, scope, END_OF_DAY)
    assert all(from_history)
    for rolled_at in (DAY.replace(hour=13, minute=7), END_OF_DAY):
        with unit_of_work(sessions) as session:
            mark = rollups.roll_all(session, scope, rolled_at)
        assert mark == rollups.floor_quarter(rolled_at - rollups.SETTLE)
        assert_close(_reports(sessions, scope, END_OF_DAY), from_history)
    with unit_of_work(sessions) as session:
        rows = session.scalars(owned(AttemptQuarter, scope)).all()
    # Thousands of attempts, far fewer rows: per campaign, agent and quarter hour.
    assert 0 < len(rows) < 1000 and sum(r.attempts for r in rows) > 1400


def test_history_not_yet_settled_is_no_move_so_housekeeping_rests(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """Housekeeping rolls while a step moves a watermark: a tenant whose history has not
    settled must read as no move, or the loop writes without rest (it once did)."""
    seed_day(sessions, tenant.tenant.id, DAY)
    scope = Scope.system(tenant.tenant.id)
    too_early = DAY.replace(hour=9, minute=12)  # the day's first quarter has not settled
    with unit_of_work(sessions) as session:
        assert rollups.roll(session, scope, too_early) is None
        assert rollups.roll_tenants(session, too_early) is False
        assert rollups.watermark(session, scope) is None


def test_a_call_still_open_holds_the_watermark_at_its_quarter(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    history = seed_day(sessions, tenant.tenant.id, DAY)
    scope = Scope.system(tenant.tenant.id)
    with unit_of_work(sessions) as session:
        open_call = CallAttempt(
            tenant_id=tenant.tenant.id,
            campaign_id=history.campaign_ids[0],
            b_number="+4930111111",
            started_at=DAY.replace(hour=12, minute=7),
        )
        session.add(open_call)
    with unit_of_work(sessions) as session:
        assert rollups.roll_all(session, scope, END_OF_DAY) == DAY.replace(hour=12)
    from_history = _reports(sessions, scope, END_OF_DAY)
    with unit_of_work(sessions) as session:
        ended = session.get_one(CallAttempt, open_call.id)
        ended.ended_at, ended.outcome = (
            ended.started_at + timedelta(seconds=30),
            CallOutcome.MACHINE,
        )
    with unit_of_work(sessions) as session:
        assert rollups.roll_all(session, scope, END_OF_DAY) == END_OF_DAY - timedelta(minutes=15)
    after = _reports(sessions, scope, END_OF_DAY)
    assert after != from_history  # the call counts as a machine now, in the rollups


def test_housekeeping_rolls_every_tenant_on_and_keeps_them_apart(
    sessions: SessionMaker, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    seed_day(sessions, tenant.tenant.id, DAY)
    mine, theirs = Scope.system(tenant.tenant.id), Scope.system(other_tenant.tenant.id)
    from_history = _reports(sessions, mine, END_OF_DAY)

    async def rolled() -> datetime | None:
        async with asyncio.timeout(120):
            task = asyncio.create_task(roll_up(sessions, every=0.05))
            try:
                while (mark := _mark(sessions, mine)) is None or mark < END_OF_DAY:
                    await asyncio.sleep(0.05)
            finally:
                task.cancel()
        return mark

    assert asyncio.run(rolled()) is not None
    assert _mark(sessions, theirs) is None  # no history: nothing to roll
    assert_close(_reports(sessions, mine, END_OF_DAY), from_history)
    assert _reports(sessions, theirs, END_OF_DAY) == [[], [], [], [], []]


def _mark(sessions: SessionMaker, scope: Scope) -> datetime | None:
    with unit_of_work(sessions) as session:
        return rollups.watermark(session, scope)


ATTEMPT_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "user_id",
    "quarter",
    "attempts",
    "live",
    "machines",
)
ATTEMPT_COLUMNS += ("abandoned", "connects", "outside_hours")


def _rolled_rows(sessions: SessionMaker, scope: Scope) -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup row of the tenant, without ids, in a stable order."""
    with unit_of_work(sessions) as session:
        q, s, m = AttemptQuarter, AgentStateQuarter, AgentStateMark
        found: dict[str, list[tuple[Any, ...]]] = {
            "attempts": [
                tuple(getattr(r, name) for name in ATTEMPT_COLUMNS)
                for r in session.scalars(owned(q, scope))
            ],
            "states": [
                (r.user_id, r.state, r.pause_reason, r.campaign_id, r.quarter, round(r.seconds, 3))
                for r in session.scalars(owned(s, scope))
            ],
            "marks": [
                (r.user_id, r.state, r.pause_reason, r.campaign_id, r.at)
                for r in session.scalars(owned(m, scope))
            ],
        }
    return {name: sorted(rows, key=repr) for name, rows in found.items()}


def _unroll(sessions: SessionMaker, scope: Scope) -> None:
    with unit_of_work(sessions) as session:
        for model in (AttemptQuarter, AgentStateQuarter, AgentStateMark, ReportWatermark):
            session.execute(delete(model).where(model.tenant_id == scope.tenant_id))


@pytest.mark.parametrize("step", [timedelta(minutes=15), timedelta(hours=2, minutes=45)])
def test_rolling_in_small_steps_gives_the_rows_of_one_pass(
    sessions: SessionMaker, tenant: NewTenant, step: timedelta
) -> None:
    """Housekeeping rolls in bounded steps (short transactions); where the steps fall must not
    show in the rows, nor in any report."""
    history = seed_day(sessions, tenant.tenant.id, DAY)
    scope = Scope.system(tenant.tenant.id)
    with unit_of_work(sessions) as session:
        # Kathmandu (+5:45) hours that close mid-morning: a part of the day's calls are outside
        campaign = session.get_one(Campaign, history.campaign_ids[0])
        campaign.timezone = "Asia/Kathmandu"
        campaign.calling_hours_start, campaign.calling_hours_end = time(15, 20), time(19, 40)
    from_history = _reports(sessions, scope, END_OF_DAY)
    with unit_of_work(sessions) as session:
        assert rollups.roll_all(session, scope, SETTLED, step) == END_OF_DAY
    in_steps = _rolled_rows(sessions, scope)
    assert_close(_reports(sessions, scope, END_OF_DAY), from_history)
    _unroll(sessions, scope)
    with unit_of_work(sessions) as session:
        assert rollups.roll(session, scope, SETTLED, timedelta(days=2)) == END_OF_DAY
    once = _rolled_rows(sessions, scope)
    for name in once:
        print(
            name,
            sorted(set(once[name]) - set(in_steps[name]), key=repr)[:5],
            sorted(set(in_steps[name]) - set(once[name]), key=repr)[:5],
        )
    assert once == in_steps
    outside = sum(row[-1] for row in in_steps["attempts"])
    attempts = sum(row[3] for row in in_steps["attempts"])
    assert 0 < outside < attempts


def test_calls_outside_hours_are_judged_per_minute_as_the_history_is(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """A campaign open 11:01-13:59 UTC (its agents call 09:10-17:10): the rollups count the
    same calls outside hours as the history's per-minute check."""
    history = seed_day(sessions, tenant.tenant.id, DAY)
    scope = Scope.system(tenant.tenant.id)
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, history.campaign_ids[1])
        campaign.calling_hours_start, campaign.calling_hours_end = time(11, 1), time(13, 59)
        opened = list(rollups.open_spans(campaign, NO_TENANT_RULES, DAY, END_OF_DAY))
    assert opened == [(DAY.replace(hour=11, minute=1), DAY.replace(hour=13, minute=59))]
    from_history = _reports(sessions, scope, END_OF_DAY)
    with unit_of_work(sessions) as session:
        assert rollups.roll_all(session, scope, SETTLED) == END_OF_DAY
    assert_close(_reports(sessions, scope, END_OF_DAY), from_history)
    compliance = from_history[-1]
    assert any(row["outside_hours"] for row in compliance)


def test_a_date_the_tenant_closed_counts_every_call_on_it_outside_hours(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """The tenant's closed dates close every campaign of its (as the engine keeps them): a
    call on such a day is outside hours, in the history's count and the rollups' alike."""
    seed_day(sessions, tenant.tenant.id, DAY)
    scope = Scope.system(tenant.tenant.id)
    with unit_of_work(sessions) as session:
        session.get_one(Tenant, tenant.tenant.id).closed_dates = [DAY.date().isoformat()]
        calls = session.scalar(
            select(func.count()).select_from(owned(CallAttempt, scope).subquery())
        )
    from_history = _reports(sessions, scope, END_OF_DAY)
    outside = [row["outside_hours"] for row in from_history[-1]]
    assert sum(cast(int, n) for n in outside) == calls
    with unit_of_work(sessions) as session:
        assert rollups.roll_all(session, scope, SETTLED) == END_OF_DAY
    assert_close(_reports(sessions, scope, END_OF_DAY), from_history)


def test_a_filtered_campaign_report_keeps_each_campaigns_own_occupancy(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """Occupancy belongs to the campaign: filtered by an agent or a campaign, a row shows the
    occupancy the unfiltered report shows for that campaign and hour (the filtered report
    reads only the campaigns it shows), rolled up or not."""
    history = seed_day(sessions, tenant.tenant.id, DAY)
    scope = Scope.system(tenant.tenant.id)
    day = DAY.date()
    wanted = [
        ReportFilter(day, day, user_id=history.agent_ids[0]),
        ReportFilter(day, day, campaign_id=history.campaign_ids[1]),
    ]
    for rolled_at in (None, SETTLED):
        if rolled_at is not None:
            with unit_of_work(sessions) as session:
                rollups.roll_all(session, scope, rolled_at)
        with unit_of_work(sessions) as session:
            every = service.campaign_periods(
                session, scope, ReportFilter(day, day), "hour", END_OF_DAY
            )
            occupancy = {(r.campaign_id, r.period): r.occupancy for r in every}
            assert any(occupancy.values())
            for one in wanted:
                rows = service.campaign_periods(session, scope, one, "hour", END_OF_DAY)
                assert rows
                for row in rows:
                    assert row.occupancy == pytest.approx(occupancy[(row.campaign_id, row.period)])
