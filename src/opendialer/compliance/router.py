"""Native API: consent records and holds of a contact; a campaign's caller-ID pool."""

from datetime import UTC, datetime

from opendialer.accounts.roles import AdminScope, SupervisorScope
from opendialer.accounts.service import get_tenant
from opendialer.campaigns.service import get_campaign
from opendialer.compliance import service
from opendialer.compliance.schemas import (
    CallerIdCreate,
    CallerIdRead,
    ConsentCreate,
    ConsentRead,
    HoldRead,
)
from opendialer.contacts.service import get_contact
from opendialer.models import CallerIdNumber, Consent, ContactHold
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.web.db import DbSession
from opendialer.web.params import RecordId
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, tags=["compliance"])


@router.post("/contacts/{contact_id}/consents", status_code=201, response_model=ConsentRead)
def add_consent(
    contact_id: RecordId, body: ConsentCreate, session: DbSession, who: SupervisorScope
) -> Consent:
    return service.add_consent(session, get_contact(session, who, contact_id), body)


@router.get("/contacts/{contact_id}/consents", response_model=Page[ConsentRead])
def list_consents(
    contact_id: RecordId, session: DbSession, who: SupervisorScope, page: PageParams
) -> Page[ConsentRead]:
    get_contact(session, who, contact_id)
    return fetch_page(session, service.consents_query(contact_id), Consent.id, page, ConsentRead)


@router.post("/contacts/{contact_id}/consents:revoke", response_model=Page[ConsentRead])
def revoke_consent(
    contact_id: RecordId, session: DbSession, who: SupervisorScope, page: PageParams
) -> Page[ConsentRead]:
    """Revoke at once: every consent of the contact, and it is not dialled again."""
    contact = get_contact(session, who, contact_id)
    service.revoke_consent(session, contact, datetime.now(UTC))
    return fetch_page(session, service.consents_query(contact_id), Consent.id, page, ConsentRead)


@router.get("/contacts/{contact_id}/holds", response_model=Page[HoldRead])
def list_holds(
    contact_id: RecordId, session: DbSession, who: SupervisorScope, page: PageParams
) -> Page[HoldRead]:
    """Why the engine parked the contact (frequency caps, missing consent), and until when."""
    get_contact(session, who, contact_id)
    return fetch_page(session, service.holds_query(contact_id), ContactHold.id, page, HoldRead)


@router.post("/campaigns/{campaign_id}/caller-ids", status_code=201, response_model=CallerIdRead)
def add_caller_id(
    campaign_id: RecordId, body: CallerIdCreate, session: DbSession, who: AdminScope
) -> CallerIdNumber:
    campaign = get_campaign(session, who, campaign_id)
    region = get_tenant(session, who).default_region
    return service.add_caller_id(session, campaign, region, body)


@router.get("/campaigns/{campaign_id}/caller-ids", response_model=Page[CallerIdRead])
def list_caller_ids(
    campaign_id: RecordId, session: DbSession, who: AdminScope, page: PageParams
) -> Page[CallerIdRead]:
    get_campaign(session, who, campaign_id)
    stmt = service.caller_ids_query(campaign_id)
    return fetch_page(session, stmt, CallerIdNumber.id, page, CallerIdRead)


@router.post("/caller-ids/{caller_id_id}:retire", response_model=CallerIdRead)
def retire_caller_id(caller_id_id: RecordId, session: DbSession, who: AdminScope) -> CallerIdNumber:
    """Never presented again; kept, so past attempts still show where their number came from."""
    return service.retire_caller_id(session, who, caller_id_id, datetime.now(UTC))
