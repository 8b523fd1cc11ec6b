"""The telephony interface the engine dials through, and its value types.

One shape fits the simulator, a SIP third-party call controller (RFC 3725 flow I: INVITE the
customer without SDP, INVITE the agent with the customer's offer, ACK the customer with the
agent's answer), Asterisk ARI and FreeSWITCH ESL. The contract the engine relies on:

* every call id produced by ``originate``/``originate_agent_first`` gets exactly one *final*
  event (``CallEvent.final``), and nothing after it;
* commands on a call that has already ended are ignored (its final event is, or will be, in the
  stream), so racing the network never raises; commands that make no sense for a live call
  (bridging a call that has not been answered) raise :class:`CallStateError`;
* the backend enforces ``OriginateRequest.ring_timeout`` itself and reports ``NO_ANSWER``;
  rules such as the 15 s minimum ring or the 2 s abandon grace belong to the engine.
"""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import NewType, Protocol, runtime_checkable

CallId = NewType("CallId", str)

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


def is_e164(number: str) -> bool:
    return _E164.match(number) is not None


class TelephonyError(Exception):
    """A command the backend cannot carry out."""


class UnknownCallError(TelephonyError):
    """A call id this backend never issued."""


class CallStateError(TelephonyError):
    """A command that does not fit the call's state, or a backend that is not running."""


class CallEventKind(StrEnum):
    RINGING = "ringing"
    """The customer's phone alerts (SIP 180/183)."""
    ANSWERED = "answered"
    """The customer leg is up (SIP 200); the greeting starts now. Classification follows."""
    ANSWERED_HUMAN = "answered_human"
    """Classified as a person (or AMD was off, so treated as one)."""
    ANSWERED_MACHINE = "answered_machine"
    """Answering-machine detection says machine."""
    AGENT_ANSWERED = "agent_answered"
    """Agent-first: the agent picked up; the customer is being dialled."""
    AGENT_NO_ANSWER = "agent_no_answer"
    """The agent leg of a bridge failed; the customer is still on the line, waiting."""
    BRIDGED = "bridged"
    """Customer and agent are talking."""
    AGENT_LOST = "agent_lost"
    """The agent's phone went away (found gone, or a BYE not of normal clearing) before it was
    found alive ``OriginateRequest.agent_lost_within`` after the bridge; the customer is still
    on the line and the engine must act: ``play_and_hangup`` (the abandon handling) or
    ``hangup``."""
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    INVALID_NUMBER = "invalid_number"
    CANCELLED = "cancelled"
    """Ended by ``cancel`` (or ``hangup``/``stop``) before anyone answered."""
    HANGUP_CUSTOMER = "hangup_customer"
    HANGUP_AGENT = "hangup_agent"
    HANGUP_DIALER = "hangup_dialer"
    """Ended by the dialer after answer: ``hangup``, ``play_and_hangup`` or ``stop``."""


FINAL_KINDS = frozenset(
    {
        CallEventKind.BUSY,
        CallEventKind.NO_ANSWER,
        CallEventKind.FAILED,
        CallEventKind.INVALID_NUMBER,
        CallEventKind.CANCELLED,
        CallEventKind.HANGUP_CUSTOMER,
        CallEventKind.HANGUP_AGENT,
        CallEventKind.HANGUP_DIALER,
    }
)


@dataclass(frozen=True, slots=True)
class CallEvent:
    call_id: CallId
    kind: CallEventKind
    at: datetime
    sip_status: int | None = None
    q850_cause: int | None = None
    agent_id: str | None = None
    detail: str = ""
    greeting_ended_at: datetime | None = None
    """``ANSWERED_HUMAN`` after answering-machine detection: when the person's greeting ended
    (the answer, if they said nothing). The abandon grace is counted from there (FTC/Ofcom:
    2 s from the end of the greeting); None: from this event."""

    @property
    def final(self) -> bool:
        return self.kind in FINAL_KINDS


@dataclass(frozen=True, slots=True)
class AgentEndpoint:
    id: str
    sip_uri: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginateRequest:
    number: str
    """The customer's number in E.164 form."""
    caller_id: str
    ring_timeout: float
    """Seconds from the dial until the backend gives up with ``NO_ANSWER``."""
    campaign_id: int | None = None
    attempt_id: int | None = None
    record: bool = False
    amd: bool = False
    agent_lost_within: float | None = None
    """Seconds after the bridge at which the backend checks that the agent's phone is still
    there; a phone gone before that does not end the call: the backend reports ``AGENT_LOST``
    and waits for the engine. ``None``: it ends the call with ``HANGUP_AGENT`` at once (as it
    does once the phone was found alive)."""

    def __post_init__(self) -> None:
        if not is_e164(self.number):
            raise ValueError(f"number must be E.164, got {self.number!r}")
        if self.ring_timeout <= 0:
            raise ValueError("ring_timeout must be positive")
        if self.agent_lost_within is not None and self.agent_lost_within < 0:
            raise ValueError("agent_lost_within must not be negative")


class RecordingHook(Protocol):
    """Told when a recorded call's media starts and stops; writing audio is the hook's job."""

    def recording_started(self, call_id: CallId, at: datetime) -> None: ...

    def recording_stopped(self, call_id: CallId, at: datetime) -> None: ...


class AudioStore(Protocol):
    """Keeps the recordings a backend writes itself (SIP with rtpengine)."""

    def store_audio(self, call_id: CallId, wav: Path, started_at: datetime) -> None:
        """Take ``wav`` (a finished file, moved into storage) as ``call_id``'s recording."""
        ...


@runtime_checkable
class TelephonyBackend(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None:
        """End every call still up (each gets its final event), then end the event stream."""
        ...

    async def originate(self, request: OriginateRequest) -> CallId:
        """Customer-first: dial the customer; an agent is chosen when the call is answered."""
        ...

    async def originate_agent_first(
        self, agent: AgentEndpoint, request: OriginateRequest
    ) -> CallId:
        """Ring the agent, then dial the customer, and join them as soon as the customer answers.

        Events: ``AGENT_ANSWERED``, then as for ``originate``, then ``BRIDGED`` right after the
        answer classification. An agent who does not answer gives ``AGENT_NO_ANSWER`` followed
        by ``CANCELLED``.
        """
        ...

    async def cancel(self, call_id: CallId) -> None:
        """Stop a call that is still ringing (final ``CANCELLED``).

        If the answer crossed the cancel, the call stays up and its ``ANSWERED`` event is in the
        stream: the engine must then bridge it or ``play_and_hangup`` it like any other.
        """
        ...

    async def bridge(self, call_id: CallId, agent: AgentEndpoint) -> None:
        """Connect an answered customer to an agent; ``BRIDGED`` or ``AGENT_NO_ANSWER`` follows."""
        ...

    async def play_and_hangup(self, call_id: CallId, announcement: str) -> None:
        """Play ``announcement`` (a media reference) to an answered customer, then hang up."""
        ...

    async def hangup(self, call_id: CallId) -> None:
        """End the call in any state: ``CANCELLED`` before answer, ``HANGUP_DIALER`` after."""
        ...

    def events(self) -> AsyncIterator[CallEvent]:
        """The one stream of call events, in order; it ends after ``stop``. One consumer."""
        ...
