"""The runner's copy of its campaign: kept while the row is unchanged, read again after any
change (ORM or Core), gone with the row; confirmed by the version its read's and its claim's
own statements return."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.campaign_runner import CampaignRunner, Launch, TickPlan
from opendialer.engine.kept_campaign import KeptCampaign
from opendialer.models import CallAttempt, Campaign, CampaignStatus
from tests.engine.helpers import dialling_engine, make_campaign
from tests.statements import statements_sent

T = TypeVar("T")


def _campaign_id(sessions: SessionMaker, tenant: NewTenant) -> int:
    with unit_of_work(sessions) as session:
        return make_campaign(session, tenant).id


def _loads(sessions: SessionMaker, kept: KeptCampaign) -> tuple[Campaign | None, int]:
    """The kept campaign in a new transaction, and how many full reads of the row it took."""
    with unit_of_work(sessions) as session, statements_sent(session.connection().engine) as sent:
        campaign = kept.get(session)
    return campaign, sum(s.startswith("SELECT campaigns.tenant_id") for s in sent)


def test_an_unchanged_campaign_is_not_read_again(sessions: SessionMaker, tenant: NewTenant) -> None:
    kept = KeptCampaign(_campaign_id(sessions, tenant))
    first, reads = _loads(sessions, kept)
    assert first is not None and reads == 1
    again, reads = _loads(sessions, kept)
    assert again is first and reads == 0


def test_any_change_is_read_again(sessions: SessionMaker, tenant: NewTenant) -> None:
    campaign_id = _campaign_id(sessions, tenant)
    kept = KeptCampaign(campaign_id)
    _loads(sessions, kept)
    with unit_of_work(sessions) as session:
        session.get_one(Campaign, campaign_id).ring_timeout_seconds = 41
    changed, reads = _loads(sessions, kept)
    assert changed is not None and changed.ring_timeout_seconds == 41 and reads == 1
    with unit_of_work(sessions) as session:
        lines = update(Campaign).where(Campaign.id == campaign_id).values(max_parallel_lines=7)
        session.execute(lines)
    changed, reads = _loads(sessions, kept)
    assert changed is not None and changed.max_parallel_lines == 7 and reads == 1


def test_a_deleted_campaign_is_none(sessions: SessionMaker, tenant: NewTenant) -> None:
    campaign_id = _campaign_id(sessions, tenant)
    kept = KeptCampaign(campaign_id)
    _loads(sessions, kept)
    with unit_of_work(sessions) as session:
        session.execute(delete(Campaign).where(Campaign.id == campaign_id))
    assert _loads(sessions, kept) == (None, 0)


def test_the_version_is_read_once_per_transaction(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    kept = KeptCampaign(_campaign_id(sessions, tenant))
    for _ in range(2):  # the next transaction reads it again
        with unit_of_work(sessions) as session:
            engine = session.connection().engine
            with statements_sent(engine) as sent:
                first, second = kept.get(session), kept.get(session)
        versions = [s for s in sent if s.startswith("SELECT campaigns.updated_at")]
        assert first is not None and second is first and len(versions) == 1


def _version(session: Session, campaign_id: int) -> datetime | None:
    """The version, as a statement of the work would read it (it begins the transaction)."""
    return session.scalar(select(Campaign.updated_at).where(Campaign.id == campaign_id))


def test_a_version_read_by_another_statement_confirms_the_copy(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id = _campaign_id(sessions, tenant)
    kept = KeptCampaign(campaign_id)
    first, _ = _loads(sessions, kept)
    with unit_of_work(sessions) as session:
        version = _version(session, campaign_id)
        with statements_sent(session.connection().engine) as sent:
            assert kept.peek(session) is first and not kept.checked(session)
            assert kept.confirm(session, version) and kept.checked(session)
            assert kept.get(session) is first and kept.peek(session) is first
            assert kept.confirm(session, None)  # checked already: nothing to confirm
    assert sent == []


def test_a_version_that_moved_loads_the_row_again(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id = _campaign_id(sessions, tenant)
    kept = KeptCampaign(campaign_id)
    first, _ = _loads(sessions, kept)
    with unit_of_work(sessions) as session:
        session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(ring_timeout_seconds=41)
        )
    with unit_of_work(sessions) as session:
        version = _version(session, campaign_id)
        with statements_sent(session.connection().engine) as sent:
            assert kept.peek(session) is first  # unchecked: the old copy
            assert not kept.confirm(session, version)
            changed = kept.get(session)
    assert changed is not None and changed.ring_timeout_seconds == 41
    assert sum(s.startswith("SELECT campaigns.tenant_id") for s in sent) == 1
    assert not any(s.startswith("SELECT campaigns.updated_at") for s in sent)


def test_no_version_means_deleted(sessions: SessionMaker, tenant: NewTenant) -> None:
    campaign_id = _campaign_id(sessions, tenant)
    kept = KeptCampaign(campaign_id)
    _loads(sessions, kept)
    with unit_of_work(sessions) as session:
        session.execute(delete(Campaign).where(Campaign.id == campaign_id))
        assert not kept.confirm(session, _version(session, campaign_id))
        assert kept.get(session) is None and kept.peek(session) is None


def test_peek_without_a_copy_reads_it(sessions: SessionMaker, tenant: NewTenant) -> None:
    kept = KeptCampaign(_campaign_id(sessions, tenant))
    with unit_of_work(sessions) as session:
        campaign = kept.peek(session)
        assert campaign is not None and kept.checked(session)


# The runner's read and claim confirm the kept copy with the version their own statements read.

START = datetime.fromisoformat("2026-11-23T15:00:00+00:00")  # 16:00 in Berlin: open


def _versions_read(sent: list[str]) -> int:
    return sum(s.startswith("SELECT campaigns.updated_at") for s in sent)


def _change(sessions: SessionMaker, campaign_id: int, **values: object) -> None:
    with unit_of_work(sessions) as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(**values))


def _open_attempts(sessions: SessionMaker, campaign_id: int) -> int:
    with unit_of_work(sessions) as session:
        return len(
            session.scalars(
                select(CallAttempt.id).where(
                    CallAttempt.campaign_id == campaign_id, CallAttempt.outcome.is_(None)
                )
            ).all()
        )


def _runner(
    sessions: SessionMaker, work: Callable[[CampaignRunner, VirtualClock], Awaitable[T]]
) -> tuple[int, T]:
    """A started runner that has read its campaign once (so it keeps a copy), then ``work``."""
    clock = VirtualClock(START)
    campaign_id, engine = dialling_engine(sessions, clock, agents=3, contacts=20, seed=1)

    async def main() -> T:
        runner = await CampaignRunner.start(engine, campaign_id)
        await runner._read(clock.now(), clock.monotonic())
        return await work(runner, clock)

    return campaign_id, clock.run(main())


def test_an_unchanged_campaign_costs_the_read_and_the_claim_no_version_read(
    sessions: SessionMaker,
) -> None:
    async def work(runner: CampaignRunner, clock: VirtualClock) -> tuple[Any, ...]:
        with statements_sent(runner.engine.db.sessions.kw["bind"]) as sent:
            plan = await runner._read(clock.now(), clock.monotonic())
            launches = await runner._claim_decided(2, None, clock.now())
        return plan, launches, sent

    campaign_id, (plan, launches, sent) = _runner(sessions, work)
    assert plan.window_open and plan.counts is not None and plan.counts.logged_in == 3
    assert launches is not None and len(launches) == 2
    assert _versions_read(sent) == 0
    assert _open_attempts(sessions, campaign_id) == 2


def test_a_change_seen_by_the_claims_statement_is_claimed_with(sessions: SessionMaker) -> None:
    async def work(runner: CampaignRunner, clock: VirtualClock) -> list[Launch] | None:
        _change(sessions, runner.campaign_id, ring_timeout_seconds=41)
        return await runner._claim_decided(1, None, clock.now())

    campaign_id, launches = _runner(sessions, work)
    assert launches is not None and [launch.request.ring_timeout for launch in launches] == [41.0]
    assert _open_attempts(sessions, campaign_id) == 1


def test_a_campaign_disabled_since_the_copy_is_neither_read_open_nor_claimed(
    sessions: SessionMaker,
) -> None:
    async def work(runner: CampaignRunner, clock: VirtualClock) -> tuple[Any, ...]:
        _change(sessions, runner.campaign_id, status=CampaignStatus.DISABLED)
        claimed = await runner._claim_decided(1, None, clock.now())
        plan = await runner._read(clock.now(), clock.monotonic())
        return claimed, plan

    campaign_id, (claimed, plan) = _runner(sessions, work)
    assert claimed is None and not plan.window_open and not plan.deleted
    assert _open_attempts(sessions, campaign_id) == 0


def test_a_changed_campaign_is_read_with_its_new_settings(sessions: SessionMaker) -> None:
    async def work(runner: CampaignRunner, clock: VirtualClock) -> TickPlan:
        _change(sessions, runner.campaign_id, wrap_up_seconds=17)
        return await runner._read(clock.now(), clock.monotonic())

    _, plan = _runner(sessions, work)
    assert plan.window_open and plan.wrap_up_seconds == 17


@pytest.mark.parametrize("claim_first", [True, False])
def test_a_campaign_deleted_since_the_copy_is_seen_deleted(
    sessions: SessionMaker, claim_first: bool
) -> None:
    async def work(runner: CampaignRunner, clock: VirtualClock) -> tuple[Any, ...]:
        with unit_of_work(sessions) as session:
            session.execute(delete(Campaign).where(Campaign.id == runner.campaign_id))
        claimed = await runner._claim_decided(1, None, clock.now()) if claim_first else None
        return claimed, await runner._read(clock.now(), clock.monotonic())

    _, (claimed, plan) = _runner(sessions, work)
    assert claimed is None and plan.deleted
