"""The engine's ACD component: on the engine's clock, offer due ACD events to agents.

Every ``interval`` seconds one short transaction applies :func:`opendialer.acd.delivery.
deliver_due` for the tenants whose campaigns this engine runs, and closes the callbacks whose
calls are over. Dialling a callback is left to the campaign runners' personal-callback path, so
there is no second way to place a call.
"""

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from opendialer.acd.delivery import Offer, deliver_due, settle_dialled
from opendialer.db import unit_of_work

if TYPE_CHECKING:
    from opendialer.engine.runner import Engine

log = logging.getLogger(__name__)

DELIVERY_INTERVAL_SECONDS = 5.0


def deliver_once(engine: "Engine") -> list[Offer]:
    """One delivery pass now; the offers made."""
    tenant_ids = {runner.tenant_id for runner in engine.runners.values()}
    if not tenant_ids:
        return []
    now = engine.clock.now()
    with unit_of_work(engine.sessions) as session:
        settle_dialled(session, now, tenant_ids)
        offers = deliver_due(session, now, tenant_ids, set(engine.runners))
    for offer in offers:
        log.info("acd event %s offered to agent %s", offer.event_id, offer.user_id)
    return offers


async def deliver_loop(
    engine: "Engine", until: datetime | None, interval: float = DELIVERY_INTERVAL_SECONDS
) -> None:
    while until is None or engine.clock.now() < until:
        try:
            deliver_once(engine)
        except Exception:
            log.exception("engine %s: ACD delivery pass failed", engine.engine_id)
        await engine.clock.sleep(interval)


def start(engine: "Engine", until: datetime | None) -> "asyncio.Task[None]":
    return asyncio.ensure_future(deliver_loop(engine, until))
