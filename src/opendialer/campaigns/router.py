"""Native API: campaigns, result codes, retry rules, order-form fields, members and lists."""

from typing import Annotated

from fastapi import Path, Query

from opendialer.accounts.roles import AdminScope, AgentScope, SupervisorScope
from opendialer.campaigns import codes, service
from opendialer.campaigns.codes import CodeKey
from opendialer.campaigns.dependencies import CampaignCodeKey
from opendialer.campaigns.schemas import (
    CampaignCreate,
    CampaignRead,
    CampaignUpdate,
    FormFieldRead,
    FormFieldWrite,
    ListCreate,
    ListRead,
    ListUpdate,
    MemberAdd,
    MemberRead,
    ResultCodeCreate,
    ResultCodeRead,
    ResultCodeUpdate,
    RetryRuleRead,
    RetryRuleWrite,
)
from opendialer.inputs import MAX_DB_INT
from opendialer.models import (
    Campaign,
    CampaignMember,
    CampaignStatus,
    ContactList,
    DialMode,
    FormField,
    ResultCode,
    RetryRule,
)
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.web.db import DbSession
from opendialer.web.params import RecordId
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, tags=["campaigns"])


def _read(key: CodeKey, campaign: Campaign) -> CampaignRead:
    return CampaignRead.model_validate(campaign).model_copy(update={"code": key.of(campaign)})


@router.post("/campaigns", status_code=201, response_model=CampaignRead)
def create_campaign(
    body: CampaignCreate, session: DbSession, who: AdminScope, key: CampaignCodeKey
) -> CampaignRead:
    return _read(key, service.create_campaign(session, who, body))


@router.get("/campaigns", response_model=Page[CampaignRead])
def list_campaigns(
    session: DbSession,
    who: SupervisorScope,
    page: PageParams,
    key: CampaignCodeKey,
    status: CampaignStatus | None = None,
    dial_mode: DialMode | None = None,
    name: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
) -> Page[CampaignRead]:
    stmt = service.campaigns_query(who, status=status, dial_mode=dial_mode, name=name)
    return fetch_page(session, stmt, Campaign.id, page, CampaignRead, lambda c: _read(key, c))


@router.get("/campaigns/{campaign_id}", response_model=CampaignRead)
def get_campaign(
    campaign_id: RecordId, session: DbSession, who: SupervisorScope, key: CampaignCodeKey
) -> CampaignRead:
    return _read(key, service.get_campaign(session, who, campaign_id))


@router.patch("/campaigns/{campaign_id}", response_model=CampaignRead)
def update_campaign(
    campaign_id: RecordId,
    body: CampaignUpdate,
    session: DbSession,
    who: AdminScope,
    key: CampaignCodeKey,
) -> CampaignRead:
    return _read(key, service.update_campaign(session, who, campaign_id, body))


@router.post("/campaigns/{campaign_id}:new-code", response_model=CampaignRead)
def new_campaign_code(
    campaign_id: RecordId, session: DbSession, who: AdminScope, key: CampaignCodeKey
) -> CampaignRead:
    """A new Voicenter campaign code; the old one stops working."""
    return _read(key, codes.new_code(session, who, campaign_id))


@router.delete("/campaigns/{campaign_id}", status_code=204)
def delete_campaign(campaign_id: RecordId, session: DbSession, who: AdminScope) -> None:
    service.delete_campaign(session, who, campaign_id)


@router.get("/campaigns/{campaign_id}/result-codes", response_model=list[ResultCodeRead])
def list_result_codes(
    campaign_id: RecordId, session: DbSession, who: AgentScope
) -> list[ResultCode]:
    return service.list_result_codes(session, service.get_campaign(session, who, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/result-codes", status_code=201, response_model=ResultCodeRead
)
def create_result_code(
    campaign_id: RecordId, body: ResultCodeCreate, session: DbSession, who: AdminScope
) -> ResultCode:
    campaign = service.get_campaign(session, who, campaign_id)
    return service.create_result_code(session, campaign, body)


@router.patch("/campaigns/{campaign_id}/result-codes/{code_id}", response_model=ResultCodeRead)
def update_result_code(
    campaign_id: RecordId,
    code_id: RecordId,
    body: ResultCodeUpdate,
    session: DbSession,
    who: AdminScope,
) -> ResultCode:
    campaign = service.get_campaign(session, who, campaign_id)
    return service.update_result_code(session, campaign, code_id, body)


@router.delete("/campaigns/{campaign_id}/result-codes/{code_id}", status_code=204)
def delete_result_code(
    campaign_id: RecordId, code_id: RecordId, session: DbSession, who: AdminScope
) -> None:
    campaign = service.get_campaign(session, who, campaign_id)
    service.delete_result_code(session, campaign, code_id)


@router.get("/campaigns/{campaign_id}/retry-rules", response_model=list[RetryRuleRead])
def list_retry_rules(
    campaign_id: RecordId, session: DbSession, who: SupervisorScope
) -> list[RetryRule]:
    return service.list_retry_rules(session, service.get_campaign(session, who, campaign_id))


@router.put("/campaigns/{campaign_id}/retry-rules", response_model=RetryRuleRead)
def put_retry_rule(
    campaign_id: RecordId, body: RetryRuleWrite, session: DbSession, who: AdminScope
) -> RetryRule:
    campaign = service.get_campaign(session, who, campaign_id)
    return service.put_retry_rule(session, campaign, body)


@router.delete("/campaigns/{campaign_id}/retry-rules/{rule_id}", status_code=204)
def delete_retry_rule(
    campaign_id: RecordId, rule_id: RecordId, session: DbSession, who: AdminScope
) -> None:
    campaign = service.get_campaign(session, who, campaign_id)
    service.delete_retry_rule(session, campaign, rule_id)


@router.get("/campaigns/{campaign_id}/form-fields", response_model=list[FormFieldRead])
def list_form_fields(campaign_id: RecordId, session: DbSession, who: AgentScope) -> list[FormField]:
    return service.list_form_fields(session, service.get_campaign(session, who, campaign_id))


@router.put("/campaigns/{campaign_id}/form-fields", response_model=FormFieldRead)
def put_form_field(
    campaign_id: RecordId, body: FormFieldWrite, session: DbSession, who: AdminScope
) -> FormField:
    campaign = service.get_campaign(session, who, campaign_id)
    return service.put_form_field(session, campaign, body)


@router.delete("/campaigns/{campaign_id}/form-fields/{name}", status_code=204)
def delete_form_field(
    campaign_id: RecordId,
    name: Annotated[str, Path(max_length=100)],
    session: DbSession,
    who: AdminScope,
) -> None:
    campaign = service.get_campaign(session, who, campaign_id)
    service.delete_form_field(session, campaign, name)


@router.get("/campaigns/{campaign_id}/members", response_model=list[MemberRead])
def list_members(
    campaign_id: RecordId, session: DbSession, who: SupervisorScope
) -> list[CampaignMember]:
    return service.list_members(session, service.get_campaign(session, who, campaign_id))


@router.post("/campaigns/{campaign_id}/members", status_code=201, response_model=MemberRead)
def add_member(
    campaign_id: RecordId, body: MemberAdd, session: DbSession, who: AdminScope
) -> CampaignMember:
    campaign = service.get_campaign(session, who, campaign_id)
    return service.add_member(session, campaign, body.user_id)[0]


@router.delete("/campaigns/{campaign_id}/members/{user_id}", status_code=204)
def remove_member(
    campaign_id: RecordId, user_id: RecordId, session: DbSession, who: AdminScope
) -> None:
    campaign = service.get_campaign(session, who, campaign_id)
    service.remove_member(session, campaign, user_id)


@router.post("/campaigns/{campaign_id}/lists", status_code=201, response_model=ListRead)
def create_list(
    campaign_id: RecordId, body: ListCreate, session: DbSession, who: AdminScope
) -> ContactList:
    campaign = service.get_campaign(session, who, campaign_id)
    return service.create_list(session, campaign, body)


@router.get("/lists", response_model=Page[ListRead])
def list_lists(
    session: DbSession,
    who: SupervisorScope,
    page: PageParams,
    campaign_id: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None,
) -> Page[ListRead]:
    stmt = service.lists_query(who, campaign_id)
    return fetch_page(session, stmt, ContactList.id, page, ListRead)


@router.get("/lists/{list_id}", response_model=ListRead)
def get_list(list_id: RecordId, session: DbSession, who: SupervisorScope) -> ContactList:
    return service.get_list(session, who, list_id)


@router.patch("/lists/{list_id}", response_model=ListRead)
def update_list(
    list_id: RecordId, body: ListUpdate, session: DbSession, who: AdminScope
) -> ContactList:
    return service.update_list(session, who, list_id, body)


@router.delete("/lists/{list_id}", status_code=204)
def delete_list(list_id: RecordId, session: DbSession, who: AdminScope) -> None:
    service.delete_list(session, who, list_id)
