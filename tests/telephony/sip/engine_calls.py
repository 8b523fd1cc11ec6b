"""The engine dialling a tenant's predictive campaign on the sip backend (SIPp peers, and
rtpengine where the options say so): leads added through mmDial, the attempts read back."""

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import ColumnElement, func, select, update

from opendialer.accounts.service import NewTenant
from opendialer.clock import RealClock
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.models import CallAttempt, Campaign, Contact, DialMode, User
from opendialer.recordings.service import CallRecorder
from opendialer.telephony.sim_scenario import Scenario
from tests.dialects.mmdial.helpers import add_lead, add_list
from tests.telephony.sip.helpers import make_backend
from tests.telephony.sip.sipp import Sipp

Meanwhile = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class EngineCalls:
    mm: TestClient
    sessions: SessionMaker
    settings: Settings
    tenant: NewTenant

    def campaign(self, agent_host: str, **settings: Any) -> int:
        """A predictive campaign with one agent whose phone is ``agent_host``; one try per
        number, 5 s of ringing; ``settings`` set on the campaign."""
        setup = SimulationSetup(
            agents=1,
            contacts=0,
            dial_mode=DialMode.PREDICTIVE,
            calling_hours=(time(0), time(23, 59)),
        )
        now = RealClock().now()
        campaign_id = prepare_campaign(self.sessions, setup, now, tenant_id=self.tenant.tenant.id)
        with unit_of_work(self.sessions) as session:
            campaign = session.get_one(Campaign, campaign_id)
            campaign.max_tries_per_number, campaign.ring_timeout_seconds = 1, 5
            for name, value in settings.items():
                setattr(campaign, name, value)
            session.execute(
                update(User)
                .where(User.tenant_id == campaign.tenant_id)
                .values(sip_uri="sip:agent@" + agent_host)
            )
        return campaign_id

    def add_leads(self, campaign_id: int, phones: dict[str, str]) -> dict[str, dict[str, Any]]:
        """Add a lead per external id (its German phone number) through mmDial, all due now;
        mmDial's answer per external id."""
        list_id = add_list(self.mm, campaign_id)
        leads = {
            external: add_lead(self.mm, campaign_id, list_id, phone=phone, leadid_external=external)
            for external, phone in phones.items()
        }
        with unit_of_work(self.sessions) as session:
            campaign = session.get_one(Campaign, campaign_id)
            session.execute(
                update(Contact)
                .where(Contact.campaign_id == campaign_id)
                .values(next_try_at=campaign.created_at)
            )
        return leads

    def dial(
        self,
        campaign_id: int,
        backend_options: dict[str, Any],
        attempts: int = 1,
        meanwhile: Meanwhile | None = None,
    ) -> None:
        """Run the engine on the campaign until ``attempts`` attempts have ended (and
        ``meanwhile`` alongside); the engine must still be running then."""
        clock = RealClock()
        recorder = CallRecorder(self.settings.recordings_dir)
        backend = make_backend(backend_options)
        backend.set_audio_store(recorder)

        async def run() -> None:
            scenario = Scenario.model_validate({"agents": {"wrap_up": 0.1}})
            driver = SimulatedAgents(self.sessions, clock, scenario, seed=1)
            engine = Engine(self.sessions, backend, clock, tick_seconds=0.1, listener=driver)
            engine.recorder = recorder
            driver.engine = engine
            task = asyncio.create_task(engine.run([campaign_id]))
            side = asyncio.create_task(meanwhile()) if meanwhile is not None else None
            async with asyncio.timeout(30 * attempts):
                while self.ended(campaign_id) < attempts or engine.calls:
                    await asyncio.sleep(0.1)
            assert not task.done(), "the engine stopped"
            task.cancel()
            if side is not None:
                await side
            await asyncio.gather(task, return_exceptions=True)

        asyncio.run(run())

    def dial_leads(
        self,
        campaign_id: int,
        options: dict[str, Any],
        leads: dict[str, tuple[str, Sipp]],
    ) -> list[CallAttempt]:
        """Add ``leads`` (external id: German phone number and the SIPp peer its calls reach)
        through mmDial, dial each once through the engine, and return their attempts."""
        self.add_leads(campaign_id, {external: phone for external, (phone, _) in leads.items()})
        routes = []
        for phone, peer in leads.values():
            digits = phone.replace(" ", "")
            routes.append({"prefix": f"+49{digits[1:7]}", "trunk": peer.uri_host})
        self.dial(campaign_id, {**options, "routes": routes}, attempts=len(leads))
        return self.attempts(campaign_id)

    def attempts(self, campaign_id: int) -> list[CallAttempt]:
        """The campaign's attempts, detached from their session."""
        with unit_of_work(self.sessions) as session:
            found = session.scalars(
                select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
            ).all()
            for attempt in found:
                session.expunge(attempt)
        return list(found)

    def ended(self, campaign_id: int) -> int:
        """How many of the campaign's attempts have ended."""
        with unit_of_work(self.sessions) as session:
            ended = select(func.count(CallAttempt.id)).where(
                CallAttempt.campaign_id == campaign_id, CallAttempt.ended_at.is_not(None)
            )
            return session.scalar(ended) or 0

    def has_attempt(self, campaign_id: int, *where: ColumnElement[bool]) -> bool:
        """Whether the campaign has an attempt (one that matches ``where``)."""
        with unit_of_work(self.sessions) as session:
            first = select(CallAttempt.id).where(CallAttempt.campaign_id == campaign_id, *where)
            return session.scalars(first).first() is not None
