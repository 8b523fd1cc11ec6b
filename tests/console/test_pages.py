"""The agent console in a real Chromium against a real server dialling on the simulated
network (issue 19, tests 1, 2 and 4)."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import update

from opendialer.accounts.service import NewTenant
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import (
    AgentSession,
    AgentState,
    CallAttempt,
    Contact,
    LoginSession,
    ResultCode,
    UserRole,
)
from tests.console.browser import (
    PASSWORD,
    AgentCall,
    console_server,
    make_agent,
    make_console_campaign,
    make_customer,
    screenshot,
    sign_in,
)

BERLIN = ZoneInfo("Europe/Berlin")
POP_LIMIT_MS = 2000


def test_screen_pop_result_form_and_callback(
    page: Page, settings: Settings, sessions: SessionMaker, erika: AgentCall
) -> None:
    agent, contact = erika.agent, erika.contact
    with console_server(settings, page) as base_url:
        page.goto(f"{base_url}/console/login")
        screenshot(page, "login.png")
        sign_in(page, base_url, erika.username)
        expect(page.locator("#state")).to_have_text("logged out")
        expect(page.locator("#idle-text")).to_contain_text("logged out. Log in")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#state")).to_have_text("paused")
        expect(page.locator("#idle-text")).to_have_text("No call. Go Ready to receive calls.")
        page.get_by_role("button", name="Ready", exact=True).click()

        # The engine dials, the customer answers, the call is bridged: the contact pops up.
        expect(page.locator("#contact-name")).to_have_text("Erika Mustermann", timeout=20_000)
        expect(page.locator("#state")).to_have_text("on call")
        popped = int(page.locator("body").get_attribute("data-popped-at") or 0)
        bridged = int(page.locator("body").get_attribute("data-bridged-at") or 0)
        assert bridged > 0 and 0 <= popped - bridged < POP_LIMIT_MS
        expect(page.locator("#phones li")).to_have_count(2)
        expect(page.locator("#custom-data")).to_contain_text("gold")
        expect(page.locator("#script")).to_have_text(
            "Good day Erika Mustermann, this is opendialer about your gold plan."
        )
        expect(page.get_by_role("link", name="CRM record (opens in a new tab)")).to_have_attribute(
            "href", "https://crm.example/lead?id=L-4711"
        )
        screenshot(page, "call.png")

        page.get_by_role("button", name="Hang up").click()
        expect(page.locator("#state")).to_have_text("wrap up")
        page.get_by_label("Result code").select_option(label="Sale")
        page.get_by_role("button", name="Set result").click()
        expect(page.locator("#result-current")).to_have_text("Result: Sale")
        expect(page.locator("#history")).to_contain_text("Sale")
        page.get_by_label("Product").fill("Solar panel XL")
        page.get_by_label("Notes").fill("Wants a quote by mail")
        page.get_by_role("button", name="Save").click()
        tomorrow = (datetime.now(BERLIN) + timedelta(days=1)).date()
        page.get_by_label("Date").fill(tomorrow.isoformat())
        page.get_by_label("Time", exact=True).fill("10:30")
        page.get_by_role("button", name="Schedule callback").click()
        expect(page.locator("#callback-done")).to_contain_text("Callback scheduled")
        page.reload()  # what the server kept, not what the page remembers
        expect(page.get_by_label("Product")).to_have_value("Solar panel XL")
        expect(page.locator("#history")).to_contain_text("Sale")

    with unit_of_work(sessions) as session:
        row = session.get_one(Contact, contact)
        assert row.form_data == {"product": "Solar panel XL"}
        assert row.comment == "Wants a quote by mail"
        assert row.reserved_user_id == agent
        expected = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 30, tzinfo=BERLIN)
        assert row.next_try_at == expected
        attempt = session.query(CallAttempt).filter_by(contact_id=contact).one()
        code = session.get_one(ResultCode, attempt.result_code_id)
        assert (attempt.user_id, code.code) == (agent, "sale")
        assert session.get_one(AgentSession, agent).state is AgentState.WRAP_UP


def test_preview_countdown_skip_and_dial(
    page: Page, settings: Settings, sessions: SessionMaker, tenant: NewTenant
) -> None:
    agent = make_agent(sessions, tenant.tenant.id, "max.agent")
    campaign = make_console_campaign(sessions, tenant.tenant.id, agent, "preview")
    first = make_customer(sessions, campaign, "Anna", "Erste")
    second = make_customer(sessions, campaign, "Bert", "Zweiter")
    with console_server(settings, page) as base_url:
        sign_in(page, base_url, "max.agent")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#state")).to_have_text("paused")
        page.get_by_role("button", name="Ready", exact=True).click()

        expect(page.locator("#state")).to_have_text("preview", timeout=20_000)
        expect(page.locator("#contact-name")).to_have_text("Anna Erste")
        countdown = page.locator("#preview-countdown")
        expect(countdown).to_have_text(re.compile(r"^([1-9]|[12][0-9]|30)$"))
        screenshot(page, "preview.png")

        page.get_by_role("button", name="Skip").click()
        expect(page.locator("#contact-name")).to_have_text("Bert Zweiter", timeout=20_000)
        page.get_by_role("button", name="Dial now").click()
        expect(page.locator("#state")).to_have_text("on call", timeout=20_000)
        expect(page.locator("#contact-name")).to_have_text("Bert Zweiter")
        page.get_by_role("button", name="Hang up").click()
        expect(page.locator("#state")).to_have_text("wrap up")

    with unit_of_work(sessions) as session:
        dialled = {a.contact_id for a in session.query(CallAttempt).filter_by(user_id=agent)}
        assert dialled == {second}
        skipped = session.get_one(Contact, first)
        assert skipped.tries == 0 and skipped.next_try_at > datetime.now(BERLIN)


def test_signed_out_or_expired_logins_go_to_the_login_page(
    page: Page, settings: Settings, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "tom.agent")
    with console_server(settings, page) as base_url:
        sign_in(page, base_url, "tom.agent")
        expect(page.locator("#state")).to_have_text("logged out")
        # A change without the CSRF token is refused, even from the console's own page.
        status = page.evaluate(
            "fetch('/console/api/agent/login', {method: 'POST'}).then(r => r.status)"
        )
        assert status == 403
        expect(page.locator("#state")).to_have_text("logged out")

        with unit_of_work(sessions) as session:
            session.execute(
                update(LoginSession).values(last_seen_at=datetime.now(UTC) - timedelta(days=2))
            )
        page.reload()
        expect(page).to_have_url(f"{base_url}/console/login?expired=1")
        expect(page.get_by_role("status")).to_have_text("Your session ended. Please sign in again.")

        sign_in(page, base_url, "tom.agent")
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{base_url}/console/login?signed_out=1")
        page.goto(f"{base_url}/console")
        expect(page).to_have_url(re.compile(r"/console/login"))


def test_a_supervisors_pause_and_forced_logout_reach_the_agents_open_console(
    page: Page, settings: Settings, sessions: SessionMaker, tenant: NewTenant
) -> None:
    """Issue 19: a state change made elsewhere (a supervisor, through the API the wallboard
    calls) shows on the agent's open page without a reload."""
    agent = make_agent(sessions, tenant.tenant.id, "ida.agent")
    make_agent(sessions, tenant.tenant.id, "sam.supervisor", UserRole.SUPERVISOR)
    make_console_campaign(sessions, tenant.tenant.id, agent, "progressive")  # no contacts
    with console_server(settings, page) as base_url, httpx.Client(base_url=base_url) as api:
        sign_in(page, base_url, "ida.agent")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#state")).to_have_text("paused")
        page.get_by_role("button", name="Ready", exact=True).click()
        expect(page.locator("#state")).to_have_text("ready")
        page.evaluate("window.notReloaded = true")

        body = {"username": "sam.supervisor", "password": PASSWORD}
        token = api.post("/api/v1/auth/token", json=body).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        paused = api.post(f"/api/v1/agents/{agent}:pause", json={"reason": "supervisor"})
        assert paused.status_code == 200, paused.text
        expect(page.locator("#state")).to_have_text("paused")
        expect(page.locator("#pause-reason")).to_have_text("supervisor")

        out = api.post(f"/api/v1/agents/{agent}:logout", json={"force": True})
        assert out.status_code == 200, out.text
        expect(page.locator("#state")).to_have_text("logged out")
        assert page.evaluate("window.notReloaded") is True
