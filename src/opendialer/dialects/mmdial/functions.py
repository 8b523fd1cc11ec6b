"""The mmDial functions other than addlead/editlead: each parses its arguments, calls the
services the native API uses, and returns the mmDial response body (or a Response).

Every function raises :class:`ParamError` (or an ``OpendialerError``) for bad input; the router
renders that in the function's own error vocabulary.
"""

import re
import tempfile
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from opendialer.agents.service import User, get_user
from opendialer.campaigns.schemas import ListCreate
from opendialer.campaigns.service import create_list, list_form_fields
from opendialer.config import Settings
from opendialer.contacts.service import Contact, find_by_external_id, find_by_phone, get_contact
from opendialer.db import SessionMaker
from opendialer.dialects.mmdial.auth import Caller
from opendialer.dialects.mmdial.leads import campaign_of, form_data, lead_data, parse_id
from opendialer.dialects.mmdial.params import ParamError, Params, unknown
from opendialer.dnc import service as dnc
from opendialer.dnc.schemas import DncOutcome
from opendialer.errors import NotFound
from opendialer.exports import service as exports
from opendialer.inputs import check_date
from opendialer.phones import international_digits, normalize
from opendialer.recordings import service as recordings
from opendialer.recordings.service import Recording

MAX_VOICES = 1000
MAX_LEADS = 1000
MAX_FUZZY_RESULTS = 1000
FUZZY_MIN_DIGITS = 3
MAX_DNC_NUMBERS = 10_000
_TIMESTAMP = re.compile(r"[0-9]{14}\Z")


# Recordings -------------------------------------------------------------------------------


def _voice(settings: Settings, recording: Recording, tz: ZoneInfo) -> dict[str, Any]:
    available = recordings.is_available(settings, recording)
    url = recordings.download_url(settings, recording, settings.public_base_url)
    return {
        "recid": recording.id,
        "agentid": recording.user_id,
        "leadid": recording.contact_id,
        "timestamp": recording.recorded_at.astimezone(tz).strftime("%Y%m%d%H%M%S"),
        "available": "yes" if available else "no",
        "voiceid": recording.voice_id,
        "url": url if available else None,
        "length": round(recording.duration_seconds, 3),
        "size": recording.size_bytes,
    }


def _day(params: Params) -> date | None:
    value = params.get("date")
    if not value:
        return None
    try:
        return check_date(date.fromisoformat(value)) if len(value) == 10 else _bad_date(value)
    except ValueError:
        return _bad_date(value)


def _bad_date(value: str) -> date:
    raise ParamError(f"date {value!r} is not YYYY-MM-DD")


def _moment(params: Params, tz: ZoneInfo) -> datetime | None:
    value = params.get("timestamp")
    if not value:
        return None
    try:
        if not _TIMESTAMP.match(value):
            raise ValueError
        return check_date(datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=tz))
    except ValueError:
        raise ParamError(f"timestamp {value!r} is not YYYYMMDDHHIISS") from None


def _voices(
    session: Session, settings: Settings, caller: Caller, found: recordings.RecordingFilter
) -> dict[str, Any]:
    tz = ZoneInfo(caller.timezone)
    records = recordings.search(session, caller.scope, found, tz, MAX_VOICES)
    return {"status": "ok", "voices": [_voice(settings, r, tz) for r in records]}


def search_by_lead(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    contact_id = parse_id(p.required("leadid"), "leadid")
    with unknown(f"Unknown lead {contact_id}"):
        get_contact(session, caller.scope, contact_id)
    return _voices(session, settings, caller, recordings.RecordingFilter(contact_id=contact_id))


def search_by_phone(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    raw = p.required("phone")
    e164 = normalize(raw, caller.default_region).e164
    if e164 is None:
        raise ParamError(f"{raw!r} is not a valid phone number")
    tz = ZoneInfo(caller.timezone)
    found = recordings.RecordingFilter(e164=e164, day=_day(p), moment=_moment(p, tz))
    return _voices(session, settings, caller, found)


def _agent(session: Session, caller: Caller, value: str) -> User:
    user_id = parse_id(value, "agentid")
    with unknown(f"Unknown agent {user_id}"):
        return get_user(session, caller.scope, user_id)


def search_by_agent(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    user = _agent(session, caller, p.required("agentid"))
    tz = ZoneInfo(caller.timezone)
    found = recordings.RecordingFilter(user_id=user.id, day=_day(p), moment=_moment(p, tz))
    return _voices(session, settings, caller, found)


# Campaign fields and exports ----------------------------------------------------------------


def fields_by_campaign(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    campaign = campaign_of(session, caller, p.required("campaign_id"))
    fields = [
        {
            "name": f.name,
            "label": f.label,
            "type": f.field_type,
            "required": f.required,
            "options": f.options,
        }
        for f in list_form_fields(session, campaign)
    ]
    return {"status": "ok", "fields": fields}


def _date_part(value: str, name: str) -> date:
    try:
        return check_date(datetime.strptime(value, "%d.%m.%Y").date())
    except ValueError:
        raise ParamError(f"{name} {value!r} is not d.m.Y (e.g. 02.03.2016)") from None


def _time_part(value: str | None, name: str, default: time) -> time:
    if not value:
        return default
    try:
        return datetime.strptime(value, "%H:%M:%S").time()
    except ValueError:
        raise ParamError(f"{name} {value!r} is not H:i:s (e.g. 16:00:12)") from None


def _bound(p: Params, side: str, default: time, tz: ZoneInfo) -> datetime | None:
    day, clock = p.get(f"{side}date"), p.get(f"{side}time")
    if not day:
        if clock:
            raise ParamError(f"{side}time needs {side}date")
        return None
    moment = datetime.combine(
        _date_part(day, f"{side}date"), _time_part(clock, f"{side}time", default)
    )
    return moment.replace(tzinfo=tz)


def export_by_status(
    session: Session, sessions: SessionMaker, settings: Settings, caller: Caller, p: Params
) -> Any:
    campaign = campaign_of(session, caller, p.required("campaign_id"))
    tz = ZoneInfo(caller.timezone)
    start = _bound(p, "from", time(0, 0, 0), tz)
    end = _bound(p, "to", time(23, 59, 59), tz)
    if start is not None and end is not None and start > end:
        raise ParamError("The from date is after the to date")
    selected = [f.strip() for f in p.required("selectedfields").split(",") if f.strip()]
    spec = exports.ExportSpec(
        campaign_id=campaign.id,
        columns=exports.parse_columns(selected, exports.campaign_form_fields(session, campaign.id)),
        statuses=tuple(p.many("status")),
        date_types=exports.check_date_types(p.many("datetype")),
        start=start,
        end=end,
        encoding=exports.encoding_name(p.get("encoding")),
    )
    result = exports.start_export(session, sessions, settings, campaign, spec, tz)
    return {
        "status": "ok",
        "file_id": result.file_id,
        "size": result.size,
        "url": exports.download_url(session, settings, result.file_id, settings.public_base_url),
        "ready": "yes" if result.ready else "no",
        "rows": result.rows,
    }


# DNC --------------------------------------------------------------------------------------


def _numbers(p: Params) -> list[str]:
    numbers = [n.strip() for n in p.required("number").split(",") if n.strip()]
    if not numbers:
        raise ParamError("number is missing")
    if len(numbers) > MAX_DNC_NUMBERS:
        raise ParamError(f"At most {MAX_DNC_NUMBERS} numbers at once")
    return numbers


def _failed(records: list[Any], outcomes: tuple[DncOutcome, ...]) -> list[str]:
    return [r.number for r in records if r.outcome in outcomes]


def dnc_add(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    """All or nothing: one invalid number and no number is added."""
    records = dnc.add_numbers(session, caller.scope, None, _numbers(p), source="mmdial")
    invalid = _failed(records, (DncOutcome.INVALID_NUMBER,))
    if invalid:
        raise ParamError(f"Not valid phone numbers: {', '.join(invalid)}")
    existing = _failed(records, (DncOutcome.EXISTS,))
    if existing:
        return {"status": "doublet", "message": f"Already on the list: {', '.join(existing)}"}
    return {"status": "ok", "message": f"{len(records)} number(s) added"}


def dnc_del(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    """All or nothing: an invalid number, or one not on the list, and none is removed."""
    records = dnc.remove_numbers(session, caller.scope, None, _numbers(p))
    invalid = _failed(records, (DncOutcome.INVALID_NUMBER,))
    if invalid:
        raise ParamError(f"Not valid phone numbers: {', '.join(invalid)}")
    missing = _failed(records, (DncOutcome.NOT_FOUND,))
    if missing:
        raise ParamError(f"Not on the list: {', '.join(missing)}")
    return {"status": "ok", "message": f"{len(records)} number(s) removed"}


def dnc_get(session: Session, settings: Settings, caller: Caller, p: Params) -> Response:
    """The tenant-wide list as CSV: one number a line, international digits, no header."""
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - closed by iter
    for batch in dnc.tenant_wide_numbers(session, caller.scope):
        spool.write("".join(f"{international_digits(e164)}\r\n" for e164 in batch).encode())
    spool.seek(0)
    return StreamingResponse(
        _drain(spool),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="dnc.csv"'},
    )


def _drain(spool: Any) -> Any:
    try:
        while block := spool.read(1 << 16):
            yield block
    finally:
        spool.close()


def _fuzzy_digits(caller: Caller, number: str) -> str:
    """A national or international number's international digits ("030123" → "4930123");
    otherwise (a part of a number such as "7654") its digits."""
    text = number.strip()
    e164 = normalize(text, caller.default_region).e164 if text[:1] in ("+", "0") else None
    digits = international_digits(e164) if e164 else re.sub(r"\D", "", text).lstrip("0")
    if len(digits) < FUZZY_MIN_DIGITS:
        raise ParamError(f"A fuzzy search needs at least {FUZZY_MIN_DIGITS} digits")
    return digits


def dnc_check(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    number = p.required("number")
    if not _yes(p, "fuzzy"):
        [result] = dnc.check_numbers(session, caller.scope, None, [number])
        if result.e164 is None:
            raise ParamError(f"{number!r} is not a valid phone number")
        return {"status": "exists" if result.blocked else "notfound"}
    digits = _fuzzy_digits(caller, number)
    found = dnc.tenant_wide_matches(session, caller.scope, digits=digits, limit=MAX_FUZZY_RESULTS)
    results = [international_digits(e164) for e164 in found]
    return {"status": "exists" if results else "notfound", "results": results}


def _yes(p: Params, name: str) -> bool:
    value = (p.get(name) or "no").lower()
    if value not in ("yes", "no"):
        raise ParamError(f"{name} must be yes or no")
    return value == "yes"


# Leads and agents ---------------------------------------------------------------------------


def lead_by_id(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    contact_id = parse_id(p.required("leadid"), "leadid")
    try:
        contact = get_contact(session, caller.scope, contact_id)
    except NotFound:
        return {"status": "notfound", "reason": f"Unknown lead {contact_id}"}
    tz = ZoneInfo(caller.timezone)
    return {
        "status": "found",
        "lead_data": lead_data(session, contact, tz),
        "formdata": form_data(contact),
    }


def _leads(session: Session, caller: Caller, contacts: list[Contact], what: str) -> Any:
    if not contacts:
        return {"status": "notfound", "reason": f"No lead with {what}"}
    tz = ZoneInfo(caller.timezone)
    return {
        "status": "found",
        "lead_data": [lead_data(session, c, tz) for c in contacts],
        "formdata": [form_data(c) for c in contacts],
    }


def lead_by_phone(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    raw = p.required("number")
    e164 = normalize(raw, caller.default_region).e164
    if e164 is None:
        raise ParamError(f"{raw!r} is not a valid phone number")
    contacts = find_by_phone(session, caller.scope, e164)[:MAX_LEADS]
    return _leads(session, caller, contacts, f"number {raw}")


def lead_by_external_id(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    external = p.required("leadid")
    contacts = find_by_external_id(session, caller.scope, external, limit=MAX_LEADS)
    return _leads(session, caller, contacts, f"external id {external}")


def agent_by_id(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    user_id = parse_id(p.required("agentid"), "agentid")
    try:
        user = get_user(session, caller.scope, user_id)
    except NotFound:
        return {"status": "notfound", "reason": f"Unknown agent {user_id}"}
    info = {
        "agentid": user.id,
        "username": user.username,
        "name": user.display_name,
        "email": user.email,
        "extension": user.extension,
        "role": user.role.value,
        "active": user.active,
    }
    return {"status": "found", "agent_info": [info]}


def add_list(session: Session, settings: Settings, caller: Caller, p: Params) -> Any:
    campaign = campaign_of(session, caller, p.get("campaignID") or p.required("campaign_id"))
    description = p.required("description")
    record = create_list(session, campaign, ListCreate(name=description, description=description))
    return {"status": "ok", "listid": record.id}
