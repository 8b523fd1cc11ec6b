"""The report rollups: exact against the history alone wherever the watermark stands, held back
by a call still open, moved on by housekeeping, one tenant's never another's."""

import asyncio
from datetime import UTC, datetime, timedelta

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.housekeeping import roll_up
from opendialer.models import AttemptQuarter, CallAttempt, CallOutcome
from opendialer.reports import rollups
from opendialer.scoping import Scope, owned
from tests.reports.history import seed_day
from tests.reports.test_service import assert_close, every_report

DAY = datetime(2026, 11, 24, tzinfo=UTC)
END_OF_DAY = DAY + timedelta(days=1)


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
