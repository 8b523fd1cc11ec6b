"""The whole path on real media: a lead added through mmDial, a recorded predictive call dialled
by the engine through SIPp and rtpengine, its recording found by ``searchvoicebyleadid`` and
downloaded through the signed link, with both parties' audio in it."""

import asyncio
import io
import wave
from datetime import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from opendialer.accounts.service import NewTenant
from opendialer.clock import RealClock
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents, SimulationSetup, prepare_campaign
from opendialer.models import CallAttempt, CallOutcome, Campaign, Contact, DialMode, User
from opendialer.recordings.service import CallRecorder
from opendialer.telephony.sim_scenario import Scenario
from tests.dialects.mmdial.helpers import add_lead, add_list
from tests.telephony.sip.helpers import make_backend
from tests.telephony.sip.rtpengine import SAMPLE_RATE, strength
from tests.telephony.sip.sipp import Farm
from tests.telephony.sip.test_media import AGENT_HZ, CLEAR_TONE, CUSTOMER_HZ, _streaming

MMDIAL = "http://testserver/mmdial/api/"


@pytest.fixture
def mm(
    app: FastAPI, tenant: NewTenant, settings: Settings, tmp_path: Path, monkeypatch: Any
) -> Any:
    monkeypatch.setattr(settings, "recordings_dir", tmp_path / "recordings")
    auth = (f"{tenant.admin_user}@{tenant.tenant.id}", tenant.admin_password)
    with TestClient(app, base_url=MMDIAL, raise_server_exceptions=False) as client:
        client.auth = auth
        yield client


def _dial(
    sessions: SessionMaker, backend_options: dict[str, Any], settings: Settings, campaign: int
) -> None:
    clock = RealClock()
    recorder = CallRecorder(settings.recordings_dir)
    backend = make_backend(backend_options)
    backend.set_audio_store(recorder)

    async def run() -> None:
        scenario = Scenario.model_validate({"agents": {"wrap_up": 0.1}})
        driver = SimulatedAgents(sessions, clock, scenario, seed=1)
        engine = Engine(sessions, backend, clock, tick_seconds=0.1, listener=driver)
        engine.recorder = recorder
        driver.engine = engine
        task = asyncio.create_task(engine.run([campaign]))
        async with asyncio.timeout(30):
            while not _attempt_ended(sessions, campaign) or engine.calls:
                await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())


def _attempt_ended(sessions: SessionMaker, campaign_id: int) -> bool:
    with unit_of_work(sessions) as session:
        ended = select(CallAttempt.id).where(
            CallAttempt.campaign_id == campaign_id, CallAttempt.ended_at.is_not(None)
        )
        return session.scalars(ended).first() is not None


def test_a_recorded_predictive_call_is_found_and_served_through_mmdial(
    mm: TestClient,
    sessions: SessionMaker,
    settings: Settings,
    tenant: NewTenant,
    farm: Farm,
    media_options: dict[str, Any],
    tmp_path: Path,
) -> None:
    customer = _streaming(farm, tmp_path, CUSTOMER_HZ, 2500, "customer")
    agent = _streaming(farm, tmp_path, AGENT_HZ, 30_000, "agent")
    clock = RealClock()
    setup = SimulationSetup(
        agents=1, contacts=0, dial_mode=DialMode.PREDICTIVE, calling_hours=(time(0), time(23, 59))
    )
    campaign_id = prepare_campaign(sessions, setup, clock.now(), tenant_id=tenant.tenant.id)
    list_id = add_list(mm, campaign_id)
    lead = add_lead(mm, campaign_id, list_id, phone="030 1001001", leadid_external="A")
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        campaign.record_calls, campaign.max_tries_per_number = True, 1
        campaign.ring_timeout_seconds = 5
        session.execute(
            update(User)
            .where(User.tenant_id == campaign.tenant_id)
            .values(sip_uri="sip:agent@" + agent.uri_host)
        )
        session.execute(
            update(Contact)
            .where(Contact.campaign_id == campaign_id)
            .values(next_try_at=campaign.created_at)
        )
    routes = [{"prefix": "+4930", "trunk": customer.uri_host}]
    _dial(sessions, {**media_options, "routes": routes}, settings, campaign_id)

    with unit_of_work(sessions) as session:
        [attempt] = session.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
        ).all()
        session.expunge(attempt)
    assert attempt.outcome is CallOutcome.CONNECTED
    assert attempt.connected_at is not None and attempt.ended_at is not None
    talk = (attempt.ended_at - attempt.connected_at).total_seconds()
    body = mm.get("searchvoicebyleadid", params={"leadid": lead["leadid"]}).json()
    assert body["status"] == "ok", body
    [voice] = body["voices"]
    assert (voice["agentid"], voice["available"]) == (attempt.user_id, "yes")
    assert voice["length"] == pytest.approx(talk, abs=0.2)
    audio = mm.get(voice["url"], auth=None)
    assert audio.status_code == 200 and len(audio.content) == voice["size"]
    with wave.open(io.BytesIO(audio.content)) as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (SAMPLE_RATE, 2)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert strength(frames[:, 0], CUSTOMER_HZ) > CLEAR_TONE
    assert strength(frames[:, 1], AGENT_HZ) > CLEAR_TONE
    assert customer.wait() == 0
