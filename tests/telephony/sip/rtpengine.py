"""A real rtpengine for the SIP tests, in the SIP network namespace, and audio helpers."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.telephony.sip.daemon import start_daemon, stop_daemon
from tests.telephony.sip.sipp import Network

NG_PORT = 2223
CLI_OFFSET = 100  # rtpengine's CLI (TCP) would otherwise take the NG port + 1
SAMPLE_RATE = 8000


@dataclass
class Rtpengine:
    network: Network
    spool: Path
    ng_port: int = NG_PORT
    media_ports: tuple[int, int] = (40000, 40999)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.ng_port}"

    def start(self) -> "Rtpengine":
        self.spool.mkdir(parents=True, exist_ok=True)
        low, high = self.media_ports
        args = [
            "rtpengine",
            "--config-file=none",
            "--interface=127.0.0.1",
            f"--listen-ng=127.0.0.1:{self.ng_port}",
        ]
        args += ["--foreground", "--table=-1", f"--port-min={low}", f"--port-max={high}"]
        args += [f"--recording-dir={self.spool}", "--recording-method=pcap", "--log-stderr"]
        args += ["--delete-delay=0", f"--listen-cli=127.0.0.1:{self.ng_port + CLI_OFFSET}"]
        self.process = start_daemon(
            "rtpengine",
            self.network.command(args),
            self.spool / "rtpengine.log",
            lambda: self.network.port_bound(self.ng_port),
            package="rtpengine-daemon",
        )
        return self

    def stop(self) -> None:
        stop_daemon(self.process)


def tone_file(path: Path, hz: float, seconds: float) -> Path:
    """A sine tone made with sox: raw G.711 u-law (``.ul``, for SIPp) or a 16-bit WAV."""
    return sox_file(path, ["synth", str(seconds), "sine", str(hz)])


def sox_file(path: Path, *pieces: list[str]) -> Path:
    """Audio made by sox from ``pieces`` of effects (``["synth", "1", "sine", "500"]``) played
    one after the other: raw G.711 u-law (``.ul``, for SIPp's rtp_stream) or a 16-bit WAV."""
    kind = (
        ["-t", "ul"] if path.suffix == ".ul" else ["-t", "wav", "-e", "signed-integer", "-b", "16"]
    )
    effects: list[str] = []
    for piece in pieces:
        effects += [":", *piece] if effects else piece
    args = ["sox", "-n", "-r", str(SAMPLE_RATE), "-c", "1", *kind, str(path), *effects]
    subprocess.run(args, check=True)
    return path


def strength(samples: np.ndarray, hz: float) -> float:
    """How much of ``samples``' energy is at ``hz`` (0..1), from the spectrum."""
    if len(samples) == 0:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
    near = np.abs(freqs - hz) <= 15
    total = float(spectrum.sum())
    return float(spectrum[near].sum()) / total if total > 0 else 0.0
