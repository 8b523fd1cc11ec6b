"""Listening to answered customers through rtpengine: AMD verdicts and call-progress tones.

The classifier here is a trivial stand-in defined by the test (the real one is
``opendialer.media.amd``): a sound that lasts 2.5 s is a machine's greeting, a short sound
followed by silence a person's hello.
"""

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opendialer.telephony import AgentEndpoint, CallEvent, CallEventKind, CallId
from tests.telephony.sip.helpers import Recorder, make_backend, request
from tests.telephony.sip.rtpengine import sox_file
from tests.telephony.sip.sipp import Farm, Sipp
from tests.telephony.sip.test_media import _route

UNALLOCATED_NUMBER, INCOMPATIBLE_DESTINATION = 1, 88
LOUD = 1e6  # frame energy of a spoken (toned) frame; silence is far below


@dataclass(frozen=True)
class Verdict:
    verdict: str
    decided_after_ms: float
    speech_ended_ms: float | None = None


class SoundLength:
    """The stand-in: 125 loud frames in a row are a machine; 10 loud then 40 quiet a person."""

    def __init__(self) -> None:
        self.frames = self.loud = self.quiet = 0

    def feed(self, frame: bytes) -> Verdict | None:
        self.frames += 1
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        if float(samples @ samples) > LOUD:
            self.loud, self.quiet = self.loud + 1, 0
        elif self.loud:
            self.quiet += 1
        if self.loud >= 125 and self.quiet == 0:
            return Verdict("machine", self.frames * 20)
        if self.loud >= 10 and self.quiet >= 40:
            return Verdict("person", self.frames * 20, (self.frames - self.quiet) * 20)
        return None

    def finish(self) -> Verdict:
        return Verdict("unknown", self.frames * 20)


def _customer(farm: Farm, audio: Path, talk_ms: int = 10_000) -> Any:
    extra = {"MEDIA_PORT": "[rtpstream_audio_port]", "STREAM": f'<exec rtp_stream="{audio},-1,0"/>'}
    return farm.peer("answer_audio", 1, talk_ms=talk_ms, role="customer", extra=extra)


def _call(options: dict[str, Any], agent_uri: str | None, amd: bool = True) -> Recorder:
    async def scenario() -> Recorder:
        backend = make_backend(options)
        backend.set_classifier_factory(SoundLength)
        await backend.start()
        recorder = Recorder(backend)
        call = await backend.originate(request("+49301001", amd=amd))
        if agent_uri is not None:
            recorder.bridge_to[call] = AgentEndpoint("7", agent_uri)
        verdict = await _first_verdict(recorder, call)
        if verdict.kind is CallEventKind.ANSWERED_MACHINE:
            await backend.hangup(call)
        await recorder.wait_for(call)
        await backend.stop()
        await recorder.task
        return recorder

    return asyncio.run(scenario())


async def _first_verdict(recorder: Recorder, call: CallId) -> CallEvent:
    """The call's person/machine event, or its final event if it ended without one."""
    verdicts = {CallEventKind.ANSWERED_HUMAN, CallEventKind.ANSWERED_MACHINE}
    async with asyncio.timeout(10):
        while True:
            for event in recorder.events[call]:
                if event.kind in verdicts or event.final:
                    return event
            await asyncio.sleep(0.02)


def test_a_short_hello_is_a_person_and_is_bridged(
    farm: Farm, media_options: dict[str, Any], tmp_path: Path
) -> None:
    hello = sox_file(tmp_path / "hello.ul", ["synth", "0.6", "sine", "500", "pad", "0", "4.4"])
    customer = _customer(farm, hello, talk_ms=3000)
    agent = farm.peer("answer", 1, talk_ms=20_000, role="agent")
    options = _route(media_options, "+4930100", customer.uri_host)
    recorder = _call(options, f"sip:agent7@{agent.uri_host}")
    [call] = recorder.events
    kinds = recorder.kinds(call)
    assert kinds == [
        CallEventKind.RINGING,
        CallEventKind.ANSWERED,
        CallEventKind.ANSWERED_HUMAN,
        CallEventKind.BRIDGED,
        CallEventKind.HANGUP_CUSTOMER,
    ]
    human = recorder.events[call][2]
    assert human.detail.startswith("amd: person after")
    assert customer.wait() == 0 and agent.wait() == 0


def _unbridged(farm: Farm, media_options: dict[str, Any], audio: Path) -> tuple[Recorder, CallId]:
    """One call to a customer playing ``audio``, with no agent to join."""
    customer = _customer(farm, audio)
    recorder = _call(_route(media_options, "+4930100", customer.uri_host), None)
    [call] = recorder.events
    assert customer.wait() == 0
    return recorder, call


def test_a_long_greeting_is_a_machine(
    farm: Farm, media_options: dict[str, Any], tmp_path: Path
) -> None:
    greeting = sox_file(tmp_path / "greeting.ul", ["synth", "8", "sine", "500"])
    recorder, call = _unbridged(farm, media_options, greeting)
    assert recorder.kinds(call)[-2:] == [
        CallEventKind.ANSWERED_MACHINE,
        CallEventKind.HANGUP_DIALER,
    ]
    machine = recorder.events[call][-2]
    assert machine.detail.startswith("amd: machine after")
    assert 2500 <= float(machine.detail.split()[3]) < 4000


def _sit(path: Path, then_quiet: float = 4.0) -> Path:
    """The three segments of a special-information tone (ITU-T E.180), then quiet."""
    return sox_file(
        path,
        ["synth", "0.274", "sine", "913.8"],
        ["synth", "0.274", "sine", "1370.6"],
        ["synth", "0.380", "sine", "1776.7", "pad", "0", str(then_quiet)],
    )


@pytest.mark.parametrize("amd", [True, False])
def test_a_special_information_tone_after_the_answer_marks_the_number_invalid(
    farm: Farm, media_options: dict[str, Any], tmp_path: Path, amd: bool
) -> None:
    customer = _customer(farm, _sit(tmp_path / "sit.ul"))
    recorder = _call(_route(media_options, "+4930100", customer.uri_host), None, amd=amd)
    [call] = recorder.events
    assert customer.wait() == 0
    final = recorder.events[call][-1]
    assert final.kind is CallEventKind.INVALID_NUMBER and final.q850_cause == UNALLOCATED_NUMBER
    assert "special information tone" in final.detail and "after the answer" in final.detail
    # with AMD the call waited for a verdict; without, it was a person at once (tones still heard)
    assert (CallEventKind.ANSWERED_HUMAN in recorder.kinds(call)) is not amd


def test_a_fax_answer_tone_marks_the_number_invalid_not_a_machine(
    farm: Farm, media_options: dict[str, Any], tmp_path: Path
) -> None:
    ced = sox_file(tmp_path / "ced.ul", ["synth", "3", "sine", "2100"])
    recorder, call = _unbridged(farm, media_options, ced)
    final = recorder.events[call][-1]
    assert final.kind is CallEventKind.INVALID_NUMBER
    assert final.q850_cause == INCOMPATIBLE_DESTINATION and "a fax, not a person" in final.detail
    assert not {CallEventKind.ANSWERED_HUMAN, CallEventKind.ANSWERED_MACHINE} & set(
        recorder.kinds(call)
    )


def _network(farm: Farm, audio: Path, hold_ms: int, code: int = 480) -> Sipp:
    """A SIPp network answering 183 with SDP and ``audio`` as early media, then ``code``
    after ``hold_ms`` unless CANCELled first."""
    extra = {"AUDIO": str(audio), "HOLD_MS": str(hold_ms)}
    reason = "Temporarily Unavailable"
    return farm.peer("early_media", 1, role="network", code=code, reason=reason, extra=extra)


def _dial_unanswered(options: dict[str, Any], amd: bool) -> Recorder:
    async def scenario() -> Recorder:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        call = await backend.originate(request("+49301001", ring_timeout=8.0, amd=amd))
        await recorder.wait_for(call, timeout=15.0)
        await backend.stop()
        await recorder.task
        return recorder

    return asyncio.run(scenario())


@pytest.mark.parametrize("amd", [True, False])
def test_a_special_information_tone_in_early_media_marks_the_number_invalid(
    farm: Farm, media_options: dict[str, Any], tmp_path: Path, amd: bool
) -> None:
    network = _network(farm, _sit(tmp_path / "sit.ul"), hold_ms=4000)
    recorder = _dial_unanswered(_route(media_options, "+4930100", network.uri_host), amd)
    [call] = recorder.events
    final = recorder.events[call][-1]
    assert final.kind is CallEventKind.INVALID_NUMBER and final.q850_cause == UNALLOCATED_NUMBER
    assert "special information tone in early media" in final.detail
    assert CallEventKind.ANSWERED not in recorder.kinds(call)
    assert network.wait() == 0
    assert network.received("CANCEL") and 487 in network.sent_status()  # not its 480


def test_a_fax_calling_tone_in_early_media_marks_the_number_invalid(
    farm: Farm, media_options: dict[str, Any], tmp_path: Path
) -> None:
    cng = sox_file(tmp_path / "cng.ul", ["synth", "0.5", "sine", "1100", "pad", "0", "3"])
    network = _network(farm, cng, hold_ms=60_000)  # rings on: no answer, no failure
    recorder = _dial_unanswered(_route(media_options, "+4930100", network.uri_host), False)
    [call] = recorder.events
    final = recorder.events[call][-1]
    assert final.kind is CallEventKind.INVALID_NUMBER
    assert final.q850_cause == INCOMPATIBLE_DESTINATION
    assert "fax in early media" in final.detail
    assert network.wait() == 0


def test_a_message_for_a_machine_is_played_after_its_beep(
    farm: Farm, media_options: dict[str, Any], tmp_path: Path
) -> None:
    greeting = sox_file(
        tmp_path / "greeting.ul",
        ["synth", "3", "whitenoise", "vol", "0.5"],
        ["synth", "0.5", "sine", "1000", "vol", "0.5", "pad", "0", "10"],
    )
    message_seconds = 1.0
    message = sox_file(tmp_path / "message.wav", ["synth", str(message_seconds), "sine", "800"])
    customer = _customer(farm, greeting)
    options = _route(media_options, "+4930100", customer.uri_host)

    async def scenario() -> Recorder:
        backend = make_backend(options)
        backend.set_classifier_factory(SoundLength)
        await backend.start()
        recorder = Recorder(backend)
        call = await backend.originate(request("+49301001", amd=True))
        await recorder.wait_for(call, CallEventKind.ANSWERED_MACHINE)
        await backend.play_and_hangup(call, str(message))
        await recorder.wait_for(call)
        await backend.stop()
        await recorder.task
        return recorder

    recorder = asyncio.run(scenario())
    [call] = recorder.events
    final = recorder.events[call][-1]
    assert final.kind is CallEventKind.HANGUP_DIALER
    assert final.detail.startswith(f"played {message} (after the greeting: beep ended")
    machine_to_end = recorder.seconds_between(call, CallEventKind.ANSWERED_MACHINE, final.kind)
    assert machine_to_end >= 0.5 + message_seconds  # the greeting's rest, its beep, the message
    assert customer.wait() == 0
