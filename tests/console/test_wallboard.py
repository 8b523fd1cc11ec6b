"""The wallboard in a real Chromium against a real server dialling on the simulated network
(issue 21, tests 1 and 5): a supervisor sees an agent in a second browser context log in and
go ready, a campaign's counters move, and stop stops it."""

import time

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from opendialer.accounts.service import NewTenant
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import Campaign, CampaignStatus, UserRole
from tests.console.browser import (
    console_server,
    make_agent,
    make_console_campaign,
    make_customer,
    screenshot,
    sign_in,
)

SEEN_WITHIN_MS = 2000


def _agent_row(page: Page, username: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#agents tr[data-agent="{username}"]')


def test_supervisor_watches_an_agent_go_ready_a_campaign_dial_and_stops_it(
    browser: Browser, page: Page, settings: Settings, sessions: SessionMaker, tenant: NewTenant
) -> None:
    tenant_id = tenant.tenant.id
    agent = make_agent(sessions, tenant_id, "erika.agent")
    make_agent(sessions, tenant_id, "sam.boss", UserRole.SUPERVISOR)
    campaign = make_console_campaign(sessions, tenant_id, agent, "predictive")
    agent_context = browser.new_context(viewport={"width": 1366, "height": 900})
    agent_page = agent_context.new_page()
    try:
        with console_server(settings, page) as base_url:
            sign_in(page, base_url, "sam.boss")
            page.goto(f"{base_url}/console/wallboard")
            expect(page.locator("#connection")).to_have_text("Live")
            row = _agent_row(page, "erika.agent")
            expect(row.locator(".badge")).to_have_text("logged out")
            sales = page.locator('#campaigns tr[data-campaign="Sales"]')
            expect(sales.locator(".today")).to_have_text("0 / 0")

            # The agent signs in in another browser context, logs in and goes ready.
            sign_in(agent_page, base_url, "erika.agent")
            agent_page.get_by_role("button", name="Log in").click()
            expect(agent_page.locator("#state")).to_have_text("paused")
            expect(row.locator(".badge")).to_have_text("paused (login)", timeout=SEEN_WITHIN_MS)
            agent_page.get_by_role("button", name="Ready", exact=True).click()
            clicked = time.monotonic()
            expect(agent_page.locator("#state")).to_have_text("ready")
            expect(agent_page.locator("#idle-text")).to_have_text(
                "Ready: waiting for the next call."
            )
            expect(row.locator(".badge")).to_have_text("ready", timeout=SEEN_WITHIN_MS)
            assert time.monotonic() - clicked < SEEN_WITHIN_MS / 1000
            # The engine has looked with nobody to call (so the picture's "why" list is the
            # same at every run: that look, the dial, the look after it).
            why = page.locator("#pacing li")
            expect(why.first).to_contain_text("Sales: no contacts to dial", timeout=20_000)

            # A customer becomes due: the engine dials, the counters move, the agent talks.
            make_customer(sessions, campaign, "Erika", "Mustermann")
            expect(sales.locator(".today")).to_have_text("1 / 1", timeout=20_000)
            expect(row.locator(".badge")).to_have_text("on call")
            expect(row).to_contain_text("Erika Mustermann")
            # The call in progress counts: the agent's calls today, this quarter's connects.
            expect(row.locator(".calls")).to_have_text("1")
            for series in ("attempts", "connects"):
                bar = page.locator(f'#chart-calls rect[data-series="{series}"]').last
                expect(bar).to_have_attribute("data-value", "1")
                assert float(bar.get_attribute("height") or 0) > 0
            expect(sales.locator(".status")).to_have_text("running")
            expect(why).to_have_count(3)
            expect(why.nth(1)).to_contain_text("Sales: low volume")
            expect(why.first).to_contain_text("Sales: no contacts to dial")
            screenshot(page, "wallboard.png")

            # Stop: the campaign is disabled, and the board says so.
            page.get_by_role("button", name="Stop Sales").click()
            expect(sales.locator(".status")).to_have_text("stopped", timeout=SEEN_WITHIN_MS)
            with unit_of_work(sessions) as session:
                status = session.scalar(select(Campaign.status).where(Campaign.id == campaign))
            assert status is CampaignStatus.DISABLED
            page.get_by_role("button", name="Start Sales").click()
            expect(sales.locator(".status")).to_have_text("running", timeout=SEEN_WITHIN_MS)

            # The supervisor logs the agent out: their call ends, the board shows it.
            row.get_by_role("button", name="Log out erika.agent").click()
            expect(row.locator(".badge")).to_have_text("logged out", timeout=SEEN_WITHIN_MS)
            agent_page.goto("about:blank")
    finally:
        agent_context.close()
