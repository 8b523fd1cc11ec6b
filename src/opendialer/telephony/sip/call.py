"""One dialler call as RFC 3725 third-party call control: the state machine of its SIP legs.

Customer-first (flow I): INVITE the customer without SDP; its 200 carries the offer and its ACK
is held back; ``bridge`` INVITEs the agent with that offer and ACKs the customer with the
agent's answer, so media flows customer <-> agent directly.

Agent-first: INVITE the agent with an inactive (hold) offer; when it answers, dial the customer
as above; when the customer answers, re-INVITE the agent with the customer's offer and ACK the
customer with the agent's answer.

With media through rtpengine the customer is invited with rtpengine's offer instead (early
offer), the dialer's side of it being a listening socket of ours (the *tap*): whatever the
customer's side sends from its first 183 with SDP on (early media: a special-information tone,
a fax) and after the answer (a greeting, for AMD) reaches the dialer's ear. Its 200 is ACKed at
once. Joining an agent re-offers rtpengine from the customer's side, so the agent replaces the
tap without the customer seeing a re-INVITE.

Everything here runs on the SIP thread; ``Net`` gives it legs and timers, ``emit`` reports.
"""

import logging
import wave
from collections.abc import Callable
from functools import partial
from pathlib import Path

from opendialer.telephony.base import CallEventKind
from opendialer.telephony.causes import NO_ANSWER_FROM_USER, NORMAL_CLEARING, failure_kind
from opendialer.telephony.causes import q850_for_sip as _q850_for_sip
from opendialer.telephony.sip.listen import tap_sdp
from opendialer.telephony.sip.media import NOBODY_SDP, MediaError, MediaRelayLost, Spool
from opendialer.telephony.sip.parts import (
    Emit,
    LegEventLike,
    LegLike,
    MediaLike,
    Net,
    Phase,
    Target,
    TimerLike,
    Timers,
)

log = logging.getLogger(__name__)

NETWORK_OUT_OF_ORDER = 38
TEMPORARY_FAILURE = 41
TIMER_EXPIRY = 102
INTERWORKING = 127


_BEFORE_ANSWER = frozenset({Phase.AGENT_RINGING, Phase.DIALLING})


def q850_for(status: int | None, cause: int | None) -> int | None:
    if status is None or status < 300:
        return cause
    return _q850_for_sip(status, cause)


class ThirdPartyCall:
    def __init__(
        self,
        net: Net,
        timers: Timers,
        emit: Emit,
        on_done: Callable[["ThirdPartyCall"], None],
        *,
        customer: Target,
        from_user: str,
        headers: dict[str, str],
        amd_requested: bool,
        record_requested: bool = False,
        media: MediaLike | None = None,
        on_spool: Callable[[Spool], None] | None = None,
        open_tap: Callable[[], tuple[str, int]] | None = None,
    ) -> None:
        self.net, self.timers, self._emit, self._on_done = net, timers, emit, on_done
        self.customer_target, self.from_user, self.headers = customer, from_user, headers
        self.amd_requested, self.record_requested = amd_requested, record_requested
        self.media, self._on_spool, self._open_tap = media, on_spool, open_tap
        self.media_problem = ""
        self.customer_sdp: str | None = None
        self.tapped = False  # AMD through the tap: a person or a machine is reported from there
        self.phase = Phase.DIALLING
        self.agent_first = False
        self.customer: LegLike | None = None
        self.agent: LegLike | None = None
        self.agent_id: str | None = None
        self.announcer: LegLike | None = None
        self.announcement = ""
        self.offer: str | None = None
        self.acked = False
        self.alerted = False
        self.agent_confirmed = False  # the agent's phone answered the check after the grace
        self._timers: dict[str, TimerLike] = {}
        self._answering = False

    # -- commands (from the backend, on the SIP thread)

    def start_customer_first(self) -> None:
        self._dial_customer()

    def start_agent_first(self, agent: Target, agent_id: str) -> None:
        self.agent_first, self.phase, self.agent_id = True, Phase.AGENT_RINGING, agent_id
        self.agent = self.net.leg(self._on_agent, agent)
        self.agent.invite(self.from_user, self.net.hold_offer(), self.headers)
        self._start_timer("agent", self.timers.agent_ring_timeout, self._agent_timeout)

    def bridge(self, agent: Target, agent_id: str) -> None:
        if self.phase is not Phase.ANSWERED or self.customer_sdp is None:
            log.info("bridge ignored: call is %s", self.phase.name)
            return
        offer = self._offer_for_agent()
        if offer is None:
            return
        self.phase, self.agent_id = Phase.CONNECTING, agent_id
        self.agent = self.net.leg(self._on_agent, agent)
        self.agent.invite(self.from_user, offer, self.headers)
        self._start_timer("agent", self.timers.agent_ring_timeout, self._agent_timeout)

    def agent_unreachable(self, agent_id: str, detail: str) -> None:
        """``bridge`` to an agent whose address could not be resolved."""
        if self.phase is Phase.ANSWERED:
            self._emit(CallEventKind.AGENT_NO_ANSWER, None, None, detail, agent_id)

    def announce(self, target: Target | Path | None, announcement: str) -> None:
        if self.phase is Phase.ENDED:
            return
        if self.phase not in (Phase.ANSWERED, Phase.CONNECTING) or self.customer_sdp is None:
            self.hangup()
            return
        self._drop_agent()
        self._stop_timer("agent-lost")
        self.announcement = announcement
        if isinstance(target, Path):
            self._play(target)
            return
        if target is None:
            detail = f"hung up: {announcement!r} is not a SIP URI to play"
            self._finish(CallEventKind.HANGUP_DIALER, None, NORMAL_CLEARING, detail)
            return
        offer = self._offer_for_agent()
        if offer is None:
            return
        self.phase = Phase.ANNOUNCING
        self.announcer = self.net.leg(self._on_announcer, target)
        self.announcer.invite(self.from_user, offer, self.headers)
        self._start_timer("announce", self.timers.announcement_max_seconds, self._announce_cut)

    def _play(self, file: Path) -> None:
        """rtpengine plays ``file`` to the customer; the call ends when it has played."""
        assert self.media is not None
        try:
            self.media.play(file)
        except MediaError as exc:
            detail = f"announcement {self.announcement} not played: {exc}"
            self._finish(CallEventKind.HANGUP_DIALER, None, NETWORK_OUT_OF_ORDER, detail)
            return
        self.phase = Phase.ANNOUNCING
        cap = self.timers.announcement_max_seconds
        seconds = min(_wav_seconds(file, cap), cap)
        self._start_timer("announce", seconds + _PLAYOUT_MARGIN_SECONDS, self._played)

    def _played(self) -> None:
        if self.phase is Phase.ANNOUNCING:
            detail = f"played {self.announcement}"
            self._finish(CallEventKind.HANGUP_DIALER, None, NORMAL_CLEARING, detail)

    def cancel(self) -> None:
        if self.phase in _BEFORE_ANSWER:
            self._finish(CallEventKind.CANCELLED, 487, NORMAL_CLEARING, "cancelled by the dialer")

    def hangup(self) -> None:
        if self.phase is Phase.ENDED:
            return
        if self.phase in _BEFORE_ANSWER:
            self._finish(CallEventKind.CANCELLED, 487, NORMAL_CLEARING, "hung up by the dialer")
        else:
            self._finish(
                CallEventKind.HANGUP_DIALER, None, NORMAL_CLEARING, "hung up by the dialer"
            )

    # -- the customer's leg

    def _dial_customer(self) -> None:
        self.phase = Phase.DIALLING
        offer = self._offer_to_customer() if self.media is not None else None
        if self.media is not None and offer is None:
            return  # the relay refused the call: it has ended
        self.customer = self.net.leg(self._on_customer, self.customer_target)
        self.customer.invite(self.from_user, offer, self.headers)
        self._start_timer("ring", self.timers.ring_timeout, self._ring_timeout)
        self._start_timer("silence", self.timers.trunk_response_timeout, self._trunk_silent)

    def _on_customer(self, leg: LegLike, event: LegEventLike) -> None:
        if leg is not self.customer or self.phase is Phase.ENDED:
            return
        if event.kind == "progress":
            self._stop_timer("silence")
            if event.sdp is not None and not self._early_media(event.sdp):
                return
            if event.status in (180, 183) and not self.alerted:
                self.alerted = True
                self._emit(CallEventKind.RINGING, event.status, None, event.reason, self.agent_id)
        elif event.kind == "answered" and self.phase is Phase.DIALLING:
            self._answering = True  # sippy sends the ACK of an early offer's 200 after this
            try:
                self._customer_answered(event)
            finally:
                self._answering = False
        elif event.kind == "failed" and self.phase is Phase.DIALLING:
            kind = failure_kind(event.status, event.q850)
            cause = q850_for(event.status, event.q850)
            self._finish(kind, event.status, cause, f"{event.status} {event.reason}".strip())
        elif event.kind in ("bye", "failed"):
            cause = event.q850 or NORMAL_CLEARING
            self._finish(CallEventKind.HANGUP_CUSTOMER, None, cause, "customer hung up")
        elif event.kind == "update" and self.acked and self.agent is not None:
            leg.answer_update(self._agent_sdp or self.net.hold_offer())

    _agent_sdp: str | None = None

    def _offer_to_customer(self) -> str | None:
        """With media: rtpengine's offer for the customer's INVITE, our ear (the tap, or
        nobody) on its other side; None when the relay refused it (the call has ended)."""
        assert self.media is not None
        ear = tap_sdp(self._open_tap()) if self._open_tap is not None else NOBODY_SDP
        try:
            offer = self.media.offer_to_customer(ear)
        except MediaError as exc:
            self._finish(CallEventKind.FAILED, None, _media_cause(exc), str(exc))
            return None
        self.tapped = self.amd_requested and not self.agent_first and self._open_tap is not None
        # sippy ACKs the 200 of an early offer itself; a customer's re-INVITE gets our offer back
        self.acked, self._agent_sdp = True, offer
        return offer

    def _early_media(self, sdp: str) -> bool:
        """A 183 with SDP: with media, its answer lets early media through to our ear. False
        when rtpengine refused it (the call has ended)."""
        if self.media is None:
            return True  # a late offer's 183 only previews the offer its 200 will carry
        try:
            self.media.customer_answered(sdp)
        except MediaError as exc:
            self._finish(CallEventKind.FAILED, None, _media_cause(exc), str(exc))
            return False
        self.customer_sdp = sdp
        return True

    def _customer_answered(self, event: LegEventLike) -> None:
        self._stop_timer("ring")
        self._stop_timer("silence")
        sdp = event.sdp or (self.customer_sdp if self.media is not None else None)
        if sdp is None:
            expected = "answer" if self.media is not None else "offer (late offer expected)"
            detail = f"customer answered without an SDP {expected}"
            self._finish(CallEventKind.FAILED, event.status, INTERWORKING, detail)
            return
        early, self.customer_sdp = self.customer_sdp, sdp
        if self.media is None:
            self.offer = sdp
        elif sdp != early:  # not the 183's answer again: rtpengine is told
            try:
                self.media.customer_answered(sdp)
            except MediaError as exc:
                self._finish(CallEventKind.FAILED, event.status, _media_cause(exc), str(exc))
                return
        self.phase = Phase.ANSWERED
        self._emit(CallEventKind.ANSWERED, 200, None, "", self.agent_id)
        if self.tapped:
            return  # the backend listens, and reports a person or a machine
        detail = "amd unavailable: no media path (RFC 3725)" if self.amd_requested else "amd off"
        self._emit(CallEventKind.ANSWERED_HUMAN, 200, None, detail, self.agent_id)
        if self.agent_first and self.agent is not None and self.phase is Phase.ANSWERED:
            offer = self._offer_for_agent()
            if offer is None:
                return
            self.phase = Phase.CONNECTING
            self.agent.reinvite(offer)
            self._start_timer("agent", self.timers.agent_ring_timeout, self._agent_timeout)

    def _offer_for_agent(self) -> str | None:
        """What the agent (or an announcer) is offered: the customer's own offer, or with
        media rtpengine re-offered from the customer's side (the customer keeps its ports and
        sees no re-INVITE). None when rtpengine refused it (the call has ended)."""
        if self.media is None or self.customer_sdp is None:
            return self.offer
        try:
            self.offer = self.media.offer(self.customer_sdp)
        except MediaError as exc:
            self._finish(CallEventKind.HANGUP_DIALER, None, _media_cause(exc), str(exc))
            return None
        return self.offer

    def _ring_timeout(self) -> None:
        if self.phase is Phase.DIALLING:
            detail = f"ring timeout after {self.timers.ring_timeout:g} s: CANCEL sent"
            self._finish(CallEventKind.NO_ANSWER, 487, NO_ANSWER_FROM_USER, detail)

    def _trunk_silent(self) -> None:
        if self.phase is Phase.DIALLING:
            hop = "{}:{}".format(*self.customer_target.next_hop)
            detail = f"no response from {hop} within {self.timers.trunk_response_timeout:g} s"
            self._finish(CallEventKind.FAILED, None, NETWORK_OUT_OF_ORDER, detail)

    # -- the agent's leg

    def _on_agent(self, leg: LegLike, event: LegEventLike) -> None:
        if leg is not self.agent or self.phase is Phase.ENDED:
            return
        if event.kind == "answered":
            self._agent_answered(event)
        elif event.kind == "failed" and not leg.closed and self.phase is Phase.BRIDGED:
            return  # a mid-call re-INVITE failed; the call is still up
        elif event.kind == "failed":
            self._agent_failed(event.status, f"{event.status} {event.reason}".strip())
        elif event.kind == "bye":
            self._agent_hung_up(event.q850)
        elif event.kind == "update" and self.acked and self.offer is not None:
            leg.answer_update(self.offer)

    def _agent_answered(self, event: LegEventLike) -> None:
        if self.phase is Phase.AGENT_RINGING:
            self._stop_timer("agent")
            self._emit(CallEventKind.AGENT_ANSWERED, 200, None, "", self.agent_id)
            self._dial_customer()
        elif self.phase is Phase.CONNECTING:
            self._stop_timer("agent")
            if event.sdp is None:
                self._agent_failed(event.status, "agent answered without SDP")
                return
            if not self._answer_customer(event.sdp):
                return
            self.phase = Phase.BRIDGED
            self._start_recording()
            self._emit(CallEventKind.BRIDGED, 200, None, "", self.agent_id)
            self._schedule_keepalive()
            self._schedule_agent_check()

    def _start_recording(self) -> None:
        if not self.record_requested or self.media is None:
            return
        try:
            self.media.record()
        except MediaError as exc:  # the call goes on; its ending says why it has no recording
            self.media_problem = f"recording failed: {exc}"
            log.warning("%s", self.media_problem)

    def _agent_timeout(self) -> None:
        if self.phase in (Phase.AGENT_RINGING, Phase.CONNECTING):
            limit = self.timers.agent_ring_timeout
            self._agent_failed(None, f"agent did not answer within {limit:g} s")

    def _agent_failed(self, status: int | None, detail: str) -> None:
        agent_id = self.agent_id
        if self.phase is Phase.AGENT_RINGING:
            self._emit(CallEventKind.AGENT_NO_ANSWER, status, None, detail, agent_id)
            self._finish(CallEventKind.CANCELLED, status, NORMAL_CLEARING, f"agent: {detail}")
        elif self.phase is Phase.CONNECTING and not self.agent_first:
            self._drop_agent()
            self.phase = Phase.ANSWERED
            self._emit(CallEventKind.AGENT_NO_ANSWER, status, None, detail, agent_id)
        elif self.phase is not Phase.ENDED:
            self._finish(CallEventKind.HANGUP_AGENT, None, NORMAL_CLEARING, f"agent: {detail}")

    def _agent_hung_up(self, cause: int | None) -> None:
        if self.phase is Phase.DIALLING:
            detail = "the agent hung up while the customer rang"
            self._finish(CallEventKind.CANCELLED, 487, NORMAL_CLEARING, detail)
        elif self.phase is Phase.CONNECTING and not self.agent_first:
            self._agent_failed(None, "agent hung up before the bridge")
        elif cause is None or cause == NORMAL_CLEARING:  # the agent's choice
            self._finish(CallEventKind.HANGUP_AGENT, None, NORMAL_CLEARING, "agent hung up")
        else:  # the phone going away says so (a browser's page closing: 27)
            detail = f"agent's phone went away (BYE, Q.850 {cause})"
            self._agent_gone(None, cause, detail)

    def _drop_agent(self) -> None:
        self._stop_timer("agent")
        if self.agent is not None:
            self.agent.end()
        self.agent = None

    # -- the announcement's leg

    def _on_announcer(self, leg: LegLike, event: LegEventLike) -> None:
        if leg is not self.announcer or self.phase is not Phase.ANNOUNCING:
            return
        if event.kind == "answered" and event.sdp is not None:
            if self.media is not None or not self.acked:
                self._answer_customer(event.sdp)
        elif event.kind in ("failed", "bye"):
            what = "played" if event.kind == "bye" else f"announcement failed ({event.status})"
            detail = f"{what} {self.announcement}"
            self._finish(CallEventKind.HANGUP_DIALER, None, NORMAL_CLEARING, detail)

    def _announce_cut(self) -> None:
        if self.phase is Phase.ANNOUNCING:
            detail = f"announcement {self.announcement} cut after the maximum length"
            self._finish(CallEventKind.HANGUP_DIALER, None, NORMAL_CLEARING, detail)

    # -- keep-alive: in-dialog OPTIONS on both legs of a bridged call

    def _schedule_keepalive(self) -> None:
        if self.timers.keepalive_interval > 0:
            self._start_timer("keepalive", self.timers.keepalive_interval, self._ping)

    def _ping(self) -> None:
        if self.phase is not Phase.BRIDGED:
            return
        legs = {"customer": self.customer, "agent": self.agent}
        for side, leg in legs.items():
            if leg is not None:
                leg.ping(partial(self._pong, side, leg))
                deadline = self.timers.keepalive_timeout
                self._start_timer(f"pong-{side}", deadline, partial(self._dead, side, None))
        self._schedule_keepalive()

    def _pong(self, side: str, leg: LegLike, status: int) -> None:
        if self.phase is not Phase.BRIDGED or leg not in (self.customer, self.agent):
            return
        self._stop_timer(f"pong-{side}")
        if status in (408, 481):
            self._dead(side, status)

    def _dead(self, side: str, status: int | None) -> None:
        if self.phase is not Phase.BRIDGED:
            return
        cause = TIMER_EXPIRY if status is None else TEMPORARY_FAILURE
        answer = "no answer" if status is None else str(status)
        detail = f"keep-alive: {side} leg is gone (OPTIONS: {answer})"
        if side == "agent":
            self._agent_gone(status, cause, detail)
        else:
            self._finish(CallEventKind.HANGUP_CUSTOMER, status, cause, detail)

    # -- an agent leg lost soon after the bridge: the engine decides (the abandon handling)

    def _schedule_agent_check(self) -> None:
        """Ask the agent's leg once at the end of ``agent_lost_within``. Until it has answered,
        the caller is not yet served: a loss found before then (even late, on a loaded host)
        was a loss within the grace; a phone gone without a BYE is found by this check."""
        within = self.timers.agent_lost_within
        if within is not None and self.agent is not None:
            self._start_timer("agent-check", within, self._check_agent)

    def _check_agent(self) -> None:
        leg = self.agent
        if self.phase is not Phase.BRIDGED or leg is None:
            return
        leg.ping(partial(self._agent_checked, leg))
        gone = partial(self._agent_gone, None, TIMER_EXPIRY, _CHECK_UNANSWERED)
        self._start_timer("agent-check", self.timers.keepalive_timeout, gone)

    def _agent_checked(self, leg: LegLike, status: int) -> None:
        if self.phase is not Phase.BRIDGED or leg is not self.agent:
            return
        self._stop_timer("agent-check")
        if status in (408, 481):
            detail = f"agent leg is gone at the check after the bridge (OPTIONS: {status})"
            self._agent_gone(status, TEMPORARY_FAILURE, detail)
        else:
            self.agent_confirmed = True

    def _agent_gone(self, status: int | None, cause: int, detail: str) -> None:
        """The bridged agent's leg ended. Before the check has confirmed it after the grace,
        the customer stays and the engine is told; later the call ends with ``HANGUP_AGENT``."""
        if self.phase is not Phase.BRIDGED:
            return
        if self.timers.agent_lost_within is None or self.agent_confirmed:
            self._finish(CallEventKind.HANGUP_AGENT, status, cause, detail)
            return
        for name in ("keepalive", "pong-customer", "pong-agent", "agent-check"):
            self._stop_timer(name)
        self._drop_agent()
        self.phase = Phase.ANSWERED
        self._emit(CallEventKind.AGENT_LOST, status, cause, detail, self.agent_id)
        unanswered = partial(self._engine_silent, status, cause, detail)
        self._start_timer("agent-lost", _ENGINE_ANSWER_SECONDS, unanswered)

    def _engine_silent(self, status: int | None, cause: int, detail: str) -> None:
        """Nobody acted on ``AGENT_LOST``: end the call as an agent's hang-up."""
        if self.phase is Phase.ANSWERED and self.agent is None:
            self._finish(CallEventKind.HANGUP_AGENT, status, cause, detail)

    # -- endings

    def _answer_customer(self, far_end_sdp: str) -> bool:
        """ACK the customer with the far end's answer (through rtpengine); False: call ended."""
        try:
            answer = self.media.answer(far_end_sdp) if self.media else far_end_sdp
        except MediaError as exc:
            self._finish(CallEventKind.HANGUP_DIALER, None, _media_cause(exc), str(exc))
            return False
        self._acknowledge_customer(answer)
        return True

    def _acknowledge_customer(self, answer: str) -> None:
        if self.customer is not None and not self.acked:
            self.acked, self._agent_sdp = True, answer
            self.customer.acknowledge(answer)

    def finish(
        self, kind: CallEventKind, status: int | None, cause: int | None, detail: str
    ) -> None:
        """End the call now with this final event (both legs hung up)."""
        self._finish(kind, status, cause, detail)

    def _finish(
        self, kind: CallEventKind, status: int | None, cause: int | None, detail: str
    ) -> None:
        if self.phase is Phase.ENDED:
            return
        self.phase = Phase.ENDED
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        legs = [leg for leg in (self.customer, self.agent, self.announcer) if leg is not None]
        acking = self._answering
        if self.customer is not None and self.offer is not None and not self.acked:
            self._acknowledge_customer(self.net.rejecting_answer(self.offer))
            acking = True
        if acking:  # sippy sends the ACK from its event loop: a BYE sent now could overtake it
            self.net.timer(_BYE_AFTER_ACK_SECONDS, partial(_end_all, legs))
        else:
            _end_all(legs)
        self._close_media()
        if self.media_problem:
            detail = f"{detail}; {self.media_problem}" if detail else self.media_problem
        self._emit(kind, status, cause, detail, self.agent_id)
        self._on_done(self)

    def _close_media(self) -> None:
        if self.media is None:
            return
        spool = self.media.close()
        if spool is not None and self._on_spool is not None:
            self._on_spool(spool)

    def _start_timer(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self._stop_timer(name)
        self._timers[name] = self.net.timer(delay, callback)

    def _stop_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()


_BYE_AFTER_ACK_SECONDS = 0.05
_ENGINE_ANSWER_SECONDS = 5.0  # after AGENT_LOST, at most this long without the engine's word
_CHECK_UNANSWERED = "agent leg is gone at the check after the bridge (OPTIONS: no answer)"
_PLAYOUT_MARGIN_SECONDS = 0.3  # rtpengine's playout starts a packetisation or two later


def _media_cause(problem: MediaError) -> int:
    """Q.850 for a media failure: the relay lost (38) or an SDP it refused (127)."""
    return NETWORK_OUT_OF_ORDER if isinstance(problem, MediaRelayLost) else INTERWORKING


def _wav_seconds(file: Path, otherwise: float) -> float:
    """A WAV file's playing time; ``otherwise`` for audio ``wave`` cannot read (rtpengine plays
    any format ffmpeg knows)."""
    try:
        with wave.open(str(file), "rb") as audio:
            return audio.getnframes() / audio.getframerate()
    except (OSError, EOFError, wave.Error, ZeroDivisionError):
        return otherwise


def _end_all(legs: list[LegLike]) -> None:
    for leg in legs:
        leg.end()
