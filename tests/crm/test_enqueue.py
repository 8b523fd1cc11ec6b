"""Enqueueing reads the tenant's active endpoints once per transaction (an attempt's end
enqueues its call and often its contact), sees an endpoint added in the same transaction, and
reads them again in the next transaction."""

from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.crm import service
from opendialer.crm.schemas import EndpointCreate
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import Campaign
from opendialer.scoping import Scope
from tests.engine.helpers import NOW, make_campaign
from tests.statements import statements_sent


def _add_endpoint(session: Session, tenant: NewTenant) -> None:
    body = EndpointCreate.model_validate(
        {"name": "crm", "kind": "webhook", "url": "http://127.0.0.1:9/"}
    )
    service.create_endpoint(session, Scope.system(tenant.tenant.id), body)


def _enqueued(session: Session, campaign: Campaign) -> int:
    return len(service.enqueue_campaign_status(session, campaign, True, NOW))


def _endpoint_reads(sent: list[str]) -> int:
    return sum(s.startswith("SELECT crm_endpoints.id") for s in sent)


def test_endpoints_are_read_once_per_transaction(sessions: SessionMaker, tenant: NewTenant) -> None:
    with unit_of_work(sessions) as session:
        campaign_id = make_campaign(session, tenant).id
        _add_endpoint(session, tenant)
    for _ in range(2):  # the next transaction reads them again
        with unit_of_work(sessions) as session:
            campaign = session.get_one(Campaign, campaign_id)
            with statements_sent(session.connection().engine) as sent:
                counts = [_enqueued(session, campaign), _enqueued(session, campaign)]
            assert counts == [1, 1] and _endpoint_reads(sent) == 1


def test_an_endpoint_added_in_the_transaction_is_seen(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        campaign = make_campaign(session, tenant)
        _add_endpoint(session, tenant)
        first = _enqueued(session, campaign)
        _add_endpoint(session, tenant)
        assert (first, _enqueued(session, campaign)) == (1, 2)
