"""The whole path: addlead through mmDial, a recorded campaign on the simulated network,
the recording found with searchvoicebyleadid and downloaded; dncadd keeps a lead undialled."""

import io
import wave
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from opendialer.accounts.service import NewTenant
from opendialer.clock import VirtualClock
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.pacing.select import policy_for
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.models import CallAttempt, CallOutcome, Campaign, Contact, DialMode, Recording
from opendialer.recordings.service import SAMPLE_RATE, CallRecorder
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Customers, Scenario
from tests.dialects.mmdial.helpers import add_lead, add_list

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Berlin 16:00
ALWAYS_ANSWERS = Scenario(customers=Customers(p_live=1.0, p_machine=0.0))


def _run(sessions: SessionMaker, settings: Settings, campaign_id: int, minutes: int) -> None:
    clock = VirtualClock(START)
    recorder = CallRecorder(settings.recordings_dir)
    driver = SimulatedAgents(sessions, clock, ALWAYS_ANSWERS, seed=5)
    network = SimNetwork(clock, ALWAYS_ANSWERS, seed=5, recording_hook=recorder)
    engine = Engine(
        sessions, network, clock, policy_factory=policy_for, listener=driver, recorder=recorder
    )
    driver.engine = engine
    clock.run(engine.run([campaign_id], until=START + timedelta(minutes=minutes)))


def test_addlead_record_search_download_and_dnc(
    mm: TestClient, sessions: SessionMaker, settings: Settings, tenant: NewTenant
) -> None:
    setup = SimulationSetup(agents=1, contacts=0, dial_mode=DialMode.PROGRESSIVE)
    campaign_id = prepare_campaign(sessions, setup, START, tenant_id=tenant.tenant.id)
    with unit_of_work(sessions) as session:
        session.get_one(Campaign, campaign_id).record_calls = True
    list_id = add_list(mm, campaign_id)
    called = add_lead(mm, campaign_id, list_id, phone="030 1234567", leadid_external="A")
    blocked = add_lead(mm, campaign_id, list_id, phone="089 7654321", leadid_external="B")
    assert mm.get("dncadd", params={"number": "+49 89 7654321"}).json()["status"] == "ok"
    with unit_of_work(sessions) as session:
        session.execute(
            update(Contact)
            .where(Contact.campaign_id == campaign_id)
            .values(next_try_at=START - timedelta(minutes=1))
        )

    _run(sessions, settings, campaign_id, minutes=20)

    with unit_of_work(sessions) as session:
        attempts = session.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
        ).all()
        recordings = session.scalars(select(Recording)).all()
    assert attempts, "the engine dialled nothing"
    assert {a.b_number for a in attempts} == {"+49301234567"}  # never the DNC number
    assert {a.contact_id for a in attempts} == {called["leadid"]}
    connected = [a for a in attempts if a.outcome is CallOutcome.CONNECTED]
    assert len(connected) == 1 and len(recordings) == 1
    attempt, recording = connected[0], recordings[0]
    assert (recording.call_attempt_id, recording.contact_id) == (attempt.id, called["leadid"])
    assert recording.user_id == attempt.user_id is not None
    assert attempt.connected_at is not None and attempt.ended_at is not None
    talk = (attempt.ended_at - attempt.connected_at).total_seconds()

    body = mm.get("searchvoicebyleadid", params={"leadid": called["leadid"]}).json()
    assert body["status"] == "ok"
    [voice] = body["voices"]
    assert (voice["recid"], voice["agentid"], voice["available"]) == (
        recording.id,
        attempt.user_id,
        "yes",
    )
    assert voice["voiceid"] == recording.voice_id
    assert abs(voice["length"] - talk) < 0.01
    audio = mm.get(voice["url"], auth=None)
    assert audio.status_code == 200
    assert len(audio.content) == voice["size"]
    with wave.open(io.BytesIO(audio.content)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        assert abs(wav.getnframes() / SAMPLE_RATE - talk) < 0.01
    nothing = mm.get("searchvoicebyleadid", params={"leadid": blocked["leadid"]}).json()
    assert nothing == {"status": "ok", "voices": []}
