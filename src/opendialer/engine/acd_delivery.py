"""The engine's ACD component: on the engine's clock, offer due ACD events to agents.

Every ``interval`` seconds one short transaction applies :func:`opendialer.acd.delivery.
deliver_due` for the tenants whose campaigns this engine runs, and closes the callbacks whose
calls are over. Dialling a callback is left to the campaign runners' personal-callback path, so
there is no second way to place a call.
"""

import asyncio
import logging
from datetime import datetime

from sqlalchemy.orm import Session

from opendialer.acd.delivery import Offer, deliver_due, settle_dialled
from opendialer.engine.context import DeliveryContext

log = logging.getLogger(__name__)

DELIVERY_INTERVAL_SECONDS = 5.0


async def deliver_once(engine: DeliveryContext) -> list[Offer]:
    """One delivery pass now; the offers made."""
    tenant_ids = {runner.tenant_id for runner in engine.runners.values()}
    if not tenant_ids:
        return []
    now = engine.clock.now()
    campaign_ids = set(engine.runners)

    def deliver(session: Session) -> list[Offer]:
        settle_dialled(session, now, tenant_ids)
        return deliver_due(session, now, tenant_ids, campaign_ids)

    offers = await engine.db.run(deliver)
    for offer in offers:
        log.info("acd event %s offered to agent %s", offer.event_id, offer.user_id)
    return offers


async def deliver_loop(
    engine: DeliveryContext, until: datetime | None, interval: float = DELIVERY_INTERVAL_SECONDS
) -> None:
    while until is None or engine.clock.now() < until:
        try:
            await deliver_once(engine)
        except Exception:
            log.exception("engine %s: ACD delivery pass failed", engine.engine_id)
        await engine.clock.sleep(interval)


def start(
    engine: DeliveryContext, until: datetime | None, interval: float = DELIVERY_INTERVAL_SECONDS
) -> "asyncio.Task[None]":
    return asyncio.ensure_future(deliver_loop(engine, until, interval))
