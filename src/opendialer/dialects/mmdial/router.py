"""The sixteen mmDial API functions, each at ``<mmdial_base_path>/<function>``.

HTTP Basic as a tenant admin (401/403 otherwise). Every handled request answers HTTP 200 with
the outcome in ``status``, in the function's own vocabulary (docs/dialects/mmdial.md); a
rejected request rolls back whatever it had written.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from opendialer.accounts.service import get_tenant
from opendialer.config import Settings
from opendialer.db import create_sessionmaker
from opendialer.dialects.kit import answer_all_paths, failure_of, validation_message
from opendialer.dialects.mmdial import functions, leads
from opendialer.dialects.mmdial.auth import AuthFailed, Caller, authenticate
from opendialer.dialects.mmdial.params import ParamError, Params, read_params
from opendialer.errors import OpendialerError
from opendialer.web.db import DbSession
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import app_state

router = IndexedRouter(route_class=OneTripRoute, tags=["mmdial"])

Handler = Callable[[Session, Settings, Caller, Params], Any]


@dataclass(frozen=True)
class Parsed:
    params: Params
    error: ParamError | None = None


async def parsed_params(request: Request) -> Parsed:
    try:
        return Parsed(await read_params(request))
    except ParamError as exc:
        return Parsed(Params(), exc)


ParsedParams = Annotated[Parsed, Depends(parsed_params)]


@dataclass(frozen=True)
class Function:
    name: str
    handler: Handler
    methods: tuple[str, ...]
    error_field: str = "reason"
    extra: tuple[tuple[str, Any], ...] = ()  # members of the error body besides the message
    csv: bool = False  # answers a CSV file when it succeeds (its errors are JSON)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return validation_message(exc, limit=1, unnamed=None)
    if isinstance(exc, ParamError):
        return str(exc)
    return failure_of(exc, "mmdial").message_with_fields


def _error(function: Function, exc: Exception) -> JSONResponse:
    body: dict[str, Any] = {"status": "error", function.error_field: _message(exc)}
    for key, value in function.extra:
        body[key] = value() if callable(value) else value
    return JSONResponse(body)


def _endpoint(function: Function) -> Callable[..., Response]:
    def endpoint(request: Request, session: DbSession, parsed: ParsedParams) -> Response:
        try:
            who = authenticate(session, request)
        except AuthFailed as exc:
            return exc.response()
        try:
            if parsed.error is not None:
                raise parsed.error
            caller = Caller(who, get_tenant(session, who))
            settings: Settings = app_state(request).settings
            result = function.handler(session, settings, caller, parsed.params)
            session.flush()
        except (ParamError, OpendialerError, ValidationError, SQLAlchemyError) as exc:
            session.rollback()
            return _error(function, exc)
        return result if isinstance(result, Response) else JSONResponse(result)

    endpoint.__name__ = function.name
    return endpoint


def _export(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    sessions = create_sessionmaker(session.get_bind().engine)  # for a background build
    return functions.export_by_status(session, sessions, settings, caller, p)


def _add_lead(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    request = leads.parse_addlead(session, caller, p)
    stats = leads.add_lead(session, caller, request)
    return stats.render()


def _edit_lead(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    contact = leads.edit_lead(session, caller, p)
    return {"status": "ok", "leadid": contact.id}


def _empty_stats() -> dict[str, Any]:
    stats: dict[str, Any] = leads.LeadStats().render()["lead_stats"]
    return stats


POST, BOTH = ("POST",), ("GET", "POST")
FUNCTIONS = (
    Function("searchvoicebyleadid", functions.search_by_lead, BOTH, "msg", (("voices", []),)),
    Function("searchvoicebyphonenumber", functions.search_by_phone, BOTH, "msg", (("voices", []),)),
    Function("searchvoicebyagent", functions.search_by_agent, BOTH, "msg", (("voices", []),)),
    Function("getfieldsbycampaign", functions.fields_by_campaign, BOTH, extra=(("fields", []),)),
    Function("exportbystatus", _export, BOTH),
    Function("dncadd", functions.dnc_add, BOTH, "message"),
    Function("dncdel", functions.dnc_del, BOTH, "message"),
    Function("dncget", functions.dnc_get, BOTH, csv=True),
    Function("dnccheck", functions.dnc_check, BOTH),
    Function("getleadbyid", functions.lead_by_id, BOTH),
    Function("getleadbyphonenumber", functions.lead_by_phone, BOTH),
    Function("getleadbypexternalid", functions.lead_by_external_id, BOTH),
    Function("addlist", functions.add_list, POST),
    Function("addlead", _add_lead, POST, extra=(("lead_stats", _empty_stats),)),
    Function("editlead", _edit_lead, POST),
    Function("getagentbyid", functions.agent_by_id, BOTH),
)

_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The numbers as CSV, or a JSON error",
        "content": {"text/csv": {"schema": {"type": "string"}}, "application/json": {}},
    }
}

for _function in FUNCTIONS:
    for _method in _function.methods:
        router.add_api_route(
            f"/{_function.name}",
            _endpoint(_function),
            methods=[_method],
            response_class=JSONResponse,
            summary=_function.name,
            operation_id=f"mmdial_{_function.name}_{_method.lower()}",
            responses=_CSV_RESPONSE if _function.csv else None,
        )

_METHODS = {function.name: function.methods for function in FUNCTIONS}


def _not_a_function(request: Request) -> JSONResponse:
    """An unknown function, or one called with a method it does not take, in mmDial's words."""
    name = request.path_params["path"].strip("/")
    if name in _METHODS:
        allowed = ", ".join(_METHODS[name])
        body = {"status": "error", "reason": f"{name} takes {allowed}, not {request.method}"}
        return JSONResponse(body, status_code=405, headers={"Allow": allowed})
    return JSONResponse({"status": "error", "reason": f"Unknown function {name!r}"}, 404)


answer_all_paths(router, _not_a_function)  # last: after every function's routes
