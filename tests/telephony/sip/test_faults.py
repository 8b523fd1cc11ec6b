"""Agent-first calls, announcements, and faults: each ends its attempt with a cause."""

import asyncio
import socket
import subprocess
from typing import Any

import pytest

from opendialer.clock import RealClock
from opendialer.telephony import (
    AgentEndpoint,
    CallEventKind,
    CallId,
    CallStateError,
    TelephonyConfigError,
    TelephonyError,
    UnknownCallError,
    load_backend,
)
from opendialer.telephony.sip import SipOptionsError, load_options
from tests.telephony.sip.helpers import Recorder, make_backend, request
from tests.telephony.sip.sipp import Farm, Message
from tests.telephony.sip.test_calls import _route


def _origin(message: Message) -> str:
    return next(line for line in message.body.splitlines() if line.startswith("o="))


def test_agent_first_rings_the_agent_then_joins_the_customer(
    farm: Farm, sip_options: dict[str, Any]
) -> None:
    agent = farm.peer("agent_first", 1, talk_ms=10_000, role="agent")
    customer = farm.peer("answer", 1, ring_ms=200, talk_ms=800, role="customer")
    options = _route(sip_options, "+4930100", customer.uri_host)

    async def scenario() -> list[CallEventKind]:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        endpoint = AgentEndpoint("3", f"sip:agent3@{agent.uri_host}")
        call = await backend.originate_agent_first(endpoint, request("+49301001"))
        final = await recorder.wait_for(call)
        await backend.stop()
        await recorder.task
        assert final.kind is CallEventKind.HANGUP_CUSTOMER
        return recorder.kinds(call)

    kinds = asyncio.run(scenario())
    assert kinds == [
        CallEventKind.AGENT_ANSWERED,
        CallEventKind.RINGING,
        CallEventKind.ANSWERED,
        CallEventKind.ANSWERED_HUMAN,
        CallEventKind.BRIDGED,
        CallEventKind.HANGUP_CUSTOMER,
    ]
    assert agent.wait() == 0 and customer.wait() == 0
    park, join = agent.received("INVITE")
    assert "a=inactive" in park.body
    assert _origin(join).startswith("o=customer")
    assert customer.received("INVITE")[0].body == ""
    assert _origin(customer.received("ACK")[0]).startswith("o=agent")


def test_an_agent_who_does_not_answer_leaves_the_customer_waiting(
    farm: Farm, sip_options: dict[str, Any]
) -> None:
    customer = farm.peer("answer", 1, talk_ms=10_000, role="customer")
    agent = farm.peer("no_answer", 1)
    options = _route(sip_options, "+4930100", customer.uri_host)

    async def scenario() -> Recorder:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        call = await backend.originate(request("+49301001"))
        recorder.bridge_to[call] = AgentEndpoint("5", f"sip:agent5@{agent.uri_host}")
        missed = await recorder.wait_for(call, CallEventKind.AGENT_NO_ANSWER)
        assert missed.agent_id == "5" and "did not answer within 2 s" in missed.detail
        await backend.play_and_hangup(call, "announcement:abandoned")
        final = await recorder.wait_for(call)
        assert final.kind is CallEventKind.HANGUP_DIALER
        await backend.stop()
        await recorder.task
        return recorder

    asyncio.run(scenario())
    assert agent.wait() == 0 and customer.wait() == 0
    assert len(agent.received("CANCEL")) == 1
    (ack,) = customer.received("ACK")
    assert "m=audio 0 " in ack.body  # the offer declined, then the BYE
    assert len(customer.received("BYE")) == 1


def test_an_abandoned_call_hears_the_announcement_uri(
    farm: Farm, sip_options: dict[str, Any]
) -> None:
    customer = farm.peer("answer", 1, talk_ms=10_000, role="customer")
    announcer = farm.peer("answer", 1, talk_ms=500, role="announcement")
    options = _route(sip_options, "+4930100", customer.uri_host)

    async def scenario() -> str:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        call = await backend.originate(request("+49301001"))
        await recorder.wait_for(call, CallEventKind.ANSWERED_HUMAN)
        uri = f"sip:abandoned@{announcer.uri_host}"
        await backend.play_and_hangup(call, uri)
        final = await recorder.wait_for(call)
        await backend.stop()
        await recorder.task
        assert final.kind is CallEventKind.HANGUP_DIALER
        return final.detail

    detail = asyncio.run(scenario())
    assert detail.startswith("played sip:abandoned@")
    assert customer.wait() == 0 and announcer.wait() == 0
    assert _origin(announcer.received("INVITE")[0]).startswith("o=customer")
    assert _origin(customer.received("ACK")[0]).startswith("o=announcement")
    assert len(customer.received("BYE")) == 1


def test_a_malformed_answer_fails_the_call_and_the_backend_keeps_going(
    farm: Farm, sip_options: dict[str, Any]
) -> None:
    broken = farm.peer("tagless_answer", 1, role="broken")
    busy = farm.peer("reject", 1, code=486, reason="Busy Here")
    options = _route(_route(sip_options, "+4930600", broken.uri_host), "+4930200", busy.uri_host)

    async def scenario() -> None:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        garbage = ["python3", "-c", _GARBAGE.format(port=backend.port)]
        subprocess.run(farm.network.command(garbage), check=True)
        first = await backend.originate(request("+49306001"))
        bad = await recorder.wait_for(first)
        assert (bad.kind, bad.sip_status) == (CallEventKind.FAILED, 502)
        second = await backend.originate(request("+49302001"))
        assert (await recorder.wait_for(second)).kind is CallEventKind.BUSY
        await backend.stop()
        await recorder.task

    asyncio.run(scenario())
    assert busy.wait() == 0


_GARBAGE = (
    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "for junk in (b'\\x00' * 40, b'INVITE nonsense\\r\\n\\r\\n' * 3, b'SIP/2.0 999\\r\\n' * 9):\n"
    "    s.sendto(junk, ('127.0.0.1', {port}))"
)


def test_keepalive_finds_a_customer_leg_that_is_gone(
    farm: Farm, sip_options: dict[str, Any]
) -> None:
    gone = "Call Leg/Transaction Does Not Exist"
    customer = farm.peer("answer_then_options", 1, role="customer", code=481, reason=gone)
    agent = farm.peer("answer_then_options", 1, role="agent", code=200, reason="OK")
    options = _route({**sip_options, "keepalive_interval": 0.5}, "+4930100", customer.uri_host)

    async def scenario() -> None:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        call = await backend.originate(request("+49301001"))
        recorder.bridge_to[call] = AgentEndpoint("1", f"sip:agent1@{agent.uri_host}")
        final = await recorder.wait_for(call)
        assert (final.kind, final.sip_status) == (CallEventKind.HANGUP_CUSTOMER, 481)
        assert "keep-alive" in final.detail
        await backend.stop()
        await recorder.task

    asyncio.run(scenario())
    assert customer.wait() == 0 and agent.wait() == 0
    assert len(customer.received("OPTIONS")) == 1
    assert len(agent.received("BYE")) == 1


@pytest.mark.parametrize(
    ("within", "engine_acts", "kinds"),
    [
        (None, False, [CallEventKind.HANGUP_AGENT]),
        (2.0, True, [CallEventKind.AGENT_LOST, CallEventKind.HANGUP_DIALER]),
        (2.0, False, [CallEventKind.AGENT_LOST, CallEventKind.HANGUP_AGENT]),
    ],
    ids=["no grace asked", "lost within the grace", "the engine says nothing"],
)
def test_an_agent_leg_lost_soon_after_the_bridge_is_left_to_the_engine(
    within: float | None,
    engine_acts: bool,
    kinds: list[CallEventKind],
    farm: Farm,
    sip_options: dict[str, Any],
) -> None:
    """The agent's phone answers the first keep-alive with 408 (Kamailio: the browser's
    WebSocket is gone). Within ``agent_lost_within`` of the bridge the customer stays on the
    line: ``AGENT_LOST``, then the engine's ``play_and_hangup`` (or, if it says nothing, an
    agent's hang-up after a while); without it the call ends at once as before."""
    customer = farm.peer("answer_then_options", 1, role="customer", code=200, reason="OK")
    agent = farm.peer("answer_then_options", 1, role="agent", code=408, reason="Unreachable")
    options = _route({**sip_options, "keepalive_interval": 0.5}, "+4930100", customer.uri_host)

    async def scenario() -> None:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        call = await backend.originate(request("+49301001", agent_lost_within=within))
        recorder.bridge_to[call] = AgentEndpoint("1", f"sip:agent1@{agent.uri_host}")
        if engine_acts:
            lost = await recorder.wait_for(call, CallEventKind.AGENT_LOST)
            assert lost.sip_status == 408 and "keep-alive: agent leg is gone" in lost.detail
            await backend.play_and_hangup(call, "announcement:abandoned")
        await recorder.wait_for(call, timeout=15.0)
        assert recorder.kinds(call)[-len(kinds) :] == kinds
        await backend.stop()
        await recorder.task

    asyncio.run(scenario())
    assert customer.wait() == 0 and agent.wait() == 0
    assert len(agent.received("BYE")) == 1 and len(customer.received("BYE")) == 1


@pytest.mark.parametrize(
    ("reason", "kinds"),
    [
        ("Q.850;cause=16", [CallEventKind.HANGUP_AGENT]),
        ("Q.850;cause=27", [CallEventKind.AGENT_LOST, CallEventKind.HANGUP_DIALER]),
    ],
    ids=["the agent hangs up", "the agent's phone goes away"],
)
def test_a_bye_within_the_grace_says_whether_the_agent_chose_it(
    reason: str, kinds: list[CallEventKind], farm: Farm, sip_options: dict[str, Any]
) -> None:
    """A BYE from the agent 0.3 s after the bridge: normal clearing (16, the agent's own hang-up)
    ends the call; any other cause (a browser's page closing sends 27) is a phone gone away,
    left to the engine, whose abandon handling then plays to the customer."""
    customer = farm.peer("answer", 1, talk_ms=10_000, role="customer")
    agent = farm.peer("answer", 1, talk_ms=300, role="agent", extra={"BYE_REASON": reason})
    options = _route(sip_options, "+4930100", customer.uri_host)

    async def scenario() -> None:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        call = await backend.originate(request("+49301001", agent_lost_within=2.0))
        recorder.bridge_to[call] = AgentEndpoint("1", f"sip:agent1@{agent.uri_host}")
        if CallEventKind.AGENT_LOST in kinds:
            lost = await recorder.wait_for(call, CallEventKind.AGENT_LOST)
            assert lost.q850_cause == 27
            await backend.play_and_hangup(call, "announcement:abandoned")
        await recorder.wait_for(call)
        assert recorder.kinds(call)[-len(kinds) :] == kinds
        await backend.stop()
        await recorder.task

    asyncio.run(scenario())
    assert customer.wait() == 0 and agent.wait() == 0


def test_no_free_call_slot_fails_the_attempt_at_once(
    farm: Farm, sip_options: dict[str, Any]
) -> None:
    peer = farm.peer("no_answer", 1)
    options = _route({**sip_options, "max_calls": 1}, "+4930300", peer.uri_host)

    async def scenario() -> None:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        first = await backend.originate(request("+49303001", ring_timeout=1.0))
        second = await backend.originate(request("+49303002"))
        full = await recorder.wait_for(second)
        assert (full.kind, full.q850_cause) == (CallEventKind.FAILED, 34)
        assert (await recorder.wait_for(first)).kind is CallEventKind.NO_ANSWER
        await backend.stop()
        await recorder.task

    asyncio.run(scenario())
    assert peer.wait() == 0


def test_commands_check_the_call(sip_options: dict[str, Any]) -> None:
    async def scenario() -> None:
        backend = make_backend(sip_options)
        with pytest.raises(CallStateError):
            await backend.originate(request("+49301001"))
        await backend.start()
        recorder = Recorder(backend)
        with pytest.raises(UnknownCallError):
            await backend.hangup(CallId("sip-999"))
        call = await backend.originate(request("+49301001"))
        with pytest.raises(CallStateError):
            await backend.bridge(call, AgentEndpoint("1", "sip:a@127.0.0.1"))
        await backend.cancel(call)
        final = await recorder.wait_for(call)
        assert (final.kind, final.sip_status) == (CallEventKind.CANCELLED, 487)
        await backend.hangup(call)  # ended: ignored
        await backend.stop()
        await recorder.task

    asyncio.run(scenario())


def test_port_exhaustion_stops_the_start_with_a_clear_error(
    farm: Farm, sip_options: dict[str, Any]
) -> None:
    peer = farm.peer("no_answer", 1)
    options = {**sip_options, "port_range": [peer.port, peer.port]}

    async def scenario() -> None:
        backend = make_backend(options)
        with pytest.raises(TelephonyError, match="no free UDP port"):
            await backend.start()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({}, "trunk: Field required"),
        ({"trunk": "not a host:port:x"}, "trunk"),
        ({"trunk": "sbc.example:5060", "port_range": [6000, 5000]}, "port_range"),
        ({"trunk": "sbc.example", "agents": {"1": "mailto:x"}}, "agents"),
        ({"trunk": "sbc.example", "ring": 3}, "ring: Extra inputs are not permitted"),
    ],
)
def test_bad_options_fail_at_start_up(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(SipOptionsError, match="invalid sip telephony options") as raised:
        load_options(options)
    assert problem in str(raised.value)
    with pytest.raises(TelephonyConfigError, match="'sip'"):
        load_backend("sip", clock=RealClock(), options=options)


def test_the_entry_point_builds_the_backend() -> None:
    backend = load_backend("sip", clock=RealClock(), options={"trunk": "sbc.example:5070"})
    assert backend.options.trunk_for("+4930123") == ("sbc.example", 5070)  # type: ignore[attr-defined]
    assert socket.AF_INET  # the module is used by the garbage sender above
