"""The call-progress tone detector on audio made by sox and espeak-ng."""

import subprocess
import wave
from pathlib import Path

import pytest

from opendialer.telephony.sip.tones import FRAME_SAMPLES, Tone, ToneDetector
from tests.telephony.sip.rtpengine import sox_file

FRAME_BYTES = 2 * FRAME_SAMPLES


def _heard(path: Path) -> tuple[Tone | None, float]:
    """The detector's finding over the file, and after how many ms."""
    with wave.open(str(path), "rb") as audio:
        pcm = audio.readframes(audio.getnframes())
    detector = ToneDetector()
    for index in range(len(pcm) // FRAME_BYTES):
        found = detector.feed(pcm[index * FRAME_BYTES : (index + 1) * FRAME_BYTES])
        if found is not None:
            return found, (index + 1) * 20.0
    return None, len(pcm) / FRAME_BYTES * 20.0


def test_the_three_segments_of_a_sit_are_a_sit(tmp_path: Path) -> None:
    sit = sox_file(
        tmp_path / "sit.wav",
        ["synth", "0.274", "sine", "913.8"],
        ["synth", "0.274", "sine", "1370.6"],
        ["synth", "0.380", "sine", "1776.7", "pad", "0", "1"],
    )
    found, after_ms = _heard(sit)
    assert found is Tone.SIT and after_ms <= 274 + 274 + 380


@pytest.mark.parametrize("hz", [2100, 1100])
def test_a_fax_tone_held_half_a_second_is_a_fax(tmp_path: Path, hz: int) -> None:
    found, after_ms = _heard(sox_file(tmp_path / "fax.wav", ["synth", "2", "sine", str(hz)]))
    assert found is Tone.FAX and after_ms == pytest.approx(500, abs=40)


@pytest.mark.parametrize(
    "audio",
    [
        ["synth", "3", "sine", "500"],  # a tone that is neither
        ["synth", "0.2", "sine", "2100", "pad", "0", "1"],  # a fax-like blip, too short
        ["synth", "0.3", "sine", "913.8", "pad", "0", "1"],  # one SIT segment alone
        ["synth", "3", "whitenoise", "vol", "0.3"],
    ],
)
def test_other_sounds_are_no_tone(tmp_path: Path, audio: list[str]) -> None:
    assert _heard(sox_file(tmp_path / "other.wav", audio))[0] is None


def test_speech_is_no_tone(tmp_path: Path) -> None:
    spoken = tmp_path / "spoken.wav"
    words = "Hello, you have reached Anna. Please leave a message after the tone."
    subprocess.run(["espeak-ng", "-w", str(spoken), words], check=True)
    narrow = tmp_path / "speech.wav"
    subprocess.run(
        ["sox", str(spoken), "-r", "8000", "-c", "1", "-b", "16", str(narrow)], check=True
    )
    assert _heard(narrow)[0] is None
