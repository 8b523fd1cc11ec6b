"""Tenants, API keys and authentication."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.errors import Conflict, NotFound, Unauthorized
from opendialer.models import ApiKey, Tenant, User, UserRole
from opendialer.security import hash_password, hash_token, new_token, verify_password

API_KEY_PREFIX = "od_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: every query is scoped to ``tenant_id``."""

    tenant_id: int
    role: UserRole
    user_id: int | None = None
    api_key_id: int | None = None


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    api_key: str
    calllog_api_key: str
    admin_user: str
    admin_password: str


@dataclass(frozen=True)
class NewApiKey:
    record: ApiKey
    key: str


def create_api_key(session: Session, tenant_id: int, name: str) -> NewApiKey:
    key = new_token(API_KEY_PREFIX)
    record = ApiKey(
        tenant_id=tenant_id,
        name=name,
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
    tenant = Tenant(
        name=name,
        account_code=new_token(nbytes=16),
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
    api_key = create_api_key(session, tenant.id, "default")
    return NewTenant(tenant, api_key.key, calllog_key, admin_username, password)


def get_tenant(session: Session, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant", tenant_id)
    return tenant


def authenticate_api_key(session: Session, key: str) -> Principal:
    record = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_token(key)))
    if record is None or record.revoked_at is not None:
        raise Unauthorized("Invalid or revoked API key")
    return Principal(tenant_id=record.tenant_id, role=UserRole.ADMIN, api_key_id=record.id)


def authenticate_user(session: Session, username: str, password: str) -> Principal:
    """HTTP Basic for the vendor dialects: ``username`` is ``user`` or ``user@<tenant id>``."""
    name, _, tenant_part = username.partition("@")
    query = select(User).where(User.username == name, User.active.is_(True))
    if tenant_part:
        if not tenant_part.isdigit():
            raise Unauthorized("Invalid credentials")
        query = query.where(User.tenant_id == int(tenant_part))
    users = session.scalars(query).all()
    matches = [u for u in users if u.password_hash and verify_password(password, u.password_hash)]
    if len(matches) != 1:
        raise Unauthorized("Invalid credentials")
    user = matches[0]
    return Principal(tenant_id=user.tenant_id, role=user.role, user_id=user.id)


def list_api_keys(session: Session, tenant_id: int) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant_id)))


def revoke_api_key(session: Session, tenant_id: int, key_id: int) -> ApiKey:
    record = session.get(ApiKey, key_id)
    if record is None or record.tenant_id != tenant_id:
        raise NotFound("api_key", key_id)
    if record.revoked_at is not None:
        raise Conflict("API key already revoked")
    record.revoked_at = datetime.now(UTC)
    session.flush()
    return record
