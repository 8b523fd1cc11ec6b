"""Housekeeping: the recording, export and audit-trail retention, applied by the server on a
timer and by ``opendialer housekeeping`` on demand; and the report rollups, moved on every few
minutes."""

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from opendialer.accounts.guard import prune_failures
from opendialer.accounts.logins import prune_logins
from opendialer.audit.service import purge_expired as purge_expired_audit
from opendialer.config import Settings
from opendialer.db import SessionMaker, run_unit_of_work
from opendialer.dnc.schedule import due_tenants, run_scheduled
from opendialer.exports.service import purge_expired_exports
from opendialer.recordings.service import purge_expired
from opendialer.reports.rollups import roll_step, tenant_ids
from opendialer.scoping import Scope
from opendialer.tasks import running

log = logging.getLogger(__name__)
ROLL_SECONDS = 300.0  # the reports read at most this much more history than the settled tail


@dataclass(frozen=True, slots=True)
class Swept:
    recordings: int  # recording files deleted (their rows stay, with available "no")
    exports: int  # export files deleted
    auth_failures: int = 0  # audit rows of failed credential checks deleted
    logins: int = 0  # logins expired after inactivity, deleted
    audit_entries: int = 0  # audit trail rows past their retention, deleted
    dnc_imports: int = 0  # tenant-wide DNC lists replaced from their scheduled file


async def sweep(sessions: SessionMaker, settings: Settings, now: datetime) -> Swept:
    """One pass over every tenant, in worker threads: recordings past their retention, then
    exports. The recordings are purged as a writer (``run_unit_of_work``): on SQLite it queues
    for the writer gate like every other writer."""
    recordings = await run_unit_of_work(
        sessions, lambda session: purge_expired(session, settings, now), writes=True
    )
    exports = await asyncio.to_thread(purge_expired_exports, settings, now)
    failures = await run_unit_of_work(
        sessions, lambda session: prune_failures(session, settings, now), writes=True
    )
    idle = timedelta(minutes=settings.login_idle_minutes)
    logins = await run_unit_of_work(
        sessions, lambda session: prune_logins(session, now - idle), writes=True
    )
    audit = 0
    if settings.audit_retention_days:
        days = settings.audit_retention_days
        audit = await run_unit_of_work(
            sessions, lambda session: purge_expired_audit(session, now, days), writes=True
        )
    dnc_imports = await _scheduled_dnc_imports(sessions, settings, now)
    return Swept(recordings, exports, failures, logins, audit, dnc_imports)


async def _scheduled_dnc_imports(sessions: SessionMaker, settings: Settings, now: datetime) -> int:
    """Each due tenant's DNC file, one transaction per tenant; how many lists were replaced."""
    due = await run_unit_of_work(sessions, lambda session: due_tenants(session, now), writes=False)
    replaced = 0
    for tenant_id in due:
        scope = Scope.system(tenant_id)
        work = partial(run_scheduled, scope=scope, folder=settings.dnc_import_dir, now=now)
        replaced += await run_unit_of_work(sessions, work, writes=True)
    return replaced


async def serve(sessions: SessionMaker, settings: Settings) -> None:
    """A pass at start-up and every ``housekeeping_interval_seconds``; a failed pass is logged
    and the next one runs as planned."""
    while True:
        try:
            swept = await sweep(sessions, settings, datetime.now(UTC))
        except Exception:
            log.exception("housekeeping pass failed")
        else:
            if swept.recordings or swept.exports:
                log.info(
                    "housekeeping deleted %d recording files and %d exports",
                    swept.recordings,
                    swept.exports,
                )
        await asyncio.sleep(settings.housekeeping_interval_seconds)


async def roll_up(sessions: SessionMaker, every: float = ROLL_SECONDS) -> None:
    """Move every tenant's report rollups on every ``every`` seconds: one tenant's step
    (at most ``rollups.STEP`` of history) per transaction, so a writer holds SQLite's gate
    only briefly even while a long history is caught up."""
    while True:
        try:
            for tenant_id in await run_unit_of_work(sessions, tenant_ids, writes=False):
                step = functools.partial(_roll_step, scope=Scope.system(tenant_id))
                while await run_unit_of_work(sessions, step, writes=True):
                    pass
        except Exception:
            log.exception("report rollups not moved on")
        await asyncio.sleep(every)


def _roll_step(session: Session, scope: Scope) -> bool:
    return roll_step(session, scope, datetime.now(UTC))


@contextlib.asynccontextmanager
async def housekeeping(sessions: SessionMaker, settings: Settings) -> AsyncIterator[None]:
    """Run :func:`serve` and :func:`roll_up` for the app's lifetime unless
    ``housekeeping_enabled`` is off."""
    if not settings.housekeeping_enabled:
        yield
        return
    async with running(serve(sessions, settings)), running(roll_up(sessions)):
        yield
