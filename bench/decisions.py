"""Benchmark check: every predictive decision of ``opendialer simulate``'s default campaign,
recorded, so two versions of the policy can be shown to decide the same (docs/engine.md,
session 18).

``record`` writes each look's virtual instant, dials and ``recheck_after`` (and the printed
figures) to a JSON file; ``compare`` tells whether two files hold the same dialling decisions
(instant and number of dials), the same looks altogether, and the same figures. Run the
version to compare with from its own worktree (``PYTHONPATH=<worktree>/src:<worktree>``).

    .venv/bin/python -m bench.decisions record --seed 1 --hours 0.5 before.json
    .venv/bin/python -m bench.decisions compare before.json after.json
"""

import argparse
import json
from pathlib import Path
from typing import Any

from bench.simulate_seeds import run
from opendialer.engine.pacing.base import PacingDecision, PacingSnapshot
from opendialer.engine.pacing.predictive import PredictivePolicy

Look = tuple[float, int, float | None]


def record(seed: int, hours: float, agents: int, contacts: int) -> dict[str, Any]:
    looks: list[Look] = []
    decide = PredictivePolicy.decide

    def recorded(policy: PredictivePolicy, snapshot: PacingSnapshot) -> PacingDecision:
        decision = decide(policy, snapshot)
        looks.append((snapshot.now, decision.dials, decision.recheck_after))
        return decision

    PredictivePolicy.decide = recorded  # type: ignore[method-assign, assignment]
    try:
        result = run(seed, hours, agents, contacts, None).result
    finally:
        PredictivePolicy.decide = decide  # type: ignore[method-assign]
    figures = {
        "attempts": result.tally.attempts,
        "live answers": result.tally.live_answers,
        "abandoned / live": result.abandonment,
        "people abandoned": result.people_abandonment,
        "occupancy": result.occupancy,
    }
    return {"figures": figures, "looks": looks}


def dialling(looks: list[list[Any]]) -> list[tuple[float, int]]:
    return [(now, dials) for now, dials, _ in looks if dials]


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    first, second = dialling(before["looks"]), dialling(after["looks"])
    moved = sum(a != b for a, b in zip(first, second, strict=False))
    moved += abs(len(first) - len(second))
    return (
        f"dialling decisions {len(first)} / {len(second)}, differing {moved}; "
        f"looks {len(before['looks'])} / {len(after['looks'])}, "
        f"all the same (rechecks too): {before['looks'] == after['looks']}; "
        f"figures the same: {before['figures'] == after['figures']} {after['figures']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    recording = commands.add_parser("record")
    recording.add_argument("--seed", type=int, default=1)
    recording.add_argument("--hours", type=float, default=0.5)
    recording.add_argument("--agents", type=int, default=20)
    recording.add_argument("--contacts", type=int, default=20_000)
    recording.add_argument("out", type=Path)
    comparing = commands.add_parser("compare")
    comparing.add_argument("before", type=Path)
    comparing.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        looks = record(args.seed, args.hours, args.agents, args.contacts)
        args.out.write_text(json.dumps(looks))
        print(f"{len(dialling(looks['looks']))} dialling decisions; {looks['figures']}")
    else:
        before, after = (json.loads(path.read_text()) for path in (args.before, args.after))
        print(compare(before, after))


if __name__ == "__main__":
    main()
