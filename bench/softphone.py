"""Browser phone: time from the engine's bridge to two-way audio in the browser, and the CPU
rtpengine spends per WebRTC call.

One agent works in a real Chromium (fake microphone playing a tone) registered at a real
Kamailio; the server (sip backend, media through rtpengine) dials a SIPp customer that echoes
the RTP it receives. For each call: ``bridged_at`` (the BRIDGED event, from the console state)
to the first moment the browser both sends packets and hears audible inbound audio (WebRTC
``getStats()``, polled every 100 ms, so figures carry +-100 ms). The agent hangs up 1 s later
and goes ready after the campaign's 1 s wrap-up. rtpengine's CPU (utime + stime from /proc)
over the run is divided by the talk seconds: each call passes rtpengine twice (the dialer's
anchor and Kamailio's WebRTC <-> RTP leg).

``--codec opus`` (the shipped Kamailio flags: the browser talks Opus, rtpengine transcodes to
the customer's G.711) or ``--codec g711`` (G.711 passed through to the browser); ``--talk``
seconds per call (longer calls weigh the per-call set-up less in the CPU per second).

    .venv/bin/python -m bench.softphone --calls 50
    .venv/bin/python -m bench.softphone --calls 20 --talk 5 --codec g711
"""

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright
from pydantic import SecretStr
from tests.console.browser import CHROMIUM, CHROMIUM_FLAGS, PASSWORD, sign_in
from tests.live import serve
from tests.telephony.sip.kamailio import Kamailio, free_port, passthrough_browser_flags
from tests.telephony.sip.rtpengine import Rtpengine, sox_file
from tests.telephony.sip.sipp import Network, Sipp

from bench.common import print_table, throwaway_database
from opendialer.campaigns.service import add_member
from opendialer.config import Settings
from opendialer.db import create_db_engine, create_sessionmaker, on_loop_allowed, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.models import Campaign, DialMode, User, UserRole
from opendialer.security import hash_password

DOMAIN = "phones.bench"
SECRET = "bench-secret-shared-with-kamailio-0123456789"
CALL_DEADLINE_MS = 30_000


def prepare(url: str, calls: int) -> None:
    sessions = create_sessionmaker(create_db_engine(url))
    setup = SimulationSetup(
        agents=0,
        contacts=calls + 5,
        dial_mode=DialMode.PROGRESSIVE,
        calling_hours=(clock_time(0), clock_time(23, 59)),
    )
    campaign_id = prepare_campaign(sessions, setup, datetime.now(UTC), name="Phone bench")
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        campaign.wrap_up_seconds = 1
        agent = User(
            tenant_id=campaign.tenant_id,
            username="phone.agent",
            password_hash=hash_password(PASSWORD),
            role=UserRole.AGENT,
            sip_uri=f"sip:agent@{DOMAIN}",
        )
        session.add(agent)
        session.flush()
        add_member(session, campaign, agent.id)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settings_for(url: str, rtpengine: Rtpengine, kamailio: Kamailio, customer: Sipp) -> Settings:
    sip = {
        "trunk": customer.uri_host,
        "bind_address": "127.0.0.1",
        "port_range": [free_port(), 65000],
        "min_ring_timeout": 0.5,
        "keepalive_interval": 5.0,
        "media": "rtpengine",
        "rtpengine": [rtpengine.address],
        "agent_proxy": kamailio.sip_address,
    }
    return Settings(
        database_url=url,
        secret_key=SecretStr("bench-" + "x" * 40),
        engine_enabled=True,
        telephony_backend="sip",
        telephony_options=sip,
        engine_id="phone-bench",
        housekeeping_enabled=False,
        log_level="warning",
        login_cookie_secure=False,
        softphone_domain=DOMAIN,
        softphone_ws_url=kamailio.ws_url,
        softphone_secret=SecretStr(SECRET),
        softphone_registrar_rpc=kamailio.rpc_url,
    )


def attribute(page: Page, name: str) -> str:
    return page.locator("body").get_attribute(f"data-{name}") or ""


def one_call(page: Page, previous_answer: str, talk_seconds: float) -> tuple[float, float, str]:
    """Wait for the next answered call's two-way audio; hang up. Its bridge-to-audio ms, its
    talk seconds (browser answer to hang-up) and the codec the browser sent."""
    deadline = time.monotonic() + CALL_DEADLINE_MS / 1000
    while not (
        attribute(page, "phone-answered-at") not in ("", previous_answer)
        and attribute(page, "phone-two-way-at")
        and attribute(page, "bridged-at")
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no two-way audio: {page.evaluate('({...document.body.dataset})')}")
        time.sleep(0.05)  # polling the browser, with a deadline
    delay = float(attribute(page, "phone-two-way-at")) - float(attribute(page, "bridged-at"))
    time.sleep(talk_seconds)  # talk
    codec = attribute(page, "phone-codec")
    page.get_by_role("button", name="Hang up", exact=True).click()
    talk = time.time() - float(attribute(page, "phone-answered-at")) / 1000
    expect(page.locator("#phone-call")).to_have_attribute("data-state", "idle")
    return delay, talk, codec


def drive(
    base_url: str, calls: int, tone: Path, talk_seconds: float
) -> list[tuple[float, float, str]]:
    flags = [
        *CHROMIUM_FLAGS,
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={tone}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    results = []
    with sync_playwright() as pw, on_loop_allowed():
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        context = browser.new_context()
        context.grant_permissions(["microphone"], origin=base_url)
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, base_url, "phone.agent")
        expect(page.locator("#phone-connection")).to_have_attribute("data-state", "registered")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name="Ready", exact=True).click()
        answered = ""
        for _ in range(calls):
            results.append(one_call(page, answered, talk_seconds))
            answered = attribute(page, "phone-answered-at")
        page.goto("about:blank")
        browser.close()
    return results


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--talk", type=float, default=1.0, help="seconds per call")
    parser.add_argument("--codec", choices=["opus", "g711"], default="opus")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="phone-bench-") as tmp,
        throwaway_database("sqlite") as url,
    ):
        work = Path(tmp)
        prepare(url, args.calls)
        low = 44000 + (free_port() % 20) * 100
        rtpengine = Rtpengine(Network(None), work / "rtpengine", free_port(), (low, low + 99))
        rtpengine.start()
        flags = passthrough_browser_flags() if args.codec == "g711" else ""
        kamailio = Kamailio(work / "kamailio", DOMAIN, SECRET, rtpengine.address)
        kamailio.browser_flags = flags
        kamailio.start()
        customer = Sipp(
            Network(None),
            "answer_echo_keepalive",
            free_port(),
            work,
            args.calls,
            {"RING_MS": "200", "MEDIA_PORT": "[media_port]"},
        )
        customer.extra_args = ["-rtp_echo"]
        customer.start()
        tone = sox_file(work / "mic.wav", ["synth", "600", "sine", "1000"])
        try:
            assert rtpengine.process is not None
            cpu_before, started = cpu_seconds(rtpengine.process.pid), time.monotonic()
            with serve(settings_for(url, rtpengine, kamailio, customer)) as base_url:
                results = drive(base_url, args.calls, tone, args.talk)
            cpu = cpu_seconds(rtpengine.process.pid) - cpu_before
            wall = time.monotonic() - started
        finally:
            customer.stop()
            kamailio.stop()
            rtpengine.stop()
    load = os.getloadavg()
    delays = [delay for delay, _, _ in results]
    talk_seconds = sum(talk for _, talk, _ in results)
    codecs = ", ".join(sorted({codec for _, _, codec in results}))
    print_table(
        f"Browser phone: bridge -> two-way audio, {len(delays)} calls "
        f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})",
        [
            "calls",
            "browser codec",
            "talk s",
            "p50 ms",
            "p95 ms",
            "max ms",
            "rtpengine CPU s",
            "rtpengine CPU ms per talk second",
            "wall s",
        ],
        [
            (
                len(delays),
                codecs,
                f"{args.talk:g}",
                f"{statistics.median(delays):.0f}",
                f"{percentile(delays, 0.95):.0f}",
                f"{max(delays):.0f}",
                f"{cpu:.2f}",
                f"{1000 * cpu / talk_seconds:.1f}",
                f"{wall:.0f}",
            )
        ],
    )


if __name__ == "__main__":
    main()
