"""rtpengine for ``bench.sip_capacity --media rtpengine``: the daemon, its CPU, the recordings.

The bench starts its own rtpengine on loopback (userspace forwarding, pcap recordings into a
temporary spool), reads its CPU time from ``/proc``, and checks every recording the backend
wrote: its length against the talk time and the share of 20 ms frames that carry sound in each
channel (a lost packet is a silent frame; both parties stream a tone the whole call).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from opendialer.telephony import CallId

NG_PORT = 22230
MEDIA_PORTS = (42000, 59999)
FRAME = 160  # 20 ms at 8 kHz
SILENT_FRAME_ENERGY = 1e4


@dataclass
class Relay:
    spool: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{NG_PORT}"

    @classmethod
    def start(cls, workdir: Path, cpu: int | None) -> "Relay":
        if shutil.which("rtpengine") is None:
            raise SystemExit("rtpengine is not installed (make system-packages)")
        spool = Path(tempfile.mkdtemp(prefix="rtpengine-", dir=workdir))
        args = ["rtpengine", "--config-file=none", "--interface=127.0.0.1", "--foreground"]
        args += [f"--listen-ng=127.0.0.1:{NG_PORT}", f"--listen-cli=127.0.0.1:{NG_PORT + 1}"]
        args += ["--table=-1", f"--port-min={MEDIA_PORTS[0]}", f"--port-max={MEDIA_PORTS[1]}"]
        args += [f"--recording-dir={spool}", "--recording-method=pcap", "--delete-delay=0"]
        args += ["--log-level=4", "--log-stderr"]
        if cpu is not None and shutil.which("taskset"):
            args = ["taskset", "-c", str(cpu), *args]
        log = (spool / "rtpengine.log").open("wb")
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while udp_port_free(NG_PORT):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"rtpengine did not start: {spool / 'rtpengine.log'}")
            time.sleep(0.05)
        return cls(spool, process)

    def cpu_seconds(self) -> float:
        """User + system CPU of the daemon so far (``/proc/PID/stat``)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def udp_port_free(port: int) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", port))
    except OSError:
        return False
    finally:
        probe.close()
    return True


@dataclass
class Recordings:
    """The backend's audio store in the bench: keeps each call's WAV where it was written."""

    files: dict[CallId, Path] = field(default_factory=dict)

    def store_audio(self, call_id: CallId, wav: Path, started_at: datetime) -> None:
        self.files[call_id] = wav

    def check(self, talk_seconds: float) -> tuple[int, float, float]:
        """(recordings, worst |length - talk| in s, worst share of sounding frames per side)."""
        worst_length, worst_sound = 0.0, 1.0
        for path in self.files.values():
            with wave.open(str(path), "rb") as audio:
                seconds = audio.getnframes() / audio.getframerate()
                pcm = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
            worst_length = max(worst_length, abs(seconds - talk_seconds))
            frames = pcm.reshape(-1, 2)[: len(pcm) // 2 // FRAME * FRAME].astype(np.float64)
            energy = (frames.reshape(-1, FRAME, 2) ** 2).sum(axis=1)
            inner = energy[5:-5]  # the first and last 100 ms straddle the bridge and the BYE
            if len(inner):
                worst_sound = min(
                    worst_sound, float((inner > SILENT_FRAME_ENERGY).mean(axis=0).min())
                )
        return len(self.files), worst_length, worst_sound
