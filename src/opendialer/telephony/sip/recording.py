"""A call's recording: rtpengine's pcap of both legs turned into a stereo WAV file.

rtpengine (``--recording-method=pcap``) writes every RTP packet it receives on a recorded call
into one pcap file. The dialer decodes it: the customer's packets (those sent to rtpengine's
customer-facing port) go to the left channel, the agent's to the right. A stream (one sender's
SSRC) is placed by its RTP timestamps, anchored at its first packet's arrival: arrival times
jitter (a loaded host, a network), and placing each packet at its arrival would cut and stretch
the audio. The file lasts exactly from the bridge to the hang-up; silence (or a lost packet)
stays silence.
"""

import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import dpkt
import numpy as np

from opendialer.telephony.sip.media import Spool

if sys.version_info >= (3, 13):  # pragma: no cover - audioop left the standard library
    import audioop_lts as audioop
else:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

SAMPLE_RATE = 8000
PCMU, PCMA = 0, 8
_RTP_HEADER = 12
_SPOOL_WAIT_SECONDS = 2.0
_TIMESTAMP_MODULUS = 1 << 32
_MAX_STRAY_SAMPLES = SAMPLE_RATE // 2  # a sender's clock this far from arrival: start again


class RecordingError(Exception):
    """The recording could not be made into audio; the message says why."""


def _pcap_of(spool: Spool) -> Path:
    """rtpengine names the file ``<call-id>-<random>.pcap``; it exists once recording began."""
    directory, pattern = spool.pcap_glob
    deadline = time.monotonic() + _SPOOL_WAIT_SECONDS
    while True:
        found = sorted(directory.glob(pattern))
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise RecordingError(f"no pcap {pattern} in {directory}")
        time.sleep(0.05)


def decode_g711(payload_type: int, payload: bytes) -> bytes | None:
    """16-bit little-endian samples of a G.711 payload; ``None`` for other payload types."""
    if payload_type == PCMU:
        return audioop.ulaw2lin(payload, 2)
    if payload_type == PCMA:
        return audioop.alaw2lin(payload, 2)
    return None  # comfort noise, DTMF events, codecs we do not decode


@dataclass(frozen=True)
class _RtpPacket:
    arrival: float  # seconds since the epoch, as the pcap has it
    destination: tuple[str, int]
    payload_type: int
    ssrc: int
    timestamp: int
    payload: bytes


def _packets(path: Path) -> list[_RtpPacket]:
    """Every RTP packet in the pcap, in arrival order."""
    found = []
    with path.open("rb") as stream:
        try:
            reader = dpkt.pcap.Reader(stream)
        except ValueError as exc:
            raise RecordingError(f"{path.name}: not a pcap file ({exc})") from exc
        for at, frame in reader:
            packet = dpkt.ip.IP(frame)
            udp = packet.data
            if not isinstance(udp, dpkt.udp.UDP) or len(udp.data) <= _RTP_HEADER:
                continue
            rtp = bytes(udp.data)
            if rtp[0] >> 6 != 2:
                continue  # not RTP version 2 (RTCP shares nothing here, but be safe)
            destination = (".".join(str(b) for b in packet.dst), int(udp.dport))
            timestamp, ssrc = int.from_bytes(rtp[4:8], "big"), int.from_bytes(rtp[8:12], "big")
            payload = _rtp_payload(rtp)
            found.append(
                _RtpPacket(float(at), destination, rtp[1] & 0x7F, ssrc, timestamp, payload)
            )
    return found


@dataclass
class _StreamClock:
    """Where one stream's samples go: its first packet's arrival, then its RTP timestamps."""

    first_sample: int
    first_timestamp: int

    def place(self, timestamp: int, arrival_sample: int) -> int:
        since = (timestamp - self.first_timestamp) % _TIMESTAMP_MODULUS
        if since >= _TIMESTAMP_MODULUS // 2:
            since -= _TIMESTAMP_MODULUS  # a packet from before the first one, reordered
        sample = self.first_sample + since
        if abs(sample - arrival_sample) > _MAX_STRAY_SAMPLES:
            self.first_sample, self.first_timestamp = arrival_sample, timestamp
            return arrival_sample
        return sample


def _rtp_payload(rtp: bytes) -> bytes:
    csrc = rtp[0] & 0x0F
    start = _RTP_HEADER + 4 * csrc
    if rtp[0] & 0x10:  # header extension
        start += 4 + 4 * int.from_bytes(rtp[start + 2 : start + 4], "big")
    end = len(rtp) - (rtp[-1] if rtp[0] & 0x20 else 0)  # padding
    return rtp[start:end]


def write_stereo_wav(spool: Spool, target: Path) -> float:
    """Decode the spool's pcap into ``target`` (8 kHz, 16-bit, stereo); its length in seconds."""
    frames = max(0, round((spool.ended - spool.started) * SAMPLE_RATE))
    channels = np.zeros((frames, 2), dtype="<i2")
    clocks: dict[tuple[int, int], _StreamClock] = {}
    for packet in _packets(_pcap_of(spool)):
        samples = decode_g711(packet.payload_type, packet.payload)
        if samples is None:
            continue
        channel = 0 if packet.destination == spool.customer_facing else 1
        arrival = round((packet.arrival - spool.started) * SAMPLE_RATE)
        clock = clocks.setdefault((channel, packet.ssrc), _StreamClock(arrival, packet.timestamp))
        start = clock.place(packet.timestamp, arrival)
        if start < 0 or start >= frames:
            continue
        piece = np.frombuffer(samples, dtype="<i2")[: frames - start]
        channels[start : start + len(piece), channel] = piece
    target.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(channels.tobytes())
    return frames / SAMPLE_RATE
