"""The agent console in Firefox (Debian's ESR over Marionette), headless, against a real
server dialling on the simulated network: sign in, log in, ready, the screen pop of a call,
hang up, a result code (issue 19: "works in current Chromium and Firefox")."""

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import CallAttempt, ResultCode
from tests.console.browser import AgentCall, console_server
from tests.console.firefox import Firefox, firefox


@pytest.fixture(scope="module")
def browser() -> Iterator[Firefox]:
    with firefox() as launched:
        yield launched


def test_the_core_agent_flow_works_in_firefox(
    browser: Firefox, settings: Settings, sessions: SessionMaker, erika: AgentCall
) -> None:
    with console_server(settings, browser) as base_url:
        browser.sign_in(base_url, erika.username)
        browser.wait_for_text("state", "logged out")
        browser.click("#btn-login")
        browser.wait_for_text("state", "paused")
        browser.click("#btn-ready")

        browser.wait_for_text("contact-name", "Erika Mustermann", timeout=30)
        browser.wait_for_text("state", "on call")
        assert "gold plan" in browser.text("script")
        browser.screenshot("firefox-call.png")

        browser.click("#btn-hangup")
        browser.wait_for_text("state", "wrap up")
        browser.select_option("result-code", "Sale")
        browser.click("#btn-result")
        browser.wait_for_text("result-current", "Result: Sale")

    with unit_of_work(sessions, writes=False) as session:
        attempt = session.scalars(
            select(CallAttempt).where(CallAttempt.contact_id == erika.contact)
        ).one()
        assert attempt.user_id == erika.agent
        assert session.get_one(ResultCode, attempt.result_code_id).code == "sale"
