"""Contact rules: six numbers each, normalised to E.164; lists, users and order-form fields checked.

Every function checks all of its input before it changes anything, so a caller that catches an
:class:`OpendialerError` (a vendor dialect rendering its own error) never flushes half a change.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, bindparam, false, inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from opendialer.accounts.service import get_tenant
from opendialer.audit.recorder import insert_named
from opendialer.contacts.schemas import ContactCreate, ContactFields, ContactRead, ContactUpdate
from opendialer.dedupe import exclusive
from opendialer.errors import Forbidden, InvalidPhoneNumber, NotFound, OpendialerError
from opendialer.models import (
    AgentSession,
    CallerIdNumber,
    Campaign,
    ContactList,
    ContactStatus,
    FormField,
    OwnCallerIdCheck,
    Tenant,
    User,
    UserRole,
)
from opendialer.models import CallAttempt as CallAttempt
from opendialer.models import Contact as Contact
from opendialer.models import ContactPhone as ContactPhone
from opendialer.models.contact import CONTACTS, PHONES
from opendialer.phones import Phone, caller_id_problem, normalize
from opendialer.scoping import Scope, get_owned, owned, require_owner


class InvalidContact(OpendialerError):
    """The body is well formed but refers to things that do not exist or do not fit."""

    status_code = 422
    code = "invalid_contact"


# Duplicates --------------------------------------------------------------------------------


class CampaignForCreate(NamedTuple):
    """What a create reads of the campaign it creates in (``campaign_for_create``)."""

    id: int
    tenant_id: int
    own_caller_id_check: OwnCallerIdCheck


def guard_duplicates(session: Session, scope: Scope) -> None:
    """Take before looking for a new contact's duplicates in order to create it when there are
    none: until this transaction ends, other such creates of the tenant wait, so simultaneous
    identical requests store one contact (the later ones find it). Every rule that skips,
    merges or updates duplicates (jtel overwriteDuplicates, Voicenter UpdateCall, the
    importer's duplicate policies, mmDial's doublet checks) goes through it; creates that allow
    duplicates need not.
    """
    exclusive(session, "contacts", scope.tenant_id)


# Reading -----------------------------------------------------------------------------------


def get_contact(session: Session, scope: Scope, contact_id: int) -> Contact:
    """The scope's contact; an agent sees only the contact of their current or previewed
    call (403 otherwise)."""
    contact = get_owned(session, Contact, scope, contact_id, "contact")
    require_agents_contact(session, scope, contact.id)
    return contact


def require_agents_contact(session: Session, scope: Scope, contact_id: int) -> None:
    """Supervisors and admins pass; an agent only for the contact of their own call, preview
    or wrap-up."""
    if scope.may_act_as(UserRole.SUPERVISOR):
        return
    current = session.scalar(
        owned(AgentSession, scope)
        .where(AgentSession.user_id == scope.user_id)
        .with_only_columns(AgentSession.contact_id)
    )
    if scope.user_id is None or current != contact_id:
        raise Forbidden("An agent sees only the contact of their own current call")


def contacts_query(
    scope: Scope,
    *,
    campaign_id: int | None = None,
    list_id: int | None = None,
    status: ContactStatus | None = None,
    locked: bool | None = None,
    phone: str | None = None,
    region: str | None = None,
    user_data: str | None = None,
    external_id: str | None = None,
) -> Select[Contact]:
    """The tenant's contacts matching every filter given.

    ``phone`` matches any of the six numbers: it is normalised with ``region`` (the tenant's
    default region, so national forms like "030 1234567" work; without it only international
    forms do), and a query that is not a valid number matches nothing.
    """
    stmt = select(Contact).where(Contact.tenant_id == scope.tenant_id)
    equal_to: list[tuple[Any, object]] = [
        (Contact.campaign_id, campaign_id),
        (Contact.list_id, list_id),
        (Contact.status, status),
        (Contact.locked, locked),
        (Contact.user_data, user_data),
        (Contact.external_id, external_id),
    ]
    for column, value in equal_to:
        if value is not None:
            stmt = stmt.where(column == value)
    if phone is not None:
        stmt = _with_number(stmt, scope, normalize(phone, region or "ZZ").e164)
    return stmt


def _with_number(stmt: Select[Contact], scope: Scope, e164: str | None) -> Select[Contact]:
    """Contacts with ``e164`` at any position, through the (tenant_id, e164) index."""
    if e164 is None:  # not a number: matches nothing (and never "e164 IS NULL")
        return stmt.where(false())
    owners = select(ContactPhone.contact_id).where(
        ContactPhone.tenant_id == scope.tenant_id, ContactPhone.e164 == e164
    )
    return stmt.where(Contact.id.in_(owners))


def find_by_user_data(
    session: Session, scope: Scope, user_data: str, campaign_id: int | None = None
) -> list[Contact]:
    """Oldest first: jtel's "first one found" when UserData is not unique."""
    stmt = contacts_query(scope, user_data=user_data, campaign_id=campaign_id)
    return list(session.scalars(stmt.order_by(Contact.id)))


def find_by_phone(
    session: Session, scope: Scope, e164: str, campaign_id: int | None = None
) -> list[Contact]:
    """Contacts with this E.164 number at any position, oldest first."""
    stmt = _with_number(contacts_query(scope, campaign_id=campaign_id), scope, e164)
    return list(session.scalars(stmt.order_by(Contact.id)))


def find_by_external_id(
    session: Session, scope: Scope, external_id: str, *, limit: int
) -> list[Contact]:
    """Up to ``limit`` contacts with this external id, oldest first."""
    stmt = contacts_query(scope, external_id=external_id).order_by(Contact.id).limit(limit)
    return list(session.scalars(stmt))


def contacts_by_name(
    session: Session, scope: Scope, *, campaign_id: int | None = None
) -> list[Contact]:
    """The tenant's (or one campaign's) contacts by name, nameless first, ties by id."""
    stmt = contacts_query(scope, campaign_id=campaign_id)
    return list(session.scalars(stmt.order_by(Contact.name.asc().nulls_first(), Contact.id)))


def known_invalid(session: Session, scope: Scope, numbers: list[str]) -> set[str]:
    """Numbers the network already said do not exist (flagged invalid on any contact)."""
    stmt = select(ContactPhone.e164).where(
        ContactPhone.tenant_id == scope.tenant_id,
        ContactPhone.e164.in_(numbers),
        ContactPhone.invalid.is_(True),
    )
    return set(session.scalars(stmt))


def newest_contact_id(
    session: Session, scope: Scope, *, campaign_id: int, list_id: int, external_id: str | None
) -> int | None:
    """The id of the list's newest contact (with this external id, when given)."""
    stmt = select(Contact.id).where(
        Contact.tenant_id == scope.tenant_id,
        Contact.campaign_id == campaign_id,
        Contact.list_id == list_id,
    )
    if external_id:
        stmt = stmt.where(Contact.external_id == external_id)
    return session.scalar(stmt.order_by(Contact.id.desc()).limit(1))


def attempts_of(session: Session, scope: Scope, contact_ids: list[int]) -> list[CallAttempt]:
    """The calls to these contacts, oldest first."""
    stmt = (
        owned(CallAttempt, scope)
        .where(CallAttempt.contact_id.in_(contact_ids))
        .order_by(CallAttempt.id)
    )
    return list(session.scalars(stmt))


def contact_history_query(scope: Scope, contact_id: int) -> Select[CallAttempt]:
    """The contact's call attempts; page through them with ``fetch_page`` (oldest first)."""
    return select(CallAttempt).where(
        CallAttempt.tenant_id == scope.tenant_id, CallAttempt.contact_id == contact_id
    )


def user_data_history_query(scope: Scope, user_data: str) -> Select[CallAttempt]:
    """Call attempts of every contact with this UserData (jtel history by UserData)."""
    owners = select(Contact.id).where(
        Contact.tenant_id == scope.tenant_id, Contact.user_data == user_data
    )
    return select(CallAttempt).where(
        CallAttempt.tenant_id == scope.tenant_id, CallAttempt.contact_id.in_(owners)
    )


# Checks ------------------------------------------------------------------------------------


def _numbers(phones: list[str] | dict[int, str], region: str) -> dict[int, Phone]:
    """Raw numbers by position: a list fills 1..n, a mapping keeps its positions."""
    by_position = phones if isinstance(phones, dict) else dict(enumerate(phones, start=1))
    return {position: normalize(raw, region) for position, raw in sorted(by_position.items())}


def _require_dialable(dialable: Mapping[int, bool], raw: Mapping[int, str]) -> None:
    if not any(dialable.values()):
        raise InvalidPhoneNumber(
            "The contact needs at least one valid phone number",
            details={"phones": {str(position): number for position, number in raw.items()}},
        )


def _unknown(field: str, value: object) -> InvalidContact:
    return InvalidContact(
        f"{field} {value} does not exist here",
        code="unknown_reference",
        details={"field": field, "id": value},
    )


def _check_list(
    session: Session, campaign: Campaign | CampaignForCreate, list_id: int | None
) -> None:
    if list_id is None:
        return
    contact_list = session.get(ContactList, list_id)
    if contact_list is None or contact_list.campaign_id != campaign.id:
        raise _unknown("list_id", list_id)


def _check_form_data(
    session: Session, campaign: Campaign | CampaignForCreate, form_data: Mapping[str, Any]
) -> None:
    if not form_data:
        return
    defined = session.scalars(select(FormField.name).where(FormField.campaign_id == campaign.id))
    unknown = sorted(set(form_data) - set(defined))
    if unknown:
        raise InvalidContact(
            "These order-form fields are not defined on the campaign",
            code="unknown_form_fields",
            details={"fields": unknown},
        )


def _check_users(session: Session, scope: Scope, values: Mapping[str, Any]) -> None:
    for field in ("reserved_user_id", "follow_up_user_id"):
        user_id = values.get(field)
        if user_id is None:
            continue
        try:
            get_owned(session, User, scope, user_id, "user")
        except NotFound:
            raise _unknown(field, user_id) from None


def _check_dates(begin_at: datetime | None, end_at: datetime | None) -> None:
    if begin_at is not None and end_at is not None and begin_at >= end_at:
        raise InvalidContact("begin_at must be before end_at", code="invalid_dates")


def _check_fields(
    session: Session, campaign: Campaign | CampaignForCreate, data: ContactFields
) -> None:
    """The references and form fields given, against the campaign the contact will be in."""
    given = data.model_dump(exclude_unset=True)
    _check_list(session, campaign, given.get("list_id"))
    _check_form_data(session, campaign, given.get("form_data") or {})
    _check_users(session, Scope.system(campaign.tenant_id), given)
    rule = campaign.own_caller_id_check
    if given.get("caller_id") and rule != OwnCallerIdCheck.OFF:
        region = session.get_one(Tenant, campaign.tenant_id).default_region
        problem = own_caller_id_problem(session, (rule, campaign.id, region), given["caller_id"])
        if problem is not None:
            raise InvalidContact(
                f"caller_id {given['caller_id']!r} is {problem}",
                code="invalid_caller_id",
                details={"fields": {"caller_id": problem}},
            )


def own_caller_id_problem(
    session: Session, check: tuple[OwnCallerIdCheck | str, int, str], raw: str
) -> str | None:
    """Why a contact's own caller ID may not be presented under ``check`` (the campaign's
    ``own_caller_id_check``, its id, the tenant's region), or None: ``valid`` wants a valid
    number that is not premium-rate, shared-cost or short; ``pool`` also one of the campaign's
    active pool numbers."""
    rule, campaign_id, region = OwnCallerIdCheck(check[0]), check[1], check[2]
    if rule == OwnCallerIdCheck.OFF:
        return None
    e164, problem = caller_id_problem(raw, region)
    if problem is None and rule == OwnCallerIdCheck.POOL:
        in_pool = select(CallerIdNumber.id).where(
            CallerIdNumber.campaign_id == campaign_id,
            CallerIdNumber.e164 == e164,
            CallerIdNumber.retired_at.is_(None),
        )
        if session.scalar(in_pool) is None:
            problem = "not one of the campaign's caller-ID pool numbers"
    return problem


# Writing -----------------------------------------------------------------------------------


def _phone_row(contact: Contact, position: int, phone: Phone) -> ContactPhone:
    return ContactPhone(
        tenant_id=contact.tenant_id,
        campaign_id=contact.campaign_id,
        position=position,
        raw=phone.raw,
        e164=phone.e164,
        invalid=not phone.valid,
    )


def _phone_values(
    contact_id: int, owner: Mapping[str, int], position: int, phone: Phone
) -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        **owner,
        "position": position,
        "raw": phone.raw,
        "e164": phone.e164,
        "invalid": not phone.valid,
    }


def _default_region(session: Session, scope: Scope) -> str:
    """The scope's tenant's region, for reading numbers: one column (on the create's hot path,
    loading the whole tenant row through the ORM cost a tenth of the request)."""
    tenants = Tenant.__table__
    region: str = (
        session.connection()
        .execute(select(tenants.c.default_region).where(tenants.c.id == scope.tenant_id))
        .scalar_one()
    )
    return region


M = TypeVar("M", Contact, ContactPhone)


# The campaign's columns a create reads, and its tenant's region, in one statement of plain
# columns: loading all seventy columns through the ORM, then the region, cost a fifth of the
# native create, and loading it as an ORM object with the other columns deferred still cost a
# tenth of its Python calls (an identity-map entry and a deferred loader per column). Built
# once, with the id as a parameter: building the WHERE clause on every create cost a twentieth.
@cache
def _create_reads() -> Select[int, int, OwnCallerIdCheck, str]:
    campaigns, tenants = Campaign.__table__, Tenant.__table__
    return (
        select(
            campaigns.c.id,
            campaigns.c.tenant_id,
            campaigns.c.own_caller_id_check,
            tenants.c.default_region,
        )
        .join_from(campaigns, tenants, tenants.c.id == campaigns.c.tenant_id)
        .where(campaigns.c.id == bindparam("campaign_id"))
    )


def campaign_for_create(
    session: Session, scope: Scope, campaign_id: int
) -> tuple[CampaignForCreate, str]:
    """The scope's campaign that a contact is to be created in (404 when it is not), and the
    region its numbers are read in (its tenant's)."""
    found = session.connection().execute(_create_reads(), {"campaign_id": campaign_id}).first()
    if found is None:
        raise NotFound("campaign", campaign_id)
    campaign = CampaignForCreate(found[0], found[1], found[2])
    require_owner(scope, campaign.tenant_id, "campaign", campaign_id)
    return campaign, found[3]


def create_contact(
    session: Session,
    scope: Scope,
    campaign: Campaign | CampaignForCreate,
    data: ContactCreate,
    *,
    region: str | None = None,
) -> Contact:
    """A new contact, due now unless ``next_try_at`` says otherwise; its numbers read in
    ``region`` (the tenant's, read here when not given).

    ``campaign`` is the caller's: a ``Campaign`` row is checked against ``scope`` here; a
    ``CampaignForCreate`` was checked by ``campaign_for_create`` with the same scope.
    Numbers that do not parse are kept, flagged invalid; if none parses, nothing is written.
    """
    return _as_loaded(session, *_insert_contact(session, scope, campaign, data, region))


def create_contact_read(
    session: Session,
    scope: Scope,
    campaign: CampaignForCreate,
    data: ContactCreate,
    *,
    region: str,
) -> ContactRead:
    """As :func:`create_contact`, answered as the API renders a contact, straight from the
    inserted rows (the native route's create): no ORM object is made, added to the session
    (a cascade over the contact's seventy attributes) and read back attribute by attribute.
    Statements and audit rows are the same."""
    row, phone_rows = _insert_contact(session, scope, campaign, data, region)
    return ContactRead.model_validate({**row, "phones": phone_rows})


def _insert_contact(
    session: Session,
    scope: Scope,
    campaign: Campaign | CampaignForCreate,
    data: ContactCreate,
    region: str | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The contact's and its numbers' rows as inserted (every column, ``RETURNING``)."""
    if isinstance(campaign, Campaign):
        get_owned(session, Campaign, scope, campaign.id, "campaign")  # the caller's campaign
    numbers = _numbers(data.phones, region or _default_region(session, scope))
    _require_dialable(
        {p: phone.valid for p, phone in numbers.items()},
        {p: phone.raw for p, phone in numbers.items()},
    )
    _check_fields(session, campaign, data)
    _check_dates(data.begin_at, data.end_at)
    values = data.model_dump(exclude_none=True, exclude={"phones"})
    values.setdefault("next_try_at", datetime.now(UTC))
    conn = session.connection()
    owner = {"tenant_id": scope.tenant_id, "campaign_id": campaign.id}
    [row] = insert_named(conn, CONTACTS, [{**owner, **values}])
    phone_rows = [_phone_values(row["id"], owner, p, phone) for p, phone in numbers.items()]
    return row, insert_named(conn, PHONES, phone_rows)


def _as_loaded(session: Session, row: dict[str, Any], phone_rows: list[dict[str, Any]]) -> Contact:
    """The contact and its numbers, inserted with Core (``insert_named``: the ORM's flush cost
    a quarter of the create), as persistent objects of the session, as if loaded: later
    changes through them are flushed as usual."""
    contact = _loaded(Contact, row)
    phones = [_loaded(ContactPhone, phone) for phone in phone_rows]
    set_committed_value(contact, "phones", phones)
    for instance in (contact, *phones):
        make_transient_to_detached(instance)
    session.add(contact)
    return contact


def _loaded(model: type[M], row: dict[str, Any]) -> M:
    """An instance holding ``row`` as the ORM's loader makes one: values set without attribute
    events (the constructor fired one per column, 450 Python calls per create)."""
    instance: M = inspect(model).class_manager.new_instance()
    instance.__dict__.update(row)
    return instance


def _target_campaign(
    session: Session, scope: Scope, contact: Contact, campaign_id: int | None
) -> Campaign:
    if campaign_id is None or campaign_id == contact.campaign_id:
        return session.get_one(Campaign, contact.campaign_id)
    try:
        return get_owned(session, Campaign, scope, campaign_id, "campaign")
    except NotFound:
        raise _unknown("campaign_id", campaign_id) from None


def _same_number(row: ContactPhone | None, phone: Phone) -> bool:
    return row is not None and phone.valid and row.e164 == phone.e164


def _check_phone_changes(contact: Contact, changes: Mapping[int, Phone | None]) -> None:
    """The contact keeps at least one number that is neither unparseable nor flagged invalid."""
    rows = {row.position: row for row in contact.phones}
    dialable = {position: not row.invalid for position, row in rows.items()}
    raw = {position: row.raw for position, row in rows.items()}
    for position, phone in changes.items():
        if phone is None:
            dialable.pop(position, None)
            raw.pop(position, None)
        elif not _same_number(rows.get(position), phone):
            dialable[position], raw[position] = phone.valid, phone.raw
    _require_dialable(dialable, raw)


def _renumber(row: ContactPhone, phone: Phone, rested: Mapping[str, datetime]) -> None:
    """A new number at an existing position starts afresh."""
    row.raw, row.e164, row.invalid = phone.raw, phone.e164, not phone.valid
    row.tries, row.last_cause, row.last_end_reason_id, row.last_attempt_at = 0, None, None, None
    row.abandoned_at = rested.get(phone.e164 or "")


def _apply_phone_changes(contact: Contact, changes: Mapping[int, Phone | None]) -> None:
    """Set or clear positions in place (one row per position); unchanged numbers keep counters.

    A number moved to another position keeps its abandoned-call rest, so the 72-hour rule
    cannot be dodged by shuffling positions.
    """
    rows = {row.position: row for row in contact.phones}
    rested = {r.e164: r.abandoned_at for r in rows.values() if r.e164 and r.abandoned_at}
    for position, phone in sorted(changes.items()):
        row = rows.get(position)
        if phone is None:
            if row is not None:
                contact.phones.remove(row)
        elif row is None:
            new_row = _phone_row(contact, position, phone)
            new_row.abandoned_at = rested.get(phone.e164 or "")
            contact.phones.append(new_row)
        elif _same_number(row, phone):
            row.raw = phone.raw
        else:
            _renumber(row, phone, rested)


def _phone_changes(
    session: Session, scope: Scope, raw: Mapping[int, str | None]
) -> dict[int, Phone | None]:
    if not raw:
        return {}
    region = get_tenant(session, scope).default_region
    return {p: None if number is None else normalize(number, region) for p, number in raw.items()}


def _move(contact: Contact, campaign: Campaign) -> None:
    contact.campaign_id = campaign.id
    for phone in contact.phones:
        phone.campaign_id = campaign.id


def update_contact(session: Session, scope: Scope, contact_id: int, data: ContactUpdate) -> Contact:
    """Only the supplied fields change.

    ``phones`` sets or clears single positions; a position given the number it already has keeps
    its try counter, a new number starts afresh. The contact must keep a valid number. Moving to
    another campaign of the tenant moves its numbers too and drops its list (a list belongs to
    one campaign) unless a list of the new campaign is given; its ``form_data`` is kept as is.
    """
    contact = get_contact(session, scope, contact_id)
    changes = data.model_dump(exclude_unset=True)
    phones = _phone_changes(session, scope, changes.pop("phones", {}))
    campaign = _target_campaign(session, scope, contact, changes.pop("campaign_id", None))
    _check_fields(session, campaign, data)
    _check_dates(changes.get("begin_at", contact.begin_at), changes.get("end_at", contact.end_at))
    _check_phone_changes(contact, phones)
    # Everything is checked: from here on nothing raises.
    _apply_phone_changes(contact, phones)
    if campaign.id != contact.campaign_id:
        _move(contact, campaign)
        changes.setdefault("list_id", None)
    for key, value in changes.items():
        setattr(contact, key, value)
    session.flush()
    return contact


def delete_contact(session: Session, scope: Scope, contact_id: int) -> None:
    """The contact and its numbers; its call attempts stay (contact id cleared) for statistics."""
    session.delete(get_contact(session, scope, contact_id))
    session.flush()


def lock_contact(session: Session, scope: Scope, contact_id: int) -> Contact:
    """A locked contact is never dialled until unlocked (a call in progress is not touched)."""
    return _set_locked(session, scope, contact_id, locked=True)


def unlock_contact(session: Session, scope: Scope, contact_id: int) -> Contact:
    return _set_locked(session, scope, contact_id, locked=False)


def _set_locked(session: Session, scope: Scope, contact_id: int, *, locked: bool) -> Contact:
    contact = get_contact(session, scope, contact_id)
    contact.locked = locked
    session.flush()
    return contact


def reset_contact(session: Session, scope: Scope, contact_id: int) -> Contact:
    """As if newly imported (jtel reset): result code and every try counter cleared, due now.

    Cleared: the result code, the contact's and each number's tries, each number's last cause
    and end reason, the answering-machine flag, the number rotation; status back to pending.

    Kept, on purpose:
    - invalid flags: a number is flagged because it does not parse or the network said it does
      not exist, and dialling it again would only fail again; changing the number clears it.
    - ``abandoned_at``: the 72-hour no-redial rest after an abandoned call is a legal duty the
      engine enforces from it; a reset must not be a way around it.
    - ``locked`` (lock and unlock are their own functions), follow-ups, and the history
      (``last_call_at``, ``last_attempt_at``, the call attempts).
    - status ``in_call``: an engine owns the contact until its call ends; making it pending
      would let a second engine dial the same person at the same time.
    """
    contact = get_contact(session, scope, contact_id)
    contact.tries = 0
    contact.result_code_id = None
    contact.last_result_mailbox = None
    contact.next_phone_position = 1
    contact.next_try_at = datetime.now(UTC)
    if contact.status is not ContactStatus.IN_CALL:
        contact.status = ContactStatus.PENDING
    for phone in contact.phones:
        phone.tries, phone.last_cause, phone.last_end_reason_id = 0, None, None
    session.flush()
    return contact
