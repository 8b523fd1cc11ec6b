"""Tenant scoping: every record is read through its owner, so other tenants' ids are 404."""

from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from opendialer.errors import NotFound


class TenantOwned(Protocol):
    @property
    def tenant_id(self) -> int: ...


M = TypeVar("M", bound=TenantOwned)


def get_owned(session: Session, model: type[M], tenant_id: int, record_id: Any, resource: str) -> M:
    record = session.get(model, record_id)
    if record is None or record.tenant_id != tenant_id:
        raise NotFound(resource, record_id)
    return record
