"""The runner's copy of its campaign: kept while the row is unchanged, read again after any
change (ORM or Core), gone with the row."""

from sqlalchemy import delete, update

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.kept_campaign import KeptCampaign
from opendialer.models import Campaign
from tests.engine.helpers import make_campaign
from tests.statements import statements_sent


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
