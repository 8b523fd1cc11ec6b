"""A labelled set of telephone greetings made with espeak-ng and sox, for answering-machine tests.

People answer with a short hello ("Hello?", "Yes, Müller speaking") and wait, sometimes saying
"Hello?" again after a pause; machines speak a 4 to 20 s greeting, half of them followed by a
beep. Each greeting varies voice, speed, pitch, loudness, background noise and the line (a
300-3400 Hz band-pass and a G.711 mu-law or A-law round trip; a third start with the click of
the line going off-hook), drawn from a seeded generator, and is stored as 8 kHz 16-bit mono PCM
(``.raw``) with a JSON manifest beside it, so a second run reads the cache instead of
synthesising again.

    .venv/bin/python -m bench.greetings --count 420      # fills bench/out/greetings/
"""

import argparse
import json
import random
import subprocess
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float64]
Label = Literal["person", "machine"]
Noise = Literal["none", "whitenoise", "pinknoise", "brownnoise"]
Codec = Literal["none", "u-law", "a-law"]

RATE = 8000
CACHE = Path(__file__).resolve().parent / "out" / "greetings"
# Languages of espeak-ng and its voice variants; the bench tunes on some and reports on others.
LANGUAGES = ("en-us", "en-gb", "en-gb-scotland", "de", "en-gb-x-rp", "en-029", "en-us-nyc")
VARIANTS = ("m1", "m3", "f2", "f4", "klatt", "m7", "f1", "croak")
PERSON_LINES = (
    "Hello?",
    "Hello.",
    "Yes?",
    "Yes, Müller speaking.",
    "Hi, this is Anna.",
    "Hello, Smith residence.",
    "Speaking.",
    "Hello, who's calling?",
    "Yeah, hello?",
    "Good evening.",
    "Müller.",
    "Hi there.",
)
PERSON_REPEATS = ("Hello?", "Hello? Anyone there?", "Yes?", "Who is this?")
MACHINE_SENTENCES = (
    "Hi, you have reached the voicemail of Peter Müller.",
    "Hello, this is Sarah.",
    "Thank you for calling Smith and Partners.",
    "I am not able to take your call right now.",
    "Sorry we missed you.",
    "Please leave your name, your number and a short message after the tone.",
    "Our office hours are Monday to Friday from nine to five.",
    "If this is urgent, please call my mobile instead.",
    "I will get back to you as soon as possible.",
    "The person you are calling is not available.",
    "You can also send us an email at any time.",
    "Have a great day, and thanks for your patience.",
    "For sales, please call back during business hours.",
    "We are closed for the holidays and will return on Monday.",
)
BEEP_HZ = (440.0, 800.0, 1000.0, 1400.0, 2000.0)


@dataclass(frozen=True)
class GreetingSpec:
    """Everything needed to render one greeting; ``segments`` alternate speech and pauses."""

    key: str
    label: Label
    language: str
    variant: str
    speed_wpm: int
    pitch: int
    lead_ms: int
    segments: tuple[tuple[str, int], ...]  # (text spoken, silence after it in ms)
    beep_hz: float | None
    beep_ms: int
    level_dbfs: float
    noise: Noise
    snr_db: float
    codec: Codec
    band_pass: bool
    click_ms: int = 0  # an off-hook click (a burst of noise) right at the answer, if > 0

    @property
    def voice(self) -> str:
        return f"{self.language}+{self.variant}"


@dataclass(frozen=True)
class Greeting:
    """A rendered greeting: its spec, its audio file and where its speech and beep lie."""

    spec: GreetingSpec
    path: Path
    spoken_ms: tuple[tuple[int, int], ...]  # (start, end) of each spoken segment
    beep_at_ms: int | None

    def pcm(self) -> bytes:
        return self.path.read_bytes()

    @property
    def speech_ms(self) -> int:
        """Where the last spoken segment ends."""
        return self.spoken_ms[-1][1]


def _run(command: Sequence[str], data: bytes | None = None) -> bytes:
    return subprocess.run(command, input=data, capture_output=True, check=True).stdout


def _to_samples(pcm: bytes) -> Samples:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def _to_pcm(samples: Samples) -> bytes:
    return np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()


# -R: sox's dither and noise repeat from run to run, so a greeting is the same every time
_SOX = ("sox", "-R")
_RAW = ("-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1")


def speak(text: str, voice: str, speed_wpm: int, pitch: int) -> Samples:
    """espeak-ng's speech, resampled by sox to 8 kHz."""
    wav = _run(["espeak-ng", "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "--stdout", text])
    return _trimmed(_to_samples(_run([*_SOX, "-t", "wav", "-", *_RAW, "-"], wav)))


def _trimmed(samples: Samples) -> Samples:
    """Without espeak-ng's own leading and trailing silence, so pauses are the drawn ones."""
    loud = np.nonzero(np.abs(samples) > np.max(np.abs(samples)) / 100)[0]
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples


def tone(frequency_hz: float, duration_ms: int) -> Samples:
    """A sine beep from sox (its level is set with the rest of the greeting)."""
    seconds = f"{duration_ms / 1000:.3f}"
    command = [*_SOX, "-n", *_RAW, "-", "synth", seconds, "sine", str(frequency_hz)]
    return _to_samples(_run(command))


def noise(kind: Noise, samples: int, seed: int) -> Samples:
    seconds = f"{samples / RATE:.3f}"
    generated = _to_samples(_run([*_SOX, "-n", *_RAW, "-", "synth", seconds, kind]))
    generated = np.resize(generated, samples)
    # sox's generator is the same for every call with -R; a random shift makes them differ
    return np.roll(generated, seed % max(samples, 1))


def silence(duration_ms: int) -> Samples:
    return np.zeros(RATE * duration_ms // 1000)


def _rms(samples: Samples) -> float:
    voiced = samples[np.abs(samples) > 1e-3]
    return float(np.sqrt(np.mean(voiced * voiced))) if voiced.size else 0.0


def through_line(samples: Samples, band_pass: bool, codec: Codec) -> Samples:
    """A telephone line: the 300-3400 Hz band and a G.711 encode-decode round trip."""
    effects = ["sinc", "300-3400"] if band_pass else []
    pcm = _to_pcm(samples)
    if codec == "none":
        return _to_samples(_run([*_SOX, *_RAW, "-", *_RAW, "-", *effects], pcm) if effects else pcm)
    g711 = ("-t", "raw", "-r", str(RATE), "-e", codec, "-b", "8", "-c", "1")
    encoded = _run([*_SOX, *_RAW, "-", *g711, "-", *effects], pcm)
    return _to_samples(_run([*_SOX, *g711, "-", *_RAW, "-"], encoded))


def render(spec: GreetingSpec) -> tuple[bytes, tuple[tuple[int, int], ...], int | None]:
    """The greeting's PCM, the spans of its spoken segments and the start of its beep (ms)."""
    parts, spoken, at = [silence(spec.lead_ms)], [], spec.lead_ms
    for text, pause_ms in spec.segments:
        said = speak(text, spec.voice, spec.speed_wpm, spec.pitch)
        spoken.append((at, at + said.size * 1000 // RATE))
        parts += [said, silence(pause_ms)]
        at = spoken[-1][1] + pause_ms
    speech = np.concatenate(parts)
    audio = [speech * 10 ** (spec.level_dbfs / 20) * 32768 / max(_rms(speech), 1.0)]
    beep_at = None
    if spec.beep_hz is not None:
        beep_at = speech.size * 1000 // RATE
        beep = tone(spec.beep_hz, spec.beep_ms)
        audio += [beep * 10 ** (spec.level_dbfs / 20) * 32768 / _rms(beep), silence(1000)]
    mixed = np.concatenate(audio)
    if spec.click_ms:
        burst = noise("whitenoise", RATE * spec.click_ms // 1000, zlib.crc32(spec.key.encode()))
        mixed[: burst.size] += burst * 10 ** (spec.level_dbfs / 20) * 32768 / _rms(burst) * 2
    if spec.noise != "none":
        floor = 10 ** ((spec.level_dbfs - spec.snr_db) / 20) * 32768
        background = noise(spec.noise, mixed.size, zlib.crc32(spec.key.encode()))
        mixed = mixed + background * floor / max(_rms(background), 1.0)
    line = through_line(mixed, spec.band_pass, spec.codec)
    return _to_pcm(line), tuple(spoken), beep_at


def _person(rng: random.Random) -> tuple[tuple[tuple[str, int], ...], int]:
    first = rng.choice(PERSON_LINES)
    if rng.random() < 0.5:
        return ((first, rng.randint(2500, 4000)),), rng.randint(100, 1200)
    repeat = rng.choice(PERSON_REPEATS)
    return ((first, rng.randint(1000, 2500)), (repeat, 2500)), rng.randint(100, 1200)


def _machine(speed_wpm: int, rng: random.Random) -> tuple[tuple[str, int], ...]:
    target_s = rng.uniform(4, 20)
    sentences: list[tuple[str, int]] = []
    words = 0
    while words / speed_wpm * 60 < target_s:
        sentence = rng.choice(MACHINE_SENTENCES)
        sentences.append((sentence, rng.randint(200, 700)))
        words += len(sentence.split())
    last_text, _ = sentences[-1]
    sentences[-1] = (last_text, rng.randint(300, 1200))
    return tuple(sentences)


def draw(index: int, rng: random.Random, seed: int) -> GreetingSpec:
    """The index-th greeting: even ones people, odd ones machines."""
    label: Label = "person" if index % 2 == 0 else "machine"
    speed = rng.randint(130, 200)
    if label == "person":
        segments, lead = _person(rng)
    else:
        segments, lead = _machine(speed, rng), rng.randint(200, 1500)
    with_beep = label == "machine" and rng.random() < 0.5
    return GreetingSpec(
        key=f"{index:04d}-{label}",
        label=label,
        language=LANGUAGES[index // 2 % len(LANGUAGES)],
        variant=rng.choice(VARIANTS),
        speed_wpm=speed,
        pitch=rng.randint(25, 75),
        lead_ms=lead,
        segments=segments,
        beep_hz=rng.choice(BEEP_HZ) * rng.uniform(0.97, 1.03) if with_beep else None,
        beep_ms=rng.randint(200, 1000),
        level_dbfs=rng.uniform(-32, -15),
        noise=rng.choice(("none", "whitenoise", "pinknoise", "brownnoise")),
        snr_db=rng.uniform(15, 35),
        codec=rng.choice(("none", "u-law", "a-law")),
        band_pass=rng.random() < 0.8,
        click_ms=_click(index, seed),
    )


def _click(index: int, seed: int) -> int:
    """A third of the answers start with a click: drawn apart so the other draws stay put."""
    rng = random.Random(f"click-{seed}-{index}")
    return rng.choice((10, 20, 40)) if rng.random() < 1 / 3 else 0


def specs(count: int, seed: int = 20) -> list[GreetingSpec]:
    rng = random.Random(seed)
    return [draw(index, rng, seed) for index in range(count)]


def materialise(spec: GreetingSpec, folder: Path) -> Greeting:
    """Render the greeting into ``folder`` unless it is already there (same spec)."""
    path, meta = folder / f"{spec.key}.raw", folder / f"{spec.key}.json"
    description = json.loads(json.dumps(asdict(spec)))
    if path.exists() and meta.exists():
        stored = json.loads(meta.read_text())
        if stored["spec"] == description and "spoken_ms" in stored:
            spans = tuple((start, end) for start, end in stored["spoken_ms"])
            return Greeting(spec, path, spans, stored["beep_at_ms"])
    pcm, spoken, beep_at = render(spec)
    path.write_bytes(pcm)
    record = {"spec": description, "spoken_ms": spoken, "beep_at_ms": beep_at}
    meta.write_text(json.dumps(record, indent=1))
    return Greeting(spec, path, spoken, beep_at)


def build(count: int, folder: Path = CACHE, workers: int = 2) -> list[Greeting]:
    """The labelled set, rendered by at most ``workers`` threads (the machine is shared)."""
    folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda spec: materialise(spec, folder), specs(count)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=420)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    greetings = build(args.count, workers=min(args.workers, 2))
    people = sum(greeting.spec.label == "person" for greeting in greetings)
    print(f"{len(greetings)} greetings in {CACHE} ({people} people)")


if __name__ == "__main__":
    main()
