"""A real Kamailio for the browser-phone tests: the shipped kamailio.cfg with a test
opendialer-local.cfg (loopback, free ports, WS without TLS), started in the foreground."""

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from opendialer.telephony.sip.kamailio import KAMAILIO_CFG

START_SECONDS = 10.0


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port the OS calls free now, on 127.0.0.1 (for TCP and UDP alike, checked both)."""
    while True:
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, other) as check:
            try:
                check.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


@dataclass
class Kamailio:
    workdir: Path
    domain: str
    secret: str
    rtpengine_ng: str
    sip_port: int = 0
    ws_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def sip_address(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.ws_port}/RPC"

    @property
    def log(self) -> Path:
        return self.workdir / "kamailio.log"

    def start(self) -> "Kamailio":
        if shutil.which("kamailio") is None:
            raise RuntimeError("kamailio is not installed (make test installs it)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sip_port = self.sip_port or free_port(socket.SOCK_DGRAM)
        self.ws_port = self.ws_port or free_port()
        cfg = self.workdir / "kamailio.cfg"
        shutil.copy(KAMAILIO_CFG, cfg)
        (self.workdir / "opendialer-local.cfg").write_text(self._local())
        run = self.workdir / "run"
        run.mkdir(exist_ok=True)
        args = ["kamailio", "-f", str(cfg), "-DD", "-E", "-Y", str(run), "-m", "64", "-M", "8"]
        out = self.log.open("wb")
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        deadline = time.monotonic() + START_SECONDS
        while not _listening(self.ws_port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"kamailio did not start: {self.log}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _local(self) -> str:
        values = {
            "SIP_IP": "127.0.0.1",
            "SIP_PORT": str(self.sip_port),
            "WS_IP": "127.0.0.1",
            "WS_PORT": str(self.ws_port),
            "SOFTPHONE_DOMAIN": self.domain,
            "DIALER_IP": "127.0.0.1",
            "RTPENGINE_SOCK": f"udp:{self.rtpengine_ng}",
            "SOFTPHONE_SECRET": self.secret,
            "MAX_EXPIRES": "600",
            "LOG_LEVEL": "2",
        }
        lines = [f'#!substdef "!{name}!{value}!g"' for name, value in values.items()]
        lines += [f'#!define {name} "{flags}"' for name, flags in _FLAGS.items()]
        return "\n".join(lines) + "\n"


_FLAGS = {
    "TO_BROWSER_FLAGS": "replace-origin replace-session-connection ICE=force DTLS=passive "
    "SDES-off RTP/SAVPF rtcp-mux-offer generate-mid",
    "TO_DIALER_FLAGS": "replace-origin replace-session-connection ICE=remove RTP/AVP "
    "rtcp-mux-demux",
}


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0
