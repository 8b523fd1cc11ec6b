"""DNC service: outcomes, list scopes, checks, the fuzzy rule and the list query."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.dnc import service
from opendialer.dnc.schemas import DncOutcome, DncRecordOutcome
from opendialer.errors import BadRequest, NotFound
from opendialer.models import DialMode, DncEntry, Tenant
from opendialer.scoping import Scope

WIDE = "+49301111111"
OWN = "+49302222222"


def _campaign(session: Session, tenant: Tenant, name: str = "C") -> int:
    data = CampaignCreate(name=name, dial_mode=DialMode.PREVIEW)
    return create_campaign(session, Scope.system(tenant.id), data).id


def _outcomes(records: list[DncRecordOutcome]) -> list[DncOutcome]:
    return [r.outcome for r in records]


def test_add_reports_each_number_and_stores_source_and_note(
    session: Session, tenant: NewTenant
) -> None:
    records = service.add_numbers(
        session,
        Scope.system(tenant.tenant.id),
        None,
        ["030 1111111", "nonsense", ""],
        "crm",
        "asked by phone",
    )
    assert _outcomes(records) == [
        DncOutcome.ADDED,
        DncOutcome.INVALID_NUMBER,
        DncOutcome.INVALID_NUMBER,
    ]
    assert (records[0].number, records[0].e164) == ("030 1111111", WIDE)
    entry = session.scalars(select(DncEntry)).one()
    assert (entry.e164, entry.campaign_id, entry.source, entry.note) == (
        WIDE,
        None,
        "crm",
        "asked by phone",
    )


def test_adding_is_idempotent_across_formats_and_requests(
    session: Session, tenant: NewTenant
) -> None:
    first = service.add_numbers(
        session, Scope.system(tenant.tenant.id), None, [WIDE, "0049 30 1111111"], "a"
    )
    again = service.add_numbers(
        session, Scope.system(tenant.tenant.id), None, ["030/1111111"], "b", "later"
    )
    assert _outcomes(first) == [DncOutcome.ADDED, DncOutcome.EXISTS]
    assert _outcomes(again) == [DncOutcome.EXISTS]
    entry = session.scalars(select(DncEntry)).one()
    assert (entry.source, entry.note) == ("a", None)  # the first addition is kept


def test_same_number_on_the_tenant_list_and_a_campaign_list(
    session: Session, tenant: NewTenant
) -> None:
    campaign = _campaign(session, tenant.tenant)
    service.add_numbers(session, Scope.system(tenant.tenant.id), None, [WIDE])
    added = service.add_numbers(session, Scope.system(tenant.tenant.id), campaign, [WIDE])
    assert _outcomes(added) == [DncOutcome.ADDED]
    removed = service.remove_numbers(
        session, Scope.system(tenant.tenant.id), campaign, [WIDE, WIDE]
    )
    assert _outcomes(removed) == [DncOutcome.REMOVED, DncOutcome.NOT_FOUND]
    assert service.is_blocked(
        session, Scope.system(tenant.tenant.id), campaign, WIDE
    )  # tenant list stays


def test_remove_reports_each_number(session: Session, tenant: NewTenant) -> None:
    service.add_numbers(session, Scope.system(tenant.tenant.id), None, [WIDE])
    records = service.remove_numbers(
        session, Scope.system(tenant.tenant.id), None, ["0301111111", OWN, "12"]
    )
    assert _outcomes(records) == [
        DncOutcome.REMOVED,
        DncOutcome.NOT_FOUND,
        DncOutcome.INVALID_NUMBER,
    ]
    assert session.scalars(select(DncEntry)).all() == []


def test_check_says_which_list_blocks(session: Session, tenant: NewTenant) -> None:
    first, second = _campaign(session, tenant.tenant, "A"), _campaign(session, tenant.tenant, "B")
    service.add_numbers(session, Scope.system(tenant.tenant.id), None, [WIDE])
    service.add_numbers(session, Scope.system(tenant.tenant.id), first, [WIDE, OWN])
    wide, own, bad = service.check_numbers(
        session, Scope.system(tenant.tenant.id), first, [WIDE, "0302222222", "x"]
    )
    assert (wide.blocked, wide.on_tenant_list, wide.on_campaign_list) == (True, True, True)
    assert [e.campaign_id for e in wide.entries] == [None, first]
    assert (own.blocked, own.on_tenant_list, own.on_campaign_list) == (True, False, True)
    assert (bad.e164, bad.blocked) == (None, False)
    [elsewhere] = service.check_numbers(session, Scope.system(tenant.tenant.id), second, [OWN])
    assert elsewhere.blocked is False
    [no_campaign] = service.check_numbers(session, Scope.system(tenant.tenant.id), None, [OWN])
    assert no_campaign.blocked is False  # a campaign's list blocks only that campaign


def test_blocked_numbers_by_scope_over_many_chunks(session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(session, tenant.tenant)
    last = f"+4930{9_000_000 + service.LOOKUP_CHUNK + 10}"
    service.add_numbers(session, Scope.system(tenant.tenant.id), None, [WIDE])
    service.add_numbers(session, Scope.system(tenant.tenant.id), campaign, [OWN, last])
    asked = [f"+4930{9_000_000 + i}" for i in range(service.LOOKUP_CHUNK + 20)] + [WIDE, OWN]
    tid = tenant.tenant.id
    assert service.blocked_numbers(session, Scope.system(tid), campaign, asked) == {WIDE, OWN, last}
    assert service.blocked_numbers(session, Scope.system(tid), None, asked) == {WIDE}
    assert not service.is_blocked(session, Scope.system(tid), None, OWN)


def test_other_tenants_lists_and_campaigns_do_not_count(
    session: Session, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    theirs = _campaign(session, other_tenant.tenant)
    service.add_numbers(session, Scope.system(other_tenant.tenant.id), None, [WIDE])
    assert service.blocked_numbers(session, Scope.system(tenant.tenant.id), None, [WIDE]) == set()
    with pytest.raises(NotFound):
        service.add_numbers(session, Scope.system(tenant.tenant.id), theirs, [OWN])
    with pytest.raises(NotFound):
        service.check_numbers(session, Scope.system(tenant.tenant.id), theirs, [OWN])


def test_dnc_query_filters(session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(session, tenant.tenant)
    service.add_numbers(session, Scope.system(tenant.tenant.id), None, [WIDE])
    service.add_numbers(session, Scope.system(tenant.tenant.id), campaign, [OWN])
    tid = tenant.tenant.id

    def listed(
        campaign_id: int | None = None, tenant_wide: bool = False, number: str | None = None
    ) -> list[str]:
        stmt = service.dnc_query(
            Scope.system(tid), campaign_id=campaign_id, tenant_wide=tenant_wide, number=number
        )
        return [e.e164 for e in session.scalars(stmt.order_by(DncEntry.id))]

    assert listed() == [WIDE, OWN]
    assert listed(tenant_wide=True) == [WIDE]
    assert listed(campaign_id=campaign) == [OWN]
    assert listed(number="30 222") == [OWN]
    assert listed(number="+4930") == [WIDE, OWN]
    with pytest.raises(BadRequest):
        listed(tenant_wide=True, campaign_id=campaign)
