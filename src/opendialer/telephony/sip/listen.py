"""Listening to a customer before an agent is joined: call-progress tones and AMD.

With media through rtpengine every call's customer is invited with rtpengine's offer, whose
other party is a UDP socket of ours (the *tap*), so whatever the customer's side sends arrives
here as RTP: early media after a 183 with SDP, then the answered party's voice. It is cut into
20 ms frames of 16-bit PCM and fed, on the asyncio loop, to the tone detector (SIT, fax) from the
first packet on, and from the answer on to the answering-machine classifier when the campaign
asks for AMD. Without AMD the tap only listens for tones until the agent joins (rtpengine is
re-offered and the agent replaces the tap) or ``max_seconds`` after the answer.
"""

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from opendialer.telephony.sip.recording import decode_g711
from opendialer.telephony.sip.tones import FRAME_SAMPLES, Tone, ToneDetector

_RTP_HEADER = 12
_GREETING_MAX_SECONDS = 30.0
_FRAME_BYTES = 2 * FRAME_SAMPLES
_TAP_SDP = (
    "v=0\r\no=opendialer 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=sendrecv\r\n"
)


def tap_sdp(address: tuple[str, int]) -> str:
    """The answer that makes the tap rtpengine's second party (G.711, which we decode)."""
    return _TAP_SDP.format(ip=address[0], port=address[1])


class ClassifierResult(Protocol):
    """What ``opendialer.media.amd.AmdResult`` carries."""

    @property
    def verdict(self) -> str: ...
    @property
    def decided_after_ms(self) -> float: ...
    @property
    def speech_ended_ms(self) -> float | None:
        """When the last word before the verdict ended (None: nobody spoke)."""
        ...


class Classifier(Protocol):
    """``opendialer.media.amd.AmdDetector``: 20 ms frames of 16-bit mono PCM at 8 kHz."""

    def feed(self, frame: bytes) -> ClassifierResult | None: ...
    def finish(self) -> ClassifierResult: ...


ClassifierFactory = Callable[[], Classifier]


class BeepLike(Protocol):
    """What ``opendialer.media.amd.Beep`` carries: when the tone ended."""

    @property
    def end_ms(self) -> int: ...


class BeepFinder(Protocol):
    """``opendialer.media.amd.BeepDetector``: a steady tone, reported when it ends."""

    def feed(self, frame: bytes) -> BeepLike | None: ...


BeepFinderFactory = Callable[[], BeepFinder]
_QUIET_FRAMES = 75  # 1.5 s of quiet: a machine without a beep has finished its greeting
_QUIET_BELOW_LOUDEST = 1e-3  # -30 dB under the loudest frame of the greeting
_QUIET_FLOOR = 1e3


class GreetingEnd:
    """After a machine verdict: the greeting is over at its beep, or after 1.5 s of quiet."""

    def __init__(self, beeps: BeepFinder | None) -> None:
        self.beeps = beeps
        self.frames = self.quiet = 0
        self.loudest = 0.0

    def feed(self, frame: bytes) -> str | None:
        self.frames += 1
        beep = self.beeps.feed(frame) if self.beeps is not None else None
        if beep is not None:
            return f"beep ended {self.frames * 20} ms after the verdict"
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        energy = float(samples @ samples)
        self.loudest = max(self.loudest, energy)
        quiet = energy < max(_QUIET_FLOOR, self.loudest * _QUIET_BELOW_LOUDEST)
        self.quiet = self.quiet + 1 if quiet else 0
        if self.quiet >= _QUIET_FRAMES:
            return f"quiet for 1.5 s, {self.frames * 20} ms after the verdict"
        return None


@dataclass(frozen=True, slots=True)
class Heard:
    """A listening's outcome: ``person``, ``machine``, ``unknown``, ``sit`` or ``fax``."""

    what: str
    after_ms: float
    detail: str
    greeting_ended_ms: float | None = None
    """AMD: when the answered party's greeting ended, in ms after the answer (the safe-harbor
    clock starts there); 0 when nobody spoke."""


class Listening:
    """One call's tap: reads its RTP on the loop from the dial until a verdict, or until
    ``max_seconds`` after the answer.

    ``verdict_due``: the call waits for a person or machine verdict (AMD), so one is reported
    at the latest when the time is up; otherwise only tones are ever reported.
    """

    def __init__(
        self,
        sock: socket.socket,
        classifier: Classifier | None,
        max_seconds: float,
        on_heard: Callable[[Heard], None],
        beeps: BeepFinderFactory | None = None,
        *,
        verdict_due: bool = True,
    ) -> None:
        self.sock, self.classifier, self.on_heard = sock, classifier, on_heard
        self.beeps, self.max_seconds, self.verdict_due = beeps, max_seconds, verdict_due
        self.greeting: GreetingEnd | None = None
        self.greeting_over: Callable[[str], None] | None = None
        self.tones = ToneDetector()
        self._pcm = bytearray()
        self._frames = 0
        self._answered_frame: int | None = None  # frames heard before the answer: early media
        self._loop = asyncio.get_running_loop()
        self.sock.setblocking(False)
        self._loop.add_reader(self.sock.fileno(), self._readable)
        self._deadline: asyncio.TimerHandle | None = None
        self.answered_at: datetime | None = None
        self.closed = False

    def answered(self, at: datetime) -> None:
        """The customer answered (at ``at``, the ANSWERED event's time): the classifier hears
        from here on; the time starts."""
        if self.closed or self._answered_frame is not None:
            return
        self._answered_frame, self.answered_at = self._frames, at
        self._deadline = self._loop.call_later(self.max_seconds, self._time_up)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._deadline is not None:
            self._deadline.cancel()
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _readable(self) -> None:
        while not self.closed:
            try:
                packet = self.sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._time_up()
                return
            if len(packet) > _RTP_HEADER:
                pcm = decode_g711(packet[1] & 0x7F, packet[_RTP_HEADER:])
                if pcm is not None:
                    self._pcm += pcm
                    self._frames_ready()

    def _frames_ready(self) -> None:
        while len(self._pcm) >= _FRAME_BYTES and not self.closed:
            frame = bytes(self._pcm[:_FRAME_BYTES])
            del self._pcm[:_FRAME_BYTES]
            self._frames += 1
            self._feed(frame)

    def _feed(self, frame: bytes) -> None:
        if self.greeting is not None:
            self._after_verdict(frame)
            return
        tone = self.tones.feed(frame)
        if tone is not None:
            self._heard(self._tone_heard(tone))
            return
        if self.classifier is None or self._answered_frame is None:
            return
        result = self.classifier.feed(frame)
        if result is not None:
            self._heard(_from_classifier(result))

    def _tone_heard(self, tone: Tone) -> Heard:
        what = "sit" if tone is Tone.SIT else "fax"
        if self._answered_frame is None:
            return Heard(what, 0.0, f"{tone} in early media ({self._frames * 20} ms of it)")
        after_ms = (self._frames - self._answered_frame) * 20.0
        return Heard(what, after_ms, f"{tone} {after_ms:.0f} ms after the answer")

    def _after_verdict(self, frame: bytes) -> None:
        assert self.greeting is not None
        ended = self.greeting.feed(frame)
        if ended is not None:
            self._greeting_ended(ended)

    def _greeting_ended(self, why: str) -> None:
        self.close()
        if self.greeting_over is not None:
            self.greeting_over(why)

    def _time_up(self) -> None:
        if self.closed:
            return
        if self.greeting is not None:
            self._greeting_ended("the greeting did not end in time")
            return
        if not self.verdict_due:
            self.close()  # no tone before the time was up: nothing to tell
            return
        if self.classifier is None:
            heard_ms = (self._frames - (self._answered_frame or 0)) * 20.0
            self._heard(Heard("person", heard_ms, "no call-progress tone heard", heard_ms))
            return
        self._heard(_from_classifier(self.classifier.finish()))

    def _heard(self, heard: Heard) -> None:
        if heard.what == "machine":  # listen on: a message may wait for the greeting's end
            self.greeting = GreetingEnd(self.beeps() if self.beeps is not None else None)
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self._loop.call_later(_GREETING_MAX_SECONDS, self._time_up)
        else:
            self.close()
        self.on_heard(heard)


def _from_classifier(result: ClassifierResult) -> Heard:
    verdict = str(getattr(result.verdict, "value", result.verdict))
    after = float(result.decided_after_ms)
    ended = result.speech_ended_ms
    greeting = f", greeting ended at {ended:.0f} ms" if ended else ""
    detail = f"amd: {verdict} after {after:.0f} ms{greeting}"
    return Heard(verdict, after, detail, float(ended or 0.0))
