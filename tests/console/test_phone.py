"""The browser phone (issue 22) in a real Chromium with a fake microphone playing a tone:
the agent's console registers at a real Kamailio, the dialer (sip backend, media through a
real rtpengine) calls a SIPp customer that echoes the RTP it receives, the browser answers,
audio flows both ways, and the browser's hang-up ends the customer's call."""

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from pydantic import SecretStr
from sqlalchemy import select, update

from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.campaigns.service import add_member
from opendialer.config import Settings
from opendialer.console.phone_watch import PhoneWatch, registered_users
from opendialer.db import SessionMaker, on_loop_allowed, unit_of_work
from opendialer.models import AgentSession, AgentState, CallAttempt, Campaign, User
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
from tests.telephony.sip.rtpengine import Rtpengine, sox_file
from tests.telephony.sip.sipp import Network, Sipp

DOMAIN = "phones.test"
SECRET = "a-test-secret-shared-with-kamailio-0123456789"
MIC_HZ = 1000
DEADLINE = 30.0


@dataclass
class PhoneRig:
    """rtpengine and Kamailio on the host's loopback, where the browser can reach them."""

    rtpengine: Rtpengine
    kamailio: Kamailio
    workdir: Path


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoneRig]:
    workdir = tmp_path_factory.mktemp("phone")
    low = 42000 + (free_port() % 20) * 100
    engine = Rtpengine(Network(None), workdir / "rtpengine", free_port(), (low, low + 99))
    engine.start()
    kamailio = Kamailio(workdir / "kamailio", DOMAIN, SECRET, engine.address)
    try:
        kamailio.start()
    except RuntimeError:
        engine.stop()
        raise
    yield PhoneRig(engine, kamailio, workdir)
    kamailio.stop()
    engine.stop()


@pytest.fixture(scope="module")
def phone_browser(rig: PhoneRig) -> Iterator[Browser]:
    """Chromium whose fake microphone plays a steady tone (permission per context)."""
    tone = sox_file(rig.workdir / "mic.wav", ["synth", "60", "sine", str(MIC_HZ)])
    flags = [
        *CHROMIUM_FLAGS,
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={tone}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with sync_playwright() as pw, on_loop_allowed():
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        try:
            yield browser
        finally:
            browser.close()


def _context(browser: Browser, base_url: str, microphone: bool) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    if microphone:
        context.grant_permissions(["microphone"], origin=base_url)
    return context


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


def dialling_settings(settings: Settings, rig: PhoneRig, customer: Sipp) -> Settings:
    """The engine on the sip backend: media through rtpengine, agents reached through
    Kamailio, and a keep-alive of 1 s so that a vanished browser is noticed at once."""
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
    }
    return phone_settings(
        settings,
        rig,
        engine_enabled=True,
        telephony_backend="sip",
        telephony_options=sip,
        engine_id="phone-test",
    )


def _customer(rig: PhoneRig) -> Sipp:
    """Answers, echoes every RTP packet back to its sender, answers keep-alives, takes the BYE."""
    params = {"RING_MS": "200"}
    sipp = Sipp(Network(None), "answer_echo_keepalive", free_port(), rig.workdir, 1, params)
    sipp.extra_args = ["-rtp_echo"]
    return sipp.start()


def _attempt_outcome(sessions: SessionMaker, campaign_id: int) -> CallAttempt | None:
    with unit_of_work(sessions) as session:
        attempt = session.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
        ).first()
        if attempt is not None:
            session.expunge(attempt)
        return attempt


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
    phone_browser: Browser,
    rig: PhoneRig,
    settings: Settings,
    sessions: SessionMaker,
    tenant: NewTenant,
) -> None:
    agent = make_agent(sessions, tenant.tenant.id, "erika.agent")
    with unit_of_work(sessions) as session:
        session.execute(update(User).where(User.id == agent).values(sip_uri=f"sip:erika@{DOMAIN}"))
    campaign = make_console_campaign(sessions, tenant.tenant.id, agent, dial_mode)
    make_customer(sessions, campaign, "Erika", "Mustermann")
    customer = _customer(rig)
    with serve(dialling_settings(settings, rig, customer)) as base_url:
        context = _context(phone_browser, base_url, microphone=True)
        page = context.new_page()
        try:
            _call_through_the_browser(page, base_url, customer)
        finally:
            page.goto("about:blank")
            context.close()
    assert customer.wait(10) == 0, customer.error_file.read_text(errors="replace")
    assert customer.received("BYE"), "the browser's hang-up did not reach the customer"
    attempt = _attempt_outcome(sessions, campaign)
    assert attempt is not None and attempt.ended_at is not None
    assert attempt.outcome is not None


def _call_through_the_browser(page: Page, base_url: str, customer: Sipp) -> None:
    sign_in(page, base_url, "erika.agent")
    expect(page.locator("#phone-mic")).to_have_attribute("data-state", "allowed")
    expect(page.locator("#phone-connection")).to_have_attribute("data-state", "registered")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#state")).to_have_text("paused")
    page.get_by_role("button", name="Ready", exact=True).click()

    # The dialer calls the customer, then the agent's browser, which answers by itself.
    expect(page.locator("#phone-call")).to_have_attribute("data-state", "talking", timeout=30_000)
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
    screenshot(page, "phone.png")

    page.get_by_role("button", name="Hang up", exact=True).click()
    expect(page.locator("#phone-call")).to_have_attribute("data-state", "idle")
    expect(page.locator("#state")).to_have_text("wrap up", timeout=10_000)
    _poll(lambda: bool(customer.received("BYE")), 10.0)


def test_a_browser_that_vanishes_mid_call_ends_the_customers_call(
    phone_browser: Browser,
    rig: PhoneRig,
    settings: Settings,
    sessions: SessionMaker,
    tenant: NewTenant,
) -> None:
    """The browser's page crashes during the call (a closed tab sends its BYE; a crash or a
    lost network does not): the dialer's keep-alive gets 408 from Kamailio (the WebSocket is
    gone), the customer gets a BYE and the attempt ends saying why."""
    agent = make_agent(sessions, tenant.tenant.id, "erika.agent")
    with unit_of_work(sessions) as session:
        session.execute(update(User).where(User.id == agent).values(sip_uri=f"sip:erika@{DOMAIN}"))
    campaign = make_console_campaign(sessions, tenant.tenant.id, agent, "predictive")
    make_customer(sessions, campaign, "Erika", "Mustermann")
    customer = _customer(rig)
    with serve(dialling_settings(settings, rig, customer)) as base_url:
        context = _context(phone_browser, base_url, microphone=True)
        page = context.new_page()
        sign_in(page, base_url, "erika.agent")
        expect(page.locator("#phone-connection")).to_have_attribute("data-state", "registered")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#state")).to_have_text("paused")
        page.get_by_role("button", name="Ready", exact=True).click()
        expect(page.locator("#phone-call")).to_have_attribute(
            "data-state", "talking", timeout=30_000
        )
        _crash(page)  # no BYE from the browser: its connection just goes away
        _poll(lambda: bool(customer.received("BYE")), 15.0)
        _poll(lambda: (_attempt_outcome(sessions, campaign) or CallAttempt()).ended_at is not None)
        context.close()
    attempt = _attempt_outcome(sessions, campaign)
    assert attempt is not None and attempt.end_detail is not None
    assert "keep-alive: agent leg is gone (OPTIONS: 408)" in attempt.end_detail
    assert customer.wait(10) == 0


def _crash(page: Page) -> None:
    """Chromium's renderer of ``page`` dies (chrome://crash): no unload handler runs."""
    with contextlib.suppress(PlaywrightError):  # the navigation dies with the renderer
        page.goto("chrome://crash", timeout=2_000)


def test_an_agent_whose_phone_is_gone_is_logged_out(
    phone_browser: Browser,
    rig: PhoneRig,
    settings: Settings,
    sessions: SessionMaker,
    tenant: NewTenant,
) -> None:
    """Kamailio's ul.dump lists the registered browser; once the page is gone (its phone
    unregisters) the watch logs the paused agent out after the grace, not before."""
    agent = make_agent(sessions, tenant.tenant.id, "erika.agent")
    with unit_of_work(sessions) as session:
        session.execute(update(User).where(User.id == agent).values(sip_uri=f"sip:erika@{DOMAIN}"))
    make_console_campaign(sessions, tenant.tenant.id, agent, "progressive")
    live = phone_settings(settings, rig, engine_enabled=False)
    watch = PhoneWatch(live)
    with serve(live) as base_url:
        context = _context(phone_browser, base_url, microphone=True)
        page = context.new_page()
        sign_in(page, base_url, "erika.agent")
        expect(page.locator("#phone-connection")).to_have_attribute("data-state", "registered")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#state")).to_have_text("paused")
        assert "erika" in _registered(rig)
        page.goto("about:blank")
        context.close()
        _poll(lambda: "erika" not in _registered(rig), why=lambda: str(_registered(rig)))
    now = datetime.now(UTC)
    after = now + timedelta(seconds=live.softphone_logout_after_seconds)
    with unit_of_work(sessions) as session:
        assert watch.sweep(session, set(), now) == []  # a short loss is forgiven
    with unit_of_work(sessions) as session:
        assert watch.sweep(session, set(), after) == [agent]
    with unit_of_work(sessions) as session:
        state = session.scalars(select(AgentSession).where(AgentSession.user_id == agent)).one()
        assert state.state is AgentState.LOGGED_OUT


def _registered(rig: PhoneRig) -> set[str]:
    users = registered_users(rig.kamailio.rpc_url)
    assert users is not None, "Kamailio's JSON-RPC did not answer"
    return users


def test_microphone_denied_blocks_ready(
    phone_browser: Browser,
    rig: PhoneRig,
    settings: Settings,
    sessions: SessionMaker,
    tenant: NewTenant,
) -> None:
    agent = make_agent(sessions, tenant.tenant.id, "max.agent")
    with unit_of_work(sessions) as session:
        session.execute(update(User).where(User.id == agent).values(sip_uri=f"sip:max@{DOMAIN}"))
    make_console_campaign(sessions, tenant.tenant.id, agent, "progressive")
    with serve(phone_settings(settings, rig, engine_enabled=False)) as base_url:
        context = _context(phone_browser, base_url, microphone=False)
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
