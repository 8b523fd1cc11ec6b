"""Single calls against SIPp peers: the outcome, the SIP on the wire, and the timing."""

import asyncio
from typing import Any

import pytest

from opendialer.telephony import AgentEndpoint, CallEventKind
from tests.telephony.sip.helpers import Recorder, make_backend, request
from tests.telephony.sip.sipp import Farm, Message

TIME_TOLERANCE = 0.35


def _route(options: dict[str, Any], prefix: str, host: str) -> dict[str, Any]:
    return {**options, "routes": [*options.get("routes", []), {"prefix": prefix, "trunk": host}]}


def _sdp_origin(message: Message) -> str:
    return next(line for line in message.body.splitlines() if line.startswith("o="))


def test_customer_first_call_is_joined_by_rfc3725_flow_i(
    farm: Farm, sip_options: dict[str, Any]
) -> None:
    customer = farm.peer("answer", 1, ring_ms=300, talk_ms=1000, role="customer")
    agent = farm.peer("answer", 1, talk_ms=10_000, role="agent")
    options = _route(sip_options, "+4930100", customer.uri_host)

    async def scenario() -> Recorder:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        call = await backend.originate(request("+49301001"))
        recorder.bridge_to[call] = AgentEndpoint("7", f"sip:agent7@{agent.uri_host}")
        final = await recorder.wait_for(call)
        await backend.stop()
        await recorder.task
        assert final.kind is CallEventKind.HANGUP_CUSTOMER
        assert final.agent_id == "7"
        assert recorder.kinds(call) == [
            CallEventKind.RINGING,
            CallEventKind.ANSWERED,
            CallEventKind.ANSWERED_HUMAN,
            CallEventKind.BRIDGED,
            CallEventKind.HANGUP_CUSTOMER,
        ]
        talk = recorder.seconds_between(call, CallEventKind.BRIDGED, CallEventKind.HANGUP_CUSTOMER)
        assert talk == pytest.approx(1.0, abs=TIME_TOLERANCE)
        ring = recorder.seconds_between(call, CallEventKind.RINGING, CallEventKind.ANSWERED)
        assert ring == pytest.approx(0.3, abs=TIME_TOLERANCE)
        return recorder

    asyncio.run(scenario())
    assert customer.wait() == 0 and agent.wait() == 0
    (customer_invite,) = customer.received("INVITE")
    assert customer_invite.body == ""
    customer_ok = next(m for m in customer.messages() if m.sent and "200 OK" in m.first_line)
    (agent_invite,) = agent.received("INVITE")
    assert _sdp_origin(agent_invite).startswith("o=customer")
    assert agent_invite.body == customer_ok.body
    (customer_ack,) = customer.received("ACK")
    assert _sdp_origin(customer_ack).startswith("o=agent")
    assert customer.received("BYE") == []  # the customer hung up: it sent the BYE
    assert len(agent.received("BYE")) == 1


async def _one_call(options: dict[str, Any], number: str, **fields: Any) -> tuple[Recorder, Any]:
    backend = make_backend(options)
    await backend.start()
    recorder = Recorder(backend)
    call = await backend.originate(request(number, **fields))
    final = await recorder.wait_for(call)
    await backend.stop()
    await recorder.task
    return recorder, final


@pytest.mark.parametrize(
    ("code", "reason", "kind", "cause"),
    [
        (486, "Busy Here", CallEventKind.BUSY, 17),
        (404, "Not Found", CallEventKind.INVALID_NUMBER, 1),
        (484, "Address Incomplete", CallEventKind.INVALID_NUMBER, 28),
        (480, "Temporarily Unavailable", CallEventKind.NO_ANSWER, 18),
        (408, "Request Timeout", CallEventKind.NO_ANSWER, 102),
        (503, "Service Unavailable", CallEventKind.FAILED, 41),
        (603, "Decline", CallEventKind.FAILED, 21),
    ],
)
def test_a_final_response_maps_to_its_outcome_and_cause(
    farm: Farm,
    sip_options: dict[str, Any],
    code: int,
    reason: str,
    kind: CallEventKind,
    cause: int,
) -> None:
    peer = farm.peer("reject", 1, ring_ms=200, code=code, reason=reason)
    options = _route(sip_options, "+4930200", peer.uri_host)
    _, final = asyncio.run(_one_call(options, "+49302001"))
    assert (final.kind, final.sip_status, final.q850_cause) == (kind, code, cause)
    assert peer.wait() == 0
    assert peer.sent_status()[-1] == code
    assert len(peer.received("ACK")) == 1


def test_an_unanswered_call_is_cancelled_at_the_ring_timeout(
    farm: Farm, sip_options: dict[str, Any]
) -> None:
    peer = farm.peer("no_answer", 1)
    options = _route(sip_options, "+4930300", peer.uri_host)
    _, final = asyncio.run(_one_call(options, "+49303001", ring_timeout=1.5))
    assert (final.kind, final.sip_status, final.q850_cause) == (CallEventKind.NO_ANSWER, 487, 19)
    assert peer.wait() == 0
    (invite,) = peer.received("INVITE")
    (cancel,) = peer.received("CANCEL")
    assert (cancel.at - invite.at).total_seconds() == pytest.approx(1.5, abs=TIME_TOLERANCE)
    assert 487 in peer.sent_status()


def test_the_ring_timeout_floor_applies(farm: Farm, sip_options: dict[str, Any]) -> None:
    peer = farm.peer("no_answer", 1)
    options = _route({**sip_options, "min_ring_timeout": 1.0}, "+4930300", peer.uri_host)
    asyncio.run(_one_call(options, "+49303001", ring_timeout=0.2))
    assert peer.wait() == 0
    (invite,) = peer.received("INVITE")
    (cancel,) = peer.received("CANCEL")
    assert (cancel.at - invite.at).total_seconds() == pytest.approx(1.0, abs=TIME_TOLERANCE)


def test_an_unreachable_trunk_fails_the_attempt_with_a_cause(sip_options: dict[str, Any]) -> None:
    _, final = asyncio.run(_one_call(sip_options, "+49309999"))
    assert (final.kind, final.sip_status, final.q850_cause) == (CallEventKind.FAILED, None, 38)
    assert "no response from 127.0.0.1:5199" in final.detail
