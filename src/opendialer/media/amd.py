"""Answering-machine detection: 20 ms frames of a called party's audio in, a verdict out.

A pure classifier, independent of SIP: the media layer feeds it the customer's audio from the
answer on. Each frame is judged voice or silence by WebRTC's voice-activity detector
(``webrtcvad``); a word needs ``min_word_ms`` of voice above the line's noise floor (so a click
is no word); the classic timing rules of Asterisk's ``AMD()`` then decide:

* silence longer than ``initial_silence_ms`` before anyone speaks: ``unknown`` (Asterisk says
  machine; a silent line is as often a hesitant person or a dead line, and ``unknown`` is
  handled like a person, which keeps abandonment counting on the safe side);
* voice adding up to ``greeting_ms``, ``max_words`` words, or one word of ``max_word_ms``:
  ``machine`` (people answer with a short "Hello?" and wait);
* after a greeting, silence of ``after_greeting_silence_ms``: ``person`` (they wait for us);
* a beep (a steady tone) before any of these: ``machine``;
* nothing decided within ``total_analysis_ms``: ``unknown``.

A beep after a machine's greeting marks where a message may start: ``BeepDetector`` finds it,
and ``AmdDetector`` keeps one running after its verdict (``AmdDetector.beep``).
"""

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import numpy as np
import webrtcvad

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2


class AmdVerdict(StrEnum):
    PERSON = "person"
    MACHINE = "machine"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AmdResult:
    """The decision, why (a short reason code), and the audio it took, from the first frame."""

    verdict: AmdVerdict
    reason: str
    decided_after_ms: int
    beep_at_ms: int | None = None
    speech_ended_ms: int | None = None
    """When the last word before the decision ended (None: nobody spoke): the end of a
    person's greeting, where the safe-harbor clock of an abandoned call starts."""


@dataclass(frozen=True)
class Beep:
    """A steady tone: when it started and ended (ms from the detector's first frame)."""

    start_ms: int
    end_ms: int
    frequency_hz: float


@dataclass(frozen=True)
class AmdSettings:
    """Every threshold of the detector, in milliseconds unless named otherwise.

    The defaults are tuned with ``bench/amd.py`` (docs/telephony.md has its tables).
    """

    initial_silence_ms: int = 2500
    greeting_ms: int = 1750
    after_greeting_silence_ms: int = 700
    total_analysis_ms: int = 5000
    min_word_ms: int = 100
    between_words_silence_ms: int = 50
    max_words: int = 4
    max_word_ms: int = 3000
    # webrtcvad's mode: 0 (lets most audio through as voice) .. 3 (strictest)
    vad_aggressiveness: int = 3
    # a word needs min_word_ms of voice this much louder than the line's quietest frame of the
    # last second: webrtcvad keeps saying "voice" for ~80 ms after any burst (a click, a pop)
    voice_above_floor_db: float = 3.0
    beep_min_ms: int = 160
    beep_min_hz: float = 300.0
    beep_max_hz: float = 3400.0
    # share of a frame's in-band energy that must sit at one frequency for it to count as tone
    beep_tonality: float = 0.8
    beep_max_level_spread_db: float = 1.0

    def __post_init__(self) -> None:
        durations = {
            "initial_silence_ms": self.initial_silence_ms,
            "greeting_ms": self.greeting_ms,
            "after_greeting_silence_ms": self.after_greeting_silence_ms,
            "total_analysis_ms": self.total_analysis_ms,
            "min_word_ms": self.min_word_ms,
            "between_words_silence_ms": self.between_words_silence_ms,
            "max_word_ms": self.max_word_ms,
            "beep_min_ms": self.beep_min_ms,
        }
        for name, value in durations.items():
            if value <= 0:
                raise ValueError(f"AmdSettings.{name} must be positive, got {value}")
        if self.voice_above_floor_db < 0:
            raise ValueError("AmdSettings.voice_above_floor_db must not be negative")
        if self.max_words < 1:
            raise ValueError(f"AmdSettings.max_words must be at least 1, got {self.max_words}")
        if self.vad_aggressiveness not in (0, 1, 2, 3):
            raise ValueError(
                f"AmdSettings.vad_aggressiveness must be 0..3, got {self.vad_aggressiveness}"
            )
        if not 100 <= self.beep_min_hz < self.beep_max_hz <= 3800:
            raise ValueError("AmdSettings needs 100 <= beep_min_hz < beep_max_hz <= 3800")
        if self.beep_max_level_spread_db <= 0:
            raise ValueError("AmdSettings.beep_max_level_spread_db must be positive")
        if not 0 < self.beep_tonality < 1:
            raise ValueError("AmdSettings.beep_tonality must lie between 0 and 1")


def check_frame(frame: bytes) -> None:
    """Refuse anything but one 20 ms frame of 16-bit little-endian mono PCM at 8 kHz."""
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise ValueError(f"an AMD frame is bytes, got {type(frame).__name__}")
    if len(frame) != FRAME_BYTES:
        raise ValueError(
            f"an AMD frame is 20 ms of 16-bit mono PCM at 8 kHz ({FRAME_BYTES} bytes), "
            f"got {len(frame)} bytes"
        )


_FFT_SIZE = 512
_BIN_HZ = SAMPLE_RATE / _FFT_SIZE
# a Hann window over 160 samples keeps most of a pure tone within +-60 Hz of its frequency
_PEAK_HALF_WIDTH = 4
_MIN_TONE_RMS = 100.0
_MAX_DRIFT_HZ = 32.0


@cache
def _window() -> "np.ndarray[tuple[int], np.dtype[np.float64]]":
    return np.hanning(FRAME_SAMPLES)


def _samples(frame: bytes) -> "np.ndarray[tuple[int], np.dtype[np.float64]]":
    return np.frombuffer(bytes(frame), dtype="<i2").astype(np.float64)


def _level_db(frame: bytes) -> float:
    """The frame's RMS level in dB above one quantisation step (0 for digital silence)."""
    samples = _samples(frame)
    return 10 * float(np.log10(float(np.mean(samples * samples)) + 1.0))


@dataclass(frozen=True)
class _ToneFrame:
    frequency_hz: float
    level_db: float


def _tone_in(frame: bytes, settings: AmdSettings) -> _ToneFrame | None:
    """The frame's single tone (its frequency and level), or None if it is not one."""
    samples = _samples(frame)
    rms = float(np.sqrt(np.mean(samples * samples)))
    if rms < _MIN_TONE_RMS:
        return None
    power = np.abs(np.fft.rfft(samples * _window(), _FFT_SIZE)) ** 2
    low, high = int(settings.beep_min_hz / _BIN_HZ), int(settings.beep_max_hz / _BIN_HZ)
    peak = low + int(np.argmax(power[low : high + 1]))
    around = power[peak - _PEAK_HALF_WIDTH : peak + _PEAK_HALF_WIDTH + 1]
    in_band = power[low - _PEAK_HALF_WIDTH : high + _PEAK_HALF_WIDTH + 1]
    if float(np.sum(around)) < settings.beep_tonality * float(np.sum(in_band)):
        return None
    return _ToneFrame(peak * _BIN_HZ, 20 * float(np.log10(rms)))


class BeepDetector:
    """Finds a tone steady in pitch and level for ``beep_min_ms``; reports it when it ends.

    A voice's vowel can hold one strong harmonic for a few frames too, but its level moves; a
    beep's level spreads by less than ``beep_max_level_spread_db`` (standard deviation).
    """

    def __init__(self, settings: AmdSettings | None = None) -> None:
        self.settings = settings or AmdSettings()
        self._elapsed_ms = 0
        self._tone_start_ms = 0
        self._tone: list[_ToneFrame] = []

    def feed(self, frame: bytes) -> Beep | None:
        check_frame(frame)
        tone = _tone_in(frame, self.settings)
        beep = None
        if tone is not None and self._continues_tone(tone):
            self._tone.append(tone)
        else:
            beep = self._tone_ended()
            if tone is not None:
                self._tone_start_ms, self._tone = self._elapsed_ms, [tone]
        self._elapsed_ms += FRAME_MS
        return beep

    def finish(self) -> Beep | None:
        """The tone still sounding when the audio ends, if long enough."""
        return self._tone_ended()

    def _continues_tone(self, tone: _ToneFrame) -> bool:
        if not self._tone:
            return False
        pitch = float(np.median([frame.frequency_hz for frame in self._tone]))
        return abs(tone.frequency_hz - pitch) <= _MAX_DRIFT_HZ

    def _tone_ended(self) -> Beep | None:
        tone, self._tone = self._tone, []
        if len(tone) * FRAME_MS < self.settings.beep_min_ms:
            return None
        if (
            float(np.std([frame.level_db for frame in tone]))
            > self.settings.beep_max_level_spread_db
        ):
            return None
        pitch = float(np.median([frame.frequency_hz for frame in tone]))
        return Beep(self._tone_start_ms, self._elapsed_ms, pitch)


class AmdDetector:
    """Feeds on 20 ms frames; ``feed`` returns the result once, on the frame that decides it.

    After the decision, frames may still be fed (``feed`` then returns None) so that the beep
    following a machine's greeting is found: ``beep`` holds it once it has ended.
    """

    def __init__(self, settings: AmdSettings | None = None) -> None:
        self.settings = settings or AmdSettings()
        self._vad = webrtcvad.Vad(self.settings.vad_aggressiveness)
        self._levels: deque[float] = deque(maxlen=1000 // FRAME_MS)
        self._beeps = BeepDetector(self.settings)
        self.result: AmdResult | None = None
        self.beep: Beep | None = None
        self._elapsed_ms = 0
        self._silence_ms = 0  # silence frames since the last word (short blips do not reset it)
        self._gap_ms = 0  # the current run of silence frames
        self._voice_run_ms = 0
        self._loud_run_ms = 0  # frames of the voice run above the line's noise floor
        self._voice_total_ms = 0
        self._words = 0
        self._in_word = False
        self._in_greeting = False

    def feed(self, frame: bytes) -> AmdResult | None:
        check_frame(frame)
        beep = self._beeps.feed(frame)
        if beep is not None and self.beep is None:
            self.beep = beep
        if self.result is not None:
            return None
        self._elapsed_ms += FRAME_MS
        if self.beep is not None:
            return self._decide(AmdVerdict.MACHINE, "beep")
        loud = self._loudness(frame)
        if self._vad.is_speech(bytes(frame), SAMPLE_RATE):
            decision = self._on_voice(loud)
        else:
            decision = self._on_silence()
        if decision is None and self._elapsed_ms >= self.settings.total_analysis_ms:
            decision = (AmdVerdict.UNKNOWN, "too-long")
        return None if decision is None else self._decide(*decision)

    def finish(self) -> AmdResult:
        """The result at the end of the audio: the decision if made, else ``unknown``."""
        if self.beep is None:
            self.beep = self._beeps.finish()
        if self.result is None:
            return self._decide(AmdVerdict.UNKNOWN, "audio-ended")
        return self.result

    def _decide(self, verdict: AmdVerdict, reason: str) -> AmdResult:
        beep_at = None if self.beep is None else self.beep.start_ms
        spoke = self._elapsed_ms - self._silence_ms if self._in_greeting else None
        self.result = AmdResult(verdict, reason, self._elapsed_ms, beep_at, spoke)
        return self.result

    def _loudness(self, frame: bytes) -> bool:
        """Whether the frame stands ``voice_above_floor_db`` above the last second's quietest."""
        level = _level_db(frame)
        self._levels.append(level)
        return level >= min(self._levels) + self.settings.voice_above_floor_db

    def _on_voice(self, loud: bool) -> tuple[AmdVerdict, str] | None:
        settings = self.settings
        self._gap_ms = 0
        self._voice_run_ms += FRAME_MS
        self._voice_total_ms += FRAME_MS
        self._loud_run_ms += FRAME_MS if loud else 0
        if self._loud_run_ms >= settings.min_word_ms:
            self._silence_ms = 0
            self._in_greeting = True
            if not self._in_word:
                self._in_word = True
                self._words += 1
        if self._voice_run_ms >= settings.max_word_ms:
            return AmdVerdict.MACHINE, "max-word-length"
        if self._words >= settings.max_words:
            return AmdVerdict.MACHINE, "max-words"
        if self._in_greeting and self._voice_total_ms >= settings.greeting_ms:
            return AmdVerdict.MACHINE, "long-greeting"
        return None

    def _on_silence(self) -> tuple[AmdVerdict, str] | None:
        settings = self.settings
        self._silence_ms += FRAME_MS
        self._gap_ms += FRAME_MS
        if self._gap_ms >= settings.between_words_silence_ms:
            self._in_word = False
            self._voice_run_ms = self._loud_run_ms = 0
        if not self._in_greeting and self._silence_ms >= settings.initial_silence_ms:
            return AmdVerdict.UNKNOWN, "initial-silence"
        if self._in_greeting and self._silence_ms >= settings.after_greeting_silence_ms:
            return AmdVerdict.PERSON, "after-greeting-silence"
        return None


def classify(frames: Iterable[bytes], settings: AmdSettings | None = None) -> AmdResult:
    """Run a detector over a whole recording: the decision, or the result at its end."""
    detector = AmdDetector(settings)
    for frame in frames:
        result = detector.feed(frame)
        if result is not None:
            return result
    return detector.finish()


class PcmFramer:
    """Cuts a stream of PCM chunks of any size (RTP packets of 10, 20 or 30 ms) into frames."""

    def __init__(self) -> None:
        self._pending = b""

    def push(self, pcm: bytes) -> list[bytes]:
        """The whole 20 ms frames now available; the remainder waits for the next chunk."""
        data = self._pending + bytes(pcm)
        whole = len(data) - len(data) % FRAME_BYTES
        self._pending = data[whole:]
        return list(frames_of(data[:whole]))


def frames_of(pcm: bytes) -> Iterator[bytes]:
    """Split 8 kHz 16-bit mono PCM into whole 20 ms frames (a trailing partial frame is dropped)."""
    for start in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
        yield pcm[start : start + FRAME_BYTES]
