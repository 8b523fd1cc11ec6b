"""Native API: ``/api/v1/recordings``: search, PBX upload, metadata, signed download, purge."""

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response

from opendialer.accounts.guard import Face, InvalidLink, client_address
from opendialer.accounts.roles import AdminScope, SupervisorScope
from opendialer.accounts.service import get_tenant
from opendialer.config import Settings
from opendialer.errors import BadRequest
from opendialer.inputs import MAX_DB_INT
from opendialer.models import Recording
from opendialer.phones import normalize
from opendialer.recordings import service
from opendialer.recordings.schemas import PurgeResult, RecordingRead
from opendialer.web.db import DbSession
from opendialer.web.params import RecordId, SupportedDate, SupportedDatetime
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import app_state, auth_guard

router = IndexedRouter(route_class=OneTripRoute, tags=["recordings"])

OptionalId = Annotated[int | None, Query(ge=1, le=2**63 - 1)]


def _settings(request: Request) -> Settings:
    settings: Settings = app_state(request).settings
    return settings


def read(settings: Settings, recording: Recording) -> RecordingRead:
    available = service.is_available(settings, recording)
    url = service.download_url(settings, recording, settings.public_base_url) if available else None
    return RecordingRead.model_validate({**_columns(recording), "available": available, "url": url})


def _columns(recording: Recording) -> dict[str, object]:
    names = (
        *("id", "call_attempt_id", "contact_id", "user_id", "voice_id", "recorded_at"),
        *("duration_seconds", "size_bytes", "deleted_at"),
    )
    return {name: getattr(recording, name) for name in names}


@router.get("/recordings", response_model=list[RecordingRead])
def search_recordings(
    request: Request,
    session: DbSession,
    who: SupervisorScope,
    contact_id: OptionalId = None,
    user_id: OptionalId = None,
    phone: Annotated[str | None, Query(max_length=64)] = None,
    day: Annotated[SupportedDate | None, Query(description="A day in the tenant's zone")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RecordingRead]:
    """Recordings by lead (contact), agent, the customer's phone number and day."""
    tenant = get_tenant(session, who)
    e164 = None
    if phone is not None:
        e164 = normalize(phone, tenant.default_region).e164
        if e164 is None:
            raise BadRequest(f"{phone!r} is not a valid phone number", code="invalid_phone")
    found = service.RecordingFilter(contact_id=contact_id, e164=e164, user_id=user_id, day=day)
    records = service.search(session, who, found, ZoneInfo(tenant.timezone), limit)
    settings = _settings(request)
    return [read(settings, r) for r in records]


@router.post("/recordings", response_model=RecordingRead, status_code=201)
def upload_recording(
    request: Request,
    session: DbSession,
    who: AdminScope,
    file: Annotated[UploadFile, File(description="A WAV file")],
    call_attempt_id: Annotated[int | None, Form(ge=1, le=2**63 - 1)] = None,
    contact_id: Annotated[int | None, Form(ge=1, le=2**63 - 1)] = None,
    user_id: Annotated[int | None, Form(ge=1, le=2**63 - 1)] = None,
    recorded_at: Annotated[SupportedDatetime | None, Form()] = None,
) -> RecordingRead:
    """A PBX uploads a recording (multipart), linked to a call attempt, lead and agent."""
    if recorded_at is not None and recorded_at.tzinfo is None:
        raise BadRequest("recorded_at needs a time zone offset", code="naive_datetime")
    refs = service.UploadRefs(call_attempt_id, contact_id, user_id, recorded_at)
    settings = _settings(request)
    recording = service.store_upload(session, settings, who, file.file, refs)
    return read(settings, recording)


@router.get("/recordings/{recording_id}", response_model=RecordingRead)
def get_recording(
    request: Request, recording_id: RecordId, session: DbSession, who: SupervisorScope
) -> RecordingRead:
    return read(_settings(request), service.get_recording(session, who, recording_id))


@router.get(
    "/recordings/{recording_id}/audio",
    response_class=FileResponse,
    responses={
        403: {"description": "Bad or expired link"},
        410: {"description": "Deleted"},
        429: {"description": "Too many bad links from this address"},
    },
)
def download(
    request: Request,
    recording_id: RecordId,
    session: DbSession,
    expires: Annotated[int, Query(le=MAX_DB_INT)],
    signature: Annotated[str, Query(max_length=128)],
) -> Response:
    """The WAV file, for anyone holding a signed link (no credentials)."""
    settings = _settings(request)
    with auth_guard(request).attempt(Face.LINK, request.url.path, client_address(request)):
        if not service.check_link(session, settings, recording_id, expires, signature):
            raise InvalidLink("The link is invalid or has expired", code="invalid_link")
    recording = session.get(Recording, recording_id)
    if recording is None or not service.is_available(settings, recording):
        body = {"error": {"code": "gone", "message": "The recording was deleted", "details": None}}
        return JSONResponse(status_code=410, content=body)
    path = service.file_path(settings, recording)
    return FileResponse(path, media_type="audio/wav", filename=f"{recording.voice_id}.wav")


@router.post("/recordings:purge", response_model=PurgeResult)
def purge(request: Request, session: DbSession, who: AdminScope) -> PurgeResult:
    """Apply the retention setting to the tenant's recordings now (admins only)."""
    settings = _settings(request)
    deleted = service.purge_expired(session, settings, datetime.now(UTC), who)
    return PurgeResult(deleted=deleted, retention_days=settings.recording_retention_days)
