"""Tenant scoping: every record is read through its owner, so other tenants' ids are 404."""

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from opendialer.errors import NotFound
from opendialer.models import UserRole


@dataclass(frozen=True)
class Scope:
    """Who is calling: the tenant every query is scoped to, and the acting user or API key and
    its role."""

    tenant_id: int
    role: UserRole
    user_id: int | None = None
    api_key_id: int | None = None


class TenantOwned(Protocol):
    @property
    def tenant_id(self) -> int: ...


M = TypeVar("M", bound=TenantOwned)


def get_owned(session: Session, model: type[M], tenant_id: int, record_id: Any, resource: str) -> M:
    record = session.get(model, record_id)
    if record is None or record.tenant_id != tenant_id:
        raise NotFound(resource, record_id)
    return record
