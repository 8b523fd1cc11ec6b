"""A campaign's agents on a call or in wrap-up, as pacing sees them.

Pacing needs, for each busy agent, how long ago their call was connected and, once it has ended,
how long ago that was (the wrap-up so far); and, when an agent is free again, how long the call
and the wrap-up took. An agent is free of this campaign's call once their session is no longer on
a call or in wrap-up for this campaign: ready, paused, logged out, or already reserved for the
next call (which can happen between two ticks, when a caller was waiting).
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import CompoundSelect, Integer, Select, bindparam, func, null, select, union_all
from sqlalchemy.orm import Session

from opendialer.agents.sessions import (
    AGENT_SESSIONS,
    MEMBERS,
    AgentCounts,
    agent_counts,
)
from opendialer.engine.pacing.base import Observation
from opendialer.models import AgentState
from opendialer.models.campaign import CAMPAIGNS

BUSY_STATES = (AgentState.ON_CALL, AgentState.WRAP_UP)


@dataclass(slots=True)
class BusyAgent:
    connected_at: float
    ended_at: float | None = None
    pausing: bool = False
    """The agent asked for a pause: they will not be free when the wrap-up ends."""


class BusyRow(NamedTuple):
    user_id: int
    state: AgentState
    campaign_id: int | None
    pause_requested: str | None


@cache
def _busy_statement() -> Select[Any]:
    table = AGENT_SESSIONS
    return select(*(table.c[name] for name in BusyRow._fields)).where(
        table.c.user_id.in_(bindparam("user_ids", expanding=True))
    )


def busy_rows(session: Session, user_ids: list[int]) -> list[BusyRow]:
    """The agent sessions pacing needs to see who is free again (read in any thread)."""
    if not user_ids:
        return []
    rows = session.execute(_busy_statement(), {"user_ids": user_ids})
    return [BusyRow(*row) for row in rows]


def counts_and_busy_rows(
    session: Session, campaign_id: int, user_ids: list[int]
) -> tuple[AgentCounts, list[BusyRow], datetime | None]:
    """The campaign's agent counts (``campaign_agent_counts``), :func:`busy_rows` and the
    campaign's version (``kept_campaign.version_column``; None once it is deleted), in one
    statement: the counts' ``GROUP BY``, the rows' select and the version's, each as it is on
    its own, joined with ``UNION ALL`` (a row of the counts has a count, the version's row a
    version)."""
    parameters = {"campaign_id": campaign_id, "user_ids": user_ids}
    by_state: dict[AgentState, int] = {}
    rows: list[BusyRow] = []
    version: datetime | None = None
    statement = _counts_busy_and_version_statement(bool(user_ids))
    for user_id, state, agent_campaign, pause_requested, count, row_version in session.execute(
        statement, parameters
    ):
        if row_version is not None:
            version = row_version
        elif count is not None:
            by_state[AgentState(state)] = int(count)
        else:
            rows.append(BusyRow(user_id, state, agent_campaign, pause_requested))
    return agent_counts(by_state), rows, version


@cache
def _counts_busy_and_version_statement(busy: bool) -> CompoundSelect[Any]:
    """``busy``: with the busy agents' rows (an ``IN`` of the ``user_ids`` given)."""
    table = AGENT_SESSIONS
    no_version = null().cast(CAMPAIGNS.c.updated_at.type).label("version")
    counts = (
        select(
            null().cast(table.c.user_id.type).label("user_id"),
            table.c.state,
            null().cast(table.c.campaign_id.type).label("campaign_id"),
            null().cast(table.c.pause_requested.type).label("pause_requested"),
            func.count().label("count"),
            no_version,
        )
        .join(MEMBERS, MEMBERS.c.user_id == table.c.user_id)
        .where(MEMBERS.c.campaign_id == bindparam("campaign_id"))
        .group_by(table.c.state)
    )
    busy_rows = select(
        *(table.c[name] for name in BusyRow._fields), null().cast(Integer), no_version
    ).where(table.c.user_id.in_(bindparam("user_ids", expanding=True)))
    no_row = (null().cast(table.c[name].type) for name in BusyRow._fields)
    version = select(*no_row, null().cast(Integer), CAMPAIGNS.c.updated_at).where(
        CAMPAIGNS.c.id == bindparam("campaign_id")
    )
    return union_all(counts, busy_rows, version) if busy else union_all(counts, version)


class BusyAgents:
    def __init__(self, campaign_id: int) -> None:
        self.campaign_id = campaign_id
        self._agents: dict[int, BusyAgent] = {}

    def __len__(self) -> int:
        return len(self._agents)

    def connected(self, agent_id: int, now: float) -> Observation | None:
        """The agent took a call; returns the release of their previous call if not yet seen."""
        earlier = self._release(agent_id, now)
        self._agents[agent_id] = BusyAgent(connected_at=now)
        return earlier

    def call_ended(self, agent_id: int, now: float) -> None:
        busy = self._agents.get(agent_id)
        if busy is not None:
            busy.ended_at = now

    def forget(self, agent_id: int) -> None:
        self._agents.pop(agent_id, None)

    def ages(self, now: float) -> tuple[tuple[float, ...], tuple[float | None, ...]]:
        """(seconds since connect, seconds since the call ended or None) per agent who will be
        free again; agents who asked for a pause are left out."""
        coming_back = [b for b in self._agents.values() if not b.pausing]
        return (
            tuple(now - b.connected_at for b in coming_back),
            tuple(None if b.ended_at is None else now - b.ended_at for b in coming_back),
        )

    def ids(self) -> list[int]:
        return list(self._agents)

    def releases(self, session: Session, now: float) -> list[Observation]:
        """The agents free of their call since the last look, with their handle and wrap-up."""
        asked = self.ids()
        return self.apply(busy_rows(session, asked), asked, now)

    def apply(self, rows: list[BusyRow], asked: list[int], now: float) -> list[Observation]:
        """:meth:`releases` from the rows :func:`busy_rows` read for ``asked`` a moment ago."""
        if not self._agents:
            return []
        for gone in (set(asked) & self._agents.keys()) - {row.user_id for row in rows}:
            self.forget(gone)  # the user was deleted
        released: list[Observation] = []
        for user_id, state, campaign_id, pause_requested in rows:
            if user_id not in self._agents:
                continue  # released since the rows were read
            if state in BUSY_STATES and campaign_id == self.campaign_id:
                self._agents[user_id].pausing = pause_requested is not None
            elif (observation := self._release(user_id, now)) is not None:
                released.append(observation)
        return released

    def _release(self, agent_id: int, now: float) -> Observation | None:
        busy = self._agents.pop(agent_id, None)
        if busy is None:
            return None
        handle = now - busy.connected_at
        # An agent freed before their call's end was seen (logged out mid-call): no wrap-up known.
        wrap_up = None if busy.ended_at is None else now - busy.ended_at
        return Observation(at=now, handle_seconds=handle, wrap_up_seconds=wrap_up)
