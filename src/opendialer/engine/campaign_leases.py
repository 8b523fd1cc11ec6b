"""The statements behind campaign ownership (the rules are in ``ownership.py``).

Every change is conditional, so when several engines act at once the database decides:
taking a free campaign inserts its row (the primary key lets one engine win), taking over an
expired lease updates it only while it is still expired, renewing and releasing touch only this
engine's rows.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opendialer.engine.ownership import Lease, Plan, plan
from opendialer.models import Campaign, CampaignLease, CampaignStatus, EngineLease


@dataclass(slots=True)
class Round:
    """This engine's campaigns after one round."""

    dialling: set[int] = field(default_factory=set)  # held: pace them
    giving_back: set[int] = field(default_factory=set)  # held until their calls end: no dials
    released: set[int] = field(default_factory=set)  # given back this round


def ownership_round(
    session: Session,
    engine_id: str,
    now: datetime,
    seconds: float,
    busy: Collection[int] = (),
) -> Round:
    """Renew, take and give back campaign leases for ``engine_id``; ``busy``: the campaigns
    it still has dials in progress or offers in (one given back is released once it has none)."""
    enabled = set(
        session.scalars(select(Campaign.id).where(Campaign.status == CampaignStatus.ENABLED))
    )
    leases = {
        row.campaign_id: Lease(row.engine_id, row.lease_until)
        for row in session.scalars(select(CampaignLease))
    }
    live = session.scalars(select(EngineLease.engine_id).where(EngineLease.lease_until >= now))
    wanted = plan(engine_id, enabled, leases, set(live), now)
    until = now + timedelta(seconds=seconds)
    return _apply(session, engine_id, wanted, now, until, busy)


def _apply(
    session: Session,
    engine_id: str,
    wanted: Plan,
    now: datetime,
    until: datetime,
    busy: Collection[int],
) -> Round:
    done = Round(giving_back={c for c in wanted.give_back if c in busy})
    done.released = set(wanted.give_back) - done.giving_back
    release(session, engine_id, done.released)
    renew(session, engine_id, [*wanted.keep, *done.giving_back], until)
    done.dialling = set(held(session, engine_id)) - done.giving_back
    done.dialling.update(c for c in wanted.take if _acquire(session, engine_id, c, now, until))
    return done


def held(session: Session, engine_id: str) -> list[int]:
    return list(
        session.scalars(
            select(CampaignLease.campaign_id).where(CampaignLease.engine_id == engine_id)
        )
    )


def renew(session: Session, engine_id: str, campaign_ids: Collection[int], until: datetime) -> None:
    if campaign_ids:
        session.execute(
            update(CampaignLease)
            .where(
                CampaignLease.engine_id == engine_id,
                CampaignLease.campaign_id.in_(campaign_ids),
            )
            .values(lease_until=until)
            .execution_options(synchronize_session=False)
        )


def release(session: Session, engine_id: str, campaign_ids: Collection[int] | None = None) -> None:
    """Give back ``campaign_ids`` (every campaign of the engine when None)."""
    stmt = delete(CampaignLease).where(CampaignLease.engine_id == engine_id)
    if campaign_ids is not None:
        if not campaign_ids:
            return
        stmt = stmt.where(CampaignLease.campaign_id.in_(campaign_ids))
    session.execute(stmt.execution_options(synchronize_session=False))


def _acquire(
    session: Session, engine_id: str, campaign_id: int, now: datetime, until: datetime
) -> bool:
    taken = session.execute(
        update(CampaignLease)
        .where(CampaignLease.campaign_id == campaign_id, CampaignLease.lease_until < now)
        .values(engine_id=engine_id, acquired_at=now, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount:  # type: ignore[attr-defined]
        return True
    if session.get(CampaignLease, campaign_id) is not None:
        return False  # held (and renewed meanwhile) by another engine
    try:
        with session.begin_nested():
            session.add(
                CampaignLease(
                    campaign_id=campaign_id, engine_id=engine_id, acquired_at=now, lease_until=until
                )
            )
    except IntegrityError:  # another engine inserted it first, or the campaign was deleted
        return False
    return True
