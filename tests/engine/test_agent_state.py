"""The agent state machine: allowed paths, refused ones, and deferred pauses."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendialer.engine.agent_state import (
    TRANSITIONS,
    AgentEvent,
    AgentStatus,
    InvalidTransition,
    apply,
    can,
)
from opendialer.models.engine import AgentState

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
E = AgentEvent


def run(*events: AgentEvent) -> AgentStatus:
    status = AgentStatus()
    for i, event in enumerate(events):
        status = apply(status, event, T0 + timedelta(seconds=i))
    return status


def test_a_call_cycle() -> None:
    status = run(E.LOGIN, E.READY, E.RESERVE, E.CONNECT, E.END_CALL)
    assert status.state is AgentState.WRAP_UP
    assert (
        run(E.LOGIN, E.READY, E.RESERVE, E.CONNECT, E.END_CALL, E.READY).state is AgentState.READY
    )


def test_login_starts_paused_and_records_since() -> None:
    status = apply(AgentStatus(), E.LOGIN, T0)
    assert (status.state, status.since, status.pause_reason) == (AgentState.PAUSED, T0, "login")


def test_preview_can_be_released() -> None:
    assert run(E.LOGIN, E.READY, E.OFFER_PREVIEW, E.RELEASE).state is AgentState.READY


def test_pause_during_a_call_waits_for_wrap_up_end() -> None:
    status = run(E.LOGIN, E.READY, E.RESERVE, E.CONNECT)
    status = apply(status, E.PAUSE, T0, reason="lunch")
    assert status.state is AgentState.ON_CALL and status.pause_requested == "lunch"
    status = apply(apply(status, E.END_CALL, T0), E.READY, T0)
    assert (status.state, status.pause_reason, status.pause_requested) == (
        AgentState.PAUSED,
        "lunch",
        None,
    )


@pytest.mark.parametrize(
    ("events", "refused"),
    [
        ((), E.READY),
        ((E.LOGIN, E.READY, E.RESERVE, E.CONNECT), E.LOGOUT),
        ((E.LOGIN,), E.RESERVE),
        ((E.LOGIN, E.READY), E.CONNECT),
    ],
)
def test_refused_transitions(events: tuple[AgentEvent, ...], refused: AgentEvent) -> None:
    status = run(*events)
    assert not can(status, refused)
    with pytest.raises(InvalidTransition):
        apply(status, refused, T0)


@given(st.lists(st.sampled_from(list(AgentEvent)), max_size=40))
def test_only_listed_transitions_change_state(events: list[AgentEvent]) -> None:
    status = AgentStatus()
    for event in events:
        if not can(status, event):
            continue
        after = apply(status, event, T0)
        if event is E.FORCE_LOGOUT:
            assert after == AgentStatus(AgentState.LOGGED_OUT, T0)
        elif event is not E.PAUSE or status.state not in {
            AgentState.RESERVED,
            AgentState.PREVIEW,
            AgentState.ON_CALL,
        }:
            assert after.state in {TRANSITIONS[(status.state, event)], AgentState.PAUSED}
        status = after


@pytest.mark.parametrize("state", list(AgentState))
def test_force_logout_from_every_state(state: AgentState) -> None:
    stuck = AgentStatus(state, T0, pause_reason="x", pause_requested="y")
    assert can(stuck, E.FORCE_LOGOUT)
    assert apply(stuck, E.FORCE_LOGOUT, T0 + timedelta(1)) == AgentStatus(
        AgentState.LOGGED_OUT, T0 + timedelta(1)
    )
