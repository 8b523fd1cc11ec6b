"""The agent state machine: one set of rules for the agent API, the engine and the simulator.

    logged_out --login--> paused --ready--> ready --reserve--> reserved --connect--> on_call
    ready --offer_preview--> preview --connect--> on_call     reserved/preview --release--> ready
    on_call --end_call--> wrap_up --ready--> ready   (or paused, when a pause was asked for)
    ready/wrap_up --pause--> paused (with a reason)          (most states) --logout--> logged_out
    (any state) --force_logout--> logged_out    (a supervisor's action; also frees a stuck agent)

A pause asked for while reserved or on a call is remembered and taken when the call's wrap-up
ends, so an agent is never pulled out of a call.
"""

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from opendialer.models.engine import AgentState


class AgentEvent(enum.StrEnum):
    LOGIN = "login"
    READY = "ready"
    PAUSE = "pause"
    RESERVE = "reserve"
    OFFER_PREVIEW = "offer_preview"
    CONNECT = "connect"
    RELEASE = "release"
    END_CALL = "end_call"
    LOGOUT = "logout"
    FORCE_LOGOUT = "force_logout"


S, E = AgentState, AgentEvent

TRANSITIONS: dict[tuple[AgentState, AgentEvent], AgentState] = {
    (S.LOGGED_OUT, E.LOGIN): S.PAUSED,
    (S.PAUSED, E.READY): S.READY,
    (S.WRAP_UP, E.READY): S.READY,
    (S.READY, E.PAUSE): S.PAUSED,
    (S.WRAP_UP, E.PAUSE): S.PAUSED,
    (S.PAUSED, E.PAUSE): S.PAUSED,
    (S.READY, E.RESERVE): S.RESERVED,
    (S.READY, E.OFFER_PREVIEW): S.PREVIEW,
    (S.RESERVED, E.CONNECT): S.ON_CALL,
    (S.PREVIEW, E.CONNECT): S.ON_CALL,
    (S.RESERVED, E.RELEASE): S.READY,
    (S.PREVIEW, E.RELEASE): S.READY,
    (S.ON_CALL, E.END_CALL): S.WRAP_UP,
    (S.READY, E.LOGOUT): S.LOGGED_OUT,
    (S.PAUSED, E.LOGOUT): S.LOGGED_OUT,
    (S.WRAP_UP, E.LOGOUT): S.LOGGED_OUT,
}

# Asked for while busy: remembered and applied when the wrap-up ends.
DEFERRED_PAUSE_STATES = frozenset({S.RESERVED, S.PREVIEW, S.ON_CALL})


class InvalidTransition(ValueError):
    def __init__(self, state: AgentState, event: AgentEvent) -> None:
        super().__init__(f"cannot {event.value} while {state.value}")
        self.state = state
        self.event = event


@dataclass(frozen=True, slots=True)
class AgentStatus:
    state: AgentState = AgentState.LOGGED_OUT
    since: datetime | None = None
    pause_reason: str | None = None
    pause_requested: str | None = None  # reason of a pause asked for during a call


def apply(
    status: AgentStatus, event: AgentEvent, at: datetime, reason: str | None = None
) -> AgentStatus:
    """The status after ``event`` at ``at``; raises InvalidTransition when not allowed."""
    if event is E.PAUSE and status.state in DEFERRED_PAUSE_STATES:
        return replace(status, pause_requested=reason or "break")
    if event is E.FORCE_LOGOUT:
        return AgentStatus(S.LOGGED_OUT, at)
    target = TRANSITIONS.get((status.state, event))
    if target is None:
        raise InvalidTransition(status.state, event)
    if event is E.READY and status.state is S.WRAP_UP and status.pause_requested:
        return AgentStatus(S.PAUSED, at, pause_reason=status.pause_requested)
    if target is S.PAUSED:
        return AgentStatus(S.PAUSED, at, pause_reason=reason or status.pause_reason or "login")
    return AgentStatus(target, at, pause_requested=status.pause_requested)


def can(status: AgentStatus, event: AgentEvent) -> bool:
    if event is E.FORCE_LOGOUT or (event is E.PAUSE and status.state in DEFERRED_PAUSE_STATES):
        return True
    return (status.state, event) in TRANSITIONS
