"""The report pages in a real Chromium (issue 21, test 5): each shows the service's rows as a
table and a chart, filters by campaign, and offers the CSV; the screenshots go to docs/."""

from datetime import UTC, date, datetime

from playwright.sync_api import Page, expect

from opendialer.accounts.service import NewTenant
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import UserRole
from opendialer.reports import service
from opendialer.reports.schemas import ReportFilter
from opendialer.scoping import Scope
from tests.console.browser import make_agent, screenshot, sign_in
from tests.live import serve
from tests.reports.history import seed_day

DAY = date(2026, 11, 24)
PAGES = {
    "agents": "report_agents.png",
    "results": "report_results.png",
    "campaigns": "report_campaigns.png",
    "compliance": "report_compliance.png",
}


def test_each_report_page_shows_the_services_rows_a_chart_and_the_csv(
    page: Page, settings: Settings, sessions: SessionMaker, tenant: NewTenant
) -> None:
    tenant_id = tenant.tenant.id
    history = seed_day(sessions, tenant_id, datetime.combine(DAY, datetime.min.time(), UTC))
    make_agent(sessions, tenant_id, "sam.boss", UserRole.SUPERVISOR)
    scope, wanted = Scope.system(tenant_id), ReportFilter(DAY, DAY)
    with unit_of_work(sessions) as session:
        expected = {
            "agents": len(service.agent_performance(session, scope, wanted, datetime.now(UTC))),
            "results": len(service.results(session, scope, wanted)),
            "campaigns": len(
                service.campaign_periods(session, scope, wanted, "hour", datetime.now(UTC))
            ),
            "compliance": len(service.compliance(session, scope, wanted)),
        }
    with serve(settings) as base_url:
        sign_in(page, base_url, "sam.boss")
        for name, picture in PAGES.items():
            page.goto(f"{base_url}/console/reports/{name}?date_from={DAY}&date_to={DAY}")
            expect(page.locator("#report tbody tr")).to_have_count(expected[name])
            expect(page.locator("#report-chart svg rect").first).to_be_visible()
            csv_link = page.get_by_role("link", name="Download CSV")
            assert "/api/v1/reports/" in (csv_link.get_attribute("href") or "")
            screenshot(page, picture)
        # The filter narrows to one campaign; the CSV link carries it.
        page.get_by_role("link", name="Campaigns").click()
        page.get_by_label("From").fill(DAY.isoformat())
        page.get_by_label("To").fill(DAY.isoformat())
        page.get_by_label("Campaign", exact=True).select_option(label="Spring")
        page.get_by_role("button", name="Show").click()
        rows = page.locator("#report tbody tr")
        expect(rows.first).to_contain_text("Spring")
        assert all("Autumn" not in text for text in rows.all_inner_texts())
        href = page.get_by_role("link", name="Download CSV").get_attribute("href") or ""
        assert f"campaign_id={history.campaign_ids[0]}" in href
        download = page.request.get(base_url + href)
        assert download.ok and download.text().startswith("campaign_id,campaign,period,")
        page.goto("about:blank")
