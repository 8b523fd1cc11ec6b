"""The simulated network, call by call, on a virtual clock."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from opendialer.clock import VirtualClock
from opendialer.telephony import (
    AgentEndpoint,
    CallEvent,
    CallEventKind,
    CallId,
    CallStateError,
    OriginateRequest,
    TelephonyBackend,
    UnknownCallError,
)
from opendialer.telephony.sim import SimNetwork, create_backend
from opendialer.telephony.sim_scenario import Amd, Distribution, Reach, Scenario

K = CallEventKind
AGENT = AgentEndpoint("agent-7", "sip:agent-7@127.0.0.1")


def scenario(**customers: Any) -> Scenario:
    """Clockwork people: ringing at 1 s, answer at 3 s, talk 60 s; agent phones pick up in 0.5 s."""
    base: dict[str, Any] = {
        "p_live": 1.0,
        "p_machine": 0.0,
        "live_answer_after": 3,
        "machine_answer_after": 3,
        "talk_time": 60,
        "machine_handling": 20,
    }
    return Scenario.model_validate(
        {"customers": base | customers, "amd": {"delay": 2.5}, "agents": {"answer_delay": 0.5}}
    )


def request(**overrides: Any) -> OriginateRequest:
    fields: dict[str, Any] = {"number": "+4930123456", "caller_id": "+4930999", "ring_timeout": 25}
    return OriginateRequest(**(fields | overrides))


Timeline = list[tuple[float, CallEventKind]]
Script = Callable[[SimNetwork, VirtualClock], Awaitable[None]]


def run(sim_scenario: Scenario, script: Script) -> tuple[Timeline, list[CallEvent]]:
    """Run ``script`` on a fresh network; return every event, also as (seconds, kind)."""
    clock = VirtualClock()
    network = SimNetwork(clock, sim_scenario, seed=1)
    events: list[CallEvent] = []

    async def collect() -> None:
        async for event in network.events():
            events.append(event)

    async def main() -> None:
        await network.start()
        collector = asyncio.create_task(collect())
        await script(network, clock)
        await clock.sleep(3600)
        await network.stop()
        await collector

    clock.run(main())
    start = clock.now().timestamp() - clock.monotonic()
    timeline = [(round(e.at.timestamp() - start, 6), e.kind) for e in events]
    return timeline, events


async def dial(network: SimNetwork, clock: VirtualClock) -> None:
    await network.originate(request())


def test_sim_is_a_telephony_backend() -> None:
    clock = VirtualClock()
    assert isinstance(SimNetwork(clock), TelephonyBackend)
    assert isinstance(create_backend(clock, {"seed": 3}), TelephonyBackend)


def test_unbridged_answer_stays_up_until_the_dialer_acts() -> None:
    timeline, events = run(scenario(), dial)
    assert timeline == [
        (1, K.RINGING),
        (3, K.ANSWERED),
        (3, K.ANSWERED_HUMAN),
        (3600, K.HANGUP_DIALER),  # ended by stop()
    ]
    assert events[0].sip_status == 180
    assert events[2].detail == "amd off"


def test_bridge_then_talk_then_the_customer_hangs_up() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        call = await network.originate(request())
        await clock.sleep(3)
        await network.bridge(call, AGENT)

    timeline, events = run(scenario(), script)
    assert timeline == [
        (1, K.RINGING),
        (3, K.ANSWERED),
        (3, K.ANSWERED_HUMAN),
        (3.5, K.BRIDGED),
        (63.5, K.HANGUP_CUSTOMER),
    ]
    assert events[3].agent_id == "agent-7"
    assert events[-1].final and events[-1].q850_cause == 16


def test_a_bridged_machine_takes_the_machine_handling_time() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        call = await network.originate(request())
        await clock.sleep(3)
        await network.bridge(call, AGENT)

    timeline, events = run(scenario(p_live=0.0, p_machine=1.0), script)
    assert timeline[-2:] == [(3.5, K.BRIDGED), (23.5, K.HANGUP_AGENT)]
    assert events[-1].detail == "machine"


def test_amd_classifies_after_its_delay() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        await network.originate(request(amd=True))
        await network.originate(request(amd=True))

    people, _ = run(scenario(), script)
    machines, _ = run(scenario(p_live=0.0, p_machine=1.0), script)
    assert (5.5, K.ANSWERED_HUMAN) in people
    assert (5.5, K.ANSWERED_MACHINE) in machines


def test_cancel_before_answer_gives_no_answer_event() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        call = await network.originate(request())
        await clock.sleep(2)
        await network.cancel(call)
        await network.cancel(call)  # a second cancel is a no-op

    timeline, events = run(scenario(), script)
    assert timeline == [(1, K.RINGING), (2, K.CANCELLED)]
    assert (events[-1].sip_status, events[-1].q850_cause) == (487, 16)


def test_cancel_after_answer_leaves_the_call_to_the_dialer() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        call = await network.originate(request())
        await clock.sleep(4)
        await network.cancel(call)
        await network.play_and_hangup(call, "abandon-message")

    timeline, events = run(scenario(), script)
    assert timeline[-1] == (10, K.HANGUP_DIALER)
    assert events[-1].detail == "played abandon-message"


def test_ring_timeout_gives_no_answer() -> None:
    timeline, events = run(scenario(p_live=0.0, busy_share=0.0), dial)
    assert timeline == [(1, K.RINGING), (25, K.NO_ANSWER)]
    assert (events[-1].sip_status, events[-1].q850_cause) == (487, 19)


def test_an_answer_later_than_the_ring_timeout_is_no_answer() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        await network.originate(request(ring_timeout=2))

    timeline, _ = run(scenario(), script)
    assert timeline == [(1, K.RINGING), (2, K.NO_ANSWER)]


@pytest.mark.parametrize(
    ("share", "kind", "sip", "cause", "at"),
    [
        ("busy_share", K.BUSY, 486, 17, 4),
        ("invalid_share", K.INVALID_NUMBER, 404, 1, 1),
        ("failed_share", K.FAILED, 503, 41, 0.5),
    ],
)
def test_network_releases(share: str, kind: CallEventKind, sip: int, cause: int, at: float) -> None:
    shares = {"busy_share": 0.0, share: 1.0}
    timeline, events = run(scenario(p_live=0.0, **shares), dial)
    assert timeline == [(at, kind)]
    assert (events[0].sip_status, events[0].q850_cause) == (sip, cause)


def test_hangup_before_and_after_answer() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        early = await network.originate(request())
        late = await network.originate(request())
        await network.hangup(early)
        await clock.sleep(5)
        await network.hangup(late)

    timeline, _ = run(scenario(), script)
    assert (0, K.CANCELLED) in timeline
    assert timeline[-1] == (5, K.HANGUP_DIALER)


def test_agent_first_rings_the_agent_then_joins_the_customer() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        await network.originate_agent_first(AGENT, request())

    timeline, events = run(scenario(), script)
    assert timeline == [
        (0.5, K.AGENT_ANSWERED),
        (1.5, K.RINGING),
        (3.5, K.ANSWERED),
        (3.5, K.ANSWERED_HUMAN),
        (3.5, K.BRIDGED),
        (63.5, K.HANGUP_CUSTOMER),
    ]
    assert {e.agent_id for e in events} == {"agent-7"}


def test_agent_first_busy_customer_ends_the_call() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        await network.originate_agent_first(AGENT, request())

    timeline, _ = run(scenario(p_live=0.0, busy_share=1.0), script)
    assert timeline == [(0.5, K.AGENT_ANSWERED), (4.5, K.BUSY)]


def test_an_impatient_person_hangs_up_in_silence() -> None:
    timeline, events = run(scenario(patience=4), dial)
    assert timeline[-1] == (7, K.HANGUP_CUSTOMER)
    assert events[-1].detail == "hung up waiting in silence"


def test_a_connected_person_is_patient() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        call = await network.originate(request())
        await clock.sleep(3)
        await network.bridge(call, AGENT)

    timeline, _ = run(scenario(patience=1), script)
    assert timeline[-1] == (63.5, K.HANGUP_CUSTOMER)


def test_each_call_gets_exactly_one_final_event_last() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        for n in range(200):
            call = await network.originate(request(amd=n % 2 == 0))
            if n % 3 == 0:
                await clock.sleep(4)
                await network.cancel(call)

    mixed = scenario(p_live=0.3, p_machine=0.2, patience=5)
    _, events = run(mixed, script)
    by_call: dict[CallId, list[CallEvent]] = {}
    for event in events:
        by_call.setdefault(event.call_id, []).append(event)
    assert len(by_call) == 200
    for call_events in by_call.values():
        assert [e.final for e in call_events].count(True) == 1
        assert call_events[-1].final


def test_commands_on_ended_calls_are_ignored_and_mistakes_raise() -> None:
    async def script(network: SimNetwork, clock: VirtualClock) -> None:
        call = await network.originate(request())
        with pytest.raises(CallStateError):
            await network.bridge(call, AGENT)
        with pytest.raises(CallStateError):
            await network.play_and_hangup(call, "x")
        await network.hangup(call)
        await network.bridge(call, AGENT)
        await network.play_and_hangup(call, "x")
        with pytest.raises(UnknownCallError):
            await network.hangup(CallId("sim-99"))
        with pytest.raises(UnknownCallError):
            await network.cancel(CallId("elsewhere-1"))

    timeline, _ = run(scenario(), script)
    assert timeline == [(0, K.CANCELLED)]


def test_originate_needs_a_running_backend() -> None:
    clock = VirtualClock()
    network = SimNetwork(clock)
    with pytest.raises(CallStateError, match="not running"):
        clock.run(network.originate(request()))


def test_recording_hook_sees_bridged_recorded_calls() -> None:
    seen: list[tuple[str, CallId, datetime]] = []

    class Hook:
        def recording_started(self, call_id: CallId, at: datetime) -> None:
            seen.append(("start", call_id, at))

        def recording_stopped(self, call_id: CallId, at: datetime) -> None:
            seen.append(("stop", call_id, at))

    clock = VirtualClock()
    network = SimNetwork(clock, scenario(), recording_hook=Hook())

    async def main() -> None:
        await network.start()
        recorded = await network.originate(request(record=True))
        unrecorded = await network.originate(request())
        await clock.sleep(3)
        await network.bridge(recorded, AGENT)
        await network.bridge(unrecorded, AGENT)
        await clock.sleep(100)
        await network.stop()

    clock.run(main())
    assert [(what, call) for what, call, _ in seen] == [("start", "sim-0"), ("stop", "sim-0")]
    assert (seen[1][2] - seen[0][2]).total_seconds() == 60


def test_stop_ends_live_calls_and_the_stream() -> None:
    clock = VirtualClock()
    network = SimNetwork(clock, scenario())

    async def main() -> list[CallEventKind]:
        await network.start()
        await network.originate(request())
        await clock.sleep(0.5)
        await network.stop()
        return [event.kind async for event in network.events()]

    assert clock.run(main()) == [K.CANCELLED]


def test_the_observer_sees_the_truth_behind_amd_mistakes() -> None:
    truths: list[tuple[CallEventKind, Reach | None]] = []
    clock = VirtualClock()
    fooled = scenario().model_copy(
        update={"amd": Amd(delay=Distribution(mean=2.5), false_positive=1.0)}
    )
    network = SimNetwork(clock, fooled, observer=lambda e, truth: truths.append((e.kind, truth)))

    async def main() -> None:
        await network.start()
        await network.originate(request(amd=True))
        await clock.sleep(10)
        await network.stop()

    clock.run(main())
    assert (K.ANSWERED_MACHINE, Reach.PERSON) in truths
    assert network.stats.amd_false_positives == 1
