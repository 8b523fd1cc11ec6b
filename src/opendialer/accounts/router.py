"""Native API: the caller's tenant and its API keys."""

from opendialer.accounts import service
from opendialer.accounts.roles import AdminScope
from opendialer.accounts.schemas import (
    AccountCode,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    TenantRead,
    TenantUpdate,
)
from opendialer.models import ApiKey, Tenant
from opendialer.web.db import DbSession
from opendialer.web.params import RecordId
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, tags=["tenant"])


@router.get("/tenant", response_model=TenantRead)
def get_tenant(session: DbSession, who: AdminScope) -> Tenant:
    return service.get_tenant(session, who)


@router.patch("/tenant", response_model=TenantRead)
def update_tenant(body: TenantUpdate, session: DbSession, who: AdminScope) -> Tenant:
    """The tenant's settings, among them the calling rules every campaign keeps besides its
    own (holidays, closed dates, frequency caps: docs/compliance.md)."""
    return service.update_tenant(session, who, body.model_dump(exclude_unset=True))


@router.post("/tenant:rotate-link-key", response_model=TenantRead)
def rotate_link_key(session: DbSession, who: AdminScope) -> Tenant:
    """Void every recording and export link handed out so far; new links work again."""
    return service.rotate_link_key(session, who)


@router.post("/tenant:new-account-code", response_model=AccountCode)
def new_account_code(session: DbSession, who: AdminScope) -> AccountCode:
    """A new Voicenter account code (GetCampaignList); the old one stops working."""
    return AccountCode(account_code=service.new_account_code(session, who))


@router.get("/api-keys", response_model=list[ApiKeyRead])
def list_api_keys(session: DbSession, who: AdminScope) -> list[ApiKey]:
    return service.list_api_keys(session, who)


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
def create_api_key(body: ApiKeyCreate, session: DbSession, who: AdminScope) -> ApiKeyCreated:
    created = service.create_api_key(session, who, body.name, body.role)
    return ApiKeyCreated.model_validate(
        {**ApiKeyRead.model_validate(created.record).model_dump(), "key": created.key}
    )


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead)
def revoke_api_key(key_id: RecordId, session: DbSession, who: AdminScope) -> ApiKey:
    return service.revoke_api_key(session, who, key_id)
