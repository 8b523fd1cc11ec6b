"""What the agent console sends and receives: one state document, pushed and fetched alike."""

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from opendialer.contacts.schemas import ContactRead
from opendialer.models import AgentState, CallOutcome, DialMode
from opendialer.schemas import InputModel, OutputModel


class ConsoleUser(OutputModel):
    id: int
    username: str
    display_name: str | None


class AgentNow(OutputModel):
    state: AgentState
    since: dt.datetime
    pause_reason: str | None
    pause_requested: str | None


class CampaignBrief(OutputModel):
    id: int
    name: str
    dial_mode: DialMode


class ContactCard(ContactRead):
    """The contact as the native API shows it, and where they live."""

    time_zone: str = Field(description="Where the contact lives: callbacks are in this zone")


class FormFieldCard(OutputModel):
    name: str
    label: str | None
    field_type: str
    options: list[Any] | None
    required: bool


class ResultChoice(OutputModel):
    id: int
    code: str
    text: str


class ModuleLink(OutputModel):
    name: str
    url: str
    open_in: str


class PastAttempt(OutputModel):
    started_at: dt.datetime
    number: str
    outcome: CallOutcome | None
    result: str | None
    agent: str | None


class CallCard(OutputModel):
    campaign: CampaignBrief
    call_attempt_id: int | None
    contact: ContactCard
    script: str | None
    modules: list[ModuleLink]
    form_fields: list[FormFieldCard]
    result_codes: list[ResultChoice]
    result_code_id: int | None
    history: list[PastAttempt]
    preview_until: dt.datetime | None = Field(description="Preview: dialled by itself then")
    wrap_up_until: dt.datetime | None = Field(description="Wrap-up: made ready then")
    bridged_at: dt.datetime | None


class ResultCount(OutputModel):
    result: str
    count: int


class MyDay(OutputModel):
    calls: int
    talk_seconds: float
    wait_seconds: float = Field(description="Ready, waiting for a call")
    pause_seconds: float
    results: list[ResultCount]


class ConsoleState(OutputModel):
    now: dt.datetime
    user: ConsoleUser
    agent: AgentNow
    campaigns: list[CampaignBrief]
    pause_reasons: list[str]
    call: CallCard | None
    my_day: MyDay


class PauseRequest(InputModel):
    reason: str = Field(min_length=1, max_length=100)


class ResultRequest(InputModel):
    result_code_id: int = Field(ge=1)


class FormRequest(InputModel):
    form_data: dict[str, str] = Field(default_factory=dict, max_length=200)
    notes: str | None = Field(default=None, max_length=4000)


class CallbackRequest(InputModel):
    date: dt.date
    time: dt.time
    personal: bool = True
    note: str | None = Field(default=None, max_length=1000)


AgentAction = Literal["login", "ready", "logout"]
CallAction = Literal["hangup", "dial", "skip"]
