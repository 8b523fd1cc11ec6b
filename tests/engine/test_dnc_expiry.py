"""DNC entries that expire: they block until ``expires_at``, at dial time and at import."""

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.dnc.service import blocked_numbers
from opendialer.engine.selection import claim_next
from opendialer.models import DncEntry
from opendialer.scoping import Scope
from tests.engine.helpers import NOW, make_campaign, make_contact


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    expiry_minutes=st.none() | st.integers(-600, 600),
    own_list=st.booleans(),
)
def test_an_entry_blocks_until_it_expires(
    session: Session, tenant: NewTenant, expiry_minutes: int | None, own_list: bool
) -> None:
    nested = session.begin_nested()
    try:
        campaign = make_campaign(session, tenant)
        expires = None if expiry_minutes is None else NOW + timedelta(minutes=expiry_minutes)
        session.add(
            DncEntry(
                tenant_id=campaign.tenant_id,
                campaign_id=campaign.id if own_list else None,
                e164="+4930100",
                expires_at=expires,
            )
        )
        make_contact(session, campaign, "+4930100")
        claim = claim_next(session, campaign, NOW, "t")
        in_force = expires is None or expires > NOW
        assert (claim is None) == in_force
    finally:
        nested.rollback()


def test_expired_entries_do_not_refuse_an_import(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    for number, expires in (("+4930100", NOW), ("+4930101", None)):
        session.add(DncEntry(tenant_id=campaign.tenant_id, e164=number, expires_at=expires))
    session.flush()
    numbers = ["+4930100", "+4930101"]
    assert blocked_numbers(session, Scope.system(campaign.tenant_id), campaign.id, numbers) == {
        "+4930101"
    }
