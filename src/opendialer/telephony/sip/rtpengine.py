"""rtpengine's NG control protocol: bencoded dictionaries over UDP, each after a cookie.

A request is ``<cookie> <bencoded dict>``; the reply repeats the cookie. UDP may drop either, so
a request is sent again (same cookie: rtpengine answers a retransmission from its cache) until a
reply arrives or the deadline passes. Calls are blocking and short (loopback or LAN, one round
trip); they run on the SIP thread, between SIP messages.
"""

import itertools
import os
import select
import socket
from collections.abc import Mapping
from typing import Any

import bencodepy

_RETRY_SECONDS = 0.25
_MAX_REPLY = 65535


class RtpengineError(Exception):
    """rtpengine refused a command (``result: error``) or did not answer in time."""


class RtpengineUnreachable(RtpengineError):
    """No reply from rtpengine within the deadline."""


def _text(value: Any) -> Any:
    """bencode gives bytes: turn every byte string of a reply into text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_text(item) for item in value]
    if isinstance(value, dict):
        return {_text(key): _text(item) for key, item in value.items()}
    return value


class NgClient:
    """One rtpengine instance's NG control port, ``host:port`` (UDP)."""

    def __init__(self, address: tuple[str, int], timeout: float) -> None:
        self.address, self.timeout = address, timeout
        self._cookies = itertools.count(1)
        self._prefix = f"{os.getpid()}_{id(self):x}"
        self._socket: socket.socket | None = None

    @property
    def label(self) -> str:
        return "{}:{}".format(*self.address)

    def open(self) -> None:
        """Bind the client socket (in the caller's network namespace)."""
        if self._socket is None:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.connect(self.address)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def command(self, name: str, **fields: Any) -> dict[str, Any]:
        """Send ``name`` with ``fields`` (``_`` in a key becomes ``-``); the reply dictionary.

        Raises :class:`RtpengineError` when rtpengine answers ``error`` and
        :class:`RtpengineUnreachable` when it does not answer within the timeout.
        """
        self.open()
        assert self._socket is not None
        cookie = f"{self._prefix}_{next(self._cookies)}".encode()
        message = {"command": name, **{k.replace("_", "-"): v for k, v in fields.items()}}
        packet = cookie + b" " + bencodepy.encode(_without_none(message))
        reply = self._exchange(self._socket, cookie, packet)
        if reply.get("result") == "error":
            raise RtpengineError(f"rtpengine {self.label} {name}: {reply.get('error-reason')}")
        return reply

    def ping(self) -> None:
        if self.command("ping").get("result") != "pong":
            raise RtpengineError(f"rtpengine {self.label}: ping not answered with pong")

    def _exchange(self, sock: socket.socket, cookie: bytes, packet: bytes) -> dict[str, Any]:
        attempts = max(1, round(self.timeout / _RETRY_SECONDS))
        for _ in range(attempts):
            try:
                sock.send(packet)
            except OSError as exc:  # ICMP port unreachable from an earlier send
                raise RtpengineUnreachable(f"rtpengine {self.label}: {exc}") from exc
            reply = self._receive(sock, cookie, _RETRY_SECONDS)
            if reply is not None:
                return reply
        raise RtpengineUnreachable(f"rtpengine {self.label}: no answer within {self.timeout:g} s")

    def _receive(self, sock: socket.socket, cookie: bytes, wait: float) -> dict[str, Any] | None:
        while select.select([sock], [], [], wait)[0]:
            try:
                data = sock.recv(_MAX_REPLY)
            except ConnectionRefusedError as exc:
                raise RtpengineUnreachable(f"rtpengine {self.label}: {exc}") from exc
            got, _, body = data.partition(b" ")
            if got != cookie:
                continue  # the late reply to an earlier, retransmitted request
            try:
                reply = _text(bencodepy.decode(body))
            except bencodepy.BencodeDecodeError as exc:
                raise RtpengineError(f"rtpengine {self.label}: unreadable reply") from exc
            if not isinstance(reply, dict):
                raise RtpengineError(f"rtpengine {self.label}: reply is not a dictionary")
            return reply
        return None


def _without_none(message: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if value is not None}
