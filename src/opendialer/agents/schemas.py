"""Request and response bodies for users (agents, supervisors, admins), agent groups and the
agents' live sessions."""

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

from opendialer.models import AgentState, UserRole
from opendialer.schemas import InputModel, OutputModel

# Spaces in a password are part of it: not stripped like the other text fields.
Password = Annotated[str, StringConstraints(strip_whitespace=False, min_length=8, max_length=200)]


class UserFields(InputModel):
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    extension: str | None = Field(default=None, min_length=1, max_length=50)
    sip_uri: str | None = Field(default=None, max_length=255, pattern=r"^sips?:")
    member_code: str | None = Field(default=None, min_length=1, max_length=100)
    active: bool | None = None
    password: Password | None = Field(default=None, description="Never returned; stored hashed")


class UserCreate(UserFields):
    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._\-]+$")
    role: UserRole = UserRole.AGENT


class UserUpdate(UserFields):
    username: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._\-]+$"
    )
    role: UserRole | None = None


class UserRead(OutputModel):
    id: int
    username: str
    role: UserRole
    display_name: str | None
    email: str | None
    extension: str | None
    sip_uri: str | None
    member_code: str | None
    active: bool
    created_at: datetime


class GroupCreate(InputModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    no_duplicate_events: bool = False


class GroupUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    no_duplicate_events: bool | None = None


class GroupRead(OutputModel):
    id: int
    name: str
    description: str | None
    no_duplicate_events: bool
    created_at: datetime


class GroupMemberAdd(InputModel):
    user_id: int = Field(ge=1, le=2**63 - 1)


# The agent's live session ------------------------------------------------------------------


class AgentSessionRead(OutputModel):
    user_id: int
    state: AgentState
    since: datetime
    pause_reason: str | None
    pause_requested: str | None
    campaign_id: int | None
    contact_id: int | None
    call_attempt_id: int | None
    logged_in_at: datetime | None


class PauseBody(InputModel):
    reason: str = Field(default="break", min_length=1, max_length=100)


class LogoutBody(InputModel):
    force: bool = Field(
        default=False,
        description="Log the agent out whatever their state, ending their call if they are on "
        "one (supervisors and admins only)",
    )


class ResultBody(InputModel):
    call_attempt_id: int = Field(ge=1)
    result_code_id: int = Field(ge=1)


class CallbackBody(InputModel):
    contact_id: int = Field(ge=1)
    at: AwareDatetime
    personal: bool = Field(
        default=True, description="True: only this agent gets it; false: anyone in the campaign"
    )
    note: str | None = Field(default=None, max_length=1000)
