"""Many calls: frequencies match the scenario, and a seed fixes everything."""

import asyncio
import statistics
import time
from collections import Counter
from typing import Any

from opendialer.clock import VIRTUAL_EPOCH, VirtualClock
from opendialer.telephony import AgentEndpoint, CallEvent, CallEventKind, OriginateRequest
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Reach, Scenario

K = CallEventKind
AGENT = AgentEndpoint("a1", "sip:a1@127.0.0.1")

BENCHMARK_LIKE: dict[str, dict[str, Any]] = {
    "customers": {
        "p_live": 0.2,
        "p_machine": 0.15,
        "busy_share": 0.1,
        "live_answer_after": {"dist": "gamma", "mean": 8, "sd": 4},
        "machine_answer_after": {"dist": "gamma", "mean": 12, "sd": 5},
        "talk_time": {"dist": "lognormal", "mean": 120, "sd": 60},
    },
    "amd": {"delay": 2.0, "false_positive": 0.1, "false_negative": 0.2},
}


def dial_many(
    count: int, *, seed: int = 7, amd: bool = False, spacing: float = 0.5, **customers: Any
) -> tuple[list[CallEvent], SimNetwork]:
    """An engine stand-in: dial every ``spacing`` s, bridge people, hang up on machines."""
    clock = VirtualClock()
    settings = BENCHMARK_LIKE | {"customers": BENCHMARK_LIKE["customers"] | customers}
    scenario = Scenario.model_validate(settings)
    network = SimNetwork(clock, scenario, seed=seed)
    events: list[CallEvent] = []

    async def handle() -> None:
        finals = 0
        async for event in network.events():
            events.append(event)
            finals += event.final
            if event.kind is K.ANSWERED_HUMAN:
                await network.bridge(event.call_id, AGENT)
            elif event.kind is K.ANSWERED_MACHINE:
                await network.hangup(event.call_id)
            if finals == count:
                return

    async def main() -> None:
        await network.start()
        handler = asyncio.create_task(handle())
        for n in range(count):
            await network.originate(
                OriginateRequest(
                    number=f"+49301{n:07d}", caller_id="+4930999", ring_timeout=25, amd=amd
                )
            )
            await clock.sleep(spacing)
        await handler
        await network.stop()

    clock.run(main())
    return events, network


def since_dial(event: CallEvent, spacing: float) -> float:
    """Seconds from the dial to ``event``; ``dial_many`` dials sim-n at n * spacing."""
    dialled = int(event.call_id.removeprefix("sim-")) * spacing
    return round((event.at - VIRTUAL_EPOCH).total_seconds() - dialled, 6)


def test_outcome_frequencies_match_the_scenario() -> None:
    started = time.perf_counter()
    events, network = dial_many(5000)
    assert time.perf_counter() - started < 5
    reached = network.stats.reached
    assert network.stats.dials == 5000
    assert abs(reached[Reach.PERSON] / 5000 - 0.2) < 0.02
    assert abs(reached[Reach.MACHINE] / 5000 - 0.15) < 0.02
    assert abs(reached[Reach.BUSY] / 5000 - 0.065) < 0.015
    kinds = Counter(e.kind for e in events)
    assert kinds[K.BUSY] == reached[Reach.BUSY]
    # Without AMD every answer counts as a person; a few machines ring past the 25 s timeout.
    answered = reached[Reach.PERSON] + reached[Reach.MACHINE]
    assert 0.97 * answered < kinds[K.ANSWERED_HUMAN] <= answered
    assert kinds[K.ANSWERED_MACHINE] == 0
    assert kinds[K.ANSWERED] == kinds[K.ANSWERED_HUMAN] == kinds[K.BRIDGED]


def test_ring_to_answer_and_talk_times_follow_their_distributions() -> None:
    events, _ = dial_many(3000, p_machine=0.0)
    times: dict[str, dict[K, float]] = {}
    for event in events:
        times.setdefault(event.call_id, {})[event.kind] = since_dial(event, 0.5)
    rings = [kinds[K.ANSWERED] for kinds in times.values() if K.ANSWERED in kinds]
    talks = [
        kinds[K.HANGUP_CUSTOMER] - kinds[K.BRIDGED]
        for kinds in times.values()
        if K.BRIDGED in kinds
    ]
    assert abs(statistics.mean(rings) - 8) < 0.4
    assert abs(statistics.stdev(rings) - 4) < 0.4
    assert abs(statistics.mean(talks) - 120) < 6
    assert abs(statistics.stdev(talks) - 60) < 8


def test_amd_errors_happen_at_their_rates() -> None:
    events, network = dial_many(5000, amd=True)
    people = network.stats.reached[Reach.PERSON]
    machines = network.stats.reached[Reach.MACHINE]
    assert abs(network.stats.amd_false_positives / people - 0.1) < 0.03
    assert abs(network.stats.amd_false_negatives / machines - 0.2) < 0.04
    kinds = Counter(e.kind for e in events)
    assert kinds[K.ANSWERED_MACHINE] > 0 and kinds[K.ANSWERED_HUMAN] > 0


def _trace(events: list[CallEvent]) -> list[tuple[str, K, float]]:
    return [(e.call_id, e.kind, e.at.timestamp()) for e in events]


def test_the_same_seed_gives_the_same_events() -> None:
    first, _ = dial_many(500, seed=11, amd=True)
    again, _ = dial_many(500, seed=11, amd=True)
    other, _ = dial_many(500, seed=12, amd=True)
    assert _trace(first) == _trace(again)
    assert _trace(first) != _trace(other)


def test_common_random_numbers_across_dialers() -> None:
    """Dialers that differ (AMD, pace) meet the same customer on their n-th dial."""

    def customers(events: list[CallEvent], spacing: float) -> dict[str, tuple[K, float]]:
        return {
            e.call_id: (e.kind, since_dial(e, spacing))
            for e in events
            if e.kind in (K.ANSWERED, K.BUSY, K.NO_ANSWER)
        }

    slow_without_amd, _ = dial_many(400, seed=5, spacing=2.0)
    fast_with_amd, _ = dial_many(400, seed=5, amd=True, spacing=0.1)
    outcomes = customers(slow_without_amd, 2.0)
    assert outcomes == customers(fast_with_amd, 0.1)
    assert len(outcomes) == 400 and len({kind for kind, _ in outcomes.values()}) == 3
