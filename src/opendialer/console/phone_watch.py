"""Agents whose browser phone is gone are logged out: the registrar (Kamailio) is asked every
``softphone_watch_seconds`` which browsers are registered; an agent who is ready, paused or in
wrap-up with a browser phone missing from it for ``softphone_logout_after_seconds`` (a tab
closed, a laptop asleep, a network gone and not back) is logged out, so the dialer stops
counting on them. A short loss that JsSIP recovers from (it reconnects and registers again) is
forgiven."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.agents import sessions as agent_sessions
from opendialer.config import Settings
from opendialer.console.phone import REGISTRAR_TIMEOUT_SECONDS, phone_user
from opendialer.db import SessionMaker, run_unit_of_work
from opendialer.engine.agent_state import AgentEvent
from opendialer.models import AgentSession, AgentState, User
from opendialer.scoping import Scope
from opendialer.tasks import running

log = logging.getLogger(__name__)

_IDLE_STATES = (AgentState.READY, AgentState.PAUSED, AgentState.WRAP_UP)


def registered_users(rpc_url: str) -> set[str] | None:
    """Every user with a registration at Kamailio (``ul.dump``); None if it does not answer."""
    request = {"jsonrpc": "2.0", "method": "ul.dump", "id": 1}
    try:
        body = httpx.post(rpc_url, json=request, timeout=REGISTRAR_TIMEOUT_SECONDS).json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("softphone registrar %s unreachable: %s", rpc_url, exc)
        return None
    return set(_aors_with_contacts(body))


def _aors_with_contacts(tree: Any) -> list[str]:
    """The AoRs of a ``ul.dump`` tree that still have a contact (an AoR whose last contact was
    removed can linger, empty, until usrloc's timer clears it)."""
    if isinstance(tree, dict):
        aor, contacts = tree.get("AoR"), tree.get("Contacts")
        found = [aor] if isinstance(aor, str) and contacts else []
        return found + [a for child in tree.values() for a in _aors_with_contacts(child)]
    if isinstance(tree, list):
        return [a for child in tree for a in _aors_with_contacts(child)]
    return []


class PhoneWatch:
    """Remembers since when each agent's browser phone has been missing."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.missing_since: dict[int, datetime] = {}

    def sweep(self, session: Session, registered: set[str], now: datetime) -> list[int]:
        """Log out the agents missing long enough; the ids logged out."""
        grace = timedelta(seconds=self.settings.softphone_logout_after_seconds)
        rows = session.execute(
            select(User, AgentSession)
            .join(AgentSession, AgentSession.user_id == User.id)
            .where(AgentSession.state.in_(_IDLE_STATES), User.sip_uri.is_not(None))
        ).all()
        still_missing: dict[int, datetime] = {}
        logged_out = []
        for user, _row in rows:
            name = phone_user(self.settings, user.sip_uri)
            if name is None or name in registered:
                continue
            since = self.missing_since.get(user.id, now)
            if now - since < grace:
                still_missing[user.id] = since
                continue
            scope = Scope.system(user.tenant_id)
            agent_sessions.act(session, scope, AgentEvent.LOGOUT, user_id=user.id, at=now)
            log.info("agent %s logged out: browser phone not registered since %s", user.id, since)
            logged_out.append(user.id)
        self.missing_since = still_missing
        return logged_out


async def serve(sessions: SessionMaker, settings: Settings) -> None:
    watch = PhoneWatch(settings)
    rpc_url = settings.softphone_registrar_rpc
    assert rpc_url is not None
    while True:
        registered = await asyncio.to_thread(registered_users, rpc_url)
        if registered is not None:
            sweep = partial(watch.sweep, registered=registered, now=datetime.now(UTC))
            try:
                await run_unit_of_work(sessions, sweep, writes=True)
            except Exception:
                log.exception("softphone watch pass failed")
        await asyncio.sleep(settings.softphone_watch_seconds)


@contextlib.asynccontextmanager
async def phone_watch(sessions: SessionMaker, settings: Settings) -> AsyncIterator[None]:
    """Run :func:`serve` for the app's lifetime when a registrar is configured."""
    if settings.softphone_registrar_rpc is None:
        yield
        return
    async with running(serve(sessions, settings)):
        yield
