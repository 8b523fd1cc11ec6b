"""Native API: the caller's tenant and its API keys."""

from fastapi import APIRouter

from opendialer.accounts import service
from opendialer.accounts.dependencies import CurrentScope
from opendialer.accounts.schemas import (
    AccountCode,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    TenantRead,
    TenantUpdate,
)
from opendialer.db import DbSession
from opendialer.errors import BadRequest
from opendialer.models import ApiKey, Tenant
from opendialer.schemas import RecordId

router = APIRouter(tags=["tenant"])


@router.get("/tenant", response_model=TenantRead)
def get_tenant(session: DbSession, who: CurrentScope) -> Tenant:
    return service.get_tenant(session, who.tenant_id)


@router.patch("/tenant", response_model=TenantRead)
def update_tenant(body: TenantUpdate, session: DbSession, who: CurrentScope) -> Tenant:
    tenant = service.get_tenant(session, who.tenant_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        if value is None:
            raise BadRequest(f"{key} cannot be null", code="invalid_value")
        setattr(tenant, key, value.upper() if key == "default_region" else value)
    session.flush()
    return tenant


@router.post("/tenant:rotate-link-key", response_model=TenantRead)
def rotate_link_key(session: DbSession, who: CurrentScope) -> Tenant:
    """Void every recording and export link handed out so far; new links work again."""
    return service.rotate_link_key(session, who.tenant_id)


@router.post("/tenant:new-account-code", response_model=AccountCode)
def new_account_code(session: DbSession, who: CurrentScope) -> AccountCode:
    """A new Voicenter account code (GetCampaignList); the old one stops working."""
    return AccountCode(account_code=service.new_account_code(session, who.tenant_id))


@router.get("/api-keys", response_model=list[ApiKeyRead])
def list_api_keys(session: DbSession, who: CurrentScope) -> list[ApiKey]:
    return service.list_api_keys(session, who.tenant_id)


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
def create_api_key(body: ApiKeyCreate, session: DbSession, who: CurrentScope) -> ApiKeyCreated:
    created = service.create_api_key(session, who.tenant_id, body.name)
    return ApiKeyCreated.model_validate(
        {**ApiKeyRead.model_validate(created.record).model_dump(), "key": created.key}
    )


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead)
def revoke_api_key(key_id: RecordId, session: DbSession, who: CurrentScope) -> ApiKey:
    return service.revoke_api_key(session, who.tenant_id, key_id)
