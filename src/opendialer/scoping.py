"""Tenant scoping: every record is read through its owner, so other tenants' ids are 404."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from opendialer.errors import Forbidden, NotFound
from opendialer.models import Tenant
from opendialer.models import UserRole as UserRole


class Credential(StrEnum):
    """A vendor face's credential that names no user and no API key: the acting principal of a
    request authenticated by it (the row it names is ``Scope.credential_of``)."""

    ACCOUNT_CODE = "account_code"  # Voicenter GetCampaignList: names the tenant
    CAMPAIGN_CODE = "campaign_code"  # Voicenter's other methods: names one campaign
    CALL_LOG_KEY = "call_log_key"  # MiniCRM CallLog: names the tenant
    RECORDING_LINK = "recording_link"  # MiniCRM's recording template: names a CRM endpoint


# What each credential may do, as the native role that may do the same: an account code only
# lists the campaigns; a campaign code changes its campaign's targets, settings and members; a
# call-log key writes call history; a recording link reads one recording.
CREDENTIAL_ROLES = {
    Credential.ACCOUNT_CODE: UserRole.SUPERVISOR,
    Credential.CAMPAIGN_CODE: UserRole.ADMIN,
    Credential.CALL_LOG_KEY: UserRole.SUPERVISOR,
    Credential.RECORDING_LINK: UserRole.SUPERVISOR,
}


@dataclass(frozen=True)
class Scope:
    """Who is calling: the tenant every query is scoped to, and the acting principal (a user, an
    API key or a vendor credential) and its role; none of the three when the system acts."""

    tenant_id: int
    role: UserRole
    user_id: int | None = None
    api_key_id: int | None = None
    credential: Credential | None = None
    credential_of: int | None = None

    @classmethod
    def system(cls, tenant_id: int) -> "Scope":
        """The tenant's own scope when no person acts: the engine, housekeeping, the CLI."""
        return cls(tenant_id=tenant_id, role=UserRole.ADMIN)

    @classmethod
    def of_credential(cls, tenant_id: int, credential: Credential, names: int) -> "Scope":
        """A request authenticated by a vendor credential naming the row ``names`` (the tenant,
        the campaign or the CRM endpoint), with the credential's role."""
        role = CREDENTIAL_ROLES[credential]
        return cls(tenant_id=tenant_id, role=role, credential=credential, credential_of=names)

    @property
    def acting(self) -> str:
        """Who acts, for an audit line: ``user 7``, ``api_key 3``, ``campaign_code 12`` or
        ``system``."""
        if self.user_id is not None:
            return f"user {self.user_id}"
        if self.api_key_id is not None:
            return f"api_key {self.api_key_id}"
        if self.credential is not None:
            return f"{self.credential.value} {self.credential_of}"
        return "system"

    def may_act_as(self, role: UserRole) -> bool:
        """Roles nest: an admin may do what a supervisor may, a supervisor what an agent may."""
        return _ROLE_RANK[self.role] >= _ROLE_RANK[role]


_ROLE_RANK = {UserRole.AGENT: 0, UserRole.SUPERVISOR: 1, UserRole.ADMIN: 2}


def require_role(scope: Scope, role: UserRole) -> None:
    """The one role check: a forbidden action is a 403 in the one error body."""
    if not scope.may_act_as(role):
        raise Forbidden(f"This needs the {role.value} role; you act as {scope.role.value}")


def require_self(scope: Scope, user_id: int) -> None:
    """An agent acts only for themselves; a supervisor or an admin for any of the tenant's
    agents. A 403 (the agent is the tenant's, so its existence is no secret to the caller)."""
    if not scope.may_act_as(UserRole.SUPERVISOR) and scope.user_id != user_id:
        raise Forbidden("An agent acts only on their own session, contacts and calls")


class TenantOwned(Protocol):
    @property
    def tenant_id(self) -> int: ...


M = TypeVar("M", bound=TenantOwned)


def owned(model: type[M], scope: Scope) -> Select[M]:
    """The scoped select of a tenant-owned model: the one way to list or find the tenant's rows
    (as polar's ``get_readable_statement``)."""
    column: Any = model.tenant_id  # the mapped column of the class
    return select(model).where(column == scope.tenant_id)


def get_owned(session: Session, model: type[M], scope: Scope, record_id: Any, resource: str) -> M:
    """The scope's record by primary key; missing or another tenant's is the same 404."""
    record = session.get(model, record_id)
    if record is None:
        raise NotFound(resource, record_id)
    require_owner(scope, record.tenant_id, resource, record_id)
    return record


def require_owner(scope: Scope, owner: object, resource: str, key: object) -> None:
    """Something owned by ``owner`` (a tenant id): another tenant's is a 404, never a 403."""
    if owner != scope.tenant_id:
        raise NotFound(resource, key)


def tenant_of(session: Session, scope: Scope) -> Tenant:
    """The scope's tenant row, for its settings (region, time zone, ...)."""
    return session.get_one(Tenant, scope.tenant_id)
