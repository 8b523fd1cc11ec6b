"""The what-if's tables: the fitted scenario, and the day as it was beside the day simulated."""

from collections.abc import Callable

from rich.table import Table

from opendialer.telephony.campaign_scenario import CampaignScenario
from opendialer.telephony.sim_scenario import Distribution, Param, Schedule, value_at
from opendialer.whatif.fit import Figures
from opendialer.whatif.service import WhatIf


def whatif_table(result: WhatIf) -> Table:
    observed, simulated = result.fit.observed, result.simulated
    table = Table(title=f"What-if: {result.fit.rules.name}, {result.dial_mode.value}")
    table.add_column("measure")
    table.add_column(f"last {observed.days} day(s), per day", justify="right")
    table.add_column("simulated day", justify="right")
    for name, show in _MEASURES:
        table.add_row(name, show(observed), show(simulated))
    return table


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


_MEASURES: list[tuple[str, Callable[[Figures], str]]] = [
    ("agents on duty", lambda f: _number(f.agents)),
    ("hours", lambda f: _number(f.hours)),
    ("attempts", lambda f: _number(f.attempts, 0)),
    ("live answers", lambda f: _number(f.live_answers, 0)),
    ("connects", lambda f: _number(f.connects, 0)),
    ("answering machines", lambda f: _number(f.machines, 0)),
    ("abandoned", lambda f: _number(f.abandoned, 0)),
    ("abandonment (abandoned / live)", lambda f: _percent(f.abandonment)),
    ("dials per connect", lambda f: _number(f.dials_per_connect, 2)),
    ("occupancy", lambda f: _percent(f.occupancy)),
]


def scenario_table(scenario: CampaignScenario) -> Table:
    """What the fit found, at the shift's start and as a schedule where it varies by hour."""
    table = Table(title=f"Fitted scenario: {scenario.title}")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    customers, agents = scenario.sim.customers, scenario.sim.agents
    rows = [
        ("shift", f"{scenario.start}, {scenario.hours:g} h ({scenario.sim.timezone})"),
        ("agents on duty", _param(scenario.agents, "{:.1f}")),
        ("live answer share", _param(customers.p_live, "{:.1%}")),
        ("machine share", _param(customers.p_machine, "{:.1%}")),
        ("busy, of the unanswered", _param(customers.busy_share, "{:.1%}")),
        ("seconds to a live answer", _duration(customers.live_answer_after)),
        ("talk time (s)", _duration(customers.talk_time)),
        ("wrap-up (s)", _duration(agents.wrap_up)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _param(param: Param, fmt: str) -> str:
    if not isinstance(param, Schedule):
        return fmt.format(param)
    return ", ".join(
        f"{int(t // 3600):02d}h {fmt.format(value_at(param, t))}" for t, _ in param.points
    )


def _duration(dist: Distribution) -> str:
    mean, sd = value_at(dist.mean, 0), value_at(dist.sd, 0)
    return f"{dist.dist} mean {mean:.1f} sd {sd:.1f}"
