"""A recording decoded from a pcap written with dpkt: what rtpengine's pcap holds, with the
arrival jitter of a loaded host, a sender's slow clock, a timestamp wrap and a new stream."""

import random
import wave
from pathlib import Path

import dpkt
import numpy as np
import pytest

from opendialer.telephony.sip.media import Spool
from opendialer.telephony.sip.recording import PCMU, write_stereo_wav
from tests.telephony.sip.rtpengine import SAMPLE_RATE, strength, tone_file

CUSTOMER_FACING = ("127.0.0.1", 40000)
AGENT_FACING = ("127.0.0.1", 40002)
PACKET_SAMPLES = 160
STARTED = 1_800_000_000.0
Packet = tuple[float, tuple[str, int], int, int, bytes]  # arrival, destination, ssrc, timestamp


def _ulaw_tone(path: Path, hz: float, packets: int) -> list[bytes]:
    ulaw = tone_file(path, hz, packets * PACKET_SAMPLES / SAMPLE_RATE).read_bytes()
    return [ulaw[i : i + PACKET_SAMPLES] for i in range(0, len(ulaw), PACKET_SAMPLES)]


def _frame(destination: tuple[str, int], ssrc: int, timestamp: int, payload: bytes) -> bytes:
    rtp = bytes([0x80, PCMU]) + (0).to_bytes(2, "big")
    rtp += (timestamp % (1 << 32)).to_bytes(4, "big") + ssrc.to_bytes(4, "big") + payload
    udp = dpkt.udp.UDP(sport=30000, dport=destination[1], data=rtp)
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(
        src=bytes([127, 0, 0, 2]), dst=bytes([127, 0, 0, 1]), p=dpkt.ip.IP_PROTO_UDP, data=udp
    )
    ip.len = len(ip)
    return bytes(ip)


def _stream(
    payloads: list[bytes], first_arrival: float, ssrc: int, first_timestamp: int, jitter: float
) -> list[tuple[float, int, int, bytes]]:
    """(arrival, ssrc, timestamp, payload): sent by a clock 0.7 % slow, arriving with jitter."""
    rng = random.Random(ssrc)
    period = PACKET_SAMPLES / SAMPLE_RATE * 1.007
    return [
        (
            first_arrival + n * period + (rng.uniform(0, jitter) if n else 0.0),
            ssrc,
            first_timestamp + n * 160,
            p,
        )
        for n, p in enumerate(payloads)
    ]


def _write_pcap(path: Path, packets: list[Packet]) -> None:
    with path.open("wb") as out:
        writer = dpkt.pcap.Writer(out, linktype=dpkt.pcap.DLT_RAW)
        for arrival, destination, ssrc, timestamp, payload in sorted(packets):
            writer.writepkt(_frame(destination, ssrc, timestamp, payload), ts=arrival)


def _decode(tmp_path: Path, packets: list[Packet]) -> tuple[float, np.ndarray]:
    _write_pcap(tmp_path / "call-1-abc.pcap", packets)
    spool = Spool((tmp_path, "call-1-*.pcap"), STARTED, STARTED + 4.0, CUSTOMER_FACING)
    seconds = write_stereo_wav(spool, tmp_path / "call.wav")
    with wave.open(str(tmp_path / "call.wav"), "rb") as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    return seconds, frames


@pytest.mark.parametrize("jitter", [0.0, 0.03])
def test_packets_are_placed_by_their_timestamps_not_their_arrival(
    tmp_path: Path, jitter: float
) -> None:
    customer = _stream(
        _ulaw_tone(tmp_path / "c.ul", 500, 150), STARTED + 0.5, 0x1111, (1 << 32) - 4000, jitter
    )
    agent = _stream(_ulaw_tone(tmp_path / "a.ul", 1300, 150), STARTED + 0.2, 0x2222, 77, jitter)
    seconds, frames = _decode(
        tmp_path,
        [(at, CUSTOMER_FACING, s, ts, p) for at, s, ts, p in customer]
        + [(at, AGENT_FACING, s, ts, p) for at, s, ts, p in agent],
    )
    assert seconds == pytest.approx(4.0)
    assert strength(frames[:, 0], 500) > 0.95  # through the timestamp's wrap
    assert strength(frames[:, 1], 1300) > 0.95
    first_sound = [int(np.flatnonzero(frames[:, channel])[0]) for channel in (0, 1)]
    assert first_sound == pytest.approx([0.5 * SAMPLE_RATE, 0.2 * SAMPLE_RATE], abs=2)


def test_a_new_stream_starts_at_its_own_arrival(tmp_path: Path) -> None:
    tone = _ulaw_tone(tmp_path / "a.ul", 1300, 150)
    first = _stream(tone[:50], STARTED + 0.1, 0x3333, 5_000, 0.01)
    second = _stream(tone[50:], STARTED + 2.0, 0x4444, 900_000, 0.01)
    _, frames = _decode(tmp_path, [(at, AGENT_FACING, s, ts, p) for at, s, ts, p in first + second])
    heard = np.flatnonzero(frames[:, 1])
    assert heard[0] == pytest.approx(0.1 * SAMPLE_RATE, abs=2)
    second_starts = int(heard[heard > 1.5 * SAMPLE_RATE][0])
    assert second_starts == pytest.approx(2.0 * SAMPLE_RATE, abs=2)
    assert not frames[:, 0].any()  # nothing was sent to the customer-facing port
