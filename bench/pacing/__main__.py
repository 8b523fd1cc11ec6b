"""``python -m bench.pacing``: every dialer on every scenario, a table and a plot.

Options: ``--seeds 10`` (days per dialer and scenario), ``--jobs 2`` (processes),
``--scenario PATH`` (repeatable; default all of ``bench/pacing/scenarios``), ``--dialers``,
``--hours`` (shorter days for a quick look), ``--out DIR``. Each job's days are appended to
``DIR/days.partial.jsonl`` as it finishes, so a stopped run keeps what it did;
``--from DIR/days.partial.jsonl`` makes the table and plot from such a file without running.
"""

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from bench.pacing.harness import DayResult
from bench.pacing.report import Summary, day_row, markdown, plot, read_days, show, write_json
from bench.pacing.runner import (
    DIALERS,
    Job,
    Runner,
    load,
    markov_bound,
    tune_fixed_ratio,
)

HERE = Path(__file__).parent


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pacing", description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--scenario", type=Path, action="append")
    parser.add_argument("--dialers", default=",".join(DIALERS))
    parser.add_argument("--hours", type=float, default=None)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--from", dest="partial", type=Path, default=None)
    return parser.parse_args()


def _scenario_days(
    runner: Runner,
    path: Path,
    dialers: list[str],
    seeds: list[int],
    hours: float | None,
    record: Callable[[list[DayResult]], None],
) -> tuple[list[DayResult], float | None, str]:
    scenario = load(path)
    days: list[DayResult] = []
    bound: float | None = None
    notes = ""
    if "fixed" in dialers:
        level, fixed = tune_fixed_ratio(runner, path, seeds, hours=hours)
        days += fixed
        record(fixed)
        notes = f"fixed ratio tuned to dial level {level:.3f}"
        print(f"{scenario.name}: {notes}")
    solution = markov_bound(path) if scenario.markov else None
    if solution is not None:
        bound = solution.occupancy
        print(f"{scenario.name}: exact optimum {bound:.2%} at {solution.abandon_rate:.2%}")
    others = [d for d in dialers if d != "fixed" and (d != "optimal" or solution is not None)]
    jobs = [Job(path, d, s, solution=solution, hours=hours) for d in others for s in seeds]
    runner.record = record
    try:
        days += runner.map(jobs)
    finally:
        runner.record = lambda _: None
    return days, bound, notes


def main() -> None:
    args = _arguments()
    paths = args.scenario or sorted((HERE / "scenarios").glob("*.toml"))
    dialers = [d.strip() for d in args.dialers.split(",") if d.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.partial is not None:
        exact = {
            load(p).name: markov_bound(p).occupancy
            for p in paths
            if load(p).markov and "optimal" in dialers
        }
        cap = load(paths[0]).abandon_target
        _report(args.out, read_days(args.partial), exact, [], cap, dialers, None)
        return
    seeds = list(range(1, args.seeds + 1))
    partial = args.out / "days.partial.jsonl"
    partial.write_text("", encoding="utf-8")
    started = time.perf_counter()
    runner = Runner(args.jobs)
    every: list[DayResult] = []
    bounds: dict[str, float] = {}
    notes: list[str] = []

    def record(days: list[DayResult]) -> None:
        with partial.open("a", encoding="utf-8") as out:
            out.writelines(json.dumps(day_row(d)) + "\n" for d in days)

    try:
        for path in paths:
            days, bound, note = _scenario_days(runner, path, dialers, seeds, args.hours, record)
            every += days
            name = load(path).name
            if bound is not None:
                bounds[name] = bound
            if note:
                notes.append(f"{name}: {note}")
    finally:
        runner.close()
    elapsed = time.perf_counter() - started
    cap = load(paths[0]).abandon_target
    _report(args.out, every, bounds, notes, cap, dialers, elapsed)


def _report(
    out: Path,
    every: list[DayResult],
    bounds: dict[str, float],
    notes: list[str],
    cap: float,
    dialers: list[str],
    elapsed: float | None,
) -> None:
    summaries = _summaries(every, dialers, cap)
    seeds = len({d.seed for d in every})
    took = f" ({elapsed:.0f} s)" if elapsed is not None else ""
    show(summaries, bounds, f"Pacing: {seeds} seeds per dialer and scenario{took}")
    text = markdown(summaries, bounds) + "".join(f"\n{n}" for n in notes)
    if elapsed is not None:
        text += f"\n\nRun time {elapsed:.0f} s.\n"
    (out / "results.md").write_text(text, "utf-8")
    write_json(out / "days.json", every)
    plot(out / "pacing.png", every, bounds, cap)
    print(f"wrote {out / 'results.md'}, {out / 'days.json'}, {out / 'pacing.png'}")


def _summaries(days: list[DayResult], dialers: list[str], cap: float) -> list[Summary]:
    out: list[Summary] = []
    for scenario in dict.fromkeys(d.scenario for d in days):
        for dialer in dialers:
            name = "exact optimum" if dialer == "optimal" else dialer
            mine = [d for d in days if d.scenario == scenario and d.dialer == name]
            if mine:
                out.append(Summary.of(mine, cap))
    return out


if __name__ == "__main__":
    main()
