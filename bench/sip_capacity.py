"""Benchmark: call attempts per second and concurrent calls one ``sip`` backend sustains.

``SipBackend`` is driven directly (no engine, no database) from this process, pinned to CPU 0
(its asyncio loop and its SIP thread share that core). SIPp on CPU 1 plays the customers (180,
answer after ``--ring-ms``, talk ``--talk`` s, then BYE) and the agents' auto-answering phones,
on 127.0.0.1, using the ``answer.xml`` scenario of ``tests/telephony/sip``. Each step originates
customer-first calls at a target rate for ``--seconds`` and bridges every answered call to an
agent (RFC 3725 flow I), so about rate x (ring + talk) calls are up at once. Per step: attempts/s
reached, peak concurrent calls, failures (backend finals other than the customer's hang-up, and
SIPp's failed-call counters), process CPU per call (both threads), the share of the core used
while calls both start and end, and the delays originate->ANSWERED and ANSWERED->BRIDGED.

    .venv/bin/python -m bench.sip_capacity --rates 25,50,75,100 --seconds 15 --talk 8

With ``--media rtpengine`` the bench also starts rtpengine (``bench/media_relay.py``, on CPU 1
with SIPp), both SIPp sides stream a tone as RTP for the whole call, every call is recorded, and
each step adds rtpengine's CPU per call and a check of every recording (length, lost audio).

    .venv/bin/python -m bench.sip_capacity --media rtpengine --rates 10,25 --talk 8
"""

import argparse
import asyncio
import contextlib
import gc
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import print_table
from bench.media_relay import Recordings, Relay, udp_port_free
from opendialer.clock import RealClock
from opendialer.telephony import AgentEndpoint, CallEventKind, CallId, OriginateRequest
from opendialer.telephony.sip import SipBackend, load_options

SCENARIOS = Path(__file__).resolve().parents[1] / "tests/telephony/sip/scenarios"
SCENARIO = SCENARIOS / "answer.xml"
BACKEND_PORTS = (5700, 5799)
FIRST_SIPP_PORT = 5800
AGENT_POOL = 500
DRAIN_SECONDS = 10.0
MONITOR_TICK = 0.1


def _free_port(after: int) -> int:
    port = after
    while not udp_port_free(port):
        port += 1
    return port


@dataclass
class Peer:
    """One SIPp UAS on 127.0.0.1 playing ``answer.xml`` for ``calls`` calls, then exiting."""

    port: int
    stat_file: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(
        cls,
        workdir: Path,
        port: int,
        calls: int,
        ring_ms: int,
        talk_ms: int,
        role: str,
        tone: Path | None = None,
    ) -> "Peer":
        text = (SCENARIO if tone is None else SCENARIOS / "answer_audio.xml").read_text()
        params = {"RING_MS": ring_ms, "TALK_MS": talk_ms, "ROLE": role}
        params["BYE_REASON"] = "Q.850;cause=16"
        if tone is not None:
            params["MEDIA_PORT"] = "[rtpstream_audio_port]"
            params["STREAM"] = f'<exec rtp_stream="{tone},-1,0"/>'
        for key, value in params.items():
            text = text.replace(f"@{key}@", str(value))
        script = workdir / f"{role}-{port}.xml"
        script.write_text(text)
        stat_file = workdir / f"{role}-{port}.csv"
        args = ["sipp", "-sf", str(script), "-i", "127.0.0.1", "-p", str(port)]
        args += ["-mp", str(40000 + (port % 1000) * 8), "-nostdin", "-m", str(calls)]
        args += ["-trace_stat", "-stf", str(stat_file), "-fd", "1"]
        if _sipp_cpu() is not None and shutil.which("taskset"):
            args = ["taskset", "-c", str(_sipp_cpu()), *args]
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 5
        while udp_port_free(port):
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"sipp ({role}) did not start on port {port}")
            time.sleep(0.02)
        return cls(port, stat_file, process)

    def finish(self, timeout: float) -> int:
        """SIPp's exit code (0: every call succeeded); told to wind down if still running."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # finish the calls in progress, then quit
        try:
            return self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def counters(self) -> dict[str, str]:
        """The last line of SIPp's statistics file, by column (cumulative counters end in C)."""
        if not self.stat_file.exists():
            return {}
        lines = self.stat_file.read_text().strip().splitlines()
        if len(lines) < 2:
            return {}
        return dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))


class GcPauses:
    """The longest pause of Python's cyclic garbage collector since the last ``reset``."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.longest = max(self.longest, time.perf_counter() - self._started)

    def reset(self) -> None:
        self.longest = 0.0


def _sipp_cpu() -> int | None:
    return 1 if (os.cpu_count() or 1) > 1 else None


@dataclass
class Call:
    originated: float
    answered: float | None = None
    bridged: float | None = None
    final: CallEventKind | None = None


@dataclass
class Step:
    rate: float
    attempts: int
    calls: dict[CallId, Call] = field(default_factory=dict)
    live: int = 0
    peak: int = 0
    ended: int = 0
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(loop time, process CPU seconds), every ``MONITOR_TICK``."""
    max_lag: float = 0.0
    all_ended: asyncio.Event = field(default_factory=asyncio.Event)

    def started(self, call_id: CallId, at: float) -> None:
        self.calls[call_id] = Call(at)
        self.live += 1
        self.peak = max(self.peak, self.live)

    def finished(self, call: Call, kind: CallEventKind) -> None:
        call.final = kind
        self.live -= 1
        self.ended += 1
        if self.ended == self.attempts:
            self.all_ended.set()


async def _consume(backend: SipBackend, step: Step, agent_port: int) -> None:
    loop = asyncio.get_running_loop()
    async for event in backend.events():
        call = step.calls.get(event.call_id)
        if call is None:
            continue
        if event.kind is CallEventKind.ANSWERED:
            call.answered = loop.time()
        elif event.kind is CallEventKind.ANSWERED_HUMAN:
            seat = int(event.call_id.removeprefix("sip-")) % AGENT_POOL
            agent = AgentEndpoint(f"agent{seat}", f"sip:agent{seat}@127.0.0.1:{agent_port}")
            await backend.bridge(event.call_id, agent)
        elif event.kind is CallEventKind.BRIDGED:
            call.bridged = loop.time()
        elif event.final:
            step.finished(call, event.kind)


async def _monitor(step: Step) -> None:
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(MONITOR_TICK)
        now = loop.time()
        step.max_lag = max(step.max_lag, now - before - MONITOR_TICK)
        step.samples.append((now, time.process_time()))


async def _originate_all(backend: SipBackend, step: Step) -> tuple[float, float]:
    """Originates ``step.attempts`` calls at ``step.rate``; returns (first, last) loop times."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(step.attempts):
        delay = start + i / step.rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        at = loop.time()
        request = OriginateRequest(
            number=f"+4930{1_000_000 + i}", caller_id="+4930999", ring_timeout=15, record=True
        )
        step.started(await backend.originate(request), at)
    return start, loop.time()


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def _busy_share(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    window = [(t, cpu) for t, cpu in samples if start <= t <= end]
    if len(window) < 2 or window[-1][0] - window[0][0] < 1:
        return None
    return (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])


@dataclass(frozen=True)
class Shape:
    """Every step's timing: originate for ``seconds``; customers ring, then talk."""

    seconds: float
    ring_ms: int
    talk: float
    media: bool = False

    @property
    def hold(self) -> float:
        return self.ring_ms / 1000 + self.talk


@dataclass(frozen=True)
class Measured:
    first: float
    last: float
    """Loop times of the first and the last originate."""
    cpu: float
    wall: float
    busy: float | None
    """CPU share while calls both start and end (after the first ones hung up)."""
    relay_cpu: float = 0.0


async def run_step(workdir: Path, rate: float, shape: Shape, gc_pauses: GcPauses) -> list[object]:
    attempts = max(1, round(rate * shape.seconds))
    talk_ms = int(shape.talk * 1000)
    peers: list[Peer] = []
    relay = Relay.start(workdir, _sipp_cpu()) if shape.media else None
    tones = _tones(workdir) if shape.media else (None, None)
    try:
        customer_port = _free_port(FIRST_SIPP_PORT)
        customers = Peer.start(
            workdir, customer_port, attempts, shape.ring_ms, talk_ms, "customer", tones[0]
        )
        peers.append(customers)
        agent_port = _free_port(customer_port + 1)
        agents = Peer.start(workdir, agent_port, attempts, 0, 600_000, "agent", tones[1])
        peers.append(agents)
        step = Step(rate, attempts)
        gc_pauses.reset()
        recordings = Recordings()
        measured = await _drive(step, shape, (customers.port, agents.port), relay, recordings)
        codes = (customers.finish(5), agents.finish(5))
        row = _row(step, measured, codes, (customers, agents))
        row += [f"{gc_pauses.longest * 1000:.0f}", _peak_rss_mb()]
        return row + _media_row(measured, len(step.calls), recordings, shape)
    finally:
        for peer in peers:
            peer.kill()
        if relay is not None:
            relay.stop()


def _tones(workdir: Path) -> tuple[Path, Path]:
    """Raw u-law tones for SIPp's rtp_stream: 500 Hz for customers, 1300 Hz for agents."""
    made = []
    for name, hz in (("customer", 500), ("agent", 1300)):
        path = workdir / f"{name}.ul"
        args = ["sox", "-n", "-r", "8000", "-c", "1", "-t", "ul", str(path)]
        subprocess.run([*args, "synth", "30", "sine", str(hz)], check=True)
        made.append(path)
    return made[0], made[1]


def _media_row(
    measured: Measured, calls: int, recordings: Recordings, shape: Shape
) -> list[object]:
    if not shape.media:
        return ["-", "-", "-", "-"]
    count, worst_length, worst_sound = recordings.check(shape.talk)
    return [
        f"{measured.relay_cpu / calls * 1000:.2f}",
        count,
        f"{worst_length:.2f}",
        f"{worst_sound * 100:.1f}%",
    ]


async def _drive(
    step: Step,
    shape: Shape,
    ports: tuple[int, int],
    relay: Relay | None,
    recordings: Recordings,
) -> Measured:
    customer_port, agent_port = ports
    options: dict[str, Any] = {
        "trunk": f"127.0.0.1:{customer_port}",
        "bind_address": "127.0.0.1",
        "port_range": list(BACKEND_PORTS),
        "max_calls": 10_000,  # not the limit being measured
    }
    if relay is not None:
        options |= {"media": "rtpengine", "rtpengine": [relay.address]}
        options["recording_dir"] = str(relay.spool)
    backend = SipBackend(RealClock(), load_options(options))
    backend.set_audio_store(recordings)
    await backend.start()
    relay_cpu_start = relay.cpu_seconds() if relay is not None else 0.0
    try:
        consumer = asyncio.create_task(_consume(backend, step, agent_port))
        monitor = asyncio.create_task(_monitor(step))
        cpu_start = time.process_time()
        first, last = await _originate_all(backend, step)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(shape.hold + DRAIN_SECONDS):
                await step.all_ended.wait()
        monitor.cancel()
    finally:
        await backend.stop()
    await consumer
    cpu = time.process_time() - cpu_start  # including the recordings written at the ends
    wall = asyncio.get_running_loop().time() - first
    relay_cpu = relay.cpu_seconds() - relay_cpu_start if relay is not None else 0.0
    busy = _busy_share(step.samples, first + shape.hold, last)
    return Measured(first, last, cpu, wall, busy, relay_cpu)


def _row(
    step: Step, measured: Measured, codes: tuple[int, int], peers: tuple[Peer, Peer]
) -> list[object]:
    calls = list(step.calls.values())
    ok = sum(1 for c in calls if c.bridged is not None and c.final is CallEventKind.HANGUP_CUSTOMER)
    answer_ms = [(c.answered - c.originated) * 1000 for c in calls if c.answered is not None]
    bridge_ms = [
        (c.bridged - c.answered) * 1000
        for c in calls
        if c.bridged is not None and c.answered is not None
    ]
    sipp_failed = "/".join(p.counters().get("FailedCall(C)", "?") for p in peers)
    first, last, cpu, wall = measured.first, measured.last, measured.cpu, measured.wall
    reached = (len(calls) - 1) / (last - first) if last > first else float("nan")
    return [
        f"{step.rate:g}",
        len(calls),
        f"{reached:.1f}",
        step.peak,
        ok,
        len(calls) - ok,
        f"{sipp_failed} (exit {codes[0]}/{codes[1]})",
        f"{cpu / len(calls) * 1000:.2f}",
        f"{cpu / wall * 100:.0f}%",
        "-" if measured.busy is None else f"{measured.busy * 100:.0f}%",
        f"{_quantile(answer_ms, 0.5):.0f} / {_quantile(answer_ms, 0.99):.0f}",
        f"{_quantile(bridge_ms, 0.5):.1f} / {_quantile(bridge_ms, 0.99):.1f}",
        f"{step.max_lag * 1000:.0f}",
    ]


COLUMNS = [
    "target att/s",
    "attempts",
    "att/s reached",
    "peak concurrent",
    "bridged+ended ok",
    "failed (backend)",
    "SIPp failed cust/agent",
    "CPU ms/call",
    "core busy (step)",
    "core busy (steady)",
    "originate->answer p50/p99 ms",
    "answer->bridged p50/p99 ms",
    "max loop lag ms",
    "max GC pause ms",
    "peak RSS MB",
    "rtpengine CPU ms/call",
    "recordings",
    "worst length error s",
    "worst sounding frames",
]


def _peak_rss_mb() -> str:
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"


def _pin_to_one_core() -> str:
    """This process (and the threads it starts later: the SIP thread) on CPU 0."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        return "not pinned"
    os.sched_setaffinity(0, {0})
    return "pinned to CPU 0, SIPp on CPU 1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="25,50,75,100", help="attempts/s, one step each")
    parser.add_argument("--seconds", type=float, default=15, help="originating time per step")
    parser.add_argument("--ring-ms", type=int, default=500, help="customers ring this long")
    parser.add_argument("--talk", type=float, default=8, help="customers hang up after this")
    parser.add_argument("--media", choices=["none", "rtpengine"], default="none")
    args = parser.parse_args()
    if shutil.which("sipp") is None:
        raise SystemExit("sipp is not installed (apt-get install sip-tester)")
    pinning = _pin_to_one_core()
    load_before = os.getloadavg()
    shape = Shape(args.seconds, args.ring_ms, args.talk, args.media == "rtpengine")
    gc_pauses = GcPauses()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="opendialer-sip-bench-") as tmp:
        for rate in (float(r) for r in args.rates.split(",")):
            rows.append(asyncio.run(run_step(Path(tmp), rate, shape, gc_pauses)))
            print_table("sip_capacity (so far)", COLUMNS, rows)
    load_after = os.getloadavg()
    title = (
        f"SIP backend capacity (media {args.media}): one process {pinning}, loopback; "
        f"ring {args.ring_ms} ms, "
        f"talk {args.talk:g} s, {args.seconds:g} s per step; load avg "
        f"{load_before[0]:.2f} -> {load_after[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print_table(title, COLUMNS, rows)


if __name__ == "__main__":
    main()
