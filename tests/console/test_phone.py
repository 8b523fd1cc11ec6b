"""The browser phone (issue 22) in a real Chromium with a fake microphone playing a tone:
the agent's console registers at a real Kamailio (WS, and WSS with a throw-away certificate),
the dialer (sip backend, media through a real rtpengine) calls a SIPp customer that echoes the
RTP it receives, the browser answers in Opus while the customer gets G.711, audio flows both
ways, and the browser's hang-up ends the customer's call. A browser that vanishes within the
grace after the bridge leaves its customer the campaign's abandon message."""

import contextlib
import re
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from pydantic import SecretStr
from sqlalchemy import select, update

from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.campaigns.service import add_member
from opendialer.config import Settings
from opendialer.console.phone_watch import PhoneWatch, registered_users
from opendialer.db import SessionMaker, on_loop_allowed, unit_of_work
from opendialer.engine.runner import GRACE_SECONDS
from opendialer.models import AgentSession, AgentState, CallAttempt, CallOutcome, Campaign, User
from tests.console.browser import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    make_agent,
    make_console_campaign,
    make_customer,
    screenshot,
    sign_in,
)
from tests.console.test_router import bearer
from tests.live import serve
from tests.telephony.sip.kamailio import Kamailio, free_port
from tests.telephony.sip.rtp_sink import audio, received, start_sink
from tests.telephony.sip.rtpengine import SAMPLE_RATE, Rtpengine, sox_file, strength
from tests.telephony.sip.sipp import Network, Sipp

DOMAIN = "phones.test"
SECRET = "a-test-secret-shared-with-kamailio-0123456789"
MIC_HZ = 1000
MESSAGE_HZ, MESSAGE_SECONDS = 600, 1.5
CLEAR_TONE = 0.5  # at least half of a piece's energy at the tone's frequency
DEADLINE = 30.0


@dataclass
class PhoneRig:
    """rtpengine and Kamailio on the host's loopback, where the browser can reach them."""

    rtpengine: Rtpengine
    kamailio: Kamailio
    workdir: Path


@contextlib.contextmanager
def _phone_rig(workdir: Path, tls: bool) -> Iterator[PhoneRig]:
    low = 42000 + (free_port() % 20) * 100
    engine = Rtpengine(Network(None), workdir / "rtpengine", free_port(), (low, low + 99))
    engine.start()
    kamailio = Kamailio(workdir / "kamailio", DOMAIN, SECRET, engine.address, tls=tls)
    try:
        kamailio.start()
    except RuntimeError:
        engine.stop()
        raise
    try:
        yield PhoneRig(engine, kamailio, workdir)
    finally:
        kamailio.stop()
        engine.stop()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoneRig]:
    with _phone_rig(tmp_path_factory.mktemp("phone"), tls=False) as made:
        yield made


@pytest.fixture(scope="module")
def tls_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoneRig]:
    """Kamailio with WSS: a self-signed certificate for 127.0.0.1 made for the test."""
    with _phone_rig(tmp_path_factory.mktemp("phone-tls"), tls=True) as made:
        yield made


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """One Playwright driver for the module's browsers (its sync API allows one at a time)."""
    with sync_playwright() as driver, on_loop_allowed():
        yield driver


@contextlib.contextmanager
def _chromium(driver: Playwright, workdir: Path, *extra: str) -> Iterator[Browser]:
    """Chromium whose fake microphone plays a steady tone (permission per context)."""
    tone = sox_file(workdir / "mic.wav", ["synth", "60", "sine", str(MIC_HZ)])
    flags = [
        *CHROMIUM_FLAGS,
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={tone}",
        "--autoplay-policy=no-user-gesture-required",
        *extra,
    ]
    browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def phone_browser(playwright: Playwright, rig: PhoneRig) -> Iterator[Browser]:
    with _chromium(playwright, rig.workdir) as browser:
        yield browser


@pytest.fixture(scope="module")
def tls_browser(playwright: Playwright, tls_rig: PhoneRig) -> Iterator[Browser]:
    """Trusts the throw-away certificate of the test's Kamailio (there is no prompt for WSS)."""
    with _chromium(playwright, tls_rig.workdir, "--ignore-certificate-errors") as browser:
        yield browser


@dataclass
class Desk:
    """What a browser-phone call test works with: the daemons, a browser, the database."""

    browser: Browser
    rig: PhoneRig
    settings: Settings
    sessions: SessionMaker
    tenant: NewTenant


@pytest.fixture
def desk(
    phone_browser: Browser,
    rig: PhoneRig,
    settings: Settings,
    sessions: SessionMaker,
    tenant: NewTenant,
) -> Desk:
    return Desk(phone_browser, rig, settings, sessions, tenant)


@pytest.fixture
def tls_desk(
    tls_browser: Browser,
    tls_rig: PhoneRig,
    settings: Settings,
    sessions: SessionMaker,
    tenant: NewTenant,
) -> Desk:
    """As ``desk``, over WSS."""
    return Desk(tls_browser, tls_rig, settings, sessions, tenant)


def _context(browser: Browser, base_url: str, microphone: bool) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(30_000)  # a page load on a host under load 30 took over 10 s
    if microphone:
        context.grant_permissions(["microphone"], origin=base_url)
    context.add_init_script("localStorage.debug = 'JsSIP:*';")  # for _await_talking's message
    return context


def _sip_log(page: Page) -> list[str]:
    """The page's console from now on: JsSIP's debug lines among them."""
    lines: list[str] = []
    page.on("console", lambda message: lines.append(message.text))
    return lines


def _await_talking(page: Page, sip_log: list[str]) -> None:
    """The browser has the call; if it never does, the failure shows how far the SIP went."""
    try:
        expect(page.locator("#phone-call")).to_have_attribute(
            "data-state", "talking", timeout=30_000
        )
    except AssertionError as exc:
        tail = "\n".join(line[:300] for line in sip_log[-60:])
        raise AssertionError(f"{exc}\nthe page's last console lines:\n{tail}") from exc


def phone_settings(settings: Settings, rig: PhoneRig, **update: Any) -> Settings:
    return settings.model_copy(
        update={
            "softphone_domain": DOMAIN,
            "softphone_ws_url": rig.kamailio.ws_url,
            "softphone_secret": SecretStr(SECRET),
            "softphone_registrar_rpc": rig.kamailio.rpc_url,
            **update,
        }
    )


def dialling_settings(
    settings: Settings, rig: PhoneRig, customer: Sipp, **options: float
) -> Settings:
    """The engine on the sip backend: media through rtpengine, agents reached through
    Kamailio, and a keep-alive of 1 s so that a vanished browser is noticed at once (the sip
    ``options`` change these)."""
    sip = {
        "trunk": customer.uri_host,
        "bind_address": "127.0.0.1",
        "port_range": [free_port(), 65000],
        "min_ring_timeout": 0.5,
        "keepalive_interval": 1.0,
        "keepalive_timeout": 1.0,
        "media": "rtpengine",
        "rtpengine": [rig.rtpengine.address],
        "agent_proxy": rig.kamailio.sip_address,
        **options,
    }
    return phone_settings(
        settings,
        rig,
        engine_enabled=True,
        telephony_backend="sip",
        telephony_options=sip,
        engine_id="phone-test",
    )


def _customer(rig: PhoneRig, media_port: int | None = None) -> Sipp:
    """Answers, echoes every RTP packet back to its sender (or, given ``media_port``, has its
    audio sent there), answers keep-alives, takes the BYE."""
    params = {"RING_MS": "200", "MEDIA_PORT": str(media_port or "[media_port]")}
    sipp = Sipp(Network(None), "answer_echo_keepalive", free_port(), rig.workdir, 1, params)
    if media_port is None:
        sipp.extra_args = ["-rtp_echo"]
    return sipp.start()


def _browser_agent(
    sessions: SessionMaker, tenant: NewTenant, dial_mode: str, username: str = "erika.agent"
) -> int:
    """An agent whose phone is their browser, member of a campaign with one customer due."""
    agent = make_agent(sessions, tenant.tenant.id, username)
    phone = f"sip:{username.split('.')[0]}@{DOMAIN}"
    with unit_of_work(sessions) as session:
        session.execute(update(User).where(User.id == agent).values(sip_uri=phone))
    campaign = make_console_campaign(sessions, tenant.tenant.id, agent, dial_mode)
    make_customer(sessions, campaign, "Erika", "Mustermann")
    return campaign


def _go_ready(page: Page, base_url: str, username: str = "erika.agent") -> None:
    """Sign in, wait for the phone to register, log in to the campaign and go ready."""
    sign_in(page, base_url, username)
    expect(page.locator("#phone-mic")).to_have_attribute("data-state", "allowed")
    expect(page.locator("#phone-connection")).to_have_attribute("data-state", "registered")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#state")).to_have_text("paused")
    page.get_by_role("button", name="Ready", exact=True).click()


def _attempt_outcome(sessions: SessionMaker, campaign_id: int) -> CallAttempt | None:
    with unit_of_work(sessions) as session:
        attempt = session.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
        ).first()
        if attempt is not None:
            session.expunge(attempt)
        return attempt


def _ended(sessions: SessionMaker, campaign_id: int) -> bool:
    attempt = _attempt_outcome(sessions, campaign_id)
    return attempt is not None and attempt.ended_at is not None


def _number(page: Page, name: str) -> float:
    return float(page.locator("body").get_attribute(f"data-{name}") or 0)


def _poll(check: Any, deadline: float = DEADLINE, why: Any = lambda: "") -> None:
    end = time.monotonic() + deadline
    while not check():
        assert time.monotonic() < end, f"timed out: {why()}"
        time.sleep(0.1)  # polling the browser or SIPp, with a deadline


@pytest.mark.parametrize("dial_mode", ["predictive", "progressive"])
def test_browser_answers_and_audio_flows_both_ways(
    dial_mode: str,
    desk: Desk,
) -> None:
    campaign = _browser_agent(desk.sessions, desk.tenant, dial_mode)
    _talk_and_hang_up(desk, campaign, "phone.png")


def test_over_wss_the_browser_registers_and_takes_a_call(
    tls_desk: Desk,
) -> None:
    """The production transport: the console's phone connects to wss:// (Kamailio's TLS
    port, a certificate made for this test), registers, goes ready and takes a call."""
    assert tls_desk.rig.kamailio.ws_url.startswith("wss://")
    campaign = _browser_agent(tls_desk.sessions, tls_desk.tenant, "predictive")
    _talk_and_hang_up(tls_desk, campaign, None)


def _talk_and_hang_up(desk: Desk, campaign: int, picture: str | None) -> None:
    """A call from Ready to the browser's hang-up: two-way audio, Opus in the browser and
    G.711 for the customer (rtpengine transcodes), the BYE reaching the customer."""
    browser, rig, settings, sessions = desk.browser, desk.rig, desk.settings, desk.sessions
    customer = _customer(rig)
    with serve(dialling_settings(settings, rig, customer)) as base_url:
        context = _context(browser, base_url, microphone=True)
        page = context.new_page()
        try:
            _call_through_the_browser(page, base_url, customer, picture)
            transport = rig.kamailio.ws_url.split(":")[0]
            assert _registered_over(rig) == {"tls" if transport == "wss" else "tcp"}
            codec = page.locator("body").get_attribute("data-phone-codec")
        finally:
            page.goto("about:blank")
            context.close()
    assert customer.wait(10) == 0, customer.error_file.read_text(errors="replace")
    assert customer.received("BYE"), "the browser's hang-up did not reach the customer"
    assert codec == "audio/opus", f"the browser negotiated {codec}"
    # The customer is invited with rtpengine's early offer (early media is heard for call
    # progress) and re-offered at the bridge; every SDP it was given is plain G.711.
    offers = [m.body for m in customer.received("INVITE") + customer.received("ACK") if m.body]
    assert offers, "the customer was given no SDP"
    assert all("RTP/AVP 0" in sdp and "opus" not in sdp.lower() for sdp in offers), offers
    attempt = _attempt_outcome(sessions, campaign)
    assert attempt is not None and attempt.ended_at is not None
    assert attempt.outcome is CallOutcome.CONNECTED


def _call_through_the_browser(
    page: Page, base_url: str, customer: Sipp, picture: str | None
) -> None:
    sip_log = _sip_log(page)
    _go_ready(page, base_url)

    # The dialer calls the customer, then the agent's browser, which answers by itself.
    _await_talking(page, sip_log)
    expect(page.locator("#contact-name")).to_have_text("Erika Mustermann", timeout=10_000)
    # Two-way audio: the customer echoes what it receives from the browser, so the browser
    # hears its own microphone's tone only if the customer got the browser's RTP.
    _poll(
        lambda: bool(page.locator("body").get_attribute("data-phone-two-way-at")),
        why=lambda: str(page.evaluate("JSON.stringify(document.body.dataset)")),
    )
    received = _number(page, "phone-packets-received")
    energy = _number(page, "phone-inbound-energy")
    _poll(lambda: _number(page, "phone-packets-received") >= received + 50)  # still flowing
    assert _number(page, "phone-inbound-energy") > energy > 0
    assert _number(page, "phone-packets-sent") > 50
    if picture is not None:
        screenshot(page, picture)

    page.get_by_role("button", name="Hang up", exact=True).click()
    expect(page.locator("#phone-call")).to_have_attribute("data-state", "idle")
    expect(page.locator("#state")).to_have_text("wrap up", timeout=10_000)
    _poll(lambda: bool(customer.received("BYE")), 10.0)


@pytest.mark.parametrize(
    ("vanishing", "detail"),
    [
        # Kamailio answers 408 once it knows the WebSocket is gone; before that the OPTIONS
        # goes unanswered: either way the keep-alive ends the call.
        ("renderer crashed", "keep-alive: agent leg is gone (OPTIONS: "),
        ("tab closed", "agent's phone went away (BYE, Q.850 27)"),
    ],
)
def test_a_browser_that_vanishes_after_the_grace_ends_the_customers_call(
    vanishing: str,
    detail: str,
    desk: Desk,
) -> None:
    """The browser goes away well into the call: a crashed renderer sends no BYE (the
    dialer's keep-alive finds the phone gone), a closed tab sends one saying its page closed.
    The customer gets a BYE and the attempt ends connected, saying why."""
    campaign = _browser_agent(desk.sessions, desk.tenant, "predictive")
    customer = _customer(desk.rig)
    # A closed tab's BYE must not lose a race with a keep-alive of 1 s on a loaded host.
    patience = {"keepalive_timeout": 10.0} if vanishing == "tab closed" else {}
    with serve(dialling_settings(desk.settings, desk.rig, customer, **patience)) as base_url:
        context = _context(desk.browser, base_url, microphone=True)
        page = context.new_page()
        sip_log = _sip_log(page)
        _go_ready(page, base_url)
        _await_talking(page, sip_log)
        # past the grace and its check (sent at the end of the grace, answered at once)
        _poll(lambda: _talked_ms(page) > (GRACE_SECONDS + 3) * 1000)
        if vanishing == "tab closed":
            page.close()
        else:
            _crash(page)
        _poll(lambda: bool(customer.received("BYE")), 15.0)
        _poll(lambda: _ended(desk.sessions, campaign))
        context.close()
    attempt = _attempt_outcome(desk.sessions, campaign)
    assert attempt is not None and attempt.end_detail is not None
    assert detail in attempt.end_detail
    assert attempt.outcome is CallOutcome.CONNECTED
    assert customer.wait(10) == 0


def _talked_ms(page: Page) -> float:
    """Milliseconds since the browser took the call."""
    since: float = page.evaluate("Date.now() - Number(document.body.dataset.phoneAnsweredAt)")
    return since


# The network cuts the page's WebSocket right after the browser's 200 OK to the INVITE has gone
# out: the dialer gets the answer and bridges, and the browser is gone from then on, however
# slowly a loaded host runs the page (the cut must fall within the grace after the bridge).
CUT_AFTER_ANSWER = r"""(() => {
  const Native = window.WebSocket;
  const answersInvite = (data) =>
    typeof data === "string" && data.startsWith("SIP/2.0 200") &&
    /^CSeq:\s*\d+\s+INVITE\s*$/im.test(data);
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    const send = ws.send.bind(ws);
    ws.send = (data) => {
      send(data);
      if (answersInvite(data)) ws.close();
    };
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();"""


def test_a_browser_cut_off_within_the_grace_leaves_the_customer_the_abandon_message(
    desk: Desk,
) -> None:
    """The agent's browser loses its connection as it answers (no BYE: Kamailio
    answers the keep-alive or the check at the end of the grace with 408). The customer never
    reached a person: they hear the campaign's abandon message (played by rtpengine, received
    by the customer) and the attempt is counted abandoned, though it was bridged."""
    campaign = _browser_agent(desk.sessions, desk.tenant, "predictive")
    message = sox_file(
        desk.rig.workdir / "abandon.wav", ["synth", str(MESSAGE_SECONDS), "sine", str(MESSAGE_HZ)]
    )
    with unit_of_work(desk.sessions) as session:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign)
            .values(abandon_announcement_uri=str(message))
        )
    heard = desk.rig.workdir / f"heard-{uuid.uuid4().hex}.txt"
    sink_port = free_port(socket.SOCK_DGRAM)
    customer = _customer(desk.rig, media_port=sink_port)
    with serve(dialling_settings(desk.settings, desk.rig, customer)) as base_url:
        context = _context(desk.browser, base_url, microphone=True)
        page = context.new_page()
        page.add_init_script(CUT_AFTER_ANSWER)
        sink = start_sink(Network(None), sink_port, heard, 90.0, quiet=6.0)
        _go_ready(page, base_url)
        _poll(lambda: _ended(desk.sessions, campaign))
        context.close()
    assert customer.wait(10) == 0, customer.error_file.read_text(errors="replace")
    attempt = _attempt_outcome(desk.sessions, campaign)
    assert attempt is not None
    assert attempt.outcome is CallOutcome.ABANDONED, attempt.end_detail
    assert attempt.connected_at is not None  # lost after the bridge, not before it
    assert (attempt.end_detail or "").startswith(f"played {message}")
    sink.wait(30)
    pieces = _tenths(audio(received(heard)))
    assert any(strength(p, MIC_HZ) > CLEAR_TONE for p in pieces), "no audio from the agent"
    message_tenths = sum(1 for p in pieces if strength(p, MESSAGE_HZ) > CLEAR_TONE)
    assert message_tenths >= MESSAGE_SECONDS * 10 - 2, f"heard {message_tenths / 10} s of it"


def _tenths(samples: np.ndarray) -> list[np.ndarray]:
    """The audio cut into 100 ms pieces (10 Hz apart in a spectrum)."""
    size = SAMPLE_RATE // 10
    return [samples[i : i + size] for i in range(0, len(samples) - size + 1, size)]


def _crash(page: Page) -> None:
    """Chromium's renderer of ``page`` dies (chrome://crash): no unload handler runs."""
    with contextlib.suppress(PlaywrightError):  # the navigation dies with the renderer
        page.goto("chrome://crash", timeout=2_000)


def test_an_agent_whose_phone_is_gone_is_logged_out(
    desk: Desk,
) -> None:
    """Kamailio's ul.dump lists the registered browser; once the page is gone (its phone
    unregisters) the watch logs the paused agent out after the grace, not before."""
    agent = make_agent(desk.sessions, desk.tenant.tenant.id, "erika.agent")
    with unit_of_work(desk.sessions) as session:
        session.execute(update(User).where(User.id == agent).values(sip_uri=f"sip:erika@{DOMAIN}"))
    make_console_campaign(desk.sessions, desk.tenant.tenant.id, agent, "progressive")
    live = phone_settings(desk.settings, desk.rig, engine_enabled=False)
    watch = PhoneWatch(live)
    with serve(live) as base_url:
        context = _context(desk.browser, base_url, microphone=True)
        page = context.new_page()
        sign_in(page, base_url, "erika.agent")
        expect(page.locator("#phone-connection")).to_have_attribute("data-state", "registered")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#state")).to_have_text("paused")
        assert "erika" in _registered(desk.rig)
        page.goto("about:blank")
        context.close()
        _poll(lambda: "erika" not in _registered(desk.rig), why=lambda: str(_registered(desk.rig)))
    now = datetime.now(UTC)
    after = now + timedelta(seconds=live.softphone_logout_after_seconds)
    with unit_of_work(desk.sessions) as session:
        assert watch.sweep(session, set(), now) == []  # a short loss is forgiven
    with unit_of_work(desk.sessions) as session:
        assert watch.sweep(session, set(), after) == [agent]
    with unit_of_work(desk.sessions) as session:
        state = session.scalars(select(AgentSession).where(AgentSession.user_id == agent)).one()
        assert state.state is AgentState.LOGGED_OUT


def _registered_over(rig: PhoneRig) -> set[str]:
    """The transports of the registrations Kamailio holds (tcp: WS, tls: WSS)."""
    request = {"jsonrpc": "2.0", "method": "ul.dump", "id": 1}
    dump = httpx.post(rig.kamailio.rpc_url, json=request, timeout=5).text
    return set(re.findall(r'"Socket":\s*"(\w+):', dump))


def _registered(rig: PhoneRig) -> set[str]:
    users = registered_users(rig.kamailio.rpc_url)
    assert users is not None, "Kamailio's JSON-RPC did not answer"
    return users


def test_microphone_denied_blocks_ready(
    desk: Desk,
) -> None:
    agent = make_agent(desk.sessions, desk.tenant.tenant.id, "max.agent")
    with unit_of_work(desk.sessions) as session:
        session.execute(update(User).where(User.id == agent).values(sip_uri=f"sip:max@{DOMAIN}"))
    make_console_campaign(desk.sessions, desk.tenant.tenant.id, agent, "progressive")
    with serve(phone_settings(desk.settings, desk.rig, engine_enabled=False)) as base_url:
        context = _context(desk.browser, base_url, microphone=False)
        page = context.new_page()
        try:
            sign_in(page, base_url, "max.agent")
            expect(page.locator("#phone-mic")).to_have_attribute("data-state", "blocked")
            expect(page.locator("#phone-problem")).to_contain_text("Microphone access is blocked")
            page.get_by_role("button", name="Log in").click()
            expect(page.locator("#state")).to_have_text("paused")
            expect(page.get_by_role("button", name="Ready", exact=True)).to_be_disabled()
            screenshot(page, "phone-blocked.png")
        finally:
            page.goto("about:blank")
            context.close()


def test_ready_needs_the_registrar_to_know_the_phone(
    rig: PhoneRig, settings: Settings, sessions: SessionMaker, tenant: NewTenant
) -> None:
    """The server asks Kamailio, not the browser: an unregistered phone cannot go ready; a
    desk phone is not asked about."""
    otto = make_agent(sessions, tenant.tenant.id, "otto.agent")
    desk = make_agent(sessions, tenant.tenant.id, "desk.agent")
    with unit_of_work(sessions) as session:
        session.execute(update(User).where(User.id == otto).values(sip_uri=f"sip:otto@{DOMAIN}"))
        session.execute(update(User).where(User.id == desk).values(sip_uri="sip:201@pbx.test"))
    campaign = make_console_campaign(sessions, tenant.tenant.id, otto, "progressive")
    with unit_of_work(sessions) as session:
        add_member(session, session.get_one(Campaign, campaign), desk)
    app = create_app(phone_settings(settings, rig, engine_enabled=False))
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as web:
        for who in ("otto.agent", "desk.agent"):
            headers = bearer(web, who)
            assert web.post("/console/api/agent/login", headers=headers).status_code == 200
            ready = web.post("/console/api/agent/ready", headers=headers)
            if who == "otto.agent":
                assert ready.status_code == 409, ready.text
                assert ready.json()["error"]["code"] == "phone_not_registered"
                assert ready.json()["error"]["message"].startswith("Your browser phone")
            else:
                assert ready.status_code == 200, ready.text


def test_ready_when_the_registrar_does_not_answer(
    settings: Settings, sessions: SessionMaker, tenant: NewTenant
) -> None:
    agent = make_agent(sessions, tenant.tenant.id, "otto.agent")
    with unit_of_work(sessions) as session:
        session.execute(update(User).where(User.id == agent).values(sip_uri=f"sip:otto@{DOMAIN}"))
    make_console_campaign(sessions, tenant.tenant.id, agent, "progressive")
    nobody = f"http://127.0.0.1:{free_port()}/RPC"
    live = settings.model_copy(
        update={
            "softphone_domain": DOMAIN,
            "softphone_ws_url": "ws://127.0.0.1:9",
            "softphone_secret": SecretStr(SECRET),
            "softphone_registrar_rpc": nobody,
            "engine_enabled": False,
        }
    )
    with TestClient(create_app(live), base_url="https://testserver") as web:
        headers = bearer(web, "otto.agent")
        web.post("/console/api/agent/login", headers=headers)
        ready = web.post("/console/api/agent/ready", headers=headers)
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "registrar_unavailable"
