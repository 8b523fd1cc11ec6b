"""jtel ACD Groups and ACD Events (spec 001 §5, §6): translation onto acd/ and agents/."""

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from opendialer.acd import service
from opendialer.acd.schemas import (
    STATUS_SHORT_TEXT,
    TYPE_SHORT_TEXT,
    AcdEventCreate,
    AcdEventType,
)
from opendialer.agents.service import find_groups_by_name, get_group
from opendialer.dialects.jtel import routing
from opendialer.dialects.jtel.envelope import Record, bad_request, listing, records
from opendialer.dialects.jtel.records import event_record, group_record
from opendialer.dialects.jtel.routing import Call
from opendialer.inputs import MAX_DB_INT, check_date, text_problem
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, tags=["jtel acd"])

_DATE = re.compile(r"([0-9]{4})-?([0-9]{2})-?([0-9]{2})\Z")
_TIME = re.compile(r"([0-9]{2}):?([0-9]{2})\Z")


# Groups --------------------------------------------------------------------------------------


def get_acd_group(call: Call) -> Record:
    """Retrieve a specific ACD Group by ID."""
    group = get_group(call.session, call.scope, call.path_id("AcdGroupsID"))
    return records([group_record(group)])


def get_acd_groups_by_name(call: Call) -> Record:
    """Retrieve ACD Groups by Name (partial match, any case)."""
    name = call.query_text("name")
    if not name:
        raise bad_request("The query parameter name is empty")
    return records([group_record(g) for g in find_groups_by_name(call.session, call.scope, name)])


# Events --------------------------------------------------------------------------------------


def list_events(call: Call) -> Record:
    """Retrieve all AcdEvents of the account (by ID)."""
    events = service.list_events(call.session, call.scope)
    return listing([event_record(e, call.zone) for e in events], "ID")


def get_event(call: Call) -> Record:
    """Retrieve an AcdEvent by ID."""
    event = service.get_event(call.session, call.scope, call.path_id("AcdEventsID"))
    return records([event_record(event, call.zone)])


def _parse_date(value: str) -> date:
    match = _DATE.match(value.strip())
    try:
        if match is None:
            raise ValueError
        return check_date(date(int(match[1]), int(match[2]), int(match[3])))
    except ValueError:
        raise bad_request("dtAppointmentDate must be yyyy-mm-dd or yyyymmdd") from None


def _parse_time(value: str) -> time:
    match = _TIME.match(value.strip())
    try:
        if match is None:
            raise ValueError
        return time(int(match[1]), int(match[2]))
    except ValueError:
        raise bad_request("dtAppointmentTime must be hh:mm or hhmm") from None


def appointment(
    date_text: str | None, time_text: str | None, now: datetime, zone: ZoneInfo
) -> datetime | None:
    """G13: neither = now; date only = that day 00:00; time only = today at that time
    (tomorrow when it has passed); both = that moment. In the account's time zone."""
    if not date_text and not time_text:
        return None
    local_now = now.astimezone(zone)
    at_time = _parse_time(time_text) if time_text else time(0, 0)
    if date_text:
        return datetime.combine(_parse_date(date_text), at_time, zone)
    today = datetime.combine(local_now.date(), at_time, zone)
    return today if today >= local_now else today + timedelta(days=1)


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    problem = None if value is None else text_problem(value)
    if problem is not None:
        raise bad_request(f"{key} {problem}")
    return value or None


def _int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad_request(f"{key} must be an integer")
    if isinstance(value, str):
        return routing.parse_id(value, key)
    if not 1 <= value <= MAX_DB_INT:
        raise bad_request(f"{key} must be a positive integer")
    return value


def _group_id(call: Call, body: dict[str, Any]) -> int:
    """AcdGroupsID, or both AcdConfigurationGroupsID and AcdAgentGroupsID: one group kind here,
    so the event goes to the agent group and the configuration group must exist too."""
    group_id = _int(body, "AcdGroupsID")
    if group_id is not None:
        return group_id
    configuration, agents = _int(body, "AcdConfigurationGroupsID"), _int(body, "AcdAgentGroupsID")
    if configuration is None or agents is None:
        raise bad_request("Give AcdGroupsID, or both AcdConfigurationGroupsID and AcdAgentGroupsID")
    get_group(call.session, call.scope, configuration)
    return agents


def _event_type(body: dict[str, Any]) -> AcdEventType:
    type_id = _int(body, "AcdEventTypesID")
    if type_id is None:
        raise bad_request("AcdEventTypesID is mandatory")
    try:
        return AcdEventType(type_id)
    except ValueError:
        known = ", ".join(f"{int(t)} {name}" for t, name in TYPE_SHORT_TEXT.items())
        raise bad_request(f"Unknown AcdEventTypesID {type_id} (known: {known})") from None


def _required_text(body: dict[str, Any], key: str) -> str:
    value = _optional_text(body, key)
    if not value or not value.strip():
        raise bad_request(f"{key} is mandatory")
    return value


def create_event(call: Call) -> Record:
    """Create an AcdEvent; ``Result_`` is "UPDATED" when the group's no-duplicates option
    returned an existing open event, else "CREATED"."""
    body = call.json_object()
    priority = body.get("nPriority")
    data = AcdEventCreate(
        type_id=_event_type(body),
        group_id=_group_id(call, body),
        user_id=_int(body, "UsersID"),
        sender=_required_text(body, "Sender"),
        receiver=_optional_text(body, "Receiver"),
        subject=_required_text(body, "Subject"),
        body=_optional_text(body, "Body"),
        crm_url=_optional_text(body, "CrmURL"),
        user_data=_optional_text(body, "UserData"),
        priority=50 if priority is None else priority,
        appointment_at=appointment(
            _optional_text(body, "dtAppointmentDate"),
            _optional_text(body, "dtAppointmentTime"),
            call.now,
            call.zone,
        ),
    )
    event, created = service.create_event(call.session, call.scope, data, call.now)
    return records([event_record(event, call.zone, "CREATED" if created else "UPDATED")])


def list_statuses(call: Call) -> Record:
    """Retrieve all AcdEventStatus (reference list)."""
    rows = [
        {"ShortText": f"AcdEventStatus.{t}", "ID": int(s)} for s, t in STATUS_SHORT_TEXT.items()
    ]
    return listing(rows, "ID")


def list_types(call: Call) -> Record:
    """Retrieve all AcdEventTypes (reference list)."""
    rows = [{"ShortText": f"AcdEventTypes.{t}", "ID": int(s)} for s, t in TYPE_SHORT_TEXT.items()]
    return listing(rows, "ID")


ROUTES: tuple[tuple[str, str, routing.Handler, bool], ...] = (
    ("GET", "/acd/groups/group", get_acd_groups_by_name, False),
    ("GET", "/acd/groups/group/{AcdGroupsID}", get_acd_group, False),
    ("GET", "/acd/events", list_events, False),
    ("POST", "/acd/events/create", create_event, True),
    ("POST", "/acd/events", create_event, True),  # alias: the create path is uncertain (G12)
    ("GET", "/acd/events/status", list_statuses, False),
    ("GET", "/acd/events/types", list_types, False),
    ("GET", "/acd/events/event/{AcdEventsID}", get_event, False),
)
for _method, _path, _handler, _body in ROUTES:
    routing.add(router, _method, _path, _handler, reads_body=_body)
