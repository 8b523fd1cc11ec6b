"""Campaign leases in the database: one holder per campaign on both databases, however many
engines act at once; take-over after expiry; release; a stopping engine gives everything up."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.campaign_leases import Round, _apply, held, ownership_round
from opendialer.engine.ownership import Plan
from opendialer.engine.recovery import give_up, renew_lease
from opendialer.models import Campaign, CampaignLease, CampaignStatus, EngineLease
from tests.engine.helpers import NOW, make_campaign

LEASE = 30.0


def _campaigns(sessions: SessionMaker, tenant: NewTenant, count: int) -> list[int]:
    with unit_of_work(sessions) as session:
        return [make_campaign(session, tenant, name=f"C{i}").id for i in range(count)]


def _round(
    sessions: SessionMaker, engine_id: str, at: float = 0.0, busy: tuple[int, ...] = ()
) -> Round:
    now = NOW + timedelta(seconds=at)
    with unit_of_work(sessions) as session:
        renew_lease(session, engine_id, now, LEASE)
        return ownership_round(session, engine_id, now, LEASE, busy)


def _holders(sessions: SessionMaker) -> dict[int, str]:
    with unit_of_work(sessions) as session:
        return {r.campaign_id: r.engine_id for r in session.scalars(select(CampaignLease))}


def test_a_lone_engine_paces_every_enabled_campaign(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    ids = _campaigns(sessions, tenant, 3)
    assert _round(sessions, "a").dialling == set(ids)
    assert _round(sessions, "a", at=10).dialling == set(ids)  # renewed, still its own


def test_three_engines_share_the_campaigns_fairly(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    ids = _campaigns(sessions, tenant, 6)
    for engine in "abc":  # all three alive before any round
        with unit_of_work(sessions) as session:
            renew_lease(session, engine, NOW, LEASE)
    dialling: dict[str, set[int]] = {}
    for at in range(0, 60, 10):  # a few rounds: a, b and c each take and give back
        for engine in "abc":
            done = _round(sessions, engine, at=at)
            dialling[engine] = done.dialling
    holders = _holders(sessions)
    assert sorted(holders) == sorted(ids)
    assert sorted(len(d) for d in dialling.values()) == [2, 2, 2]
    for engine, campaigns in dialling.items():
        assert all(holders[c] == engine for c in campaigns)


def test_a_campaign_given_back_stays_held_while_its_calls_last(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    ids = _campaigns(sessions, tenant, 3)
    assert _round(sessions, "a").dialling == set(ids)
    with unit_of_work(sessions) as session:
        renew_lease(session, "b", NOW, LEASE)  # b starts: a's share is now 2
    busy = _round(sessions, "a", at=1, busy=tuple(ids))
    assert len(busy.giving_back) == 1 and not busy.released
    (going,) = busy.giving_back
    assert going not in busy.dialling
    assert going not in _round(sessions, "b", at=2).dialling  # still held by a
    idle = _round(sessions, "a", at=3)
    assert idle.released == {going}
    assert going in _round(sessions, "b", at=4).dialling


def test_an_expired_campaign_lease_is_taken_over(sessions: SessionMaker, tenant: NewTenant) -> None:
    (campaign_id,) = _campaigns(sessions, tenant, 1)
    assert _round(sessions, "a").dialling == {campaign_id}
    assert _round(sessions, "b", at=LEASE - 1).dialling == set()  # a's lease still holds
    assert _round(sessions, "b", at=LEASE + 1).dialling == {campaign_id}
    assert _round(sessions, "a", at=LEASE + 2).dialling == set()  # a came back: too late
    assert _holders(sessions) == {campaign_id: "b"}


def test_a_disabled_campaign_is_given_back(sessions: SessionMaker, tenant: NewTenant) -> None:
    ids = _campaigns(sessions, tenant, 2)
    _round(sessions, "a")
    with unit_of_work(sessions) as session:
        session.get_one(Campaign, ids[0]).status = CampaignStatus.DISABLED
    done = _round(sessions, "a", at=1)
    assert done.released == {ids[0]}
    assert done.dialling == {ids[1]}


def test_a_plan_made_from_a_stale_read_takes_nothing_already_held(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """Two engines that read the same free campaigns at once both try to take them: the
    database lets one win each (a fresh lease is neither updated nor inserted twice)."""
    ids = _campaigns(sessions, tenant, 4)
    assert _round(sessions, "a").dialling == set(ids)
    until = NOW + timedelta(seconds=LEASE)
    with unit_of_work(sessions) as session:
        stale = _apply(session, "b", Plan(take=ids), NOW, until, ())
    assert stale.dialling == set()
    assert set(_holders(sessions).values()) == {"a"}


def test_a_stopping_engine_gives_up_its_campaigns_and_its_lease(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    ids = _campaigns(sessions, tenant, 2)
    _round(sessions, "a")
    with unit_of_work(sessions) as session:
        give_up(session, "a", NOW)
    with unit_of_work(sessions) as session:
        assert held(session, "a") == []
        assert session.get(EngineLease, "a") is None
    assert _round(sessions, "b", at=1).dialling == set(ids)


@pytest.mark.parametrize("engines", [2, 3])
def test_every_campaign_has_one_holder_whatever_the_order(
    sessions: SessionMaker, tenant: NewTenant, engines: int
) -> None:
    ids = _campaigns(sessions, tenant, 5)
    names = [f"e{i}" for i in range(engines)]
    for at in range(0, 60, 10):  # engines start one by one, then settle within a few rounds
        for engine in reversed(names) if at % 20 else names:
            _round(sessions, engine, at=at)
    holders = _holders(sessions)
    assert sorted(holders) == sorted(ids)
    counts = [list(holders.values()).count(n) for n in names]
    assert max(counts) - min(counts) <= 1
