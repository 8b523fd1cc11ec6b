"""Benchmark: answering-machine detection on a labelled set of synthetic greetings.

The set comes from ``bench.greetings`` (espeak-ng and sox, cached in bench/out/greetings/). Its
voices are split: thresholds are tuned on the greetings of the ``TUNE_LANGUAGES`` voices, and the
figures to report come from the others (held out). For each part: accuracy (verdict equals the
label; ``unknown`` counts as wrong), false-positive rate (people judged machines, of all people),
false-negative rate (machines not judged machines, of all machines), mean and p95 decision time,
and how well the beep after a machine's greeting is found. Then how those figures move when one
threshold at a time leaves its default (on the tuning part).

    .venv/bin/python -m bench.amd --count 420
"""

import argparse
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bench.common import print_table
from bench.greetings import Greeting, build
from opendialer.media.amd import AmdDetector, AmdResult, AmdSettings, AmdVerdict, frames_of

TUNE_LANGUAGES = frozenset({"en-us", "en-gb-scotland", "de"})
SWEEPS: dict[str, Sequence[int]] = {
    "greeting_ms": (1200, 1500, 1750, 2000, 2500),
    "after_greeting_silence_ms": (500, 600, 700, 800, 1000),
    "max_words": (2, 3, 4, 5, 6),
    "vad_aggressiveness": (0, 1, 2, 3),
    "initial_silence_ms": (1500, 2500, 3500),
    "min_word_ms": (60, 100, 140, 180),
    "voice_above_floor_db": (0, 3, 6, 10),
}
BEEP_SWEEPS: dict[str, Sequence[Any]] = {
    "beep_min_ms": (120, 160, 240),
    "beep_tonality": (0.7, 0.8, 0.9),
    "beep_max_level_spread_db": (0.5, 1.0, 2.0, 4.0),
}


@dataclass(frozen=True)
class Outcome:
    greeting: Greeting
    result: AmdResult
    beep_found_ms: int | None


def judge(greeting: Greeting, settings: AmdSettings, with_beep: bool = True) -> Outcome:
    """The detector's verdict; with ``with_beep`` it hears the audio to the end for the beep."""
    detector = AmdDetector(settings)
    result = None
    for frame in frames_of(greeting.pcm()):
        result = detector.feed(frame) or result
        if result is not None and not with_beep:
            break
    result = result or detector.finish()
    detector.finish()
    return Outcome(greeting, result, None if detector.beep is None else detector.beep.start_ms)


@dataclass(frozen=True)
class Figures:
    count: int
    accuracy: float
    false_positive: float
    false_negative: float
    unknown: float
    mean_ms: float
    p95_ms: float
    person_mean_ms: float
    machine_mean_ms: float


def figures(outcomes: Sequence[Outcome]) -> Figures:
    def share(hits: int, of: int) -> float:
        return hits / of if of else 0.0

    people = [o for o in outcomes if o.greeting.spec.label == "person"]
    machines = [o for o in outcomes if o.greeting.spec.label == "machine"]
    times = np.array([o.result.decided_after_ms for o in outcomes], dtype=float)
    return Figures(
        count=len(outcomes),
        accuracy=share(
            sum(o.result.verdict == o.greeting.spec.label for o in outcomes), len(outcomes)
        ),
        false_positive=share(
            sum(o.result.verdict == AmdVerdict.MACHINE for o in people), len(people)
        ),
        false_negative=share(
            sum(o.result.verdict != AmdVerdict.MACHINE for o in machines), len(machines)
        ),
        unknown=share(sum(o.result.verdict == AmdVerdict.UNKNOWN for o in outcomes), len(outcomes)),
        mean_ms=float(times.mean()) if times.size else 0.0,
        p95_ms=float(np.percentile(times, 95)) if times.size else 0.0,
        person_mean_ms=mean_decision_ms(people),
        machine_mean_ms=mean_decision_ms(machines),
    )


def mean_decision_ms(outcomes: Sequence[Outcome]) -> float:
    return float(np.mean([o.result.decided_after_ms for o in outcomes])) if outcomes else 0.0


FIGURE_COLUMNS = (
    "n",
    "accuracy",
    "false pos.",
    "false neg.",
    "unknown",
    "mean ms",
    "p95 ms",
    "person mean ms",
    "machine mean ms",
)
BEEP_COLUMNS = ("set", "with beep", "found", "mean error ms", "max error ms", "false beeps")


def figure_row(found: Figures) -> list[object]:
    return [
        found.count,
        f"{found.accuracy:.1%}",
        f"{found.false_positive:.1%}",
        f"{found.false_negative:.1%}",
        f"{found.unknown:.1%}",
        f"{found.mean_ms:.0f}",
        f"{found.p95_ms:.0f}",
        f"{found.person_mean_ms:.0f}",
        f"{found.machine_mean_ms:.0f}",
    ]


def beep_row(name: str, outcomes: Sequence[Outcome]) -> list[object]:
    with_beep = [o for o in outcomes if o.greeting.beep_at_ms is not None]
    without = [o for o in outcomes if o.greeting.beep_at_ms is None]
    found = [o for o in with_beep if o.beep_found_ms is not None]
    errors = [
        abs(o.beep_found_ms - o.greeting.beep_at_ms)
        for o in found
        if o.beep_found_ms is not None and o.greeting.beep_at_ms is not None
    ]
    return [
        name,
        len(with_beep),
        f"{len(found) / max(len(with_beep), 1):.1%}",
        f"{np.mean(errors):.0f}" if errors else "-",
        f"{max(errors)}" if errors else "-",
        f"{sum(o.beep_found_ms is not None for o in without)} of {len(without)}",
    ]


def run(
    greetings: Sequence[Greeting], settings: AmdSettings, with_beep: bool = True
) -> list[Outcome]:
    return [judge(greeting, settings, with_beep) for greeting in greetings]


def sweep(
    tune: Sequence[Greeting],
    sweeps: dict[str, Sequence[Any]],
    row: Callable[[str, list[Outcome]], list[object]],
    with_beep: bool,
) -> list[list[object]]:
    """One row per value of each threshold, the others at their defaults."""
    base, rows = AmdSettings(), []
    for name, values in sweeps.items():
        for value in values:
            marker = " (default)" if getattr(base, name) == value else ""
            outcomes = run(tune, replace(base, **{name: value}), with_beep)
            rows.append(row(f"{name}={value}{marker}", outcomes))
    return rows


def labelled_figure_row(label: str, outcomes: list[Outcome]) -> list[object]:
    return [label, *figure_row(figures(outcomes))]


def mistakes(outcomes: Sequence[Outcome]) -> Counter[str]:
    return Counter(
        f"{o.greeting.spec.label} -> {o.result.verdict} ({o.result.reason})"
        for o in outcomes
        if o.result.verdict != o.greeting.spec.label
    )


def split(greetings: Sequence[Greeting], keep: Callable[[Greeting], bool]) -> list[Greeting]:
    return [greeting for greeting in greetings if keep(greeting)]


def report_defaults(tune: Sequence[Greeting], held_out: Sequence[Greeting]) -> None:
    settings = AmdSettings()
    started = time.perf_counter()
    parts = {"tuning voices": run(tune, settings), "held-out voices": run(held_out, settings)}
    seconds = time.perf_counter() - started
    audio_s = sum(len(g.pcm()) for g in [*tune, *held_out]) / 16000
    rows = [labelled_figure_row(name, outcomes) for name, outcomes in parts.items()]
    rows.append(["all", *figure_row(figures([o for part in parts.values() for o in part]))])
    print_table("AMD with the default thresholds", ("set", *FIGURE_COLUMNS), rows)
    beep_rows = [beep_row(name, outcomes) for name, outcomes in parts.items()]
    print_table("Beep after a machine's greeting", BEEP_COLUMNS, beep_rows)
    for name, outcomes in parts.items():
        print(f"mistakes, {name}: {dict(mistakes(outcomes))}")
    speed = f"{audio_s / seconds:.0f}x real time"
    print(f"classified {audio_s:.0f} s of audio in {seconds:.1f} s ({speed}, one core)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=420)
    parser.add_argument("--no-sweep", action="store_true")
    args = parser.parse_args()
    greetings = build(args.count)
    tune = split(greetings, lambda g: g.spec.language in TUNE_LANGUAGES)
    held_out = split(greetings, lambda g: g.spec.language not in TUNE_LANGUAGES)
    report_defaults(tune, held_out)
    if not args.no_sweep:
        title = "One threshold at a time (tuning voices)"
        rows = sweep(tune, SWEEPS, labelled_figure_row, with_beep=False)
        print_table(title, ("setting", *FIGURE_COLUMNS), rows)
        rows = sweep(tune, BEEP_SWEEPS, beep_row, with_beep=True)
        print_table(f"Beep: {title}", ("setting", *BEEP_COLUMNS[1:]), rows)


if __name__ == "__main__":
    main()
