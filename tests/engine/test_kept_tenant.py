"""The tenant's rules a claim keeps between transactions: read once, read again after any
change of the tenant's row (ORM or Core, in this transaction or another), never kept from a
transaction that rolled back."""

from sqlalchemy import update

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.selection import Claim, claim_next
from opendialer.models import Campaign, Tenant
from opendialer.models.tenant import TENANTS
from tests.engine.helpers import NOW, make_campaign, make_contact
from tests.factories import make_attempt
from tests.statements import statements_sent

BERLIN = "+493012345678"


def _arranged(sessions: SessionMaker, tenant: NewTenant, contacts: int = 3) -> int:
    with unit_of_work(sessions) as session:
        campaign = make_campaign(session, tenant)
        for i in range(contacts):
            make_contact(session, campaign, f"+4930123456{i:02d}")
        return campaign.id


def _claim(sessions: SessionMaker, campaign_id: int) -> tuple[Claim | None, int]:
    """A claim in a new transaction, and how many reads of the tenant's rules it made."""
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        with statements_sent(session.connection().engine) as sent:
            claim = claim_next(session, campaign, NOW, "t")
    return claim, sum(s.startswith("SELECT tenants.updated_at, tenants.holiday") for s in sent)


def test_unchanged_rules_are_not_read_again(sessions: SessionMaker, tenant: NewTenant) -> None:
    campaign_id = _arranged(sessions, tenant)
    first, reads = _claim(sessions, campaign_id)
    assert first is not None and reads <= 1  # read at most once per connection
    again, reads = _claim(sessions, campaign_id)
    assert again is not None and reads == 0


def test_a_change_in_another_transaction_is_seen(sessions: SessionMaker, tenant: NewTenant) -> None:
    campaign_id = _arranged(sessions, tenant)
    assert _claim(sessions, campaign_id)[0] is not None
    with unit_of_work(sessions) as session:
        session.get_one(Tenant, tenant.tenant.id).closed_dates = [NOW.date().isoformat()]
    closed, reads = _claim(sessions, campaign_id)
    assert closed is None and reads == 1
    with unit_of_work(sessions) as session:  # Core, not the ORM: updated_at moves all the same
        session.execute(
            update(TENANTS).where(TENANTS.c.id == tenant.tenant.id).values(closed_dates=[])
        )
    assert _claim(sessions, campaign_id)[0] is not None


def test_rules_of_a_rolled_back_transaction_are_not_kept(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id = _arranged(sessions, tenant, contacts=0)
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        make_contact(session, campaign, BERLIN)
        make_attempt(session, tenant.tenant.id, b_number=BERLIN, started_at=NOW, ended_at=NOW)
    with sessions() as session:
        session.get_one(Tenant, tenant.tenant.id).max_attempts_per_number = 1
        assert claim_next(session, session.get_one(Campaign, campaign_id), NOW, "t") is None
        session.rollback()
    claim, reads = _claim(sessions, campaign_id)
    assert claim is not None and claim.e164 == BERLIN and reads == 1
