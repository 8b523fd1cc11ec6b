"""The benchmark's table (terminal and Markdown), per-day JSON and the plot."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import print_table
from bench.pacing.harness import DayResult

COLUMNS = (
    "scenario",
    "dialer",
    "occupancy mean",
    "occupancy worst day",
    "abandoned mean",
    "abandoned worst day",
    "days > cap",
    "violations",
    "dials/day",
    "days",
)


@dataclass(frozen=True, slots=True)
class Summary:
    scenario: str
    dialer: str
    occupancy: float
    occupancy_worst: float
    abandon: float
    abandon_worst: float
    days_over: int
    violations: int
    dials: float
    days: int

    @classmethod
    def of(cls, days: Sequence[DayResult], cap: float) -> "Summary":
        over = sum(1 for d in days if d.abandon_rate > cap + 1e-12)
        ring = sum(d.short_rings + d.dials_outside_shift + d.redials for d in days)
        return cls(
            scenario=days[0].scenario,
            dialer=days[0].dialer,
            occupancy=sum(d.occupancy for d in days) / len(days),
            occupancy_worst=min(d.occupancy for d in days),
            abandon=sum(d.abandon_rate for d in days) / len(days),
            abandon_worst=max(d.abandon_rate for d in days),
            days_over=over,
            violations=over + ring,
            dials=sum(d.dials for d in days) / len(days),
            days=len(days),
        )

    def row(self) -> list[str]:
        return [
            self.scenario,
            self.dialer,
            f"{self.occupancy:.1%}",
            f"{self.occupancy_worst:.1%}",
            f"{self.abandon:.2%}",
            f"{self.abandon_worst:.2%}",
            str(self.days_over),
            str(self.violations),
            f"{self.dials:,.0f}",
            str(self.days),
        ]


def show(summaries: Sequence[Summary], bounds: dict[str, float], title: str) -> None:
    rows = [s.row() for s in summaries]
    rows += [
        [name, "exact optimum (bound)", f"{b:.1%}", "", "3.00%", "", "", "", "", ""]
        for name, b in bounds.items()
    ]
    print_table(title, COLUMNS, rows)


def markdown(summaries: Sequence[Summary], bounds: dict[str, float]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(s.row()) + " |" for s in summaries]
    for name, bound in bounds.items():
        lines.append(f"| {name} | exact optimum, LP bound | {bound:.1%} | | 3.00% | | | | | |")
    return "\n".join(lines) + "\n"


def day_row(d: DayResult) -> dict[str, object]:
    """One day as JSON; ``read_days`` turns it back into a :class:`DayResult`."""
    return {
        "scenario": d.scenario,
        "dialer": d.dialer,
        "seed": d.seed,
        "day": d.day,
        "occupancy": round(d.occupancy, 5),
        "abandon_rate": round(d.abandon_rate, 5),
        "live": d.live,
        "abandoned": d.abandoned,
        "amd_abandoned": d.amd_abandoned,
        "dials": d.dials,
        "connects": d.connects,
        "short_rings": d.short_rings,
        "redials": d.redials,
        "dials_outside_shift": d.dials_outside_shift,
        "busy_seconds": round(d.busy_seconds, 3),
        "agent_seconds": round(d.agent_seconds, 3),
    }


_COUNTS = [
    "day",
    "live",
    "abandoned",
    "amd_abandoned",
    "dials",
    "connects",
    "short_rings",
    "redials",
    "dials_outside_shift",
]


def read_days(path: Path) -> list[DayResult]:
    """The days of a ``days.partial.jsonl`` (one JSON row a line), as the run wrote them."""
    days = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        day = DayResult(row["scenario"], row["dialer"], row["seed"])
        for name in _COUNTS:
            setattr(day, name, row.get(name, 0))
        day.busy_seconds, day.agent_seconds = row["busy_seconds"], row["agent_seconds"]
        days.append(day)
    return days


def write_json(path: Path, days: Sequence[DayResult]) -> None:
    rows = [day_row(d) for d in days]
    path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


def plot(path: Path, days: Sequence[DayResult], bounds: dict[str, float], cap: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = sorted({d.scenario for d in days})
    dialers = list(dict.fromkeys(d.dialer for d in days))
    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.2 * len(scenarios), 4.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        for i, dialer in enumerate(dialers):
            mine = [d for d in days if d.scenario == scenario and d.dialer == dialer]
            if not mine:
                continue
            xs = [100 * d.abandon_rate for d in mine]
            ys = [100 * d.occupancy for d in mine]
            c = colours[i % len(colours)]
            ax.scatter(xs, ys, s=10, alpha=0.45, color=c)
            ax.scatter(
                [sum(xs) / len(xs)],
                [sum(ys) / len(ys)],
                s=70,
                color=c,
                label=dialer,
                edgecolors="black",
            )
        ax.axvline(100 * cap, color="red", linestyle="--", linewidth=1)
        if scenario in bounds:
            ax.axhline(100 * bounds[scenario], color="grey", linestyle=":", linewidth=1)
            ax.annotate("exact bound", (0.2, 100 * bounds[scenario] + 0.3), fontsize=8)
        ax.set_title(scenario)
        ax.set_xlabel("abandoned, % of live answers (per day)")
        ax.set_ylabel("agent occupancy, %")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
