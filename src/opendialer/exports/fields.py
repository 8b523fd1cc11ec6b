"""The lead fields an export (and mmDial's lead look-ups) can show, by their mmDial names.

One vocabulary for the native export and mmDial's ``customerfield_<name>`` selectors.
"""

from typing import Any

from sqlalchemy import ColumnElement, String, cast, func
from sqlalchemy.orm import aliased

from opendialer.models import Contact, ContactPhone, ResultCode

# mmDial lead field → contact column (§3.2 of the mmDial spec).
TEXT_FIELDS: dict[str, Any] = {
    "title": Contact.title,
    "first_name": Contact.first_name,
    "last_name": Contact.name,
    "birthdate": Contact.birthdate,
    "country": Contact.country,
    "street": Contact.address,
    "streetnr": Contact.street_number,
    "addradd": Contact.address_extra,
    "plz": Contact.postal_code,
    "ort": Contact.city,
    "notices": Contact.comment,
    "leadid_external": Contact.external_id,
    "company_name": Contact.company,
}
ID_FIELDS: dict[str, Any] = {
    "leadid": Contact.id,
    "campaign_id": Contact.campaign_id,
    "list_id": Contact.list_id,
    "rotation": Contact.tries,
}
# Which lead date the export's from/to range filters on, and the columns that show them.
DATE_FIELDS: dict[str, Any] = {
    "last_phone": Contact.last_call_at,
    "last_edit": Contact.updated_at,
    "imported_date": Contact.created_at,
}
PHONE_FIELDS = {"phone": 1, "alt_phone": 2}
STATUS_FIELD = "status"
LEAD_FIELDS = (
    "leadid",
    "campaign_id",
    "list_id",
    STATUS_FIELD,
    "rotation",
    "title",
    "phone",
    "alt_phone",
    *list(TEXT_FIELDS)[1:],
    *DATE_FIELDS,
)

Phone1 = aliased(ContactPhone, name="phone1")
Phone2 = aliased(ContactPhone, name="phone2")
PHONE_ALIASES = {1: Phone1, 2: Phone2}


def status_expression() -> ColumnElement[str]:
    """A lead's mmDial status: its result code when an agent set one, else its dial state
    (``pending``, ``in_call``, ``done``). Needs the outer join to ``result_codes``."""
    return func.coalesce(ResultCode.code, cast(Contact.status, String))
