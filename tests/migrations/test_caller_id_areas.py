"""Migration 27a0c0000004 on a database whose caller-ID pools already hold numbers."""

from sqlalchemy import select

from opendialer import migrate
from opendialer.accounts.service import create_tenant
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.models import CallerIdNumber
from tests.factories import make_campaign

BEFORE = "27a0c0000001"
BERLIN, MUNICH, MOBILE = "+493012345678", "+49891234567", "+4915112345678"


def test_the_numbers_already_pooled_get_their_area(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    engine = create_db_engine(empty_url)
    sessions = create_sessionmaker(engine)
    try:
        with unit_of_work(sessions) as session:
            tenant = create_tenant(session, "t", default_region="DE", timezone="Europe/Berlin")
            campaign = make_campaign(session, tenant.tenant.id)
            for e164 in (BERLIN, MUNICH, MOBILE):
                session.add(
                    CallerIdNumber(tenant_id=tenant.tenant.id, campaign_id=campaign.id, e164=e164)
                )
        migrate.downgrade(empty_url, BEFORE)  # the column goes: these numbers predate it
        migrate.upgrade(empty_url)
        with unit_of_work(sessions) as session:
            rows = session.execute(select(CallerIdNumber.e164, CallerIdNumber.area)).all()
        assert dict(rows) == {BERLIN: "DE Berlin", MUNICH: "DE Munich", MOBILE: None}
    finally:
        engine.dispose()
