"""Answering-machine detection on real speech made with espeak-ng and sox (bench.greetings)."""

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bench.greetings import (
    Greeting,
    GreetingSpec,
    materialise,
    noise,
    silence,
    through_line,
    tone,
)
from hypothesis import given
from hypothesis import strategies as st

from opendialer.media.amd import (
    FRAME_BYTES,
    AmdDetector,
    AmdResult,
    AmdSettings,
    AmdVerdict,
    BeepDetector,
    PcmFramer,
    classify,
    frames_of,
)

DEFAULTS = AmdSettings()
PLAIN = GreetingSpec(
    key="plain",
    label="person",
    language="en-us",
    variant="m3",
    speed_wpm=170,
    pitch=50,
    lead_ms=400,
    segments=(("Hello?", 3000),),
    beep_hz=None,
    beep_ms=400,
    level_dbfs=-20.0,
    noise="none",
    snr_db=30.0,
    codec="u-law",
    band_pass=True,
)
LONG_GREETING = (
    "Hi, you have reached the voicemail of Peter Müller. I am not able to take your call "
    "right now. Please leave your name, your number and a short message after the tone."
)
SPECS = {
    "hello": PLAIN,
    "mueller": replace(
        PLAIN,
        key="mueller",
        language="de",
        variant="f2",
        segments=(("Yes, Müller speaking.", 3000),),
        noise="pinknoise",
        snr_db=20.0,
        codec="a-law",
    ),
    "hello-twice": replace(
        PLAIN, key="hello-twice", segments=(("Hello?", 1500), ("Hello? Anyone there?", 2000))
    ),
    "machine-short": replace(
        PLAIN,
        key="machine-short",
        label="machine",
        language="en-gb",
        segments=(("Hello, this is Sarah. Sorry we missed you, please call again later.", 800),),
    ),
    "machine-beep": replace(
        PLAIN,
        key="machine-beep",
        label="machine",
        variant="f4",
        lead_ms=700,
        segments=((LONG_GREETING, 600),),
        beep_hz=1000.0,
        beep_ms=500,
        noise="whitenoise",
        snr_db=25.0,
    ),
}


@pytest.fixture(scope="session")
def greetings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Greeting]:
    folder = tmp_path_factory.mktemp("greetings")
    return {name: materialise(spec, folder) for name, spec in SPECS.items()}


def line_silence(seconds: float) -> bytes:
    """A quiet telephone line: faint pink noise from sox through the band and mu-law."""
    samples = int(8000 * seconds)
    hiss = noise("pinknoise", samples, seed=3) * 0.002
    return np.clip(through_line(hiss, True, "u-law"), -32768, 32767).astype("<i2").tobytes()


def tone_after_silence(frequency_hz: float, silence_ms: int, tone_ms: int) -> bytes:
    """sox's sine tone after silence, through a u-law line."""
    samples = np.concatenate([silence(silence_ms), tone(frequency_hz, tone_ms) * 0.3, silence(500)])
    return through_line(samples, True, "u-law").astype("<i2").tobytes()


def feed_all(detector: AmdDetector, pcm: bytes) -> Iterator[AmdResult]:
    for frame in frames_of(pcm):
        result = detector.feed(frame)
        if result is not None:
            yield result


def speech_starts(greeting: Greeting) -> int:
    return greeting.spec.lead_ms


def test_a_short_hello_is_a_person_once_the_silence_after_it_lasts(
    greetings: dict[str, Greeting],
) -> None:
    hello = greetings["hello"]
    result = classify(frames_of(hello.pcm()))
    assert result.verdict == AmdVerdict.PERSON
    assert result.reason == "after-greeting-silence"
    # decided once the silence after "Hello?" reaches after_greeting_silence_ms (the VAD's
    # hangover may stretch the word by a few frames)
    silence_needed = hello.speech_ms + DEFAULTS.after_greeting_silence_ms
    assert silence_needed <= result.decided_after_ms <= silence_needed + 300
    assert result.beep_at_ms is None
    # the greeting ended where that silence began: the safe-harbor clock starts there
    assert result.speech_ended_ms is not None
    assert result.decided_after_ms - result.speech_ended_ms == DEFAULTS.after_greeting_silence_ms
    assert hello.speech_ms <= result.speech_ended_ms <= hello.speech_ms + 300


def test_a_name_said_in_noise_through_a_law_is_a_person(greetings: dict[str, Greeting]) -> None:
    result = classify(frames_of(greetings["mueller"].pcm()))
    assert (result.verdict, result.reason) == (AmdVerdict.PERSON, "after-greeting-silence")


def test_a_person_saying_hello_twice_is_judged_in_the_first_pause(
    greetings: dict[str, Greeting],
) -> None:
    twice = greetings["hello-twice"]
    result = classify(frames_of(twice.pcm()))
    assert result.verdict == AmdVerdict.PERSON
    (_, first_hello_ends), (second_hello_starts, _) = twice.spoken_ms
    silence_needed = first_hello_ends + DEFAULTS.after_greeting_silence_ms
    assert silence_needed <= result.decided_after_ms < second_hello_starts


def test_a_four_second_greeting_is_a_machine_before_it_ends(greetings: dict[str, Greeting]) -> None:
    machine = greetings["machine-short"]
    assert machine.speech_ms >= 4000
    result = classify(frames_of(machine.pcm()))
    assert result.verdict == AmdVerdict.MACHINE
    assert result.reason in {"long-greeting", "max-words"}
    assert speech_starts(machine) + DEFAULTS.min_word_ms < result.decided_after_ms
    assert result.decided_after_ms <= speech_starts(machine) + DEFAULTS.greeting_ms + 1000


def test_a_long_greeting_is_a_machine_and_its_beep_is_found_afterwards(
    greetings: dict[str, Greeting],
) -> None:
    machine = greetings["machine-beep"]
    assert machine.beep_at_ms is not None and machine.speech_ms >= 8000
    detector = AmdDetector()
    decisions = list(feed_all(detector, machine.pcm()))
    assert [d.verdict for d in decisions] == [AmdVerdict.MACHINE]
    assert decisions[0].decided_after_ms < 4000 and decisions[0].beep_at_ms is None
    assert detector.beep is not None
    assert abs(detector.beep.start_ms - machine.beep_at_ms) <= 40
    assert abs(detector.beep.end_ms - (machine.beep_at_ms + machine.spec.beep_ms)) <= 40
    assert detector.beep.frequency_hz == pytest.approx(1000.0, abs=20)
    assert detector.finish() == decisions[0]


def test_silence_is_unknown_after_the_initial_silence() -> None:
    result = classify(frames_of(line_silence(6.0)))
    assert result == AmdResult(AmdVerdict.UNKNOWN, "initial-silence", DEFAULTS.initial_silence_ms)


def test_a_click_on_the_line_is_no_word() -> None:
    click = noise("whitenoise", 320, seed=1) * 0.5
    samples = np.concatenate([silence(1000), click, silence(5000)])
    pcm = through_line(samples, True, "u-law").astype("<i2").tobytes()
    result = classify(frames_of(pcm))
    assert (result.verdict, result.reason) == (AmdVerdict.UNKNOWN, "initial-silence")
    # webrtcvad hears the click and ~80 ms after it as voice: those frames are not silence
    limit = DEFAULTS.initial_silence_ms
    assert limit < result.decided_after_ms <= limit + 200
    unguarded = replace(DEFAULTS, voice_above_floor_db=0.0)
    assert classify(frames_of(pcm), unguarded).reason == "after-greeting-silence"


def test_words_are_counted(greetings: dict[str, Greeting]) -> None:
    pcm = greetings["mueller"].pcm()
    few_words = replace(DEFAULTS, max_words=2)
    assert classify(frames_of(pcm), few_words).reason == "max-words"
    assert classify(frames_of(pcm)).verdict == AmdVerdict.PERSON


def test_a_beep_right_after_the_answer_is_a_machine() -> None:
    pcm = tone_after_silence(1400.0, 600, 400)
    result = classify(frames_of(pcm))
    assert result.verdict == AmdVerdict.MACHINE and result.reason == "beep"
    assert result.beep_at_ms is not None and abs(result.beep_at_ms - 600) <= 40
    assert 1000 <= result.decided_after_ms <= 1060  # when the tone has ended


@pytest.mark.parametrize("frequency_hz", [440.0, 1000.0, 2000.0])
def test_the_beep_detector_reports_a_tone_when_it_ends(frequency_hz: float) -> None:
    detector = BeepDetector()
    beeps = [
        b for f in frames_of(tone_after_silence(frequency_hz, 300, 600)) if (b := detector.feed(f))
    ]
    assert len(beeps) == 1
    assert abs(beeps[0].start_ms - 300) <= 40 and abs(beeps[0].end_ms - 900) <= 40
    assert beeps[0].frequency_hz == pytest.approx(frequency_hz, abs=20)
    assert detector.finish() is None


def test_a_tone_too_short_is_no_beep() -> None:
    detector = BeepDetector()
    pcm = tone_after_silence(1000.0, 300, DEFAULTS.beep_min_ms - 60)
    assert not [f for f in frames_of(pcm) if detector.feed(f)]


def test_a_tone_whose_level_moves_is_no_beep() -> None:
    swelling = tone(1000.0, 600) * np.linspace(0.01, 0.3, 4800)
    pcm = through_line(np.concatenate([silence(300), swelling, silence(300)]), True, "u-law")
    detector = BeepDetector()
    assert not [f for f in frames_of(pcm.astype("<i2").tobytes()) if detector.feed(f)]
    steady = replace(DEFAULTS, beep_max_level_spread_db=20.0)
    detector = BeepDetector(steady)
    assert [f for f in frames_of(pcm.astype("<i2").tobytes()) if detector.feed(f)]


def test_speech_has_no_beep(greetings: dict[str, Greeting]) -> None:
    for name in ("hello", "mueller", "machine-short"):
        detector = BeepDetector()
        assert not [f for f in frames_of(greetings[name].pcm()) if detector.feed(f)], name


def test_finish_before_a_decision_is_unknown_and_later_frames_change_nothing(
    greetings: dict[str, Greeting],
) -> None:
    detector = AmdDetector()
    frames = list(frames_of(greetings["hello"].pcm()))
    for frame in frames[:10]:
        assert detector.feed(frame) is None
    ended = detector.finish()
    assert ended == AmdResult(AmdVerdict.UNKNOWN, "audio-ended", 200)
    assert all(detector.feed(frame) is None for frame in frames[10:])
    assert detector.finish() == ended


@given(st.binary(max_size=2 * FRAME_BYTES).filter(lambda b: len(b) != FRAME_BYTES))
def test_a_frame_of_the_wrong_size_is_refused_clearly(frame: bytes) -> None:
    for detector in (AmdDetector(), BeepDetector()):
        with pytest.raises(ValueError, match=f"320 bytes\\), got {len(frame)} bytes"):
            detector.feed(frame)


def test_a_frame_that_is_not_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="an AMD frame is bytes, got str"):
        AmdDetector().feed("x" * FRAME_BYTES)  # type: ignore[arg-type]


@given(st.lists(st.binary(min_size=FRAME_BYTES, max_size=FRAME_BYTES), max_size=300))
def test_any_audio_is_decided_once_at_a_whole_frame(frames: list[bytes]) -> None:
    detector = AmdDetector()
    decisions = [(i, r) for i, f in enumerate(frames) if (r := detector.feed(f)) is not None]
    assert len(decisions) <= 1
    final = detector.finish()
    if decisions:
        index, result = decisions[0]
        assert result == final and result.decided_after_ms == (index + 1) * 20
    else:
        assert final.verdict == AmdVerdict.UNKNOWN
        assert final.decided_after_ms == len(frames) * 20
    assert final.decided_after_ms <= DEFAULTS.total_analysis_ms


@given(
    st.binary(max_size=20 * FRAME_BYTES),
    st.lists(st.integers(min_value=0, max_value=3 * FRAME_BYTES), max_size=30),
)
def test_the_framer_cuts_any_chunking_into_the_same_frames(pcm: bytes, cuts: list[int]) -> None:
    framer, frames, start = PcmFramer(), [], 0
    for size in cuts:
        frames += framer.push(pcm[start : start + size])
        start += size
    frames += framer.push(pcm[start:])
    assert frames == list(frames_of(pcm))
    assert all(len(frame) == FRAME_BYTES for frame in frames)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"greeting_ms": 0}, "greeting_ms must be positive"),
        ({"max_words": 0}, "max_words must be at least 1"),
        ({"voice_above_floor_db": -1.0}, "voice_above_floor_db must not be negative"),
        ({"vad_aggressiveness": 4}, "vad_aggressiveness must be 0..3"),
        ({"beep_min_hz": 3500.0, "beep_max_hz": 3000.0}, "beep_min_hz < beep_max_hz"),
        ({"beep_tonality": 1.0}, "beep_tonality must lie between 0 and 1"),
        ({"beep_max_level_spread_db": 0.0}, "beep_max_level_spread_db must be positive"),
    ],
)
def test_settings_out_of_range_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(DEFAULTS, **change)


def test_a_greeting_longer_than_the_analysis_time_limit_is_cut_there(
    greetings: dict[str, Greeting],
) -> None:
    settings = replace(DEFAULTS, greeting_ms=60_000, max_words=1000, max_word_ms=60_000)
    result = classify(frames_of(greetings["machine-beep"].pcm()), settings)
    limit = DEFAULTS.total_analysis_ms
    # still talking when the time ran out: the greeting counts as ended at the verdict
    assert result == AmdResult(AmdVerdict.UNKNOWN, "too-long", limit, speech_ended_ms=limit)


def test_the_cache_renders_a_greeting_once(tmp_path: Path) -> None:
    first = materialise(PLAIN, tmp_path)
    stamp = first.path.stat().st_mtime_ns
    again = materialise(PLAIN, tmp_path)
    assert again == first and first.path.stat().st_mtime_ns == stamp
