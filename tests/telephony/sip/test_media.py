"""Calls with media anchored in a real rtpengine: recordings and announcements, by signal."""

import asyncio
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opendialer.recordings.service import CallRecorder
from opendialer.telephony import AgentEndpoint, CallEvent, CallEventKind, CallId, TelephonyError
from opendialer.telephony.sip import SipOptionsError, load_options
from tests.telephony.sip.helpers import Recorder, make_backend, request
from tests.telephony.sip.rtp_sink import audio, received, start_sink
from tests.telephony.sip.rtpengine import SAMPLE_RATE, strength, tone_file
from tests.telephony.sip.sipp import Farm, Network

CUSTOMER_HZ, AGENT_HZ, MESSAGE_HZ = 500, 1300, 800
LENGTH_TOLERANCE = 0.2
CLEAR_TONE = 0.5  # at least half of a channel's energy at its party's frequency


def _route(options: dict[str, Any], prefix: str, host: str) -> dict[str, Any]:
    return {**options, "routes": [*options.get("routes", []), {"prefix": prefix, "trunk": host}]}


def _streaming(farm: Farm, tmp_path: Path, hz: int, talk_ms: int, role: str) -> Any:
    """A SIPp peer that answers and streams a tone of ``hz`` as RTP once the call is up."""
    tone = tone_file(tmp_path / f"{role}.ul", hz, 30)
    stream = f'<exec rtp_stream="{tone},-1,0"/>'
    extra = {"MEDIA_PORT": "[rtpstream_audio_port]", "STREAM": stream}
    return farm.peer("answer_audio", 1, talk_ms=talk_ms, role=role, extra=extra)


def recorded_call(
    options: dict[str, Any], store: CallRecorder, agent_uri: str
) -> tuple[Recorder, CallId, CallEvent]:
    """One recorded call to the routed customer, bridged to ``agent_uri`` when answered."""

    async def scenario() -> tuple[Recorder, CallId, CallEvent]:
        backend = make_backend(options)
        backend.set_audio_store(store)
        await backend.start()
        recorder = Recorder(backend)
        call = await backend.originate(request("+49301001", record=True))
        recorder.bridge_to[call] = AgentEndpoint("7", agent_uri)
        final = await recorder.wait_for(call)
        await backend.stop()
        await recorder.task
        return recorder, call, final

    return asyncio.run(scenario())


def _stereo(path: Path) -> tuple[np.ndarray, float]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, SAMPLE_RATE)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return frames.reshape(-1, 2), wav.getnframes() / SAMPLE_RATE


def test_a_recorded_call_holds_both_parties_for_the_talk_time(
    farm: Farm, media_options: dict[str, Any], tmp_path: Path
) -> None:
    customer = _streaming(farm, tmp_path, CUSTOMER_HZ, 2500, "customer")
    agent = _streaming(farm, tmp_path, AGENT_HZ, 20_000, "agent")
    options = _route(media_options, "+4930100", customer.uri_host)
    store = CallRecorder(tmp_path / "recordings")
    recorder, call, final = recorded_call(options, store, f"sip:agent7@{agent.uri_host}")
    assert final.kind is CallEventKind.HANGUP_CUSTOMER, final
    talk = recorder.seconds_between(call, CallEventKind.BRIDGED, final.kind)
    recorded = store.take(call)
    assert recorded is not None
    frames, seconds = _stereo(store.directory / recorded.path)
    assert seconds == pytest.approx(talk, abs=LENGTH_TOLERANCE)
    assert recorded.seconds == pytest.approx(seconds)
    assert recorded.size == (store.directory / recorded.path).stat().st_size
    assert strength(frames[:, 0], CUSTOMER_HZ) > CLEAR_TONE
    assert strength(frames[:, 1], AGENT_HZ) > CLEAR_TONE
    assert strength(frames[:, 0], AGENT_HZ) < 0.05 and strength(frames[:, 1], CUSTOMER_HZ) < 0.05


def test_an_abandoned_customer_hears_the_message_within_two_seconds(
    farm: Farm, media_options: dict[str, Any], sip_network: Network, tmp_path: Path
) -> None:
    message_seconds = 1.5
    message = tone_file(tmp_path / "message.wav", MESSAGE_HZ, message_seconds)
    sink_port = farm.free_port()
    extra = {"MEDIA_PORT": str(sink_port), "STREAM": ""}
    customer = farm.peer("answer_audio", 1, talk_ms=20_000, role="customer", extra=extra)
    sink = start_sink(sip_network, sink_port, tmp_path / "heard.txt", 6.0)
    options = _route(media_options, "+4930100", customer.uri_host)

    async def scenario() -> tuple[float, Any]:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        call = await backend.originate(request("+49301001"))
        answered = await recorder.wait_for(call, CallEventKind.ANSWERED)
        await backend.play_and_hangup(call, str(message))
        final = await recorder.wait_for(call)
        await backend.stop()
        await recorder.task
        return answered.at.timestamp(), final

    answered_at, final = asyncio.run(scenario())
    assert final.kind is CallEventKind.HANGUP_DIALER and final.detail.startswith("played")
    sink.wait(10)
    packets = received(tmp_path / "heard.txt")
    assert packets, "the customer received no audio"
    assert packets[0][0] - answered_at < 2.0
    heard = audio(packets)
    assert len(heard) / SAMPLE_RATE >= message_seconds
    assert strength(heard, MESSAGE_HZ) > CLEAR_TONE
    assert customer.wait() == 0


def test_rtpengine_unreachable_at_start_up_is_refused(sip_options: dict[str, Any]) -> None:
    options = {**sip_options, "media": "rtpengine", "rtpengine": ["127.0.0.1:2999"]}

    async def scenario() -> None:
        await make_backend(options).start()

    with pytest.raises(TelephonyError, match=r"rtpengine unreachable at start-up: .*2999"):
        asyncio.run(scenario())


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"media": "rtpengine"}, "needs at least one address"),
        ({"rtpengine": ["127.0.0.1:2223"]}, "need media: rtpengine"),
        ({"media": "rtpengine", "rtpengine": ["not a host"]}, "is not host"),
        ({"media": "loud"}, "media"),
    ],
)
def test_media_options_are_checked(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(SipOptionsError, match=problem):
        load_options({"trunk": "127.0.0.1", **options})
