"""SIPp peers for the SIP tests: customers, agents and announcement servers on loopback.

Where the machine allows it (root, ``ip netns``) everything runs in a private network namespace
with only ``lo`` in it, so no packet can leave; otherwise on the host's 127.0.0.1.
"""

import itertools
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"
_SEPARATOR = re.compile(r"^-{20,} (\S+ \S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Network:
    namespace: str | None

    def command(self, args: list[str]) -> list[str]:
        if self.namespace is None:
            return args
        return ["ip", "netns", "exec", self.namespace, *args]

    def port_bound(self, port: int) -> bool:
        out = subprocess.run(
            self.command(["ss", "-Hlun", f"sport = :{port}"]), capture_output=True, text=True
        )
        return bool(out.stdout.strip())


def open_network() -> Network:
    """A fresh namespace with loopback up, or the host's loopback when that is not allowed."""
    name = f"opendialer-sip-{uuid.uuid4().hex[:8]}"
    if shutil.which("ip") is None or os.geteuid() != 0:
        return Network(None)
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True)
    if made.returncode != 0:
        return Network(None)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    return Network(name)


def close_network(network: Network) -> None:
    if network.namespace is not None:
        subprocess.run(["ip", "netns", "del", network.namespace], capture_output=True)


@dataclass(frozen=True)
class Message:
    at: datetime
    sent: bool
    """Sent by SIPp (True) or received by it."""
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\r\n", 1)[0].split("\n", 1)[0]

    @property
    def body(self) -> str:
        parts = re.split(r"\r?\n\r?\n", self.text, maxsplit=1)
        return parts[1].strip() if len(parts) > 1 else ""

    def header(self, name: str) -> str | None:
        for line in self.text.splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


@dataclass
class Sipp:
    network: Network
    scenario: str
    port: int
    workdir: Path
    calls: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)

    @property
    def uri_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def message_file(self) -> Path:
        return self.workdir / f"{self.port}-messages.log"

    @property
    def error_file(self) -> Path:
        return self.workdir / f"{self.port}-errors.log"

    def start(self) -> "Sipp":
        text = (SCENARIOS / f"{self.scenario}.xml").read_text()
        for key, value in self.params.items():
            text = text.replace(f"@{key}@", value)
        script = self.workdir / f"{self.port}-{self.scenario}.xml"
        script.write_text(text)
        args = ["sipp", "-sf", str(script), "-i", "127.0.0.1", "-p", str(self.port)]
        args += ["-mp", str(30000 + (self.port % 5000) * 4), "-nostdin", "-trace_msg", "-trace_err"]
        args += ["-message_file", str(self.message_file), "-error_file", str(self.error_file)]
        if self.calls is not None:
            args += ["-m", str(self.calls)]
        args += self.extra_args
        self.process = subprocess.Popen(
            self.network.command(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while not self.network.port_bound(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"sipp {self.scenario} did not start on {self.port}")
            time.sleep(0.02)
        return self

    def wait(self, timeout: float = 10.0) -> int:
        """SIPp's exit code once it has run its ``calls`` (0: all succeeded, 1: some failed)."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # SIPp: finish the calls in progress, quit
            try:
                return self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def messages(self) -> list[Message]:
        if not self.message_file.exists():
            return []
        text = self.message_file.read_text(errors="replace")
        pieces = _SEPARATOR.split(text)
        found: list[Message] = []
        for stamp, chunk in zip(pieces[1::2], pieces[2::2], strict=False):
            head, _, rest = chunk.strip("\n").partition("\n")
            if not head.startswith("UDP message"):
                continue
            found.append(
                Message(
                    at=datetime.fromisoformat(stamp),
                    sent="sent" in head,
                    text=rest.strip("\n"),
                )
            )
        return found

    def received(self, method: str) -> list[Message]:
        return [m for m in self.messages() if not m.sent and m.first_line.startswith(method)]

    def sent_status(self) -> list[int]:
        return [
            int(m.first_line.split()[1])
            for m in self.messages()
            if m.sent and m.first_line.startswith("SIP/2.0")
        ]


class Farm:
    """Starts SIPp peers on consecutive ports and stops them all at the end."""

    def __init__(self, network: Network, workdir: Path, first_port: int) -> None:
        self.network, self.workdir = network, workdir
        self._ports = itertools.count(first_port)
        self.peers: list[Sipp] = []

    def free_port(self) -> int:
        while True:
            port = next(self._ports)
            if not self.network.port_bound(port):
                return port

    def peer(
        self,
        scenario: str,
        calls: int | None = None,
        *,
        ring_ms: int = 0,
        talk_ms: int = 1000,
        role: str = "peer",
        code: int = 486,
        reason: str = "Busy Here",
        extra: dict[str, str] | None = None,
    ) -> Sipp:
        params = {
            "RING_MS": str(ring_ms),
            "TALK_MS": str(talk_ms),
            "ROLE": role,
            "CODE": str(code),
            "REASON": reason,
            "BYE_REASON": "Q.850;cause=16",
            **(extra or {}),
        }
        sipp = Sipp(self.network, scenario, self.free_port(), self.workdir, calls, params)
        self.peers.append(sipp.start())
        return sipp

    def stop(self) -> None:
        for peer in self.peers:
            peer.stop()
