"""The whole path on real media, through the engine, SIPp and rtpengine: a lead added through
mmDial, its recorded predictive call found by ``searchvoicebyleadid`` and downloaded through the
signed link with both parties' audio in it; and answering-machine detection with the real
classifier (``opendialer.media.amd``) on spoken greetings made by espeak-ng."""

import asyncio
import io
import subprocess
import wave
from collections.abc import Callable, Coroutine
from datetime import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from opendialer.accounts.service import NewTenant
from opendialer.clock import RealClock
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.models import (
    CallAttempt,
    CallOutcome,
    Campaign,
    CampaignStatus,
    Contact,
    DialMode,
    User,
)
from opendialer.recordings.service import CallRecorder
from opendialer.telephony.sim_scenario import Scenario
from tests.dialects.mmdial.helpers import add_lead, add_list
from tests.telephony.sip.helpers import make_backend
from tests.telephony.sip.rtpengine import SAMPLE_RATE, Rtpengine, strength
from tests.telephony.sip.sipp import Farm, Network, Sipp
from tests.telephony.sip.test_media import AGENT_HZ, CLEAR_TONE, CUSTOMER_HZ, _streaming

NORMAL_CLEARING, NETWORK_OUT_OF_ORDER = 16, 38


def _dial(
    sessions: SessionMaker,
    backend_options: dict[str, Any],
    settings: Settings,
    campaign: int,
    attempts: int = 1,
    meanwhile: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Run the engine on ``campaign`` until ``attempts`` attempts have ended (and
    ``meanwhile`` alongside); the engine must still be running then."""
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
        side = asyncio.create_task(meanwhile()) if meanwhile is not None else None
        async with asyncio.timeout(30 * attempts):
            while _attempts_ended(sessions, campaign) < attempts or engine.calls:
                await asyncio.sleep(0.1)
        assert not task.done(), "the engine stopped"
        task.cancel()
        if side is not None:
            await side
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())


def _attempts_ended(sessions: SessionMaker, campaign_id: int) -> int:
    with unit_of_work(sessions) as session:
        ended = select(func.count(CallAttempt.id)).where(
            CallAttempt.campaign_id == campaign_id, CallAttempt.ended_at.is_not(None)
        )
        return session.scalar(ended) or 0


def _campaign(sessions: SessionMaker, tenant: NewTenant, agent_host: str, **settings: Any) -> int:
    """A predictive campaign with one agent whose phone is ``agent_host``; one try per number."""
    setup = SimulationSetup(
        agents=1, contacts=0, dial_mode=DialMode.PREDICTIVE, calling_hours=(time(0), time(23, 59))
    )
    campaign_id = prepare_campaign(sessions, setup, RealClock().now(), tenant_id=tenant.tenant.id)
    with unit_of_work(sessions) as session:
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


def dial_leads(
    mm: TestClient,
    sessions: SessionMaker,
    settings: Settings,
    campaign_id: int,
    options: dict[str, Any],
    leads: dict[str, tuple[str, Sipp]],
) -> list[CallAttempt]:
    """Add ``leads`` (external id: German phone number and the SIPp peer its calls reach)
    through mmDial, dial each once through the engine, and return their attempts."""
    list_id = add_list(mm, campaign_id)
    routes = []
    for external, (phone, peer) in leads.items():
        add_lead(mm, campaign_id, list_id, phone=phone, leadid_external=external)
        digits = phone.replace(" ", "")
        routes.append({"prefix": f"+49{digits[1:7]}", "trunk": peer.uri_host})
    _due_now(sessions, campaign_id)
    _dial(sessions, {**options, "routes": routes}, settings, campaign_id, attempts=len(leads))
    with unit_of_work(sessions) as session:
        attempts = session.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
        ).all()
        for attempt in attempts:
            session.expunge(attempt)
    return list(attempts)


def _due_now(sessions: SessionMaker, campaign_id: int) -> None:
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        session.execute(
            update(Contact)
            .where(Contact.campaign_id == campaign_id)
            .values(next_try_at=campaign.created_at)
        )


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
    campaign_id = _campaign(sessions, tenant, agent.uri_host, record_calls=True)
    list_id = add_list(mm, campaign_id)
    lead = add_lead(mm, campaign_id, list_id, phone="030 1001001", leadid_external="A")
    _due_now(sessions, campaign_id)
    routes = [{"prefix": "+4930", "trunk": customer.uri_host}]
    _dial(sessions, {**media_options, "routes": routes}, settings, campaign_id)

    with unit_of_work(sessions) as session:
        [attempt] = session.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
        ).all()
        session.expunge(attempt)
    assert attempt.outcome is CallOutcome.CONNECTED and attempt.end_detail == "customer hung up"
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


def _spoken(path: Path, text: str, beep: bool = False) -> float:
    """espeak-ng's voice (then a 1 kHz beep, if asked) on an 8 kHz u-law line for SIPp, 0.3 s
    of quiet before it and 15 s after; the length of the sound in seconds."""
    spoken = path.with_suffix(".wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(spoken), text], check=True)
    parts = [str(spoken)]
    if beep:
        with wave.open(str(spoken)) as voice:
            rate = voice.getframerate()
        tone = path.with_name("beep.wav")
        subprocess.run(
            [
                "sox",
                "-n",
                "-r",
                str(rate),
                "-c",
                "1",
                "-b",
                "16",
                str(tone),
                "synth",
                "0.5",
                "sine",
                "1000",
                "vol",
                "0.5",
            ],
            check=True,
        )
        parts.append(str(tone))
    args = ["sox", *parts, "-r", "8000", "-c", "1", "-t", "ul", str(path)]
    subprocess.run([*args, "pad", "0.3", "15"], check=True)
    return path.stat().st_size / 8000 - 15.3


def _greeting(farm: Farm, audio: Path, talk_ms: int) -> Any:
    """A SIPp customer that answers and streams ``audio`` (looped)."""
    extra = {"MEDIA_PORT": "[rtpstream_audio_port]", "STREAM": f'<exec rtp_stream="{audio},-1,0"/>'}
    return farm.peer("answer_audio", 1, talk_ms=talk_ms, role="customer", extra=extra)


def test_the_engine_bridges_a_person_and_leaves_a_machine_its_message_after_the_beep(
    mm: TestClient,
    sessions: SessionMaker,
    settings: Settings,
    tenant: NewTenant,
    farm: Farm,
    media_options: dict[str, Any],
    tmp_path: Path,
) -> None:
    _spoken(tmp_path / "person.ul", "Hello?")
    person = _greeting(farm, tmp_path / "person.ul", 4000)
    machine_words = (
        "Hi, you have reached the voicemail of John Smith. I cannot take your call right now. "
        "Please leave your name and number after the tone and I will call you back."
    )
    greeting_seconds = _spoken(tmp_path / "machine.ul", machine_words, beep=True)
    machine = _greeting(farm, tmp_path / "machine.ul", 40_000)
    message = tmp_path / "message.wav"
    message_seconds = 2.0
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(message),
            "synth",
            str(message_seconds),
            "sine",
            "800",
        ],
        check=True,
    )
    agent = farm.peer("answer", 1, talk_ms=30_000, role="agent")
    campaign_id = _campaign(
        sessions, tenant, agent.uri_host, amd_enabled=True, machine_message_uri=str(message)
    )
    leads = {"person": ("030 1001001", person), "machine": ("030 2002002", machine)}
    attempts = dial_leads(mm, sessions, settings, campaign_id, media_options, leads)
    outcomes = {a.b_number: (a.outcome, a.answered_by_machine) for a in attempts}
    [machine_call] = [a for a in attempts if a.b_number == "+49302002002"]
    assert outcomes == {
        "+49301001001": (CallOutcome.CONNECTED, None),
        "+49302002002": (CallOutcome.MACHINE, True),
    }
    assert machine_call.answered_at is not None and machine_call.ended_at is not None
    on_the_line = (machine_call.ended_at - machine_call.answered_at).total_seconds()
    assert on_the_line >= greeting_seconds + message_seconds
    assert person.wait() == 0 and machine.wait() == 0


def test_rtpengine_killed_mid_campaign_every_attempt_ends_once_and_the_engine_runs_on(
    mm: TestClient,
    sessions: SessionMaker,
    settings: Settings,
    tenant: NewTenant,
    farm: Farm,
    sip_options: dict[str, Any],
    sip_network: Network,
    tmp_path: Path,
) -> None:
    relay = Rtpengine(sip_network, tmp_path / "spool", ng_port=2243, media_ports=(43000, 43999))
    relay.start()
    # customers without rtp_stream: SIPp's stream would abort on the port-0 answer that
    # declines the media of a call that failed after the kill
    customers = farm.peer("answer", 4, talk_ms=3000, role="customer")
    agent = farm.peer("answer", None, talk_ms=30_000, role="agent")
    campaign_id = _campaign(sessions, tenant, agent.uri_host)
    list_id = add_list(mm, campaign_id)
    for number in range(4):
        add_lead(mm, campaign_id, list_id, phone=f"030 100100{number}", leadid_external=str(number))
    _due_now(sessions, campaign_id)
    options = {
        **sip_options,
        "routes": [{"prefix": "+4930", "trunk": customers.uri_host}],
        "media": "rtpengine",
        "rtpengine": [relay.address],
    }

    async def kill_at_the_first_bridge() -> None:
        while not _connected(sessions, campaign_id):
            await asyncio.sleep(0.05)
        assert relay.process is not None
        relay.process.kill()

    try:
        _dial(sessions, options, settings, campaign_id, 4, kill_at_the_first_bridge)
    finally:
        relay.stop()
    with unit_of_work(sessions) as session:
        attempts = session.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
        ).all()
        ends = [(a.outcome, a.cause_code, a.end_detail or "") for a in attempts]
        status = session.get_one(Campaign, campaign_id).status
    assert len(ends) == 4 and all(outcome is not None for outcome, _, _ in ends)
    assert (CallOutcome.CONNECTED, NORMAL_CLEARING, "customer hung up") in ends
    lost = [e for e in ends if e[0] is CallOutcome.FAILED]
    assert lost and all(c == NETWORK_OUT_OF_ORDER and "media relay" in d for _, c, d in lost)
    assert status is CampaignStatus.ENABLED  # the campaign keeps its state


def _connected(sessions: SessionMaker, campaign_id: int) -> bool:
    with unit_of_work(sessions) as session:
        bridged = select(CallAttempt.id).where(
            CallAttempt.campaign_id == campaign_id, CallAttempt.connected_at.is_not(None)
        )
        return session.scalars(bridged).first() is not None
