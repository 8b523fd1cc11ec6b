"""sippy, seen as SIP legs: the only module that imports it, and only on the SIP thread.

sippy builds its process-wide event dispatcher (``ED2``) on first import and expects every timer
to be started from that thread, so this module is imported by :mod:`.stack` inside the thread.
"""

import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sippy.CCEvents import (
    CCEventConnect,
    CCEventDisconnect,
    CCEventFail,
    CCEventPreConnect,
    CCEventRedirect,
    CCEventRing,
    CCEventTry,
    CCEventUpdate,
)
from sippy.MsgBody import MsgBody
from sippy.SipCallId import SipCallId
from sippy.SipConf import SipConf
from sippy.SipHeader import SipHeader
from sippy.SipTransactionManager import SipTransactionManager
from sippy.SipURL import SipURL
from sippy.Time.Timeout import Timeout
from sippy.UA import UA

log = logging.getLogger("opendialer.telephony.sip.wire")

_MEDIA_PORT = re.compile(r"^(m=\S+) \d+", re.MULTILINE)
_HOLD_OFFER = (
    "v=0\r\no=opendialer 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=inactive\r\n"
)


class SipLog:
    """sippy's logger interface, onto Python logging (messages at DEBUG)."""

    def write(self, *args: Any, **kwargs: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s", "".join(str(a) for a in args))


def timer(delay: float, callback: Callable[[], None]) -> Any:
    """A one-shot timer on the SIP thread; ``.cancel()`` stops it."""
    return Timeout(callback, delay)


def rejecting_answer(offer: str) -> str:
    """An answer that declines every stream (port 0, RFC 3264 §6): ends a late offer cleanly."""
    return _MEDIA_PORT.sub(r"\1 0", offer)


def hold_offer(local_ip: str) -> str:
    """An offer with no media (inactive, 0.0.0.0): parks an agent until the customer answers."""
    return _HOLD_OFFER.format(ip=local_ip)


class Endpoint:
    """Our SIP transport: a transaction manager bound to the first free port of a range."""

    def __init__(self, address: str, port_range: tuple[int, int], user_agent: str) -> None:
        self.address = address
        self.port = self._free_port(address, port_range)
        SipConf.my_address = address
        SipConf.my_port = self.port
        SipConf.my_uaname = user_agent
        self.config: dict[str, Any] = {
            "_sip_address": address,
            "_sip_port": self.port,
            "_sip_logger": SipLog(),
        }
        self.config["_sip_tm"] = SipTransactionManager(self.config, self._stray_request)

    @staticmethod
    def _free_port(address: str, port_range: tuple[int, int]) -> int:
        low, high = port_range
        for port in range(low, high + 1):
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.bind((address, port))
            except OSError:
                continue
            finally:
                probe.close()
            return port
        raise OSError(f"no free UDP port on {address} in {low}-{high} (port range exhausted)")

    @staticmethod
    def _stray_request(req: Any, sip_t: Any) -> tuple[Any, None, None]:
        """Requests outside our dialogs: answer pings, decline calls, 481 the rest."""
        method = req.getMethod()
        if method == "OPTIONS":
            return (req.genResponse(200, "OK"), None, None)
        if req.getHFBody("to").getTag() is not None:
            return (req.genResponse(481, "Call Leg/Transaction Does Not Exist"), None, None)
        if method == "INVITE":
            return (req.genResponse(603, "Decline"), None, None)
        return (req.genResponse(405, "Method Not Allowed"), None, None)

    def shutdown(self) -> None:
        """Unbind; retransmission timers of transactions still open are stopped first.

        Only the socket and the manager's own timer go: sippy's user agents of ended calls go
        "dead" 32 s later and then unregister from the manager, which must still be able to
        take that (``SipTransactionManager.shutdown`` would leave it unable to, and the timer
        would raise in the SIP thread).
        """
        manager = self.config["_sip_tm"]
        for transaction in [*manager.tclient.values(), *manager.tserver.values()]:
            for name in ("teA", "teB", "teC", "teD", "teE", "teF", "teG"):
                pending = getattr(transaction, name, None)
                if pending is not None:
                    pending.cancel()
        manager.cp_timer.cancel()
        manager.l4r.shutdown()


@dataclass(frozen=True, slots=True)
class LegEvent:
    kind: str
    """progress | answered | failed | bye | update"""
    status: int | None = None
    reason: str = ""
    q850: int | None = None
    sdp: str | None = None


LegListener = Callable[["Leg", LegEvent], None]


class Leg:
    """One dialog with a customer, an agent or an announcement server (a sippy ``UA``)."""

    def __init__(
        self,
        endpoint: Endpoint,
        listener: LegListener,
        *,
        user: str | None,
        host: str,
        port: int,
        next_hop: tuple[str, int],
    ) -> None:
        self.endpoint = endpoint
        self.listener = listener
        self.user, self.host, self.port = user, host, port
        self.closed = False
        self.ua = UA(endpoint.config, self._on_sippy_event, nh_address=next_hop)

    def invite(self, from_user: str, sdp: str | None, headers: dict[str, str]) -> None:
        body = MsgBody(sdp, "application/sdp") if sdp is not None else None
        event = CCEventTry((SipCallId(), from_user, self.user or "", body, None, None))
        event.extra_headers = tuple(SipHeader(name=n, bodys=v) for n, v in headers.items())
        target = SipURL(username=self.user, host=self.host, port=self.port)
        event.onUacSetupComplete = lambda ua: _aim(ua, target)
        self.ua.recvEvent(event)

    def acknowledge(self, sdp: str) -> None:
        """Send the ACK held back after a late offer (RFC 3725 flow I), carrying the answer."""
        self.ua.recvEvent(CCEventConnect((200, "OK", MsgBody(sdp, "application/sdp"))))

    def reinvite(self, sdp: str) -> None:
        self.ua.recvEvent(CCEventUpdate(MsgBody(sdp, "application/sdp")))

    def answer_update(self, sdp: str) -> None:
        """Accept the peer's re-INVITE with ``sdp``."""
        self.ua.recvEvent(CCEventConnect((200, "OK", MsgBody(sdp, "application/sdp"))))

    def end(self) -> None:
        """CANCEL before the answer, BYE after; nothing if already ended."""
        if self.closed:
            return
        self.closed = True
        if not self.ua.isDead():
            self.ua.disconnect()

    def ping(self, done: Callable[[int], None]) -> None:
        """An in-dialog OPTIONS; ``done(status)`` with sippy's own 408 after 32 s of silence."""
        request = self.ua.genRequest("OPTIONS")
        self.ua.newTransaction(request, resp_cb=lambda resp: done(resp.getSCode()[0]))

    @property
    def remote_sdp(self) -> str | None:
        return str(self.ua.rSDP) if self.ua.rSDP is not None else None

    def _on_sippy_event(self, event: Any, ua: Any) -> None:
        if self.closed:
            return
        translated = self._translate(event, ua)
        if translated is None:
            return
        if translated.kind == "bye" or (translated.kind == "failed" and not ua.isConnected()):
            self.closed = True
        try:
            self.listener(self, translated)
        except Exception:
            logging.getLogger(__name__).exception("SIP leg listener failed on %s", translated)

    @staticmethod
    def _translate(event: Any, ua: Any) -> LegEvent | None:
        if isinstance(event, CCEventRing):
            data = event.getData()
            body = data[2] if len(data) > 2 else None  # a 183's SDP: early media
            return LegEvent("progress", data[0], str(data[1]), sdp=_text(body))
        if isinstance(event, CCEventPreConnect | CCEventConnect):
            _normalise_transport(ua)
            code, reason, body = event.getData()[:3]
            return LegEvent("answered", code, str(reason), sdp=_text(body))
        if isinstance(event, CCEventFail | CCEventRedirect):
            code, reason = event.getData()[:2]
            return LegEvent("failed", int(code), str(reason), q850=_reason_cause(event))
        if isinstance(event, CCEventDisconnect):
            return LegEvent("bye", q850=_reason_cause(event))
        if isinstance(event, CCEventUpdate):
            return LegEvent("update", sdp=_text(event.getData()))
        return None


def _aim(ua: Any, target: Any) -> None:
    """The R-URI and To are the agent's or customer's URI even when the next hop is a proxy."""
    ua.rTarget = target
    ua.rUri.getUrl().host = target.host


def _text(body: Any) -> str | None:
    return str(body) if body is not None else None


def _reason_cause(event: Any) -> int | None:
    reason = getattr(event, "reason_rfc3326", None)
    if reason is None:
        return None
    try:
        reason.parse()
    except Exception:
        return None
    protocol, cause = getattr(reason, "protocol", None), getattr(reason, "cause", None)
    if isinstance(protocol, str) and protocol.upper() == "Q.850" and isinstance(cause, int):
        return cause
    return None


def _normalise_transport(ua: Any) -> None:
    """sippy compares ``;transport=`` case-sensitively; peers (SIPp) send ``UDP``."""
    target = ua.rTarget
    if target is not None and isinstance(target.transport, str):
        target.transport = target.transport.lower()
    if ua.rAddr is not None and isinstance(ua.rAddr[1], str):
        ua.rAddr = (ua.rAddr[0], ua.rAddr[1].lower())
