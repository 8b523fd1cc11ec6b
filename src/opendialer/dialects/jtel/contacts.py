"""jtel Dialler Contacts (spec 001 §3): translation onto the native contacts service."""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from opendialer.agents import service as agents
from opendialer.campaigns.service import (
    Campaign,
    get_campaign,
    get_campaign_by_name,
    result_code_types,
)
from opendialer.contacts import service
from opendialer.contacts.schemas import ContactCreate, ContactUpdate
from opendialer.contacts.service import Contact
from opendialer.dialects.jtel import routing
from opendialer.dialects.jtel.envelope import (
    Record,
    bad_request,
    listing,
    not_found,
    records,
    status_only,
)
from opendialer.dialects.jtel.records import contact_record, history_record
from opendialer.dialects.jtel.routing import Call
from opendialer.dialects.jtel.schemas import (
    phone_fields,
    translate_fields,
    user_uids,
)
from opendialer.scoping import Scope
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, tags=["jtel dialler contacts"])


# Helpers -------------------------------------------------------------------------------------


def _render(call: Call, contacts: Sequence[Contact]) -> list[Record]:
    usernames = agents.usernames(call.session, call.scope)
    return [contact_record(c, call.zone, usernames) for c in contacts]


def _first_by_user_data(call: Call) -> Contact:
    """The lowest-id contact with the UserData given: jtel's "first one found" (G10)."""
    user_data = call.query_text("userData")
    assert user_data is not None
    matches = service.find_by_user_data(call.session, call.scope, user_data)
    if not matches:
        raise not_found(f"No dialler contact has UserData {user_data!r}")
    return matches[0]


def _contact_by_id(call: Call) -> Contact:
    return service.get_contact(call.session, call.scope, call.path_id("diallerContactsID"))


def _resolve_users(call: Call, body: dict[str, Any]) -> tuple[dict[str, int], dict[str, str]]:
    """ReservedUsersUID / FollowUpUsersUID as user ids (by username); unknown ones are kept
    as text in custom_data, since jtel UIDs may name users of another system."""
    found: dict[str, int] = {}
    unknown: dict[str, str] = {}
    for native, uid in user_uids(body).items():
        user_id = agents.user_id_by_username(call.session, call.scope, uid)
        if user_id is None:
            unknown["ReservedUsersUID" if native == "reserved_user_id" else "FollowUpUsersUID"] = (
                uid
            )
        else:
            found[native] = int(user_id)
    return found, unknown


# Reading -------------------------------------------------------------------------------------


def list_contacts(call: Call) -> Record:
    """Retrieve Dialler Contacts (all of the account, or of one campaign)."""
    campaign_id = call.query_int("diallerCampaignsID", required=False)
    if campaign_id is not None:
        get_campaign(call.session, call.scope, campaign_id)
    rows = service.contacts_by_name(call.session, call.scope, campaign_id=campaign_id)
    return listing(_render(call, rows), "Name")


def get_contact(call: Call) -> Record:
    """Retrieve a specific Dialler Contact by ID."""
    return records(_render(call, [_contact_by_id(call)]))


def get_by_user_data(call: Call) -> Record:
    """Retrieve Dialler Contacts by User Data (every match, lowest ID first)."""
    user_data = call.query_text("userData")
    assert user_data is not None
    return records(_render(call, service.find_by_user_data(call.session, call.scope, user_data)))


# Import and update ---------------------------------------------------------------------------


def _import_campaign(call: Call, body: dict[str, Any]) -> Campaign:
    """By DiallerCampaignsID, else by exact DiallerCampaignsName; the ID wins (G6e)."""
    campaign_id = body.get("DiallerCampaignsID")
    if campaign_id is not None:
        if isinstance(campaign_id, bool) or not isinstance(campaign_id, int | str):
            raise bad_request("DiallerCampaignsID must be an integer")
        return get_campaign(
            call.session, call.scope, routing.parse_id(str(campaign_id), "DiallerCampaignsID")
        )
    name = body.get("DiallerCampaignsName")
    if isinstance(name, str) and name.strip():
        return get_campaign_by_name(call.session, call.scope, name.strip())
    raise bad_request("Give DiallerCampaignsID or DiallerCampaignsName")


def _import_values(call: Call, body: dict[str, Any]) -> tuple[dict[str, Any], dict[int, str]]:
    name = body.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("Name is mandatory")
    phones = {p: n for p, n in phone_fields(body).items() if n is not None}
    if not phones:
        raise bad_request("Give at least one of PhoneNumber1 to PhoneNumber6")
    values = translate_fields(body, call.zone, for_import=True)
    users, unknown_users = _resolve_users(call, body)
    values.update(users)
    if unknown_users:
        values["custom_data"] = unknown_users
    return values, phones


def _overwrite(
    call: Call, contact: Contact, values: dict[str, Any], phones: dict[int, str]
) -> Contact:
    changes = {k: v for k, v in values.items() if k != "custom_data"}
    if "custom_data" in values:
        changes["custom_data"] = {**contact.custom_data, **values["custom_data"]}
    data = ContactUpdate(**changes, phones=phones)
    return service.update_contact(call.session, call.scope, contact.id, data)


def import_contact(call: Call) -> Record:
    """Import a Dialler Contact (overwriteDuplicates, resetContact, unlockContact)."""
    body = call.json_object()
    overwrite = call.query_bool("overwriteDuplicates") or False
    reset = call.query_bool("resetContact")
    unlock = call.query_bool("unlockContact")
    campaign = _import_campaign(call, body)
    values, phones = _import_values(call, body)
    user_data = values.get("user_data")
    duplicates: list[Contact] = []
    if overwrite and user_data:
        service.guard_duplicates(call.session, call.scope)
        duplicates = service.find_by_user_data(call.session, call.scope, user_data, campaign.id)
    if duplicates:
        contact = _overwrite(call, duplicates[0], values, phones)
        if reset:
            service.reset_contact(call.session, call.scope, contact.id)
        if unlock is not False:  # before 3.39 a duplicate was always unlocked
            service.unlock_contact(call.session, call.scope, contact.id)
    else:
        data = ContactCreate(**values, phones=phones)
        contact = service.create_contact(call.session, call.scope, campaign, data)
    return records(_render(call, [contact]))


def update_contact(call: Call) -> Record:
    """Update a Dialler Contact by ID, or else by UserData (only the fields sent change)."""
    body = call.json_object()
    contact_id = body.get("ID")
    changes = translate_fields(body, call.zone, for_import=False)
    if contact_id is not None:
        if isinstance(contact_id, bool) or not isinstance(contact_id, int | str):
            raise bad_request("ID must be an integer")
        contact = service.get_contact(
            call.session, call.scope, routing.parse_id(str(contact_id), "ID")
        )
    elif isinstance(body.get("UserData"), str) and body["UserData"]:
        matches = service.find_by_user_data(call.session, call.scope, body["UserData"])
        if not matches:
            raise not_found(f"No dialler contact has UserData {body['UserData']!r}")
        contact = matches[0]
        changes.pop("user_data")  # it found the contact; it is not a new value
    else:
        raise bad_request("Give ID or UserData")
    phones = phone_fields(body)
    data = ContactUpdate(**changes, **({"phones": phones} if phones else {}))
    updated = service.update_contact(call.session, call.scope, contact.id, data)
    return records(_render(call, [updated]))


# Delete, lock, unlock, reset -----------------------------------------------------------------


_ACTIONS: tuple[tuple[str, Callable[[Session, Scope, int], object], str], ...] = (
    ("delete", service.delete_contact, "Delete a Dialler Contact"),
    ("lock", service.lock_contact, "Lock a Dialler Contact"),
    ("unlock", service.unlock_contact, "Unlock a Dialler Contact"),
    ("reset", service.reset_contact, "Reset a Dialler Contact"),
)
_BY_ID_NOTES = {
    "lock": ": the dialler never dials it until unlocked",
    "reset": ": tries and result cleared, as if newly imported",
}


def _by_id(name: str, act: Callable[[Session, Scope, int], object], text: str) -> routing.Handler:
    def handler(call: Call) -> Record:
        act(call.session, call.scope, call.path_id("diallerContactsID"))
        return status_only()

    handler.__name__ = f"{name}_by_id"
    handler.__doc__ = f"{text} by ID{_BY_ID_NOTES.get(name, '')}."
    return handler


def _by_user_data(
    name: str, act: Callable[[Session, Scope, int], object], text: str
) -> routing.Handler:
    def handler(call: Call) -> Record:
        act(call.session, call.scope, _first_by_user_data(call).id)
        return status_only()

    handler.__name__ = f"{name}_by_user_data"
    handler.__doc__ = f"{text} by UserData (the lowest ID)."
    return handler


BY_ID = {name: _by_id(name, act, text) for name, act, text in _ACTIONS}
BY_USER_DATA = {name: _by_user_data(name, act, text) for name, act, text in _ACTIONS}


# History -------------------------------------------------------------------------------------


def _history(call: Call, contacts: Sequence[Contact]) -> Record:
    by_id = {c.id: c for c in contacts}
    attempts = service.attempts_of(call.session, call.scope, list(by_id))
    code_ids = {a.result_code_id for a in attempts if a.result_code_id is not None}
    code_types = result_code_types(call.session, call.scope, code_ids)
    return records(
        [history_record(a, by_id.get(a.contact_id or 0), code_types, call.zone) for a in attempts]
    )


def history_by_id(call: Call) -> Record:
    """Retrieve Dialler Contact History by ID (calls, oldest first)."""
    return _history(call, [_contact_by_id(call)])


def history_by_user_data(call: Call) -> Record:
    """Retrieve Dialler Contact History by UserData (every contact with it)."""
    user_data = call.query_text("userData")
    assert user_data is not None
    contacts = service.find_by_user_data(call.session, call.scope, user_data)
    if not contacts:
        raise not_found(f"No dialler contact has UserData {user_data!r}")
    return _history(call, contacts)


# Literal segments (lock, unlock, reset, history, import, update) before {diallerContactsID}.
BASE = "/dialler/contacts"
PATCH_ACTIONS = ("lock", "unlock", "reset")
ROUTES: tuple[tuple[str, str, routing.Handler, bool], ...] = (
    ("GET", BASE, list_contacts, False),
    ("POST", f"{BASE}/import", import_contact, True),
    ("POST", f"{BASE}/update", update_contact, True),
    ("GET", f"{BASE}/contact", get_by_user_data, False),
    ("DELETE", f"{BASE}/contact", BY_USER_DATA["delete"], False),
    *(("PATCH", f"{BASE}/contact/{a}", BY_USER_DATA[a], False) for a in PATCH_ACTIONS),
    ("GET", f"{BASE}/contact/history", history_by_user_data, False),
    ("GET", f"{BASE}/contact/{{diallerContactsID}}/history", history_by_id, False),
    *(
        ("PATCH", f"{BASE}/contact/{{diallerContactsID}}/{a}", BY_ID[a], False)
        for a in PATCH_ACTIONS
    ),
    ("DELETE", f"{BASE}/contact/{{diallerContactsID}}", BY_ID["delete"], False),
    ("GET", f"{BASE}/contact/{{diallerContactsID}}", get_contact, False),  # alias (G5)
    ("GET", f"{BASE}/{{diallerContactsID}}", get_contact, False),
)
for _method, _path, _handler, _body in ROUTES:
    routing.add(router, _method, _path, _handler, reads_body=_body)
