"""``opendialer simulate --plot FILE.png``: occupancy, abandonment and dial rate over the day.

matplotlib stays an optional dependency (the ``bench`` extra): a server never draws, and it is
the heaviest package the project would otherwise pull in. Without it the command says how to
get it instead of failing on an import.
"""

from itertools import pairwise
from pathlib import Path

from opendialer.engine.simulation import Sample, SimulationResult

MISSING_MATPLOTLIB = (
    "--plot needs matplotlib: pip install 'opendialer[bench]' (or pip install matplotlib)"
)


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def _rates(result: SimulationResult) -> tuple[list[float], list[float], list[float], list[float]]:
    """Per interval: hours since the start, occupancy, dials per hour; and the running
    abandonment (abandoned / live answers so far)."""
    hours, occupancy, dials, abandonment = [], [], [], []
    for before, after in pairwise(result.timeline):
        span = after.second - before.second
        if span <= 0:
            continue
        on_duty = result.agents * span - (after.break_seconds - before.break_seconds)
        busy = after.busy_seconds - before.busy_seconds
        hours.append(after.second / 3600)
        occupancy.append(100 * busy / on_duty if on_duty > 0 else 0.0)
        dials.append((after.attempts - before.attempts) * 3600 / span)
        abandonment.append(100 * _running_abandonment(after))
    return hours, occupancy, dials, abandonment


def _running_abandonment(sample: Sample) -> float:
    return sample.abandoned / sample.live_answers if sample.live_answers else 0.0


def plot(result: SimulationResult, path: Path, title: str, abandon_target: float) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable(MISSING_MATPLOTLIB) from exc
    hours, occupancy, dials, abandonment = _rates(result)
    figure, (top, middle, bottom) = plt.subplots(3, 1, sharex=True, figsize=(9, 8))
    top.plot(hours, occupancy, color="tab:blue")
    top.set_ylabel("occupancy %")
    top.set_ylim(0, 100)
    middle.plot(hours, abandonment, color="tab:red", label="abandoned / live answers so far")
    middle.axhline(100 * abandon_target, color="grey", linestyle="--", label="target")
    middle.set_ylabel("abandonment %")
    middle.legend(loc="upper right")
    bottom.plot(hours, dials, color="tab:green")
    bottom.set_ylabel("dials per hour")
    bottom.set_xlabel("hours since the start")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
