"""Which dialers run, on which days, in parallel; and the fixed ratio's tuning search."""

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bench.pacing.harness import DayResult, run_days
from bench.pacing.markov import MarkovModel, MarkovOptimalPolicy, MarkovSolution, solve
from bench.pacing.scenario import BenchScenario
from opendialer.engine.pacing.base import PacingPolicy, ProgressivePolicy
from opendialer.engine.pacing.baselines import FixedRatioPolicy, VicidialAdaptivePolicy
from opendialer.engine.pacing.predictive import PredictivePolicy, PredictiveSettings

DIALERS = ("progressive", "fixed", "vicidial", "predictive", "optimal")
LEVEL_RANGE = (1.0, 3.0)
LEVEL_TOLERANCE = 0.02


@dataclass(frozen=True, slots=True)
class Job:
    scenario: Path
    dialer: str
    seed: int
    level: float = 1.0
    solution: MarkovSolution | None = None
    hours: float | None = None


@cache
def load(path: Path) -> BenchScenario:
    return BenchScenario.load(path)


def make_policy(job: Job, scenario: BenchScenario) -> PacingPolicy:
    if job.dialer == "progressive":
        return ProgressivePolicy()
    if job.dialer == "fixed":
        return FixedRatioPolicy(job.level)
    if job.dialer == "vicidial":
        # VICIdial has one drop target; it counts only the drops it sees, so give it the room
        # left after AMD's false positives, as a supervisor would.
        target = scenario.abandon_target - scenario.amd_false_positive_at(scenario.start_second)
        return VicidialAdaptivePolicy(drop_target=target)
    if job.dialer == "predictive":
        # The harness decides on its own 0.5 s tick and never reads recheck_after: no forecast
        # (it changes no decision, only costs).
        return PredictivePolicy(PredictiveSettings(recheck_steps=0))
    if job.dialer == "optimal" and job.solution is not None:
        return MarkovOptimalPolicy(job.solution, seed=job.seed)
    raise ValueError(f"unknown dialer {job.dialer!r}")


def run_job(job: Job) -> list[DayResult]:
    """The scenario's days under one seed, the policy and contact list carried over."""
    scenario = load(job.scenario)
    days = run_days(scenario, lambda: make_policy(job, scenario), job.seed, hours=job.hours)
    for result in days:
        if job.dialer == "fixed":
            result.dialer = "fixed"
        result.log = []
    return days


class Runner:
    """Runs jobs over ``workers`` processes; ``record`` hears each job's days as it finishes
    (so a long run loses nothing when stopped), the days come back in the jobs' order."""

    def __init__(
        self, workers: int, record: Callable[[list[DayResult]], None] | None = None
    ) -> None:
        self.pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
        self.record = record or (lambda days: None)

    def map(self, jobs: Sequence[Job]) -> list[DayResult]:
        if self.pool is None:
            results = []
            for job in jobs:
                results.append(run_job(job))
                self.record(results[-1])
            return [day for days in results for day in days]
        futures: list[Future[list[DayResult]]] = [self.pool.submit(run_job, j) for j in jobs]
        for done in as_completed(futures):
            self.record(done.result())
        return [day for f in futures for day in f.result()]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def tune_fixed_ratio(
    runner: Runner,
    path: Path,
    seeds: Sequence[int],
    *,
    hours: float | None = None,
    say: Callable[[str], None] = print,
) -> tuple[float, list[DayResult]]:
    """The highest dial level whose every day stays at or under the abandonment target."""
    target = load(path).abandon_target
    low, high = LEVEL_RANGE
    best = [r for r in runner.map([Job(path, "fixed", s, low, hours=hours) for s in seeds])]
    while high - low > LEVEL_TOLERANCE:
        level = round((low + high) / 2, 4)
        days = runner.map([Job(path, "fixed", s, level, hours=hours) for s in seeds])
        worst = max(d.abandon_rate for d in days)
        say(f"  fixed {level:.3f}: worst day {worst:.2%}")
        if worst <= target:
            low, best = level, days
        else:
            high = level
    return low, best


def markov_bound(path: Path) -> MarkovSolution:
    scenario = load(path)
    return solve(MarkovModel.of(scenario), scenario.abandon_target)
