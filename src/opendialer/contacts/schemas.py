"""Request and response bodies for contacts and their call history."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, field_validator

from opendialer.models import MAX_PHONES, CallOutcome, ContactStatus
from opendialer.schemas import InputModel, OutputModel

Short = Annotated[str, Field(max_length=50)]
Text = Annotated[str, Field(max_length=255)]
Position = Annotated[int, Field(ge=1, le=MAX_PHONES)]
RawNumber = Annotated[str, Field(min_length=1, max_length=64)]


class ContactFields(InputModel):
    """Every optional contact field, as the jtel and mmDial records name them (in English)."""

    list_id: int | None = Field(default=None, ge=1)
    user_data: Text | None = None
    user_data2: Text | None = None
    user_data3: Text | None = None
    external_id: Text | None = None
    client: Text | None = None
    service: Text | None = None
    reference_number: Text | None = None
    random_sort_order: int | None = None
    salutation: Short | None = None
    title: Short | None = None
    first_name: Text | None = None
    name: Text | None = None
    company: Text | None = None
    address: Text | None = None
    street_number: Short | None = None
    address_extra: Text | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    city: Text | None = None
    country: Annotated[str, Field(max_length=100)] | None = None
    region: Annotated[str, Field(max_length=100)] | None = None
    birthdate: Annotated[str, Field(max_length=20)] | None = None
    email: Text | None = None
    website: Text | None = None
    fax_number: Short | None = None
    comment: Annotated[str, Field(max_length=4000)] | None = None
    account_owner: Text | None = None
    account_bank: Text | None = None
    account_national_bank_code: Short | None = None
    account_bic: Annotated[str, Field(max_length=20)] | None = None
    account_number: Short | None = None
    account_iban: Short | None = None
    amount: Annotated[Decimal, Field(max_digits=14, decimal_places=2)] | None = None
    manufacturer: Text | None = None
    model: Text | None = None
    tag: Text | None = None
    external_system_link: Annotated[str, Field(max_length=1000)] | None = None
    custom_data: dict[str, Any] | None = None
    form_data: dict[str, Any] | None = None
    caller_id: Annotated[str, Field(max_length=32)] | None = None
    priority: Annotated[int, Field(ge=-1_000_000, le=1_000_000)] | None = None
    next_try_at: AwareDatetime | None = None
    begin_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    ignore_dnc: bool | None = None


class ContactCreate(ContactFields):
    phones: list[RawNumber] | dict[Position, RawNumber] = Field(
        description='A list fills PhoneNumber1..n; an object keeps positions: {"2": "030..."}'
    )
    locked: bool = False

    @field_validator("phones")
    @classmethod
    def _at_most_six(cls, phones: list[str] | dict[int, str]) -> list[str] | dict[int, str]:
        if not phones or len(phones) > MAX_PHONES:
            raise ValueError(f"give 1 to {MAX_PHONES} phone numbers")
        return phones


class ContactUpdate(ContactFields):
    campaign_id: int | None = Field(default=None, ge=1)
    phones: dict[Position, RawNumber | None] | None = Field(
        default=None, description="Positions to set; null clears a position"
    )


class PhoneRead(OutputModel):
    position: int
    raw: str
    e164: str | None
    invalid: bool
    tries: int
    last_cause: int | None
    last_attempt_at: datetime | None


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
    begin_at: datetime | None
    end_at: datetime | None
    locked: bool
    ignore_dnc: bool
    status: ContactStatus
    result_code_id: int | None
    last_result_mailbox: bool | None
    reserved_user_id: int | None
    tries: int
    last_call_at: datetime | None
    created_at: datetime
    updated_at: datetime
    phones: list[PhoneRead]


class CallAttemptRead(OutputModel):
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
