"""The SIP thread's side of the ``sip`` backend: our endpoint, and the live calls by id.

Every method here runs on the SIP thread (the backend hands them in with ``SipThread.call``);
``deliver`` is the backend's thread-safe way back to asyncio.
"""

import logging
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opendialer.telephony.base import CallEventKind, CallId
from opendialer.telephony.sip.call import ThirdPartyCall
from opendialer.telephony.sip.media import MediaError, MediaRelay, Spool
from opendialer.telephony.sip.options import SipOptions
from opendialer.telephony.sip.parts import Emit, LegLike, Listener, Net, Phase, Target, Timers
from opendialer.telephony.sip.rtpengine import NgClient
from opendialer.telephony.sip.stack import SipThread

log = logging.getLogger(__name__)

NO_CIRCUIT_AVAILABLE = 34
NETWORK_OUT_OF_ORDER = 38

_NOT_YET_BRIDGED = frozenset({Phase.DIALLING, Phase.ANSWERED, Phase.CONNECTING})

Deliver = Callable[[CallId, CallEventKind, int | None, int | None, str, str | None], None]
DeliverSpool = Callable[[CallId, Spool], None]
DeliverTap = Callable[[CallId, socket.socket], None]


class SipController(Net):
    def __init__(
        self,
        thread: SipThread,
        options: SipOptions,
        deliver: Deliver,
        deliver_spool: DeliverSpool | None = None,
        deliver_tap: DeliverTap | None = None,
    ) -> None:
        self.thread, self.options, self.deliver = thread, options, deliver
        self.deliver_spool, self.deliver_tap = deliver_spool, deliver_tap
        self.endpoint: Any = None
        self.relay: MediaRelay | None = None
        self.calls: dict[CallId, ThirdPartyCall] = {}

    # -- lifecycle

    def open(self) -> int:
        """Bind our SIP port (in the configured network namespace); returns the port."""
        self.thread.enter_network_namespace(self.options.network_namespace)
        try:
            self._open_media()
            self.endpoint = self.thread.glue.Endpoint(
                self.options.bind_address,
                self.options.port_range,
                self.options.user_agent,
            )
        finally:
            self.thread.enter_network_namespace(None)
        port: int = self.endpoint.port
        return port

    def _open_media(self) -> None:
        """Reach every rtpengine (``MediaError`` if one does not answer)."""
        if self.options.media != "rtpengine":
            return
        timeout = self.options.rtpengine_timeout
        clients = [NgClient(address, timeout) for address in self.options.ng_addresses()]
        spool = self.options.recording_dir
        relay = MediaRelay(clients, Path(spool) if spool is not None else None)
        try:
            relay.open()
        except MediaError:
            relay.close()
            raise
        self.relay = relay

    def close(self) -> None:
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        if self.endpoint is not None:
            self.endpoint.shutdown()
            self.endpoint = None

    def hangup_all(self) -> int:
        live = list(self.calls.values())
        for call in live:
            call.hangup()
        return len(live)

    # -- Net, for the calls

    def leg(self, listener: Listener, target: Target) -> LegLike:
        leg: LegLike = self.thread.glue.Leg(
            self.endpoint,
            listener,
            user=target.user,
            host=target.host,
            port=target.port,
            next_hop=target.next_hop,
        )
        return leg

    def timer(self, delay: float, callback: Callable[[], None]) -> Any:
        return self.thread.glue.timer(delay, callback)

    def hold_offer(self) -> str:
        offer: str = self.thread.glue.hold_offer(self.options.bind_address)
        return offer

    def rejecting_answer(self, offer: str) -> str:
        answer: str = self.thread.glue.rejecting_answer(offer)
        return answer

    # -- commands

    def originate(
        self,
        call_id: CallId,
        customer: Target,
        from_user: str,
        headers: dict[str, str],
        timers: Timers,
        amd: bool,
        agent: tuple[Target, str] | None,
        record: bool = False,
    ) -> None:
        if len(self.calls) >= self.options.max_calls:
            detail = f"no free call slot: {self.options.max_calls} calls up (max_calls)"
            log.warning("sip %s: %s", call_id, detail)
            self.deliver(call_id, CallEventKind.FAILED, None, NO_CIRCUIT_AVAILABLE, detail, None)
            return
        call = ThirdPartyCall(
            self,
            timers,
            self._emitter(call_id),
            lambda done: self._forget(call_id, done),
            customer=customer,
            from_user=from_user,
            headers=headers,
            amd_requested=amd,
            record_requested=record,
            media=self.relay.call(f"{call_id}-{uuid.uuid4().hex}") if self.relay else None,
            on_spool=self._spool_sender(call_id),
            open_tap=self._tap_opener(call_id),
        )
        self.calls[call_id] = call
        try:
            if agent is None:
                call.start_customer_first()
            else:
                call.start_agent_first(*agent)
        except Exception as exc:
            log.exception("sip %s: could not place the call", call_id)
            self.calls.pop(call_id, None)
            detail = f"could not place the call: {type(exc).__name__}: {exc}"
            self.deliver(call_id, CallEventKind.FAILED, None, NETWORK_OUT_OF_ORDER, detail, None)

    def bridge(self, call_id: CallId, agent: Target | None, agent_id: str, problem: str) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        if agent is None:
            call.agent_unreachable(agent_id, problem)
        else:
            call.bridge(agent, agent_id)

    def announce(self, call_id: CallId, target: Target | Path | None, announcement: str) -> None:
        call = self.calls.get(call_id)
        if call is not None:
            call.announce(target, announcement)

    def cancel(self, call_id: CallId) -> None:
        call = self.calls.get(call_id)
        if call is not None:
            call.cancel()

    def hangup(self, call_id: CallId) -> None:
        call = self.calls.get(call_id)
        if call is not None:
            call.hangup()

    def end_as(self, call_id: CallId, kind: CallEventKind, cause: int, detail: str) -> None:
        """End a call not yet bridged with a final ``kind`` of our choosing (a SIT or a fax
        tone heard: invalid number), in early media (CANCEL) or after the answer (BYE)."""
        call = self.calls.get(call_id)
        if call is not None and call.phase in _NOT_YET_BRIDGED:
            call.finish(kind, None, cause, detail)

    def _emitter(self, call_id: CallId) -> Emit:
        def emit(
            kind: CallEventKind,
            status: int | None,
            cause: int | None,
            detail: str,
            agent_id: str | None,
        ) -> None:
            self.deliver(call_id, kind, status, cause, detail, agent_id)

        return emit

    def _spool_sender(self, call_id: CallId) -> Callable[[Spool], None] | None:
        deliver_spool = self.deliver_spool
        if deliver_spool is None:
            return None
        return lambda spool: deliver_spool(call_id, spool)

    def _tap_opener(self, call_id: CallId) -> Callable[[], tuple[str, int]] | None:
        deliver_tap = self.deliver_tap
        if deliver_tap is None or self.relay is None:
            return None

        def open_tap() -> tuple[str, int]:
            """A UDP socket for rtpengine to send the customer's audio to (in our namespace)."""
            self.thread.enter_network_namespace(self.options.network_namespace)
            try:
                tap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                tap.bind((self.options.bind_address, 0))
            finally:
                self.thread.enter_network_namespace(None)
            deliver_tap(call_id, tap)
            address: tuple[str, int] = tap.getsockname()
            return address

        return open_tap

    def _forget(self, call_id: CallId, call: ThirdPartyCall) -> None:
        if self.calls.get(call_id) is call:
            del self.calls[call_id]
