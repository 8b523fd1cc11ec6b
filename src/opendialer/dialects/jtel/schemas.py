"""jtel request bodies translated into the native contact fields, and jtel date-times.

jtel writes ``dt`` values as local times without an offset (G20): they are read in the tenant's
time zone (an explicit offset, if sent, wins) and written back the same way.
"""

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from opendialer.contacts.schemas import MAX_PHONES
from opendialer.dialects.jtel.envelope import bad_request
from opendialer.inputs import InputRejected, check_date

# jtel field -> native contact field, for the text and number fields both import and update take.
COMMON_FIELDS = {
    "UserData": "user_data",
    "Client": "client",
    "Service": "service",
    "ReferenceNumber": "reference_number",
    "Name": "name",
    "FirstName": "first_name",
    "Salutation": "salutation",
    "Title": "title",
    "Company": "company",
    "Address": "address",
    "PostalCode": "postal_code",
    "City": "city",
    "Country": "country",
    "AccountOwner": "account_owner",
    "AccountBank": "account_bank",
    "AccountNationalBankCode": "account_national_bank_code",
    "AccountBIC": "account_bic",
    "AccountNumber": "account_number",
    "AccountIBAN": "account_iban",
    "Amount": "amount",
    "FaxNumber": "fax_number",
    "Email": "email",
    "Website": "website",
    "Comment": "comment",
    "Manufacturer": "manufacturer",
    "Model": "model",
    "Tag": "tag",
    "ExternalSystemLink": "external_system_link",
    "UserData2": "user_data2",
    "UserData3": "user_data3",
    "Region": "region",
}
DATE_FIELDS = {"dtBeginDate": "begin_at", "dtEndDate": "end_at"}
# Only the import example lists these (G8): update ignores them.
IMPORT_ONLY_FIELDS = {"RandomSortOrder": "random_sort_order"}
IMPORT_ONLY_DATES = {"FollowUpDateTime": "follow_up_at"}
USER_FIELDS = {"ReservedUsersUID": "reserved_user_id", "FollowUpUsersUID": "follow_up_user_id"}
PHONE_FIELDS = {f"PhoneNumber{p}": p for p in range(1, MAX_PHONES + 1)}
NATIVE_TO_JTEL = {
    native: jtel
    for mapping in (COMMON_FIELDS, DATE_FIELDS, IMPORT_ONLY_FIELDS, IMPORT_ONLY_DATES, USER_FIELDS)
    for jtel, native in mapping.items()
} | {"phones": "PhoneNumberN"}


def parse_local(value: Any, field: str, zone: ZoneInfo) -> datetime | None:
    """``2020-01-01T00:00:00``, with or without milliseconds, or a date: local to ``zone``."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad_request(f"{field} must be a date-time like 2020-01-01T00:00:00")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise bad_request(f"{field} must be a date-time like 2020-01-01T00:00:00") from None
    try:
        check_date(parsed)
    except InputRejected as exc:
        raise bad_request(f"{field}: {exc}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def format_local(value: datetime | date | None, zone: ZoneInfo) -> str | None:
    """Local time without an offset; milliseconds only when there are any."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return value.isoformat()
    local = value.astimezone(zone).replace(tzinfo=None)
    if local.microsecond:
        return local.isoformat(timespec="milliseconds")
    return local.isoformat(timespec="seconds")


def _text(value: Any, field: str) -> Any:
    """Numbers sent for text fields (a postal code as 80331) are taken as their text."""
    if isinstance(value, bool):
        raise bad_request(f"{field} must be a string")
    if isinstance(value, int | float):
        return str(value)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{field} must be a string")
    return value


def translate_fields(body: dict[str, Any], zone: ZoneInfo, *, for_import: bool) -> dict[str, Any]:
    """The native contact fields present in ``body`` (a field sent as null is kept as None)."""
    out: dict[str, Any] = {}
    texts = COMMON_FIELDS | (IMPORT_ONLY_FIELDS if for_import else {})
    dates = DATE_FIELDS | (IMPORT_ONLY_DATES if for_import else {})
    for jtel, native in texts.items():
        if jtel in body:
            value = body[jtel]
            out[native] = value if native in ("amount", "random_sort_order") else _text(value, jtel)
    for jtel, native in dates.items():
        if jtel in body:
            out[native] = parse_local(body[jtel], jtel, zone)
    return out


def phone_fields(body: dict[str, Any]) -> dict[int, str | None]:
    """PhoneNumber1..6 present in ``body``: a number, or None for null or empty (cleared)."""
    phones: dict[int, str | None] = {}
    for jtel, position in PHONE_FIELDS.items():
        if jtel in body:
            value = _text(body[jtel], jtel)
            phones[position] = value.strip() or None if isinstance(value, str) else None
    return phones


def user_uids(body: dict[str, Any]) -> dict[str, str]:
    """ReservedUsersUID / FollowUpUsersUID given (non-empty), by native field."""
    out: dict[str, str] = {}
    for jtel, native in USER_FIELDS.items():
        value = _text(body.get(jtel), jtel)
        if value:
            out[native] = value
    return out


def jtel_message(message: str) -> str:
    """A validation message with the native field names replaced by the jtel ones."""
    for native, jtel in sorted(NATIVE_TO_JTEL.items(), key=lambda kv: -len(kv[0])):
        message = message.replace(f"{native}:", f"{jtel}:")
    return message
