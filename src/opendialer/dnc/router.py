"""Native API: the tenant-wide and per-campaign do-not-call lists."""

from typing import Annotated

from fastapi import APIRouter, Query

from opendialer.accounts.dependencies import CurrentPrincipal
from opendialer.accounts.service import get_tenant
from opendialer.db import DbSession
from opendialer.dnc import service
from opendialer.dnc.schemas import DncBulkResult, DncCheck, DncEntryRead, DncNumbers
from opendialer.models import DncEntry
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.phones import normalize
from opendialer.schemas import RecordId

router = APIRouter(tags=["dnc"])


@router.post("/dnc", response_model=DncBulkResult)
def add_numbers(body: DncNumbers, session: DbSession, who: CurrentPrincipal) -> DncBulkResult:
    """Add one or many numbers (up to 10,000) with a per-number outcome."""
    return service.add_numbers(session, get_tenant(session, who.tenant_id), body)


@router.post("/dnc:remove", response_model=DncBulkResult)
def remove_numbers(body: DncNumbers, session: DbSession, who: CurrentPrincipal) -> DncBulkResult:
    """Remove one or many numbers from the tenant-wide list or a campaign's list."""
    return service.remove_numbers(session, get_tenant(session, who.tenant_id), body)


@router.get("/dnc/check", response_model=DncCheck)
def check(
    session: DbSession,
    who: CurrentPrincipal,
    number: Annotated[str, Query(min_length=1, max_length=64)],
    campaign_id: Annotated[int | None, Query(ge=1)] = None,
) -> DncCheck:
    """Is the number blocked for the campaign (or tenant-wide), and by which entries?"""
    phone = normalize(number, get_tenant(session, who.tenant_id).default_region)
    entries = (
        service.entries_for(session, who.tenant_id, campaign_id, phone.e164) if phone.e164 else []
    )
    return DncCheck(
        number=number,
        e164=phone.e164,
        blocked=bool(entries),
        entries=[DncEntryRead.model_validate(e) for e in entries],
    )


@router.get("/dnc", response_model=Page[DncEntryRead])
def list_entries(
    session: DbSession,
    who: CurrentPrincipal,
    page: PageParams,
    campaign_id: Annotated[int | None, Query(ge=1)] = None,
    tenant_wide: Annotated[bool, Query(description="Only the tenant-wide list")] = False,
    number: Annotated[str | None, Query(max_length=20, description="Digits to look for")] = None,
) -> Page[DncEntryRead]:
    stmt = service.dnc_query(
        who.tenant_id, campaign_id=campaign_id, tenant_wide=tenant_wide, number=number
    )
    return fetch_page(session, stmt, DncEntry.id, page, DncEntryRead)


@router.delete("/dnc/{entry_id}", status_code=204)
def delete_entry(entry_id: RecordId, session: DbSession, who: CurrentPrincipal) -> None:
    service.delete_entry(session, who.tenant_id, entry_id)
