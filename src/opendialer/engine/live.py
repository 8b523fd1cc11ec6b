"""In-memory view of the calls one engine process is handling right now."""

import enum
from dataclasses import dataclass, field
from datetime import datetime

from opendialer.telephony import CallId


class Phase(enum.Enum):
    DIALLING = enum.auto()  # ringing or being classified
    WAITING = enum.auto()  # a person answered; no agent yet (at most the grace period)
    CONNECTING = enum.auto()  # an agent was reserved; their leg is being set up
    TALKING = enum.auto()
    ANNOUNCING = enum.auto()  # abandoned: hearing the information message
    HANGING_UP = enum.auto()  # a machine, or a call the dialer ends


@dataclass(slots=True)
class LiveCall:
    call_id: CallId
    campaign_id: int
    attempt_id: int
    contact_id: int
    dialled_at: float
    phase: Phase = Phase.DIALLING
    agent_id: int | None = None
    agent_first: bool = False
    alerted_at: datetime | None = None
    answered_at: datetime | None = None
    answered_mono: float | None = None
    connected_at: datetime | None = None
    wait_deadline: float | None = None
    human: bool | None = None
    abandoned: bool = False


@dataclass(slots=True)
class CampaignTally:
    """Running counts for the live-state view and the simulate summary."""

    attempts: int = 0
    live_answers: int = 0
    connects: int = 0
    abandoned: int = 0
    machines: int = 0
    machines_found: int = 0
    """Live answers an agent's result code later said were answering machines."""
    outcomes: dict[str, int] = field(default_factory=dict)
    wait_seconds: float = 0.0
