"""A real Kamailio for the browser-phone tests: the shipped kamailio.cfg with a test
opendialer-local.cfg (loopback, free ports, WS without TLS), started in the foreground."""

import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from opendialer.telephony.sip.kamailio import KAMAILIO_CFG, LOCAL_CFG_EXAMPLE
from tests.telephony.sip.daemon import start_daemon, stop_daemon


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
    tls: bool = False
    """Also listen for WSS (TLS) with a throw-away self-signed certificate for 127.0.0.1."""
    browser_flags: str = ""
    """rtpengine flags towards the browser; the shipped example's (Opus first) when empty."""
    wss_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        if self.tls:
            return f"wss://127.0.0.1:{self.wss_port}"
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
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sip_port = self.sip_port or free_port(socket.SOCK_DGRAM)
        self.ws_port = self.ws_port or free_port()
        if self.tls:
            self.wss_port = self.wss_port or free_port()
            self._tls_config()
        cfg = self.workdir / "kamailio.cfg"
        shutil.copy(KAMAILIO_CFG, cfg)
        (self.workdir / "opendialer-local.cfg").write_text(self._local())
        run = self.workdir / "run"
        run.mkdir(exist_ok=True)
        args = ["kamailio", "-f", str(cfg), "-DD", "-E", "-Y", str(run), "-m", "64", "-M", "8"]
        port = self.wss_port or self.ws_port
        self.process = start_daemon(
            "kamailio", args, self.log, lambda: _listening(port), package="kamailio"
        )
        return self

    def stop(self) -> None:
        stop_daemon(self.process)

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
        if self.tls:
            values |= {"WSS_PORT": str(self.wss_port), "TLS_CONFIG": str(self._tls_cfg)}
        lines = [f'#!substdef "!{name}!{value}!g"' for name, value in values.items()]
        flags = shipped_flags()
        if self.browser_flags:
            flags["TO_BROWSER_FLAGS"] = self.browser_flags
        lines += [f'#!define {name} "{value}"' for name, value in flags.items()]
        if self.tls:
            lines.append("#!define WITH_TLS")
        return "\n".join(lines) + "\n"

    @property
    def _tls_cfg(self) -> Path:
        return self.workdir / "opendialer-tls.cfg"

    def _tls_config(self) -> None:
        """A self-signed certificate for 127.0.0.1 made now, and Kamailio's TLS settings."""
        cert, key = self.workdir / "cert.pem", self.workdir / "key.pem"
        args = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        args += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        args += ["-addext", "subjectAltName=IP:127.0.0.1"]
        subprocess.run(args, check=True, capture_output=True)
        self._tls_cfg.write_text(
            "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
            f"require_certificate = no\ncertificate = {cert}\nprivate_key = {key}\n"
        )


def shipped_flags() -> dict[str, str]:
    """The rtpengine flags the shipped example defines (TO_BROWSER_FLAGS, TO_DIALER_FLAGS)."""
    example = LOCAL_CFG_EXAMPLE.read_text()
    return dict(re.findall(r'^#!define (TO_\w+_FLAGS) "([^"]*)"$', example, re.MULTILINE))


def passthrough_browser_flags() -> str:
    """The shipped flags towards the browser without transcoding: the customer's G.711."""
    shipped = shipped_flags()["TO_BROWSER_FLAGS"].split()
    return " ".join(flag for flag in shipped if not flag.startswith("codec-"))


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0
