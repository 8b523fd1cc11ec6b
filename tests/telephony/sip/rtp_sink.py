"""An RTP receiver run in the SIP network namespace: ``python -m tests.telephony.sip.rtp_sink
PORT OUT SECONDS [QUIET]`` writes one line per packet (arrival time, payload type, payload in
hex) after SECONDS, or once QUIET seconds pass without a packet after the first."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from opendialer.telephony.sip.recording import decode_g711
from tests.telephony.sip.sipp import Network

_RTP_HEADER = 12
_START_SECONDS = 60  # a Python with numpy starting on a host under load 30


def main(port: int, out: Path, seconds: float, quiet: float | None = None) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    Path(f"{out}.ready").touch()
    deadline = time.time() + seconds
    lines: list[str] = []
    while (left := deadline - time.time()) > 0:
        sock.settimeout(min(left, quiet) if quiet is not None and lines else left)
        try:
            data = sock.recv(2048)
        except TimeoutError:
            break
        lines.append(f"{time.time():.6f} {data[1] & 0x7F} {data[_RTP_HEADER:].hex()}\n")
    out.write_text("".join(lines))


def start_sink(
    network: Network, port: int, out: Path, seconds: float, quiet: float | None = None
) -> subprocess.Popen[bytes]:
    """This module run as a process in ``network``, once it listens on ``port``."""
    args = [sys.executable, "-m", "tests.telephony.sip.rtp_sink", str(port), str(out)]
    args += [str(seconds)] + ([str(quiet)] if quiet is not None else [])
    process = subprocess.Popen(network.command(args))
    ready = Path(f"{out}.ready")
    deadline = time.monotonic() + _START_SECONDS
    while not ready.exists():
        assert process.poll() is None, "the RTP sink did not start"
        assert time.monotonic() < deadline, f"the RTP sink did not start in {_START_SECONDS} s"
        time.sleep(0.02)  # polling for its file, with a deadline
    return process


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
    quiet = float(sys.argv[4]) if len(sys.argv) > 4 else None
    main(int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), quiet)
