"""Native API: the tenant-wide and per-campaign do-not-call lists."""

from typing import Annotated

from fastapi import Query

from opendialer.accounts.roles import AdminScope, SupervisorScope
from opendialer.dnc import service
from opendialer.dnc.schemas import DncBulkResult, DncCheck, DncEntryRead, DncNumbers, DncOutcome
from opendialer.errors import InvalidPhoneNumber
from opendialer.models import DncEntry
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.phones import MAX_RAW_LENGTH
from opendialer.web.db import DbSession
from opendialer.web.params import RecordId
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, tags=["dnc"])

CampaignFilter = Annotated[int | None, Query(ge=1, le=2**63 - 1)]


@router.post("/dnc", response_model=DncBulkResult)
def add_numbers(body: DncNumbers, session: DbSession, who: AdminScope) -> DncBulkResult:
    """Add up to 10,000 numbers to the tenant-wide list (or a campaign's), one outcome each."""
    records = service.add_numbers(
        session, who, body.campaign_id, body.numbers, body.source, body.note, body.expires_at
    )
    return DncBulkResult.of(records)


@router.post("/dnc:remove", response_model=DncBulkResult)
def remove_numbers(body: DncNumbers, session: DbSession, who: AdminScope) -> DncBulkResult:
    """Remove numbers from the tenant-wide list (or a campaign's); ``source``/``note`` unused."""
    return DncBulkResult.of(service.remove_numbers(session, who, body.campaign_id, body.numbers))


@router.post("/dnc:replace", response_model=DncBulkResult)
def replace_list(body: DncNumbers, session: DbSession, who: AdminScope) -> DncBulkResult:
    """Replace the tenant-wide list (or a campaign's) with a new version, atomically: readers
    see the old list or the new one, never a mix, and a failure leaves the old list. One
    outcome per number given; ``counts.removed``: the entries the new version dropped."""
    records, removed = service.replace_list(
        session, who, body.campaign_id, body.numbers, (body.source, body.note, body.expires_at)
    )
    result = DncBulkResult.of(records)
    result.counts[DncOutcome.REMOVED] = removed
    return result


@router.get("/dnc/check", response_model=DncCheck)
def check(
    session: DbSession,
    who: SupervisorScope,
    number: Annotated[str, Query(min_length=1, max_length=MAX_RAW_LENGTH)],
    campaign_id: CampaignFilter = None,
) -> DncCheck:
    """Is the number blocked for the campaign (or, without one, tenant-wide), and by what?"""
    [result] = service.check_numbers(session, who, campaign_id, [number])
    if result.e164 is None:
        raise InvalidPhoneNumber(f"{number!r} is not a valid phone number")
    return result


@router.get("/dnc", response_model=Page[DncEntryRead])
def list_entries(
    session: DbSession,
    who: SupervisorScope,
    page: PageParams,
    campaign_id: CampaignFilter = None,
    tenant_wide: Annotated[bool, Query(description="Only the tenant-wide list")] = False,
    number: Annotated[
        str | None,
        Query(
            max_length=32,
            pattern=r"^[+\d\s\-./()]*\d[+\d\s\-./()]*$",
            description="Digits the E.164 number contains, e.g. 4930123",
        ),
    ] = None,
) -> Page[DncEntryRead]:
    stmt = service.dnc_query(who, campaign_id=campaign_id, tenant_wide=tenant_wide, number=number)
    service.check_campaign(session, who, campaign_id)
    return fetch_page(session, stmt, DncEntry.id, page, DncEntryRead)


@router.delete("/dnc/{entry_id}", status_code=204)
def delete_entry(entry_id: RecordId, session: DbSession, who: AdminScope) -> None:
    service.delete_entry(session, who, entry_id)
