"""Voicenter Forward Dialer API: ``/ForwardDialer/Dialer/<Method>``, GET query or POST JSON.

Every answer is HTTP 200 with the vendor's ``{ErrorCode, Description, ...}`` envelope, whatever
went wrong (spec V2): the route reads and limits the body itself and owns its transaction, so
neither the body-size middleware nor the native error handlers answer for it. The one exception:
a database that stays busy (:class:`DatabaseBusy`) answers 503 with ``Retry-After``, in the same
envelope, so a client can tell "retry" from "refused".
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from opendialer.accounts.guard import Face, TooManyAttempts, client_address, secret_prefix
from opendialer.campaigns.codes import CodeKey
from opendialer.campaigns.dependencies import code_key
from opendialer.config import Settings
from opendialer.db import SessionMaker, run_unit_of_work
from opendialer.dialects.kit import answer_all_paths, credential_acts
from opendialer.dialects.voicenter import service
from opendialer.dialects.voicenter.errors import (
    GENERIC,
    INTERNAL_ERROR,
    UnknownCode,
    VoicenterError,
)
from opendialer.dialects.voicenter.params import Params
from opendialer.errors import DatabaseBusy
from opendialer.inputs import InputRejected, declared_length, decode_form, loads_json
from opendialer.web.routes import IndexedRouter
from opendialer.web.state import AppState, app_state

PREFIX = "/ForwardDialer/Dialer"
SETTINGS_METHOD = "UpdateCampaignSettings"  # the source lost this method's name (spec V3)

log = logging.getLogger(__name__)
router = IndexedRouter(tags=["voicenter"])


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    handler: Callable[[Session, Any, CodeKey], dict[str, Any]]
    get: bool = True  # also accepts GET with the parameters in the query string
    bulk: bool = False  # the body is a JSON array, allowed to be large
    writes: bool = True


METHODS = {
    m.name.lower(): m
    for m in (
        Method("GetCampaignList", service.get_campaign_list, writes=False),
        Method("AddCall", service.add_call),
        Method("AddCallsBulk", service.add_calls_bulk, get=False, bulk=True),
        Method("RemoveCall", service.remove_call),
        Method("ClearCampaignCalls", service.clear_campaign_calls),
        Method("GetMembersList", service.get_members_list, writes=False),
        Method("AddMember", service.add_member_call),
        Method("RemoveMember", service.remove_member_call),
        Method("StopCampaign", service.stop_campaign),
        Method("StartCampaign", service.start_campaign),
        Method(
            "GetCampaignPendingCalls",
            service.get_campaign_pending_calls,
            get=False,
            writes=False,
        ),
        Method("UpdateCall", service.update_call),
        Method("GetCampaignDetails", service.get_campaign_details, writes=False),
        Method(SETTINGS_METHOD, service.update_campaign_settings),
    )
}


def _limit(settings: Settings, method: Method) -> int:
    return int(settings.voicenter_max_bulk_bytes if method.bulk else settings.max_body_bytes)


def _too_large(limit: int) -> VoicenterError:
    return VoicenterError(GENERIC, f"The request body is larger than {limit} bytes")


async def _read_body(request: Request, limit: int) -> bytes:
    if declared_length(request.headers.get("content-length", "")) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(body: bytes, content_type: str) -> Any:
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            return dict(decode_form(body, content_type))
        except InputRejected as exc:
            raise VoicenterError(GENERIC, f"Malformed form body: {exc}") from None
    try:
        return loads_json(body)
    except InputRejected:
        raise VoicenterError(GENERIC, "Malformed JSON body") from None


async def _payload(request: Request, settings: Settings, method: Method) -> Any:
    """The method's input: the JSON array (bulk) or the parameters, query and body together."""
    query = list(request.query_params.multi_items())
    if request.method == "GET":
        if not method.get:
            raise VoicenterError(GENERIC, f"{method.name} accepts POST-JSON only")
        return Params(query)
    body = await _read_body(request, _limit(settings, method))
    decoded = _decode(body, request.headers.get("content-type", "")) if body.strip() else None
    if method.bulk:
        return decoded
    if decoded is None:
        return Params(query)
    if not isinstance(decoded, dict):
        raise VoicenterError(GENERIC, "The body must be a JSON object")
    return Params([*query, *decoded.items()])


async def _run(
    sessions: SessionMaker, key: CodeKey, method: Method, payload: Any
) -> dict[str, Any]:
    """The method in one transaction: committed when it answers, rolled back when it raises.

    An unknown account or campaign code propagates (``UnknownCode``): the caller counts it."""
    try:
        return await run_unit_of_work(
            sessions,
            lambda session: method.handler(session, payload, key),
            writes=method.writes,
        )
    except (UnknownCode, DatabaseBusy):
        raise
    except VoicenterError as error:
        return error.envelope()
    except Exception:
        log.exception("Voicenter %s failed", method.name)
        return {"ErrorCode": GENERIC, "Description": INTERNAL_ERROR}


def _credential(payload: Any) -> str:
    """The code the request authenticates with, as far as it may be kept (bulk: none)."""
    if not isinstance(payload, Params):
        return "-"
    value = payload.raw("Campaign") or payload.raw("Code")
    return secret_prefix(str(value).strip()) if value is not None else "-"


async def _guarded_run(
    request: Request, state: AppState, method: Method, payload: Any
) -> dict[str, Any]:
    guard, address = state.auth_guard, client_address(request)
    credential = _credential(payload)
    credential_acts("voicenter", credential)
    key = code_key(request)
    try:
        guard.check(Face.VOICENTER, credential, address)
        return await _run(state.sessions, key, method, payload)
    except TooManyAttempts as exc:
        return {"ErrorCode": GENERIC, "Description": exc.message}
    except UnknownCode as error:
        await run_in_threadpool(guard.failed, Face.VOICENTER, credential, address)
        return error.envelope()


async def forward_dialer(request: Request) -> JSONResponse:
    method_name: str = request.path_params["method_name"]
    method = METHODS.get(method_name.lower())
    if method is None:
        return JSONResponse({"ErrorCode": GENERIC, "Description": f"Unknown method {method_name}"})
    state = app_state(request)  # once: every part below comes from it
    try:
        payload = await _payload(request, state.settings, method)
    except VoicenterError as error:
        return JSONResponse(error.envelope())
    except ClientDisconnect:
        return JSONResponse({"ErrorCode": GENERIC, "Description": "The client disconnected"})
    try:
        return JSONResponse(await _guarded_run(request, state, method, payload))
    except DatabaseBusy as busy:  # the one answer that is not 200: a client may retry it
        body = {"ErrorCode": GENERIC, "Description": busy.message}
        return JSONResponse(body, status_code=busy.status_code, headers=busy.headers)


# A plain Starlette route: the parameters are read by hand anyway, and skipping FastAPI's
# dependency machinery takes a tenth of a millisecond off every call.
router.add_route(
    PREFIX + "/{method_name}", forward_dialer, methods=["GET", "POST"], include_in_schema=False
)


def _other_method(request: Request) -> JSONResponse:
    """Any other method, or a deeper path: Voicenter's envelope, never the native error."""
    description = f"{request.method} {request.url.path} is not a Forward Dialer method"
    return JSONResponse({"ErrorCode": GENERIC, "Description": description})


answer_all_paths(router, _other_method, prefix=PREFIX)  # after the methods' route
