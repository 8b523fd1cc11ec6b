"""Tenant scoping: every record is read through its owner, so other tenants' ids are 404."""

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from opendialer.errors import Forbidden, NotFound
from opendialer.models import Tenant, UserRole


@dataclass(frozen=True)
class Scope:
    """Who is calling: the tenant every query is scoped to, and the acting user or API key and
    its role."""

    tenant_id: int
    role: UserRole
    user_id: int | None = None
    api_key_id: int | None = None

    @classmethod
    def system(cls, tenant_id: int) -> "Scope":
        """The tenant's own scope when no person acts: the engine, housekeeping, the CLI."""
        return cls(tenant_id=tenant_id, role=UserRole.ADMIN)

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
