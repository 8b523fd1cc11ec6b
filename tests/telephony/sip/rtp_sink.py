"""An RTP receiver run in the SIP network namespace: ``python -m tests.telephony.sip.rtp_sink
PORT OUT SECONDS`` writes one line per packet (arrival time, payload type, payload in hex)."""

import socket
import sys
import time
from pathlib import Path

import numpy as np

from opendialer.telephony.sip.recording import decode_g711

_RTP_HEADER = 12


def main(port: int, out: Path, seconds: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    Path(f"{out}.ready").touch()
    deadline = time.time() + seconds
    lines = []
    while (left := deadline - time.time()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(2048)
        except TimeoutError:
            break
        lines.append(f"{time.time():.6f} {data[1] & 0x7F} {data[_RTP_HEADER:].hex()}\n")
    out.write_text("".join(lines))


def received(out: Path) -> list[tuple[float, int, bytes]]:
    """(arrival, payload type, payload) of every packet the sink wrote down."""
    packets = []
    for line in out.read_text().splitlines():
        at, payload_type, payload = line.split(" ")
        packets.append((float(at), int(payload_type), bytes.fromhex(payload)))
    return packets


def audio(packets: list[tuple[float, int, bytes]]) -> np.ndarray:
    """The G.711 packets' samples, one after the other."""
    pieces = [decode_g711(t, p) for _, t, p in packets]
    pcm = b"".join(piece for piece in pieces if piece is not None)
    return np.frombuffer(pcm, dtype="<i2")


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
