"""Agents' state history as spans: how long each agent stayed in each state."""

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.models import AgentStateChange
from opendialer.scoping import Scope
from opendialer.whatif.fit import StateSpan


def state_spans(
    session: Session,
    scope: Scope,
    *,
    user_ids: Collection[int],
    since: datetime,
    until: datetime,
) -> list[StateSpan]:
    """Each state the agents entered in [since, until), lasting until their next state (the
    last one until ``until``)."""
    if not user_ids:
        return []
    rows = session.execute(
        select(AgentStateChange.user_id, AgentStateChange.state, AgentStateChange.at)
        .where(
            AgentStateChange.tenant_id == scope.tenant_id,
            AgentStateChange.user_id.in_(user_ids),
            AgentStateChange.at >= since,
            AgentStateChange.at < until,
        )
        .order_by(AgentStateChange.user_id, AgentStateChange.at, AgentStateChange.id)
    ).all()
    spans: list[StateSpan] = []
    for index, (user, state, start) in enumerate(rows):
        following = rows[index + 1] if index + 1 < len(rows) else None
        closed = following is not None and following.user_id == user
        end = following.at if following is not None and closed else until
        spans.append(StateSpan(user_id=user, state=state, start=start, end=end, closed=closed))
    return spans
