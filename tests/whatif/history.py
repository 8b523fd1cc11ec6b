"""A made-up history with known shares and durations, for the fit's tests."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import (
    AgentState,
    AgentStateChange,
    CallAttempt,
    CallOutcome,
    Campaign,
    DialMode,
)
from opendialer.whatif.fit import AttemptRow, StateSpan
from tests.console.browser import make_agent

BERLIN = ZoneInfo("Europe/Berlin")
PATTERN = (
    [CallOutcome.CONNECTED] * 3
    + [CallOutcome.MACHINE]
    + [CallOutcome.BUSY] * 2
    + [CallOutcome.NO_ANSWER] * 4
)
"""Of ten dials: 3 people, 1 machine, and of the 6 unanswered 2 busy."""
ANSWER_AFTER = (5.0, 9.0)
TALK = (30.0, 90.0)
WRAP = (6.0, 14.0)


@dataclass(frozen=True)
class Day:
    date: datetime
    """Local midnight of the day."""
    first_hour: int = 9
    hours: int = 2
    agents: int = 4
    dial_every: float = 10.0


def attempts_of(day: Day) -> list[AttemptRow]:
    """A dial every ``dial_every`` seconds for the day's hours, the outcomes in PATTERN's order,
    durations alternating between the two values of each pair (so means and spreads are
    known)."""
    rows = []
    start = day.date + timedelta(hours=day.first_hour)
    for i in range(int(day.hours * 3600 / day.dial_every)):
        began = start + timedelta(seconds=i * day.dial_every)
        outcome = PATTERN[i % len(PATTERN)]
        answered = began + timedelta(seconds=ANSWER_AFTER[(i // 10) % 2])
        if outcome is CallOutcome.CONNECTED:
            connected = answered + timedelta(seconds=0.5)
            ended = connected + timedelta(seconds=TALK[(i // 10) % 2])
            rows.append(_row(began, answered, connected, ended, outcome, i % day.agents + 1))
        elif outcome is CallOutcome.MACHINE:
            rows.append(_row(began, answered, None, answered, outcome, None))
        else:
            rows.append(_row(began, None, None, began + timedelta(seconds=4), outcome, None))
    return rows


def _row(
    began: datetime,
    answered: datetime | None,
    connected: datetime | None,
    ended: datetime,
    outcome: CallOutcome,
    user_id: int | None,
) -> AttemptRow:
    return AttemptRow(
        started_at=began,
        answered_at=answered,
        connected_at=connected,
        ended_at=ended,
        outcome=outcome,
        machine=outcome is CallOutcome.MACHINE,
        user_id=user_id,
    )


def spans_of(day: Day) -> list[StateSpan]:
    """Each agent logged in for the whole dialling window, in cycles of ready, on a call for
    60 s and wrap-up (alternately WRAP[0] and WRAP[1] s); logged out afterwards."""
    spans = []
    start = day.date + timedelta(hours=day.first_hour)
    end = start + timedelta(hours=day.hours)
    for user in range(1, day.agents + 1):
        at, cycle = start, 0
        while at < end:
            wrap = WRAP[cycle % 2]
            for state, seconds in (
                (AgentState.READY, 20.0),
                (AgentState.ON_CALL, 60.0),
                (AgentState.WRAP_UP, wrap),
            ):
                until = min(end, at + timedelta(seconds=seconds))
                spans.append(StateSpan(user_id=user, state=state, start=at, end=until))
                at = until
            cycle += 1
        spans.append(
            StateSpan(user, AgentState.LOGGED_OUT, end, end + timedelta(hours=20), closed=False)
        )
    return spans


def campaign_with_history(sessions: SessionMaker, tenant: NewTenant, days: list[Day]) -> int:
    """A campaign whose attempts and agent states are the made-up history of ``days``."""
    tenant_id = tenant.tenant.id
    users = [make_agent(sessions, tenant_id, f"agent{i}") for i in range(1, days[0].agents + 1)]
    with unit_of_work(sessions) as session:
        campaign = Campaign(
            tenant_id=tenant_id,
            name="History",
            dial_mode=DialMode.PREDICTIVE,
            timezone="Europe/Berlin",
            abandon_target=0.03,
        )
        session.add(campaign)
        session.flush()
        rows = [a for day in days for a in attempts_of(day)]
        session.execute(
            insert(CallAttempt),
            [
                {
                    "tenant_id": tenant_id,
                    "campaign_id": campaign.id,
                    "b_number": "+493012345678",
                    "started_at": a.started_at,
                    "answered_at": a.answered_at,
                    "connected_at": a.connected_at,
                    "ended_at": a.ended_at,
                    "outcome": a.outcome,
                    "user_id": users[a.user_id - 1] if a.user_id else None,
                }
                for a in rows
            ],
        )
        session.execute(
            insert(AgentStateChange),
            [
                {
                    "tenant_id": tenant_id,
                    "user_id": users[s.user_id - 1],
                    "state": s.state,
                    "at": s.start,
                }
                for day in days
                for s in spans_of(day)
            ],
        )
        return campaign.id


def recent_days(count: int) -> list[Day]:
    today = datetime.now(BERLIN).replace(hour=0, minute=0, second=0, microsecond=0)
    return [Day(date=today - timedelta(days=count - i)) for i in range(count)]
