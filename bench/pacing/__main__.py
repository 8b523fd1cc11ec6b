"""``python -m bench.pacing``: every dialer on every scenario, a table and a plot.

Options: ``--seeds 10`` (days per dialer and scenario), ``--jobs 2`` (processes),
``--scenario PATH`` (repeatable; default all of ``bench/pacing/scenarios``), ``--dialers``,
``--hours`` (shorter days for a quick look), ``--out DIR``.
"""

import argparse
import time
from pathlib import Path

from bench.pacing.harness import DayResult
from bench.pacing.report import Summary, markdown, plot, show, write_json
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
    return parser.parse_args()


def _scenario_days(
    runner: Runner, path: Path, dialers: list[str], seeds: list[int], hours: float | None
) -> tuple[list[DayResult], float | None, str]:
    scenario = load(path)
    days: list[DayResult] = []
    bound: float | None = None
    notes = ""
    if "fixed" in dialers:
        level, fixed = tune_fixed_ratio(runner, path, seeds, hours=hours)
        days += fixed
        notes = f"fixed ratio tuned to dial level {level:.3f}"
        print(f"{scenario.name}: {notes}")
    solution = markov_bound(path) if scenario.markov else None
    if solution is not None:
        bound = solution.occupancy
        print(f"{scenario.name}: exact optimum {bound:.2%} at {solution.abandon_rate:.2%}")
    others = [d for d in dialers if d != "fixed" and (d != "optimal" or solution is not None)]
    jobs = [Job(path, d, s, solution=solution, hours=hours) for d in others for s in seeds]
    days += runner.map(jobs)
    return days, bound, notes


def main() -> None:
    args = _arguments()
    paths = args.scenario or sorted((HERE / "scenarios").glob("*.toml"))
    dialers = [d.strip() for d in args.dialers.split(",") if d.strip()]
    seeds = list(range(1, args.seeds + 1))
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runner = Runner(args.jobs)
    every: list[DayResult] = []
    bounds: dict[str, float] = {}
    notes: list[str] = []
    try:
        for path in paths:
            days, bound, note = _scenario_days(runner, path, dialers, seeds, args.hours)
            every += days
            name = load(path).name
            if bound is not None:
                bounds[name] = bound
            if note:
                notes.append(f"{name}: {note}")
    finally:
        runner.close()
    cap = load(paths[0]).abandon_target
    summaries = _summaries(every, dialers, cap)
    elapsed = time.perf_counter() - started
    title = f"Pacing: {len(seeds)} days per dialer and scenario ({elapsed:.0f} s)"
    show(summaries, bounds, title)
    text = markdown(summaries, bounds) + "".join(f"\n{n}" for n in notes)
    (args.out / "results.md").write_text(text + f"\n\nRun time {elapsed:.0f} s.\n", "utf-8")
    write_json(args.out / "days.json", every)
    plot(args.out / "pacing.png", every, bounds, cap)
    print(f"wrote {args.out / 'results.md'}, {args.out / 'days.json'}, {args.out / 'pacing.png'}")


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
