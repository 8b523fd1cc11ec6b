"""MiniCRM dialect: ``POST /Api/CallLog`` (a PBX posts its call history) and the recording
resolver behind the URL template a tenant gives MiniCRM (``...?Rec={%RefereceId%}``).

Errors are MiniCRM-style: an HTTP 4xx with ``{"error": "<description>", "code": "<code>"}``.
"""

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from opendialer.accounts.guard import (
    AuthGuard,
    Face,
    TooManyAttempts,
    client_address,
    secret_prefix,
)
from opendialer.config import Settings
from opendialer.crm import calllog
from opendialer.crm.links import endpoint_by_recording_token, recording_link_scope
from opendialer.dialects.kit import answer_all_paths, credential_acts
from opendialer.dialects.minicrm import schemas
from opendialer.errors import NotFound, OpendialerError
from opendialer.inputs import MAX_DB_INT, InputRejected, parse_int, text_problem
from opendialer.recordings.service import download_url as recording_download_url
from opendialer.recordings.service import get_recording
from opendialer.web.db import DbSession
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import app_state, auth_guard

router = IndexedRouter(route_class=OneTripRoute, tags=["minicrm"])

MAX_REPORTED_ERRORS = 100


async def raw_body(request: Request) -> bytes:
    return await request.body()


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, "code": code})


@router.post(
    "/Api/CallLog",
    responses={
        200: {"description": 'Statistics: {"Skipped", "Processed", "Exists", "Missing", ...}'},
        400: {"description": "Malformed JSON, or ApiKey / UserExtension / Data missing"},
        401: {"description": "Unknown ApiKey"},
        403: {"description": "The sender's IP is not on the tenant's allow-list"},
        404: {"description": "No user has this UserExtension"},
    },
)
def post_call_log(
    request: Request, body: Annotated[bytes, Depends(raw_body)], session: DbSession
) -> JSONResponse:
    """Store a PBX's call history, counting each item's outcome (docs/dialects/minicrm.md)."""
    client_ip = client_address(request)
    try:
        return JSONResponse(_store(session, body, client_ip, auth_guard(request)))
    except OpendialerError as exc:
        response = _error(exc.status_code, exc.code, exc.message)
        response.headers.update(exc.headers or {})
        return response


def _store(session: Session, raw: bytes, client_ip: str | None, guard: AuthGuard) -> dict[str, Any]:
    body = schemas.parse_envelope(raw)
    key = schemas.api_key(body)
    with guard.attempt(Face.MINICRM, secret_prefix(key), client_ip):
        tenant = calllog.tenant_for_calllog_key(session, key)
    scope = calllog.calllog_key_scope(tenant)
    credential_acts("minicrm", secret_prefix(key), scope)
    calllog.check_sender_ip(tenant, client_ip)
    envelope = schemas.envelope(body)
    user = calllog.find_user(session, scope, envelope.user_extension)
    stats = schemas.Stats()
    items: list[calllog.CallLogItem] = []
    for index, raw_item in enumerate(envelope.data):
        try:
            items.append(schemas.parse_item(raw_item))
        except schemas.Invalid as exc:
            stats.add_invalid(index, exc)
    for outcome in calllog.store_call_logs(session, scope, user, envelope.user_extension, items):
        stats.add(outcome)
    answer: dict[str, Any] = stats.body()
    if stats.errors:
        answer["Errors"] = stats.errors[:MAX_REPORTED_ERRORS]
    return answer


def _record_id(text: str) -> int:
    """The ``Rec`` parameter as a record id; 0 (no such record) when it is not one."""
    try:
        return parse_int(text, 1, MAX_DB_INT)
    except InputRejected:
        return 0


@router.get(
    "/Api/Recordings/{token}",
    response_class=Response,
    responses={302: {"description": "To the signed download link"}, 404: {}},
)
def recording(
    token: str,
    request: Request,
    session: DbSession,
    rec: Annotated[str, Query(alias="Rec", max_length=255)],
) -> Response:
    """The endpoint's recording template resolved: redirect to the recording's signed link."""
    settings: Settings = app_state(request).settings
    guard, address, credential = auth_guard(request), client_address(request), secret_prefix(token)
    try:
        guard.check(Face.MINICRM, credential, address)
    except TooManyAttempts as exc:
        return _error(exc.status_code, exc.code, exc.message)
    # A token the database cannot even compare (NUL) is just as unknown as a wrong one.
    known = text_problem(token) is None
    endpoint = endpoint_by_recording_token(session, settings, token) if known else None
    if endpoint is None:
        guard.failed(Face.MINICRM, credential, address)
    try:
        if endpoint is None:
            raise NotFound("recording", rec)
        record = get_recording(session, recording_link_scope(endpoint), _record_id(rec))
    except NotFound:
        return _error(404, "not_found", "No such recording")
    if record.deleted_at is not None:
        return _error(404, "not_found", "The recording was deleted")
    return RedirectResponse(recording_download_url(settings, record, settings.public_base_url), 302)


def _not_routed(request: Request) -> JSONResponse:
    """Anything else under ``/Api``: MiniCRM's error body, never the native one."""
    return _error(404, "not_found", f"No {request.method} {request.url.path} in this API")


answer_all_paths(router, _not_routed, prefix="/Api")  # after the routes above
