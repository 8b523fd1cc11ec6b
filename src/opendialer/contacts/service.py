"""Contact rules: six numbers each, normalised to E.164; lists and order-form fields checked."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from opendialer.contacts.schemas import ContactCreate, ContactFields, ContactUpdate
from opendialer.errors import BadRequest, InvalidPhoneNumber, NotFound
from opendialer.models import (
    CallAttempt,
    Campaign,
    Contact,
    ContactList,
    ContactPhone,
    ContactStatus,
    FormField,
    Tenant,
)
from opendialer.phones import Phone, normalize
from opendialer.scoping import get_owned


def _positions(phones: list[str] | dict[int, str]) -> dict[int, str]:
    if isinstance(phones, dict):
        return dict(phones)
    return {position: raw for position, raw in enumerate(phones, start=1)}


def _check_numbers(numbers: dict[int, Phone]) -> None:
    if not any(phone.valid for phone in numbers.values()):
        raise InvalidPhoneNumber(
            "The contact has no valid phone number",
            details={str(p): phone.raw for p, phone in numbers.items()},
        )


def _check_references(session: Session, campaign: Campaign, data: ContactFields) -> None:
    if data.list_id is not None:
        contact_list = session.get(ContactList, data.list_id)
        if contact_list is None or contact_list.campaign_id != campaign.id:
            raise NotFound("list", data.list_id)
    if data.form_data:
        known = set(
            session.scalars(select(FormField.name).where(FormField.campaign_id == campaign.id))
        )
        unknown = sorted(set(data.form_data) - known)
        if unknown:
            raise BadRequest(
                "Unknown order-form fields for this campaign",
                code="unknown_form_fields",
                details={"fields": unknown},
            )


def _phone_row(contact: Contact, position: int, phone: Phone) -> ContactPhone:
    return ContactPhone(
        tenant_id=contact.tenant_id,
        campaign_id=contact.campaign_id,
        position=position,
        raw=phone.raw,
        e164=phone.e164,
        invalid=not phone.valid,
    )


def create_contact(
    session: Session, tenant: Tenant, campaign: Campaign, data: ContactCreate
) -> Contact:
    numbers = {
        p: normalize(raw, tenant.default_region) for p, raw in _positions(data.phones).items()
    }
    _check_numbers(numbers)
    _check_references(session, campaign, data)
    values = data.model_dump(exclude_none=True, exclude={"phones"})
    values.setdefault("next_try_at", datetime.now(UTC))
    contact = Contact(tenant_id=tenant.id, campaign_id=campaign.id, **values)
    contact.phones = [_phone_row(contact, p, phone) for p, phone in sorted(numbers.items())]
    session.add(contact)
    session.flush()
    return contact


def get_contact(session: Session, tenant_id: int, contact_id: int) -> Contact:
    return get_owned(session, Contact, tenant_id, contact_id, "contact")


def _move(session: Session, contact: Contact, campaign_id: int) -> Campaign:
    campaign = get_owned(session, Campaign, contact.tenant_id, campaign_id, "campaign")
    contact.campaign_id = campaign.id
    for phone in contact.phones:
        phone.campaign_id = campaign.id
    return campaign


def _replace_phones(contact: Contact, changes: dict[int, str | None], region: str) -> None:
    """Set or clear single positions; a changed number starts afresh (no tries, not invalid)."""
    by_position = {p.position: p for p in contact.phones}
    for position, raw in changes.items():
        current = by_position.get(position)
        if raw is None:
            if current is not None:
                contact.phones.remove(current)
            continue
        phone = normalize(raw, region)
        if current is None:
            contact.phones.append(_phone_row(contact, position, phone))
            continue
        current.raw, current.e164, current.invalid = phone.raw, phone.e164, not phone.valid
        current.tries, current.last_cause, current.abandoned_at = 0, None, None
    _check_numbers({p.position: Phone(p.raw, p.e164) for p in contact.phones})


def update_contact(
    session: Session, tenant: Tenant, contact_id: int, data: ContactUpdate
) -> Contact:
    """Only the supplied fields change; ``phones`` sets or clears single positions."""
    contact = get_contact(session, tenant.id, contact_id)
    values = data.model_dump(exclude_unset=True)
    campaign_id = values.pop("campaign_id", None)
    campaign = (
        _move(session, contact, campaign_id)
        if campaign_id
        else session.get_one(Campaign, contact.campaign_id)
    )
    _check_references(session, campaign, data)
    phones = values.pop("phones", None)
    if phones:
        _replace_phones(contact, phones, tenant.default_region)
    for key in ("custom_data", "form_data", "priority", "next_try_at", "ignore_dnc"):
        if key in values and values[key] is None:
            raise BadRequest(f"{key} cannot be null", code="invalid_value")
    for key, value in values.items():
        setattr(contact, key, value)
    session.flush()
    return contact


def delete_contact(session: Session, tenant_id: int, contact_id: int) -> None:
    session.delete(get_contact(session, tenant_id, contact_id))
    session.flush()


def lock_contact(session: Session, tenant_id: int, contact_id: int) -> Contact:
    """A locked contact is never dialled until unlocked."""
    contact = get_contact(session, tenant_id, contact_id)
    contact.locked = True
    session.flush()
    return contact


def unlock_contact(session: Session, tenant_id: int, contact_id: int) -> Contact:
    contact = get_contact(session, tenant_id, contact_id)
    contact.locked = False
    session.flush()
    return contact


def reset_contact(session: Session, tenant_id: int, contact_id: int) -> Contact:
    """As if newly imported: tries, last causes and the result code cleared, due now.

    Numbers flagged invalid stay invalid: the network said they do not exist, and dialling
    them again would only fail again (an update of the number clears the flag).
    """
    contact = get_contact(session, tenant_id, contact_id)
    contact.tries = 0
    contact.result_code_id = None
    contact.last_result_mailbox = None
    contact.next_phone_position = 1
    contact.next_try_at = datetime.now(UTC)
    if contact.status is not ContactStatus.IN_CALL:
        contact.status = ContactStatus.PENDING
    for phone in contact.phones:
        phone.tries, phone.last_cause, phone.abandoned_at = 0, None, None
    session.flush()
    return contact


def contacts_query(
    tenant: Tenant,
    *,
    campaign_id: int | None = None,
    list_id: int | None = None,
    status: ContactStatus | None = None,
    locked: bool | None = None,
    phone: str | None = None,
    user_data: str | None = None,
    external_id: str | None = None,
) -> Select[Any]:
    stmt = select(Contact).where(Contact.tenant_id == tenant.id)
    filters = {
        Contact.campaign_id: campaign_id,
        Contact.list_id: list_id,
        Contact.status: status,
        Contact.user_data: user_data,
        Contact.external_id: external_id,
    }
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if locked is not None:
        stmt = stmt.where(Contact.locked.is_(locked))
    if phone is not None:
        e164 = normalize(phone, tenant.default_region).e164 or phone
        owners = select(ContactPhone.contact_id).where(
            ContactPhone.tenant_id == tenant.id, ContactPhone.e164 == e164
        )
        stmt = stmt.where(Contact.id.in_(owners))
    return stmt


def find_by_user_data(
    session: Session, tenant: Tenant, user_data: str, campaign_id: int | None = None
) -> list[Contact]:
    stmt = contacts_query(tenant, user_data=user_data, campaign_id=campaign_id)
    return list(session.scalars(stmt.order_by(Contact.id)))


def find_by_phone(
    session: Session, tenant: Tenant, number: str, campaign_id: int | None = None
) -> list[Contact]:
    stmt = contacts_query(tenant, phone=number, campaign_id=campaign_id)
    return list(session.scalars(stmt.order_by(Contact.id)))


def history_query(session: Session, tenant_id: int, contact_id: int) -> Select[Any]:
    get_contact(session, tenant_id, contact_id)
    return select(CallAttempt).where(
        CallAttempt.tenant_id == tenant_id, CallAttempt.contact_id == contact_id
    )
