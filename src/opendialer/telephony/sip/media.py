"""Media anchored in rtpengine: every offer and answer of a call passes through it.

The customer is invited with an offer of rtpengine's (``offer_to_customer``: the dialer's own
listening socket, or nobody, is the other party), so whatever the customer's side sends from its
first 183 on, early media included, reaches rtpengine and the dialer's ear; the customer's answer
(183 or 200) goes through ``customer_answered``. Joining an agent (or an announcement server) is
a re-offer from the customer's side (``offer``) and the agent's ``answer``: the customer keeps
rtpengine's ports and sees no re-INVITE. The call's end is ``delete``. rtpengine relays both
legs, records them (``start recording``, pcap files in its ``--recording-dir``) and plays
announcements to the customer (``play media``). Everything here runs on the SIP thread.
"""

import itertools
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from opendialer.telephony.sip.rtpengine import NgClient, RtpengineError, RtpengineUnreachable

log = logging.getLogger(__name__)

CUSTOMER_TAG = "customer"
AGENT_TAG = "agent"
_DOWN_SECONDS = 5.0  # an instance that did not answer is skipped this long
_MEDIA_ADDRESS = re.compile(r"^c=IN IP4 (\S+)|^m=audio (\d+)", re.MULTILINE)
# The dialer's side of a call nobody listens to before an agent joins: a discard port on
# loopback, so rtpengine has a complete call to relay early media and announcements in.
NOBODY_SDP = (
    "v=0\r\no=opendialer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
)


class MediaError(Exception):
    """The media relay could not take a call's offer or answer; the message says why."""


class MediaRelayLost(MediaError):
    """No rtpengine instance answers (Q.850 38, network out of order)."""


@dataclass(frozen=True, slots=True)
class Spool:
    """A finished recording as rtpengine left it: the pcap of both legs and who was who."""

    pcap_glob: tuple[Path, str]
    started: float  # wall-clock seconds (the pcap's time base)
    ended: float
    customer_facing: tuple[str, int] | None
    """rtpengine's own address towards the customer: packets sent there are the customer's."""


def media_address(sdp: str) -> tuple[str, int] | None:
    """The first audio stream's (address, port) of an SDP body, if it names both."""
    host: str | None = None
    port: int | None = None
    for match in _MEDIA_ADDRESS.finditer(sdp):
        host = host or match[1]
        port = port or (int(match[2]) if match[2] else None)
    return (host, port) if host is not None and port is not None else None


class MediaRelay:
    """The rtpengine instances of one backend; calls are spread over the ones answering."""

    def __init__(self, clients: list[NgClient], recording_dir: Path | None) -> None:
        self.clients = clients
        self.recording_dir = recording_dir
        self._turn = itertools.count()
        self._down_until: dict[str, float] = {}

    def open(self) -> None:
        """Bind and ping every instance; raises :class:`MediaError` naming those that fail."""
        problems = []
        for client in self.clients:
            client.open()
            try:
                client.ping()
            except RtpengineError as exc:
                problems.append(str(exc))
        if problems:
            raise MediaError("rtpengine unreachable at start-up: " + "; ".join(problems))

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def call(self, call_id: str) -> "CallMedia":
        return CallMedia(self, call_id)

    def pick(self) -> NgClient:
        """The next instance in turn that is not marked down; :class:`MediaError` if none."""
        now = time.monotonic()
        for _ in range(len(self.clients)):
            client = self.clients[next(self._turn) % len(self.clients)]
            if self._down_until.get(client.label, 0.0) <= now:
                return client
        labels = ", ".join(c.label for c in self.clients)
        raise MediaRelayLost(f"media relay down: no rtpengine answering ({labels})")

    def mark_down(self, client: NgClient) -> None:
        self._down_until[client.label] = time.monotonic() + _DOWN_SECONDS


class CallMedia:
    """One call's session on one rtpengine instance."""

    def __init__(self, relay: MediaRelay, call_id: str) -> None:
        self.relay, self.call_id = relay, call_id
        self.client: NgClient | None = None
        self.customer_facing: tuple[str, int] | None = None
        self.recording_since: float | None = None

    def offer_to_customer(self, dialer_sdp: str) -> str:
        """What the customer is invited with: rtpengine's ports, the dialer's side being
        ``dialer_sdp`` (its listening socket, or :data:`NOBODY_SDP`) until an agent joins."""
        self.client = self.relay.pick()
        sdp = self._sdp("offer", sdp=dialer_sdp, from_tag=AGENT_TAG)
        self.customer_facing = media_address(sdp)
        return sdp

    def customer_answered(self, customer_sdp: str) -> None:
        """The customer's answer, from a 183 (early media) or its 200."""
        self._sdp("answer", sdp=customer_sdp, from_tag=AGENT_TAG, to_tag=CUSTOMER_TAG)

    def offer(self, customer_sdp: str) -> str:
        """Re-offer the customer's side: what the agent (or announcer) is offered."""
        fields = {"sdp": customer_sdp, "from_tag": CUSTOMER_TAG, "to_tag": AGENT_TAG}
        return self._sdp("offer", **fields)

    def answer(self, answer_sdp: str) -> str:
        """The agent's (or announcer's) answer: rtpengine now sends them the customer's audio."""
        return self._sdp("answer", sdp=answer_sdp, from_tag=CUSTOMER_TAG, to_tag=AGENT_TAG)

    def record(self) -> None:
        if self.relay.recording_dir is None:
            raise MediaError("recording requested but no recording_dir is configured")
        self._command("start recording")
        self.recording_since = time.time()

    def play(self, file: Path) -> None:
        """Play ``file`` to the customer (rtpengine transcodes it to the customer's codec)."""
        self._command("play media", from_tag=CUSTOMER_TAG, file=str(file))

    def close(self) -> Spool | None:
        """Delete the call on rtpengine; the recording it leaves, if one was started."""
        if self.client is None:
            return None
        try:
            self._command("delete", delete_delay=0)
        except MediaError as exc:
            log.warning("rtpengine delete of %s failed: %s", self.call_id, exc)
        if self.recording_since is None or self.relay.recording_dir is None:
            return None
        pcaps = (self.relay.recording_dir / "pcaps", f"{self.call_id}-*.pcap")
        return Spool(pcaps, self.recording_since, time.time(), self.customer_facing)

    def _sdp(self, command: str, **fields: object) -> str:
        sdp = self._command(command, **fields).get("sdp")
        if not isinstance(sdp, str):
            raise MediaError(f"rtpengine {command}: no SDP in its reply")
        return sdp

    def _command(self, command: str, **fields: object) -> dict[str, object]:
        client = self.client
        if client is None:
            raise MediaError(f"rtpengine {command} before the call's offer")
        try:
            return client.command(command, call_id=self.call_id, **fields)
        except RtpengineUnreachable as exc:
            self.relay.mark_down(client)
            raise MediaRelayLost(f"media relay lost: {exc}") from exc
        except RtpengineError as exc:
            raise MediaError(str(exc)) from exc
