"""Native API: the audit trail, read only (there is no route that writes, changes or deletes
an audit row; tests/audit/test_router.py checks that none is ever added)."""

from typing import Annotated

from fastapi import Query

from opendialer.accounts.roles import AdminScope
from opendialer.audit import service
from opendialer.audit.context import CONSOLE, JTEL, MINICRM, MMDIAL, NATIVE, VOICENTER, WEB
from opendialer.audit.schemas import AuditEntryRead
from opendialer.inputs import MAX_DB_INT
from opendialer.models import AuditEntry
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.web.db import DbSession
from opendialer.web.params import SupportedAwareDatetime as When
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, tags=["audit"])

FACE_PATTERN = "^(" + "|".join((NATIVE, CONSOLE, JTEL, MMDIAL, VOICENTER, MINICRM, WEB)) + ")$"
Id = Annotated[int | None, Query(ge=1, le=MAX_DB_INT)]


@router.get("/audit", response_model=Page[AuditEntryRead])
def list_audit(
    session: DbSession,
    who: AdminScope,
    page: PageParams,
    entity: Annotated[str | None, Query(max_length=40, description="A table: campaigns")] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    user_id: Id = None,
    api_key_id: Id = None,
    face: Annotated[str | None, Query(pattern=FACE_PATTERN)] = None,
    since: Annotated[When | None, Query(description="From (inclusive), with zone")] = None,
    until: Annotated[When | None, Query(description="Before, with zone")] = None,
) -> Page[AuditEntryRead]:
    """Who changed what, when, through which face; oldest first, paged by ``cursor``."""
    wanted = service.AuditFilter(entity, entity_id, user_id, api_key_id, face, since, until)
    stmt = service.audit_query(who, wanted)
    return fetch_page(session, stmt, AuditEntry.id, page, AuditEntryRead)
