"""mmDial leads: lead_data rendering, addlead through the bulk importer, editlead.

The mmDial lead fields are the contact's, under the names of §3.2 of the mmDial spec.
"""

import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from opendialer.campaigns.service import Campaign, get_campaign, get_list, result_code_of
from opendialer.contacts import hand_state
from opendialer.contacts.imports.importer import import_contacts
from opendialer.contacts.imports.schemas import (
    DuplicateKey,
    DuplicatePolicy,
    DuplicateScope,
    ImportFormat,
    ImportOptions,
    Outcome,
)
from opendialer.contacts.schemas import ContactUpdate
from opendialer.contacts.service import (
    Contact,
    get_contact,
    known_invalid,
    newest_contact_id,
    update_contact,
)
from opendialer.dialects.mmdial.auth import Caller
from opendialer.dialects.mmdial.params import ParamError, Params, unknown
from opendialer.errors import NotFound
from opendialer.exports import fields as lead
from opendialer.exports.service import campaign_form_fields
from opendialer.inputs import MAX_DB_INT, InputRejected, check_date, parse_int
from opendialer.phones import normalize
from opendialer.scoping import Scope

ADDLEAD_FIELDS = frozenset(
    {
        *("title", "phone", "alt_phone", "first_name", "last_name", "birthdate", "country"),
        *("street", "streetnr", "addradd", "plz", "ort", "notices", "leadid_external"),
        "company_name",
    }
)
EDITLEAD_FIELDS = ADDLEAD_FIELDS | {"rotation", "status"}
YES_NO = ("yes", "no")
STATS = ("success", "error", "sqlerror", "formaterror", "doubleterror", "invaliderror")
_BIRTHDATE = (
    (re.compile(r"^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}\Z"), "%d.%m.%Y"),
    (
        re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),
        "%Y-%m-%d",
    ),
)
# Contact columns behind the text fields, for editlead's ContactUpdate.
_UPDATE_NAMES = {name: column.key for name, column in lead.TEXT_FIELDS.items()}


# Reading ----------------------------------------------------------------------------------


def _status(session: Session, contact: Contact) -> str:
    code = result_code_of(session, contact.result_code_id)
    return contact.status.value if code is None else code.code


def _stamp(value: datetime | None, tz: ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(tz).strftime("%d.%m.%Y %H:%M:%S")


def lead_data(session: Session, contact: Contact, tz: ZoneInfo) -> dict[str, Any]:
    phones = {p.position: p.raw for p in contact.phones}
    data: dict[str, Any] = {
        "leadid": contact.id,
        "campaign_id": contact.campaign_id,
        "list_id": contact.list_id,
        "status": _status(session, contact),
        "rotation": contact.tries,
        "phone": phones.get(1),
        "alt_phone": phones.get(2),
    }
    for name, column in lead.TEXT_FIELDS.items():
        data[name] = getattr(contact, column.key)
    for name, column in lead.DATE_FIELDS.items():
        data[name] = _stamp(getattr(contact, column.key), tz)
    return data


def form_data(contact: Contact) -> dict[str, Any]:
    """The lead's order-form values: the last saved order form (one per lead here)."""
    return dict(contact.form_data or {})


# addlead ----------------------------------------------------------------------------------


@dataclass
class LeadStats:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATS, 0))
    formaterror_types: dict[str, int] = field(default_factory=dict)
    dncerror: int = 0
    reason: str | None = None
    leadid: int | None = None

    def fail(self, counter: str, reason: str, kind: str | None = None) -> None:
        self.counts[counter] += 1
        self.counts["error"] += 1
        if kind is not None:
            self.formaterror_types[kind] = self.formaterror_types.get(kind, 0) + 1
        self.reason = reason

    def render(self) -> dict[str, Any]:
        stats: dict[str, Any] = dict(self.counts)
        stats["formaterror_types"] = self.formaterror_types
        stats["dncerror"] = self.dncerror
        body: dict[str, Any] = {"lead_stats": stats}
        if self.leadid is not None:
            body["leadid"] = self.leadid
        if self.reason is not None:
            body["reason"] = self.reason
        return body


def yes_no(params: Params, name: str, default: str | None = None) -> bool:
    value = (params.get(name) or default or "").lower()
    if value not in YES_NO:
        raise ParamError(f"{name} must be yes or no")
    return value == "yes"


def region_for(country_phone_code: str) -> str:
    """``49``, ``+49`` or ``0049`` → ``DE`` (the main region of that calling code)."""
    digits = country_phone_code.strip().removeprefix("+")
    digits = digits[2:] if digits.startswith("00") else digits
    try:
        region = phonenumbers.region_code_for_country_code(parse_int(digits, 1, 999))
    except InputRejected:
        region = "ZZ"
    if region in ("ZZ", "001"):
        raise ParamError(f"Unknown country_phone_code {country_phone_code!r}")
    return region


def _check_keys(data: dict[str, str], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ParamError(f"Unknown {what} fields: {', '.join(unknown)}")


def _check_form_fields(session: Session, campaign_id: int, values: dict[str, str]) -> None:
    unknown = sorted(set(values) - campaign_form_fields(session, campaign_id))
    if unknown:
        raise ParamError(f"The campaign has no order-form fields named {', '.join(unknown)}")


def _bad_birthdate(value: str | None) -> bool:
    if not value:
        return False
    for pattern, fmt in _BIRTHDATE:
        if pattern.match(value):
            try:
                check_date(datetime.strptime(value, fmt))
            except ValueError:
                return True
            return False
    return True


@dataclass(frozen=True)
class AddLead:
    campaign: Campaign
    list_id: int
    region: str
    invalidcheck: bool
    doublet_global: bool
    doublet_campaign: bool
    leaddata: dict[str, str]
    formfields: dict[str, str]


def parse_addlead(session: Session, caller: Caller, params: Params) -> AddLead:
    campaign = campaign_of(session, caller, params.required("campaign_id"))
    list_id = parse_id(params.required("list_id"), "list_id")
    with unknown(f"list_id {list_id} is not a list of campaign {campaign.id}"):
        if get_list(session, caller.scope, list_id).campaign_id != campaign.id:
            raise NotFound("list", list_id)
    leaddata = {k: v.strip() for k, v in params.mapping("leaddata").items()}
    _check_keys(leaddata, ADDLEAD_FIELDS, "leaddata")
    formfields = params.mapping("formfields")
    _check_form_fields(session, campaign.id, formfields)
    return AddLead(
        campaign=campaign,
        list_id=list_id,
        region=region_for(params.required("country_phone_code")),
        invalidcheck=yes_no(params, "invalidcheck"),
        doublet_global=yes_no(params, "doubletcheck_global"),
        doublet_campaign=yes_no(params, "doubletcheck_campaign"),
        leaddata=leaddata,
        formfields=formfields,
    )


def parse_id(value: str, name: str) -> int:
    try:
        return parse_int(value, 1, MAX_DB_INT)
    except InputRejected:
        raise ParamError(f"{name} must be a positive whole number") from None


def campaign_of(session: Session, caller: Caller, value: str) -> Campaign:
    campaign_id = parse_id(value, "campaign_id")
    with unknown(f"Unknown campaign {campaign_id}"):
        return get_campaign(session, caller.scope, campaign_id)


def _precheck(session: Session, caller: Caller, request: AddLead, stats: LeadStats) -> bool:
    """mmDial's own checks before the import: birthdate format, ``invalidcheck``."""
    if _bad_birthdate(request.leaddata.get("birthdate")):
        stats.fail("formaterror", "birthdate must be d.m.Y or YYYY-MM-DD", "birthdate")
        return False
    if not request.invalidcheck:
        return True
    given = [request.leaddata.get(k) for k in ("phone", "alt_phone")]
    phones = [normalize(raw, request.region) for raw in given if raw]
    invalid = [p.raw for p in phones if p.e164 is None]
    flagged = known_invalid(session, caller.scope, [p.e164 for p in phones if p.e164])
    if invalid or flagged:
        stats.fail("invaliderror", f"Invalid number: {', '.join(invalid or sorted(flagged))}")
        return False
    return True


def _options(request: AddLead) -> ImportOptions:
    if request.doublet_global or request.doublet_campaign:
        scope = DuplicateScope.TENANT if request.doublet_global else DuplicateScope.CAMPAIGN
        policy = DuplicatePolicy.SKIP
    else:
        scope, policy = DuplicateScope.CAMPAIGN, DuplicatePolicy.ALLOW
    return ImportOptions(
        duplicates=policy,
        duplicate_scope=scope,
        duplicate_key=DuplicateKey.PHONE,
        list_id=request.list_id,
    )


def _record(request: AddLead) -> bytes:
    record: dict[str, Any] = {k: v for k, v in request.leaddata.items() if v}
    if request.formfields:
        record["form_data"] = request.formfields
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


def add_lead(session: Session, caller: Caller, request: AddLead) -> LeadStats:
    """One lead through the native bulk importer (DNC filter, duplicate check, list)."""
    stats = LeadStats()
    if not _precheck(session, caller, request, stats):
        return stats
    try:
        with session.begin_nested():
            report = import_contacts(
                session,
                request.campaign,
                io.BytesIO(_record(request)),
                _options(request),
                ImportFormat.NDJSON,
                parallel=False,
                region=request.region,
            )
    except sa_exc.SQLAlchemyError as exc:
        stats.fail("sqlerror", f"The lead could not be stored: {type(exc).__name__}")
        return stats
    try:
        _count(report.counts, [entry["message"] for entry in report.issues], stats)
    finally:
        report.close()
    if stats.counts["success"]:
        stats.leadid = _new_lead_id(session, caller.scope, request)
    return stats


def _count(counts: dict[Outcome, int], messages: list[str], stats: LeadStats) -> None:
    reason = "; ".join(m for m in messages if m) or None
    if counts[Outcome.IMPORTED] or counts[Outcome.UPDATED]:
        stats.counts["success"] += 1
    elif counts[Outcome.DUPLICATE]:
        stats.fail("doubleterror", f"Duplicate lead: {reason}")
    elif counts[Outcome.INVALID_NUMBER]:
        stats.fail("formaterror", f"No valid phone number: {reason}", "phone")
    elif counts[Outcome.DNC]:
        stats.dncerror += 1
        stats.counts["error"] += 1
        stats.reason = f"Do-not-call: {reason}"
    elif counts[Outcome.MALFORMED]:
        kind = (reason or "field").split(":", 1)[0]
        stats.fail("formaterror", f"Malformed field: {reason}", _field_name(kind))


def _field_name(column: str) -> str:
    """The importer names the record key (``phone``) or its target (``form_data``)."""
    return "formfields" if column == "form_data" else column


def _new_lead_id(session: Session, scope: Scope, request: AddLead) -> int | None:
    external = request.leaddata.get("leadid_external") or None
    return newest_contact_id(
        session,
        scope,
        campaign_id=request.campaign.id,
        list_id=request.list_id,
        external_id=external,
    )


# editlead ---------------------------------------------------------------------------------


def _rotation(value: str) -> int:
    try:
        return parse_int(value, 0, 2**31 - 1)
    except InputRejected:
        raise ParamError("rotation must be a whole number >= 0") from None


def _update_body(contact: Contact, leaddata: dict[str, str], formfields: dict[str, str]) -> Any:
    body: dict[str, Any] = {}
    for name, value in leaddata.items():
        if name in _UPDATE_NAMES:
            body[_UPDATE_NAMES[name]] = value.strip() or None
    phones: dict[int, str | None] = {}
    for name, position in lead.PHONE_FIELDS.items():
        if name in leaddata:
            phones[position] = leaddata[name].strip() or None
    if phones:
        body["phones"] = phones
    if formfields:
        body["form_data"] = {**(contact.form_data or {}), **formfields}
    return ContactUpdate.model_validate(body)


def edit_lead(session: Session, caller: Caller, params: Params) -> Contact:
    """A partial update: only the fields sent change (formfields are merged)."""
    scope = caller.scope
    campaign = campaign_of(session, caller, params.required("campaign_id"))
    with unknown(f"Unknown lead {params.get('leadid')}"):
        contact = get_contact(session, scope, parse_id(params.required("leadid"), "leadid"))
    if contact.campaign_id != campaign.id:
        raise ParamError(f"Lead {contact.id} is not in campaign {campaign.id}")
    leaddata = params.mapping("leaddata")
    formfields = params.mapping("formfields")
    if not leaddata and not formfields:
        raise ParamError("Nothing to change: send leaddata[...] or formfields[...]")
    _check_keys(leaddata, EDITLEAD_FIELDS, "leaddata")
    if _bad_birthdate(leaddata.get("birthdate", "").strip() or None):
        raise ParamError("birthdate must be d.m.Y or YYYY-MM-DD")
    change: hand_state.StatusChange | None = None
    tries: int | None = None
    if "status" in leaddata:
        status = leaddata["status"].strip()
        change = hand_state.status_change(session, scope, contact_id=contact.id, status=status)
    if "rotation" in leaddata:
        tries = _rotation(leaddata["rotation"].strip())
    body = _update_body(contact, leaddata, formfields)
    contact = update_contact(session, scope, contact.id, body)
    hand_state.set_by_hand(session, scope, contact_id=contact.id, change=change, tries=tries)
    return contact
