"""Real Chromium (Debian's package) driven by Playwright, one per test worker, and the app
served by a real uvicorn with the engine on the simulated network."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import time
from typing import Any, Protocol

from fastapi.testclient import TestClient
from httpx import Response
from playwright.sync_api import Browser, Page, sync_playwright

from opendialer.campaigns.schemas import CampaignCreate, CampaignModule, FormFieldWrite
from opendialer.campaigns.service import add_member, create_campaign, put_form_field
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import Campaign, ResultCode, User, UserRole
from opendialer.scoping import Scope
from opendialer.security import hash_password
from tests.console.pictures import keep_screenshot
from tests.engine.helpers import make_contact
from tests.live import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"
# Customers answer at once and always in person; agents' phones answer in 0.1 s.
FAST_SCENARIO = {
    "customers": {
        "p_live": 1.0,
        "p_machine": 0.0,
        "post_dial_delay": 0.1,
        "live_answer_after": 0.3,
        "talk_time": 3600,
    },
    "agents": {"answer_delay": 0.1},
}


@contextmanager
def chromium() -> Iterator[Browser]:
    """Playwright gives the browser a fresh profile directory of its own (no --user-data-dir)."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class LeavesPages(Protocol):
    """A browser page (Playwright's, or the Firefox tests' own): it can go elsewhere."""

    def goto(self, url: str) -> object: ...


@contextmanager
def console_server(
    settings: Settings, page: LeavesPages, scenario: dict[str, Any] | None = None
) -> Iterator[str]:
    """The app with its engine dialling on the simulated network (fast, always answered).

    The page leaves the console before the server stops: the server waits for open event
    streams to end."""
    live = settings.model_copy(
        update={
            "engine_enabled": True,
            "telephony_backend": "sim",
            "telephony_options": {"scenario": scenario or FAST_SCENARIO, "seed": 1},
            "engine_id": "console-test",
        }
    )
    with serve(live) as base_url:
        try:
            yield base_url
        finally:
            page.goto("about:blank")


def make_agent(
    sessions: SessionMaker, tenant_id: int, username: str, role: UserRole = UserRole.AGENT
) -> int:
    with unit_of_work(sessions) as session:
        user = User(
            tenant_id=tenant_id,
            username=username,
            password_hash=hash_password(PASSWORD),
            role=role,
            display_name=username.title(),
        )
        session.add(user)
        session.flush()
        return user.id


def make_console_campaign(
    sessions: SessionMaker, tenant_id: int, agent_id: int, dial_mode: str, name: str = "Sales"
) -> int:
    """An enabled campaign open all day with a script, a module, a form field and result
    codes; the agent is its member."""
    with unit_of_work(sessions) as session:
        campaign = create_campaign(
            session,
            Scope.system(tenant_id),
            CampaignCreate(
                name=name,
                dial_mode=dial_mode,
                status="enabled",
                calling_days=[1, 2, 3, 4, 5, 6, 7],
                calling_hours_start=time(0, 0),
                calling_hours_end=time(23, 59),
                timezone="Europe/Berlin",
                preview_seconds=30,
                script="Good day {first_name} {name}, this is opendialer about your {plan} plan.",
                modules=[
                    CampaignModule(
                        name="CRM record",
                        url="https://crm.example/lead?id={external_id}",
                        open_in="tab",
                    )
                ],
            ),
        )
        add_member(session, campaign, agent_id)
        put_form_field(
            session, campaign, FormFieldWrite(name="product", label="Product", position=1)
        )
        for code, text in (("sale", "Sale"), ("no_interest", "No interest")):
            session.add(
                ResultCode(
                    tenant_id=tenant_id,
                    campaign_id=campaign.id,
                    code=code,
                    text_en=text,
                    text_de=text,
                )
            )
        return campaign.id


def make_customer(sessions: SessionMaker, campaign_id: int, first_name: str, name: str) -> int:
    """A contact due now with two Berlin numbers, an address and custom data."""
    with unit_of_work(sessions) as session:
        contact = make_contact(
            session,
            session.get_one(Campaign, campaign_id),
            "+493012345678",
            "+493087654321",
            first_name=first_name,
            name=name,
            company="Musterfirma GmbH",
            address="Hauptstraße",
            street_number="5",
            postal_code="10115",
            city="Berlin",
            external_id="L-4711",
            custom_data={"plan": "gold"},
        )
        return contact.id


@dataclass(frozen=True)
class AgentCall:
    """An agent, the progressive campaign it works (``make_console_campaign``) and a customer
    due now in it (``make_customer``): a call as soon as the agent is ready."""

    username: str
    agent: int
    campaign: int
    contact: int


def make_agent_call(sessions: SessionMaker, tenant_id: int, username: str) -> AgentCall:
    agent = make_agent(sessions, tenant_id, username)
    campaign = make_console_campaign(sessions, tenant_id, agent, "progressive")
    contact = make_customer(sessions, campaign, "Erika", "Mustermann")
    return AgentCall(username, agent, campaign, contact)


def login_form_token(web: TestClient) -> str:
    """The login page's own CSRF token (its form's hidden field)."""
    form = web.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return token[1]


def form_login(web: TestClient, username: str, password: str = PASSWORD) -> Response:
    """Sign in through the login page's form, as a browser would (not following the redirect)."""
    data = {"username": username, "password": password, "csrf_token": login_form_token(web)}
    answer: Response = web.post("/console/login", data=data, follow_redirects=False)
    return answer


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def screenshot(page: Page, name: str) -> None:
    keep_screenshot(name, page.screenshot(full_page=True))
