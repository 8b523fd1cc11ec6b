"""The summary table of a simulation run."""

from rich.table import Table

from opendialer.engine.simulation import SimulationResult


def summary_table(result: SimulationResult, title: str) -> Table:
    tally = result.tally
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    connects = tally.connects
    rows = [
        ("agents", f"{result.agents}"),
        ("simulated hours", f"{result.seconds / 3600:.1f}"),
        ("attempts", f"{tally.attempts:,}"),
        ("live answers", f"{tally.live_answers:,}"),
        ("connects", f"{connects:,}"),
        ("answering machines (AMD)", f"{tally.machines:,}"),
        ("abandoned", f"{tally.abandoned:,}"),
        ("abandonment (abandoned / live)", f"{result.abandonment:.2%}"),
        ("people who answered", f"{result.truth.people_answered:,}"),
        ("people abandoned (AMD false positives included)", f"{result.truth.people_abandoned:,}"),
        ("abandonment of people (as the law counts)", f"{result.people_abandonment:.2%}"),
        ("answering machines agents reported", f"{result.truth.machines_reported:,}"),
        ("agent break time (h)", f"{result.break_seconds / 3600:.1f}"),
        ("occupancy (talk + wrap-up, of time on duty)", f"{result.occupancy:.1%}"),
        ("agent wait per connect (s)", _per(result.idle_seconds, connects)),
        ("caller wait per connect (s)", _per(tally.wait_seconds, connects)),
        ("dials per connect", _per(tally.attempts, connects)),
    ]
    rows += [(f"outcome: {name}", f"{count:,}") for name, count in sorted(tally.outcomes.items())]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _per(total: float, count: int) -> str:
    return f"{total / count:.2f}" if count else "-"


def days_table(result: SimulationResult) -> Table:
    """Day by day: abandonment of people as the law counts it, and the engine's ledger."""
    table = Table(title="Day by day")
    for name in (
        "day",
        "attempts",
        "people who answered",
        "people abandoned",
        "abandonment of people",
        "dialer's abandonment",
        "occupancy",
        "engine restarts",
        "engine's 30 days: live / abandoned",
    ):
        table.add_column(name, justify="right")
    for day in result.days:
        dialer = day.abandoned / day.live_answers if day.live_answers else 0.0
        period = day.engine_period
        table.add_row(
            str(day.day),
            f"{day.attempts:,}",
            f"{day.people_answered:,}",
            f"{day.people_abandoned:,}",
            f"{day.people_abandonment:.2%}",
            f"{dialer:.2%}",
            f"{day.occupancy:.1%}",
            str(day.restarts),
            f"{period.live_answers:,} / {period.abandoned:,}",
        )
    return table
