"""The parts a dialler call is made of: its legs, timers and media as the call sees them.

The call's state machine (:mod:`.call`) is written against these protocols; sippy's legs
(:mod:`.sippy_glue`), the controller's timers and rtpengine (:mod:`.media`) fill them in.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto
from pathlib import Path
from typing import Protocol

from opendialer.telephony.base import CallEventKind
from opendialer.telephony.sip.media import Spool


class LegEventLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> int | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def q850(self) -> int | None: ...
    @property
    def sdp(self) -> str | None: ...


class LegLike(Protocol):
    closed: bool

    def invite(self, from_user: str, sdp: str | None, headers: dict[str, str]) -> None: ...
    def acknowledge(self, sdp: str) -> None: ...
    def reinvite(self, sdp: str) -> None: ...
    def answer_update(self, sdp: str) -> None: ...
    def end(self) -> None: ...
    def ping(self, done: Callable[[int], None]) -> None: ...


class TimerLike(Protocol):
    def cancel(self) -> None: ...


class MediaLike(Protocol):
    """A call's media anchor (:class:`~opendialer.telephony.sip.media.CallMedia`)."""

    def offer_to_customer(self, dialer_sdp: str) -> str: ...
    def customer_answered(self, customer_sdp: str) -> None: ...
    def offer(self, customer_sdp: str) -> str: ...
    def answer(self, answer_sdp: str) -> str: ...
    def record(self) -> None: ...
    def play(self, file: Path) -> None: ...
    def close(self) -> Spool | None: ...


Listener = Callable[[LegLike, LegEventLike], None]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a leg goes: its R-URI (user@host:port) and the next hop the INVITE is sent to."""

    user: str | None
    host: str
    port: int
    next_hop: tuple[str, int]


class Net(Protocol):
    def leg(self, listener: Listener, target: Target) -> LegLike: ...
    def timer(self, delay: float, callback: Callable[[], None]) -> TimerLike: ...
    def hold_offer(self) -> str: ...
    def rejecting_answer(self, offer: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Timers:
    ring_timeout: float
    agent_ring_timeout: float
    trunk_response_timeout: float
    keepalive_interval: float
    keepalive_timeout: float
    announcement_max_seconds: float
    agent_lost_within: float | None = None
    """After the bridge: an agent leg lost this soon is reported (``AGENT_LOST``), not ended."""


Emit = Callable[[CallEventKind, int | None, int | None, str, str | None], None]
"""(kind, sip_status, q850_cause, detail, agent_id)"""


class Phase(Enum):
    AGENT_RINGING = auto()
    DIALLING = auto()
    ANSWERED = auto()  # the customer's 200 is in, its ACK held back: waiting for an agent
    CONNECTING = auto()  # the agent (or, agent-first, its re-INVITE) is being asked
    BRIDGED = auto()
    ANNOUNCING = auto()
    ENDED = auto()
