"""Call progress and abandoned callers through the engine, SIPp and rtpengine: a number whose
network plays a special-information tone or a fax tone in early media is marked invalid (not
"no answer"); a person answered when no agent can be free hears the campaign's message starting
within 2 s of the answer."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from opendialer.agents import sessions as agent_sessions
from opendialer.db import unit_of_work
from opendialer.engine.agent_state import AgentEvent
from opendialer.models import (
    CallOutcome,
    Contact,
    ContactPhone,
    ContactStatus,
    User,
)
from opendialer.scoping import Scope
from tests.telephony.sip.engine_calls import EngineCalls
from tests.telephony.sip.rtp_sink import audio, received, start_sink
from tests.telephony.sip.rtpengine import SAMPLE_RATE, sox_file, strength, tone_file
from tests.telephony.sip.sipp import Farm, Network
from tests.telephony.sip.test_listen import INCOMPATIBLE_DESTINATION, UNALLOCATED_NUMBER, _sit
from tests.telephony.sip.test_media import CLEAR_TONE, MESSAGE_HZ

SAFE_HARBOR_SECONDS = 2.0


def _early_media(farm: Farm, audio_file: Path, hold_ms: int) -> Any:
    extra = {"AUDIO": str(audio_file), "HOLD_MS": str(hold_ms)}
    reason = "Temporarily Unavailable"
    return farm.peer("early_media", 1, role="network", code=480, reason=reason, extra=extra)


def test_tones_in_early_media_mark_the_numbers_invalid_not_unanswered(
    calls: EngineCalls,
    farm: Farm,
    media_options: dict[str, Any],
    tmp_path: Path,
) -> None:
    sit_network = _early_media(farm, _sit(tmp_path / "sit.ul"), hold_ms=4000)  # then 480
    cng = sox_file(tmp_path / "cng.ul", ["synth", "0.5", "sine", "1100", "pad", "0", "3"])
    fax_network = _early_media(farm, cng, hold_ms=60_000)  # rings on past the ring timeout
    agent = farm.peer("answer", None, talk_ms=30_000, role="agent")
    campaign_id = calls.campaign(agent.uri_host)  # no AMD: tones are heard anyway
    leads = {"sit": ("030 1001001", sit_network), "fax": ("030 2002002", fax_network)}
    attempts = calls.dial_leads(campaign_id, media_options, leads)
    ends = {a.b_number: (a.outcome, a.cause_code, a.end_detail or "") for a in attempts}
    with unit_of_work(calls.sessions) as session:
        phones = session.scalars(
            select(ContactPhone).join(Contact).where(Contact.campaign_id == campaign_id)
        ).all()
        numbers = {p.e164: (p.invalid, p.last_cause, p.contact.status) for p in phones}
    sit_end, fax_end = ends["+49301001001"], ends["+49302002002"]
    assert sit_end[:2] == (CallOutcome.INVALID_NUMBER, UNALLOCATED_NUMBER)
    assert "special information tone in early media" in sit_end[2]
    assert fax_end[:2] == (CallOutcome.INVALID_NUMBER, INCOMPATIBLE_DESTINATION)
    assert "fax in early media" in fax_end[2] and "not a person" in fax_end[2]
    assert numbers == {
        "+49301001001": (True, UNALLOCATED_NUMBER, ContactStatus.DONE),
        "+49302002002": (True, INCOMPATIBLE_DESTINATION, ContactStatus.DONE),
    }
    assert sit_network.wait() == 0 and fax_network.wait() == 0


def test_a_person_no_agent_can_take_hears_the_message_within_two_seconds_of_the_answer(
    calls: EngineCalls,
    farm: Farm,
    media_options: dict[str, Any],
    sip_network: Network,
    tmp_path: Path,
) -> None:
    message_seconds = 1.5
    message = tone_file(tmp_path / "message.wav", MESSAGE_HZ, message_seconds)
    sink_port = farm.free_port()
    extra = {"MEDIA_PORT": str(sink_port), "STREAM": ""}
    customer = farm.peer(
        "answer_audio", 1, ring_ms=1500, talk_ms=20_000, role="customer", extra=extra
    )
    agent = farm.peer("answer", None, talk_ms=30_000, role="agent")
    campaign_id = calls.campaign(agent.uri_host, abandon_announcement_uri=str(message))
    calls.add_leads(campaign_id, {"waits": "030 1001001"})
    sink = start_sink(sip_network, sink_port, tmp_path / "heard.txt", 15.0)

    async def pause_the_agent_while_it_rings() -> None:
        """The only agent goes on a break once the customer is dialled: nobody can take it."""
        while not calls.has_attempt(campaign_id):
            await asyncio.sleep(0.02)
        with unit_of_work(calls.sessions) as session:
            [user_id] = session.scalars(
                select(User.id).where(User.username == f"c{campaign_id}-agent1")
            ).all()
            scope, at = Scope.system(calls.tenant.tenant.id), datetime.now(UTC)
            agent_sessions.act(
                session, scope, AgentEvent.PAUSE, user_id=user_id, at=at, reason="break"
            )

    routes = [{"prefix": "+4930", "trunk": customer.uri_host}]
    options = {**media_options, "routes": routes}
    calls.dial(campaign_id, options, 1, pause_the_agent_while_it_rings)
    assert calls.ended(campaign_id) == 1

    [attempt] = calls.attempts(campaign_id)
    outcome, detail, answered_at = attempt.outcome, attempt.end_detail, attempt.answered_at
    assert outcome is CallOutcome.ABANDONED and (detail or "").startswith("played")
    assert answered_at is not None
    sink.wait(20)
    packets = received(tmp_path / "heard.txt")
    assert packets, "the customer received no audio"
    answered = answered_at.replace(tzinfo=answered_at.tzinfo or UTC).timestamp()
    assert packets[0][0] - answered < SAFE_HARBOR_SECONDS
    heard = audio(packets)
    assert len(heard) / SAMPLE_RATE >= message_seconds
    assert strength(heard, MESSAGE_HZ) > CLEAR_TONE
    assert customer.wait() == 0
