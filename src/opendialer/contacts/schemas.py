"""Request and response bodies for contacts and their call history.

Every length, range and date limit matches the column it lands in, so bad input is a 422 from
validation and never an error from the database.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, field_validator

from opendialer.models import MAX_PHONES as MAX_PHONES
from opendialer.models import CallOutcome
from opendialer.models import ContactStatus as ContactStatus
from opendialer.schemas import InputModel, OutputModel

MAX_ID = 2**63 - 1
INT32 = 2**31 - 1
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL characters


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _utc(value: datetime) -> datetime:
    """In UTC, as every read returns it; within the years every database handles."""
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be between the years 1900 and 9998") from None
    if not 1900 <= value.year <= 9998:
        raise ValueError("must be between the years 1900 and 9998")
    return value


NoNul = AfterValidator(_no_nul)
Short = Annotated[str, Field(max_length=50), NoNul]
Text = Annotated[str, Field(max_length=255), NoNul]
Str20 = Annotated[str, Field(max_length=20), NoNul]
Str32 = Annotated[str, Field(max_length=32), NoNul]
Str100 = Annotated[str, Field(max_length=100), NoNul]
Str1000 = Annotated[str, Field(max_length=1000), NoNul]
Str4000 = Annotated[str, Field(max_length=4000), NoNul]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Moment = Annotated[AwareDatetime, AfterValidator(_utc)]
Position = Annotated[int, Field(ge=1, le=MAX_PHONES)]
RawNumber = Annotated[str, Field(min_length=1, max_length=64), NoNul]
Priority = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
CENT = Decimal("0.01")
# Quantised like the Numeric(14, 2) column, so a response shows what a later read returns.
Amount = Annotated[
    Decimal, Field(max_digits=14, decimal_places=2), AfterValidator(lambda d: d.quantize(CENT))
]


class ContactFields(InputModel):
    """Every optional contact field, as the jtel and mmDial records name them (in English)."""

    list_id: Id | None = None
    user_data: Text | None = None
    user_data2: Text | None = None
    user_data3: Text | None = None
    external_id: Text | None = None
    client: Text | None = None
    service: Text | None = None
    reference_number: Text | None = None
    random_sort_order: Annotated[int, Field(ge=-INT32 - 1, le=INT32)] | None = None
    salutation: Short | None = None
    title: Short | None = None
    first_name: Text | None = None
    name: Text | None = None
    company: Text | None = None
    address: Text | None = None
    street_number: Short | None = None
    address_extra: Text | None = None
    postal_code: Str20 | None = None
    city: Text | None = None
    country: Str100 | None = None
    region: Str100 | None = None
    birthdate: Str20 | None = None
    email: Text | None = None
    website: Text | None = None
    fax_number: Short | None = None
    comment: Str4000 | None = None
    account_owner: Text | None = None
    account_bank: Text | None = None
    account_national_bank_code: Short | None = None
    account_bic: Str20 | None = None
    account_number: Short | None = None
    account_iban: Short | None = None
    amount: Amount | None = None
    manufacturer: Text | None = None
    model: Text | None = None
    tag: Text | None = None
    external_system_link: Str1000 | None = None
    custom_data: dict[str, Any] | None = Field(default=None, description="Free JSON object")
    form_data: dict[str, Any] | None = Field(
        default=None, description="Values of the campaign's order-form fields, by field name"
    )
    caller_id: Str32 | None = None
    priority: Priority | None = None
    next_try_at: Moment | None = None
    originate_is_local: bool | None = None
    begin_at: Moment | None = None
    end_at: Moment | None = None
    ignore_dnc: bool | None = None
    reserved_user_id: Id | None = None
    follow_up_user_id: Id | None = None
    follow_up_at: Moment | None = None


class ContactCreate(ContactFields):
    phones: list[RawNumber] | dict[Position, RawNumber] = Field(
        description='A list fills PhoneNumber1..n; an object keeps positions: {"2": "030..."}'
    )
    locked: bool = False

    @field_validator("phones")
    @classmethod
    def _one_to_six(cls, phones: list[str] | dict[int, str]) -> list[str] | dict[int, str]:
        if not phones or len(phones) > MAX_PHONES:
            raise ValueError(f"give 1 to {MAX_PHONES} phone numbers")
        return phones


# Columns that cannot be NULL: an explicit null in an update is an error, not "leave as is".
NOT_NULL_ON_UPDATE = (
    "campaign_id",
    "phones",
    "custom_data",
    "form_data",
    "priority",
    "next_try_at",
    "ignore_dnc",
)


class ContactUpdate(ContactFields):
    """Only the fields present change; ``null`` clears a nullable field."""

    campaign_id: Id | None = Field(default=None, description="Move to this campaign")
    phones: dict[Position, RawNumber | None] | None = Field(
        default=None, description='Positions to set; null clears one: {"2": null}'
    )

    @field_validator(*NOT_NULL_ON_UPDATE, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null")
        return value


class PhoneRead(OutputModel):
    position: int
    raw: str
    e164: str | None
    invalid: bool
    tries: int
    last_cause: int | None
    last_end_reason_id: int | None
    last_attempt_at: datetime | None
    abandoned_at: datetime | None


class ContactRead(OutputModel):
    id: int
    campaign_id: int
    list_id: int | None
    user_data: str | None
    user_data2: str | None
    user_data3: str | None
    external_id: str | None
    client: str | None
    service: str | None
    reference_number: str | None
    random_sort_order: int | None
    salutation: str | None
    title: str | None
    first_name: str | None
    name: str | None
    company: str | None
    address: str | None
    street_number: str | None
    address_extra: str | None
    postal_code: str | None
    city: str | None
    country: str | None
    region: str | None
    birthdate: str | None
    email: str | None
    website: str | None
    fax_number: str | None
    comment: str | None
    account_owner: str | None
    account_bank: str | None
    account_national_bank_code: str | None
    account_bic: str | None
    account_number: str | None
    account_iban: str | None
    amount: Decimal | None
    manufacturer: str | None
    model: str | None
    tag: str | None
    external_system_link: str | None
    custom_data: dict[str, Any]
    form_data: dict[str, Any]
    caller_id: str | None
    priority: int
    next_try_at: datetime
    originate_is_local: bool | None
    begin_at: datetime | None
    end_at: datetime | None
    locked: bool
    ignore_dnc: bool
    status: ContactStatus
    result_code_id: int | None
    last_result_mailbox: bool | None
    reserved_user_id: int | None
    follow_up_user_id: int | None
    follow_up_at: datetime | None
    tries: int
    next_phone_position: int
    last_call_at: datetime | None
    claimed_at: datetime | None
    claimed_by: str | None
    created_at: datetime
    updated_at: datetime
    phones: list[PhoneRead]


class CallAttemptRead(OutputModel):
    """One history row (jtel DiallerContactsHistory)."""

    id: int
    campaign_id: int | None
    contact_id: int | None
    user_id: int | None
    result_code_id: int | None
    phone_position: int | None
    a_number: str | None
    b_number: str
    outbound: bool
    test_call: bool
    started_at: datetime
    alerted_at: datetime | None
    answered_at: datetime | None
    connected_at: datetime | None
    ended_at: datetime | None
    outcome: CallOutcome | None
    sip_status: int | None
    cause_code: int | None
    caller_hangup: bool | None
    answered_by_machine: bool | None
    end_detail: str | None
    engine_id: str | None
    created_at: datetime
