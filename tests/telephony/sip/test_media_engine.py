"""The whole path on real media, through the engine, SIPp and rtpengine: a lead added through
mmDial, its recorded predictive call found by ``searchvoicebyleadid`` and downloaded through the
signed link with both parties' audio in it; and answering-machine detection with the real
classifier (``opendialer.media.amd``) on spoken greetings made by espeak-ng."""

import asyncio
import io
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opendialer.db import unit_of_work
from opendialer.models import (
    CallAttempt,
    CallOutcome,
    Campaign,
    CampaignStatus,
)
from tests.telephony.sip.engine_calls import EngineCalls
from tests.telephony.sip.rtpengine import SAMPLE_RATE, Rtpengine, strength
from tests.telephony.sip.sipp import Farm, Network
from tests.telephony.sip.test_media import AGENT_HZ, CLEAR_TONE, CUSTOMER_HZ, _streaming

NORMAL_CLEARING, NETWORK_OUT_OF_ORDER = 16, 38


def test_a_recorded_predictive_call_is_found_and_served_through_mmdial(
    calls: EngineCalls,
    farm: Farm,
    media_options: dict[str, Any],
    tmp_path: Path,
) -> None:
    customer = _streaming(farm, tmp_path, CUSTOMER_HZ, 2500, "customer")
    agent = _streaming(farm, tmp_path, AGENT_HZ, 30_000, "agent")
    campaign_id = calls.campaign(agent.uri_host, record_calls=True)
    lead = calls.add_leads(campaign_id, {"A": "030 1001001"})["A"]
    routes = [{"prefix": "+4930", "trunk": customer.uri_host}]
    calls.dial(campaign_id, {**media_options, "routes": routes})

    [attempt] = calls.attempts(campaign_id)
    assert attempt.outcome is CallOutcome.CONNECTED and attempt.end_detail == "customer hung up"
    assert attempt.connected_at is not None and attempt.ended_at is not None
    talk = (attempt.ended_at - attempt.connected_at).total_seconds()
    body = calls.mm.get("searchvoicebyleadid", params={"leadid": lead["leadid"]}).json()
    assert body["status"] == "ok", body
    [voice] = body["voices"]
    assert (voice["agentid"], voice["available"]) == (attempt.user_id, "yes")
    assert voice["length"] == pytest.approx(talk, abs=0.2)
    audio = calls.mm.get(voice["url"], auth=None)
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
    calls: EngineCalls,
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
    campaign_id = calls.campaign(agent.uri_host, amd_enabled=True, machine_message_uri=str(message))
    leads = {"person": ("030 1001001", person), "machine": ("030 2002002", machine)}
    attempts = calls.dial_leads(campaign_id, media_options, leads)
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
    calls: EngineCalls,
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
    campaign_id = calls.campaign(agent.uri_host)
    calls.add_leads(campaign_id, {str(number): f"030 100100{number}" for number in range(4)})
    options = {
        **sip_options,
        "routes": [{"prefix": "+4930", "trunk": customers.uri_host}],
        "media": "rtpengine",
        "rtpengine": [relay.address],
    }

    async def kill_at_the_first_bridge() -> None:
        while not calls.has_attempt(campaign_id, CallAttempt.connected_at.is_not(None)):
            await asyncio.sleep(0.05)
        assert relay.process is not None
        relay.process.kill()

    try:
        calls.dial(campaign_id, options, 4, kill_at_the_first_bridge)
    finally:
        relay.stop()
    ends = [(a.outcome, a.cause_code, a.end_detail or "") for a in calls.attempts(campaign_id)]
    with unit_of_work(calls.sessions) as session:
        status = session.get_one(Campaign, campaign_id).status
    assert len(ends) == 4 and all(outcome is not None for outcome, _, _ in ends)
    assert (CallOutcome.CONNECTED, NORMAL_CLEARING, "customer hung up") in ends
    lost = [e for e in ends if e[0] is CallOutcome.FAILED]
    assert lost and all(c == NETWORK_OUT_OF_ORDER and "media relay" in d for _, c, d in lost)
    assert status is CampaignStatus.ENABLED  # the campaign keeps its state
