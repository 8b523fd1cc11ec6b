"""Tenants, API keys and authentication."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.audit.context import act_as
from opendialer.errors import BadRequest, Conflict, NotFound, Unauthorized
from opendialer.models import ApiKey, User, UserRole
from opendialer.models import Tenant as Tenant
from opendialer.scoping import Credential, Scope, get_owned, owned
from opendialer.security import (
    dummy_password_check,
    hash_password,
    hash_token,
    link_key,
    new_token,
    verify_password,
)

API_KEY_PREFIX = "od_"
INVALID_LOGIN = "Invalid credentials (a name in several accounts needs @<tenant id>)"
_TENANT_ID = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    api_key: str
    account_code: str
    calllog_api_key: str
    admin_user: str
    admin_password: str


@dataclass(frozen=True)
class NewApiKey:
    record: ApiKey
    key: str


def create_api_key(
    session: Session, scope: Scope, name: str, role: UserRole = UserRole.ADMIN
) -> NewApiKey:
    key = new_token(API_KEY_PREFIX)
    record = ApiKey(
        tenant_id=scope.tenant_id,
        name=name,
        role=role,
        prefix=key[:8],
        key_hash=hash_token(key),
        created_at=datetime.now(UTC),
    )
    session.add(record)
    session.flush()
    return NewApiKey(record=record, key=key)


def create_tenant(
    session: Session,
    name: str,
    *,
    default_region: str,
    timezone: str,
    admin_username: str = "admin",
    admin_password: str | None = None,
) -> NewTenant:
    calllog_key = new_token("cl_", 24)
    account_code = new_token(nbytes=16)
    tenant = Tenant(
        name=name,
        account_code_hash=hash_token(account_code),
        default_region=default_region.upper(),
        timezone=timezone,
        calllog_key_hash=hash_token(calllog_key),
        calllog_allowed_ips=[],
    )
    session.add(tenant)
    session.flush()
    password = admin_password or new_token(nbytes=12)
    session.add(
        User(
            tenant_id=tenant.id,
            username=admin_username,
            password_hash=hash_password(password),
            role=UserRole.ADMIN,
            display_name="Administrator",
        )
    )
    api_key = create_api_key(session, Scope.system(tenant.id), "default")
    return NewTenant(tenant, api_key.key, account_code, calllog_key, admin_username, password)


def get_tenant(session: Session, scope: Scope) -> Tenant:
    tenant = session.get(Tenant, scope.tenant_id)
    if tenant is None:
        raise NotFound("tenant", scope.tenant_id)
    return tenant


def update_tenant(session: Session, scope: Scope, changes: dict[str, Any]) -> Tenant:
    """Set the given settings; a null only where the setting may be empty (a cap, the
    scheduled DNC import)."""
    tenant = get_tenant(session, scope)
    columns = Tenant.__table__.c
    for key, value in changes.items():
        if value is None and not columns[key].nullable:
            raise BadRequest(f"{key} cannot be null", code="invalid_value")
        setattr(tenant, key, value.upper() if key == "default_region" else value)
    session.flush()
    return tenant


def authenticate_api_key(session: Session, key: str) -> Scope:
    record = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_token(key)))
    if record is None or record.revoked_at is not None:
        raise Unauthorized("Invalid or revoked API key")
    scope = Scope(tenant_id=record.tenant_id, role=record.role, api_key_id=record.id)
    act_as(scope)
    return scope


def authenticate_user(session: Session, username: str, password: str) -> Scope:
    """HTTP Basic for the vendor dialects: ``username`` is ``user`` or ``user@<tenant id>``.

    The name resolves to one user before any password is hashed, and a name that resolves to
    none (unknown, or in several tenants without ``@<tenant id>``) costs one dummy hash, so the
    time tells nothing and a wrong password costs one hash however many tenants there are.
    """
    user = user_for_login(session, username)
    if user is None or user.password_hash is None:
        dummy_password_check(password)
        raise Unauthorized(INVALID_LOGIN)
    if not verify_password(password, user.password_hash):
        raise Unauthorized(INVALID_LOGIN)
    scope = Scope(tenant_id=user.tenant_id, role=user.role, user_id=user.id)
    act_as(scope)
    return scope


def user_for_login(session: Session, username: str) -> User | None:
    """The one active user a login name means, or None."""
    name, at, tenant_part = username.rpartition("@")
    query = select(User).where(User.active.is_(True))
    if at and _TENANT_ID.fullmatch(tenant_part):
        query = query.where(User.username == name, User.tenant_id == int(tenant_part))
    else:
        query = query.where(User.username == username)
    users = session.scalars(query.limit(2)).all()
    return users[0] if len(users) == 1 else None


def link_secret(session: Session, server_secret: str, scope: Scope) -> str:
    """The key that signs and checks this tenant's links (recordings, exports)."""
    generation = session.scalar(
        select(Tenant.link_key_generation).where(Tenant.id == scope.tenant_id)
    )
    if generation is None:
        raise NotFound("tenant", scope.tenant_id)
    return link_key(server_secret, scope.tenant_id, generation)


def tenant_by_account_code(session: Session, code: str) -> Tenant | None:
    tenant: Tenant | None = session.scalar(
        select(Tenant).where(Tenant.account_code_hash == hash_token(code))
    )
    return tenant


def account_code_scope(session: Session, code: str) -> Scope | None:
    """The scope of a request authenticated by the tenant's Voicenter account code."""
    tenant = tenant_by_account_code(session, code)
    if tenant is None:
        return None
    return Scope.of_credential(tenant.id, Credential.ACCOUNT_CODE, tenant.id)


def new_account_code(session: Session, scope: Scope) -> str:
    """Replace the tenant's Voicenter account code; the new one is returned once."""
    tenant = get_tenant(session, scope)
    code = new_token(nbytes=16)
    tenant.account_code_hash = hash_token(code)
    session.flush()
    return code


def rotate_link_key(session: Session, scope: Scope) -> Tenant:
    """Every link signed for this tenant so far stops working."""
    tenant = get_tenant(session, scope)
    tenant.link_key_generation += 1
    session.flush()
    return tenant


def list_api_keys(session: Session, scope: Scope) -> list[ApiKey]:
    return list(session.scalars(owned(ApiKey, scope)))


def revoke_api_key(session: Session, scope: Scope, key_id: int) -> ApiKey:
    record = get_owned(session, ApiKey, scope, key_id, "api_key")
    if record.revoked_at is not None:
        raise Conflict("API key already revoked")
    record.revoked_at = datetime.now(UTC)
    session.flush()
    return record
