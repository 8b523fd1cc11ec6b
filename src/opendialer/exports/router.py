"""Native API: ``/api/v1/exports``: build a CSV export, watch it, download it by signed link."""

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from opendialer.accounts.guard import Face, InvalidLink, client_address
from opendialer.accounts.roles import SupervisorScope
from opendialer.accounts.service import get_tenant
from opendialer.campaigns.service import get_campaign
from opendialer.config import Settings
from opendialer.errors import BadRequest
from opendialer.exports import service
from opendialer.exports.schemas import ExportCreate, ExportRead
from opendialer.inputs import MAX_DB_INT
from opendialer.web.db import DbSession
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import app_state, auth_guard

router = IndexedRouter(route_class=OneTripRoute, tags=["exports"])


def _settings(request: Request) -> Settings:
    settings: Settings = app_state(request).settings
    return settings


def export_read(
    session: DbSession, settings: Settings, file_id: str, meta: dict[str, Any]
) -> ExportRead:
    ready = meta.get("state") == "ready"
    base = settings.public_base_url
    url = service.download_url(session, settings, file_id, base) if ready else None
    return ExportRead(
        file_id=file_id,
        state=meta.get("state", "failed"),
        rows=meta.get("rows"),
        size=meta.get("size"),
        encoding=meta.get("encoding", service.DEFAULT_ENCODING),
        url=url,
        error=meta.get("error"),
    )


@router.post("/exports", response_model=ExportRead, status_code=201)
def create_export(
    request: Request, body: ExportCreate, session: DbSession, who: SupervisorScope
) -> ExportRead:
    """Export a campaign's leads as CSV; large exports are built in the background."""
    tenant = get_tenant(session, who)
    campaign = get_campaign(session, who, body.campaign_id)
    for moment in (body.start, body.end):
        if moment is not None and moment.tzinfo is None:
            raise BadRequest("start and end need a time zone offset", code="naive_datetime")
    spec = service.ExportSpec(
        campaign_id=campaign.id,
        columns=service.parse_columns(
            body.fields, service.campaign_form_fields(session, campaign.id)
        ),
        statuses=tuple(body.statuses),
        date_types=service.check_date_types(body.date_types),
        start=body.start,
        end=body.end,
        encoding=service.encoding_name(body.encoding),
    )
    settings = _settings(request)
    result = service.start_export(
        session, app_state(request).sessions, settings, campaign, spec, ZoneInfo(tenant.timezone)
    )
    meta = service.read_meta(settings, result.file_id)
    return export_read(session, settings, result.file_id, meta)


@router.get("/exports/{file_id}", response_model=ExportRead)
def get_export(
    request: Request, file_id: str, session: DbSession, who: SupervisorScope
) -> ExportRead:
    settings = _settings(request)
    meta = service.read_meta(settings, file_id, who)
    return export_read(session, settings, file_id, meta)


@router.get(
    "/exports/{file_id}/file",
    response_class=StreamingResponse,
    responses={
        403: {"description": "Bad or expired link"},
        404: {"description": "Unknown, or deleted by the export retention"},
        409: {"description": "Not ready"},
        429: {"description": "Too many bad links from this address"},
    },
)
def download_export(
    request: Request,
    file_id: str,
    session: DbSession,
    expires: Annotated[int, Query(le=MAX_DB_INT)],
    signature: Annotated[str, Query(max_length=128)],
) -> Response:
    """The CSV file, for anyone holding a signed link (no credentials)."""
    settings = _settings(request)
    with auth_guard(request).attempt(Face.LINK, request.url.path, client_address(request)):
        if not service.check_link(session, settings, file_id, expires, signature):
            raise InvalidLink("The link is invalid or has expired", code="invalid_link")
    meta = service.read_meta(settings, file_id)
    if meta.get("state") != "ready":
        message = "The export is not ready"
        body = {"error": {"code": "not_ready", "message": message, "details": meta}}
        return JSONResponse(status_code=409, content=body, headers={"Retry-After": "5"})
    charset = meta.get("encoding", service.DEFAULT_ENCODING)
    return StreamingResponse(
        service.iter_file(service.open_export(settings, file_id)),
        media_type=f"text/csv; charset={charset}",
        headers={"Content-Disposition": f'attachment; filename="export-{file_id}.csv"'},
    )
