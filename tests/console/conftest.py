from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, on_loop_allowed
from tests.console.browser import AgentCall, chromium, make_agent_call


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the browser tests of a module (they sit in one module).

    Playwright's synchronous API leaves its own event loop marked as running on the test's
    thread while it is open: asyncio code of later tests on the same worker (a virtual-clock
    engine run) could not start, hence the module's scope, not the session's. Meanwhile the
    app engine's guard against database work on a server's loop would refuse the tests' own
    set-up and clean-up; the served app runs in a thread of its own and keeps the guard."""
    with chromium() as launched, on_loop_allowed():
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test, laptop-sized."""
    context: BrowserContext = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def erika(sessions: SessionMaker, tenant: NewTenant) -> AgentCall:
    """erika.agent, ready to be dialled to Erika Mustermann in the progressive Sales campaign."""
    return make_agent_call(sessions, tenant.tenant.id, "erika.agent")
