"""The admin pages in a real Chromium against a real server dialling on the simulated network
(issue 21, tests 2, 4 and 5)."""

import csv
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import select

from opendialer.accounts.service import NewTenant
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import CallAttempt, OutboxMessage, OutboxStatus, User, UserRole
from tests.console.browser import (
    FAST_SCENARIO,
    AgentCall,
    console_server,
    make_agent,
    screenshot,
    sign_in,
)

ROWS = 1000
DEADLINE = 20.0  # seconds for the engine to begin dialling, or a short call to end
TALK_SECONDS = 2.0
# The customer answers at once and hangs up after TALK_SECONDS of talk with the agent.
SHORT_CALLS = {
    **FAST_SCENARIO,
    "customers": {**FAST_SCENARIO["customers"], "talk_time": TALK_SECONDS},
}


def leads_file(folder: Path, dnc: list[str]) -> tuple[Path, dict[str, int], list[int]]:
    """1,000 rows with every kind of trouble; the counts expected, and the malformed lines."""
    counts = dict.fromkeys(("imported", "duplicate", "invalid_number", "dnc", "malformed"), 0)
    malformed: list[int] = []
    lines = ["Vorname;Nachname;Telefon;Kundennr;Notiz"]
    for index in range(ROWS):
        line = index + 2  # the header is line 1
        if index % 100 == 7:
            lines.append(f"Kaputt{index};nur zwei Spalten")
            counts["malformed"] += 1
            malformed.append(line)
            continue
        if index % 100 == 11:
            phone, kind = "12", "invalid_number"
        elif index % 100 == 13:
            phone, kind = dnc[index // 100], "dnc"
        elif index % 100 == 17:
            phone, kind = f"+4930{2_000_000 + index - 1}", "duplicate"  # the row before's
        else:
            phone, kind = f"+4930{2_000_000 + index}", "imported"
        counts[kind] += 1
        lines.append(f"Vorname{index};Nachname{index};{phone};K-{index};Notiz {index}")
    path = folder / "leads.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, counts, malformed


def open_admin(page: Page, url: str) -> None:
    """An admin page, once its script has loaded its data and wired its buttons."""
    page.goto(url)
    expect(page.locator("main")).to_have_attribute("aria-busy", "false")


def _live(api: httpx.Client, campaign_id: int) -> dict[str, object]:
    answer: dict[str, object] = api.get(f"/api/v1/campaigns/{campaign_id}/live").json()
    return answer


def wait_until_dialling(api: httpx.Client, campaign_id: int) -> dict[str, object]:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        live = _live(api, campaign_id)
        calls = live["calls"]
        assert isinstance(calls, dict)
        if sum(calls[k] for k in ("dialling", "ringing", "talking")) > 0:
            return live
        time.sleep(0.1)  # polling the engine, with a deadline
    raise AssertionError(f"the campaign did not dial: {_live(api, campaign_id)}")


def test_admin_creates_a_campaign_imports_1000_rows_and_starts_it(
    page: Page, settings: Settings, sessions: SessionMaker, tenant: NewTenant, tmp_path: Path
) -> None:
    make_agent(sessions, tenant.tenant.id, "ada.admin", UserRole.ADMIN)
    agent = make_agent(sessions, tenant.tenant.id, "erika.agent")
    dnc = [f"+4930{9_000_000 + n}" for n in range(10)]
    leads, expected, malformed = leads_file(tmp_path, dnc)
    settings = settings.model_copy(update={"recordings_dir": tmp_path / "recordings"})
    with console_server(settings, page) as base_url:
        auth = {"Authorization": f"Bearer {tenant.api_key}"}
        api = httpx.Client(base_url=base_url, headers=auth, timeout=30)
        assert api.post("/api/v1/dnc", json={"numbers": dnc}).status_code == 200

        sign_in(page, base_url, "ada.admin")
        open_admin(page, f"{base_url}/console/admin/campaigns")
        page.get_by_role("button", name="New campaign").click()
        page.get_by_label("Name", exact=True).fill("Spring leads")
        page.get_by_label("Dial mode").select_option("predictive")
        page.get_by_label("Calling hours from").fill("00:00")
        page.get_by_label("Calling hours until").fill("23:59")
        for day in ("Saturday", "Sunday"):
            page.get_by_label(day, exact=True).check()
        page.get_by_label("Abandonment target (share, e.g. 0.03)").fill("0.02")
        page.get_by_label("Caller ID", exact=True).fill("+49301111111")
        page.get_by_label("Record calls").check()
        page.get_by_label("Wrap-up time (s; empty: the agent ends it)").fill("30")
        page.get_by_label("Script ({first_name}, {company}, custom data keys)").fill(
            "Hello {first_name}"
        )
        page.get_by_role("button", name="Save campaign").click()
        expect(page.locator("#notice")).to_have_text("Campaign Spring leads saved.")
        row = page.locator("#campaign-table tr", has_text="Spring leads")
        campaign_id = int(row.get_attribute("data-campaign") or 0)

        # An edit the API refuses is shown in words and changes nothing; a good one is saved.
        page.get_by_label("Time zone").fill("Mars/Olympus")
        page.get_by_label("Ring timeout (s)").fill("30")
        page.get_by_role("button", name="Save campaign").click()
        expect(page.locator("#message")).to_contain_text("timezone")
        assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["ring_timeout_seconds"] == 25
        page.get_by_label("Time zone").fill("Europe/Berlin")
        page.get_by_role("button", name="Save campaign").click()
        expect(page.locator("#message")).to_be_hidden()
        expect(page.locator("#notice")).to_have_text("Campaign Spring leads saved.")
        assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["ring_timeout_seconds"] == 30

        page.get_by_label("Code", exact=True).fill("sale")
        page.get_by_label("English text").fill("Sale")
        page.get_by_label("German text").fill("Verkauf")
        page.get_by_role("button", name="Add result code").click()
        expect(page.locator("#code-table")).to_contain_text("Verkauf")
        page.get_by_label("Agent", exact=True).select_option(label="Erika.Agent")
        page.get_by_role("button", name="Add member").click()
        expect(page.locator("#member-list")).to_contain_text("Erika.Agent")
        screenshot(page, "admin-campaign.png")

        saved = api.get(f"/api/v1/campaigns/{campaign_id}").json()
        assert saved["dial_mode"] == "predictive" and saved["record_calls"] is True
        assert saved["calling_days"] == [1, 2, 3, 4, 5, 6, 7]
        assert saved["abandon_target"] == 0.02 and saved["wrap_up_seconds"] == 30
        assert saved["status"] == "disabled"

        open_admin(page, f"{base_url}/console/admin/import?campaign={campaign_id}")
        page.get_by_label("Or a new list named").fill("March")
        page.get_by_label("CSV file").set_input_files(leads)
        page.get_by_role("button", name="Show columns").click()
        mapping = page.locator("#mapping-table")
        expect(mapping).to_contain_text("Vorname0")  # the first rows are shown
        expect(page.get_by_label("Field for column Telefon")).to_have_value("phone1")
        page.get_by_label("Field for column Kundennr").select_option("user_data")
        page.get_by_label("Field for column Notiz").select_option("custom_data.Notiz")
        screenshot(page, "admin-import-mapping.png")
        page.get_by_role("button", name="Import").click()

        expect(page.locator("#report")).to_be_visible(timeout=60_000)
        bar = page.locator("#import-progress")
        size = leads.stat().st_size
        assert bar.evaluate("b => [b.value, b.max]") == [size, size]
        assert int(bar.get_attribute("data-updates") or 0) >= 2  # moved, not only filled
        expect(page.locator("#count-total")).to_have_text(str(ROWS))
        for outcome, count in expected.items():
            expect(page.locator(f"#count-{outcome}")).to_have_text(str(count))
        screenshot(page, "admin-import-report.png")

        with page.expect_download() as download:
            page.get_by_role("link", name="Download the report (CSV)").click()
        with open(download.value.path(), encoding="utf-8", newline="") as report_file:
            report = list(csv.DictReader(report_file))
        assert len(report) == ROWS - expected["imported"]
        assert [int(r["line"]) for r in report if r["outcome"] == "malformed"] == malformed

        contacts = api.get("/api/v1/contacts", params={"campaign_id": campaign_id, "limit": 1})
        first = contacts.json()["items"][0]
        assert first["user_data"] == "K-0" and first["custom_data"] == {"Notiz": "Notiz 0"}
        [march] = api.get("/api/v1/lists", params={"campaign_id": campaign_id}).json()["items"]
        assert march["name"] == "March" and first["list_id"] == march["id"]

        assert api.post(f"/api/v1/agents/{agent}:login").status_code == 200
        assert api.post(f"/api/v1/agents/{agent}:ready").status_code == 200
        open_admin(page, f"{base_url}/console/admin/campaigns")
        page.get_by_role("button", name="Start Spring leads").click()
        expect(page.locator("#notice")).to_contain_text("Spring leads:")
        live = wait_until_dialling(api, campaign_id)
        run = live["run"]
        assert isinstance(run, dict) and run["state"] == "running"
        page.reload()
        expect(page.locator(f'tr[data-campaign="{campaign_id}"] .run-state')).to_have_text(
            "running"
        )
        api.post(f"/api/v1/campaigns/{campaign_id}:stop")
        api.close()


def wait_for_recording(api: httpx.Client, contact_id: int) -> dict[str, object]:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found: list[dict[str, object]] = api.get(
            "/api/v1/recordings", params={"contact_id": contact_id}
        ).json()
        if found:
            return found[0]
        time.sleep(0.1)  # polling the engine, with a deadline
    raise AssertionError("the call was not recorded")


def test_a_recorded_call_plays_in_the_page_for_its_talk_time(
    page: Page,
    settings: Settings,
    sessions: SessionMaker,
    tenant: NewTenant,
    erika: AgentCall,
    tmp_path: Path,
) -> None:
    make_agent(sessions, tenant.tenant.id, "ada.admin", UserRole.ADMIN)
    agent, campaign, contact = erika.agent, erika.campaign, erika.contact
    settings = settings.model_copy(update={"recordings_dir": tmp_path / "recordings"})
    with console_server(settings, page, SHORT_CALLS) as base_url:
        auth = {"Authorization": f"Bearer {tenant.api_key}"}
        api = httpx.Client(base_url=base_url, headers=auth, timeout=30)
        patched = api.patch(f"/api/v1/campaigns/{campaign}", json={"record_calls": True})
        assert patched.status_code == 200, patched.text
        assert api.post(f"/api/v1/agents/{agent}:login").status_code == 200
        assert api.post(f"/api/v1/agents/{agent}:ready").status_code == 200
        recording = wait_for_recording(api, contact)
        api.close()
        with sessions() as session:
            call = session.get_one(CallAttempt, recording["call_attempt_id"])
            assert call.connected_at is not None and call.ended_at is not None
            talk = (call.ended_at - call.connected_at).total_seconds()
        assert abs(talk - TALK_SECONDS) < 0.5  # the scenario's talk, give or take the engine

        sign_in(page, base_url, "ada.admin")
        open_admin(page, f"{base_url}/console/admin/recordings?contact={contact}")
        audio = page.locator(f'audio[data-recording="{recording["id"]}"]')
        expect(audio).to_have_count(1)
        page.wait_for_function(
            "a => a.readyState >= 1 && isFinite(a.duration)", arg=audio.element_handle()
        )
        played = audio.evaluate("a => a.duration")
        assert abs(played - talk) <= 0.1, (played, talk)
        expect(page.get_by_role("link", name="Download")).to_have_attribute(
            "download", f"{recording['voice_id']}.wav"
        )
        screenshot(page, "admin-recordings.png")


def test_contacts_dnc_users_exports_and_crm_pages(
    page: Page,
    settings: Settings,
    sessions: SessionMaker,
    tenant: NewTenant,
    erika: AgentCall,
    tmp_path: Path,
) -> None:
    make_agent(sessions, tenant.tenant.id, "ada.admin", UserRole.ADMIN)
    agent, contact = erika.agent, erika.contact
    settings = settings.model_copy(update={"exports_dir": tmp_path / "exports"})
    with console_server(settings, page) as base_url:
        auth = {"Authorization": f"Bearer {tenant.api_key}"}
        api = httpx.Client(base_url=base_url, headers=auth, timeout=30)
        sign_in(page, base_url, "ada.admin")

        # Contacts: search by number, edit, lock and unlock.
        open_admin(page, f"{base_url}/console/admin/contacts")
        page.get_by_label("Phone number").fill("030 12345678")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#contact-table tbody tr")).to_have_count(1)
        page.get_by_role("button", name=f"Open contact {contact}").click()
        page.get_by_label("Company").fill("Beispiel AG")
        page.get_by_label("Number 3").fill("+4940123456")
        page.get_by_role("button", name="Save contact").click()
        expect(page.locator("#notice")).to_have_text(f"Contact {contact} saved.")
        page.get_by_role("button", name="Lock", exact=True).click()
        expect(page.locator("#contact-state")).to_contain_text("locked")
        screenshot(page, "admin-contacts.png")
        saved = api.get(f"/api/v1/contacts/{contact}").json()
        assert saved["company"] == "Beispiel AG" and saved["locked"] is True
        assert [p["e164"] for p in saved["phones"] if p["position"] == 3] == ["+4940123456"]
        page.get_by_role("button", name="Unlock").click()
        expect(page.locator("#contact-state")).not_to_contain_text("locked")

        # Do not call: add typed numbers and a file, check, remove, download.
        open_admin(page, f"{base_url}/console/admin/dnc")
        page.get_by_label("Numbers (one per line)").fill("030 5550001\nnot a number 1")
        numbers = tmp_path / "dnc.csv"
        numbers.write_text("number;note\n030 5550002;x\n030 5550003;y\n", encoding="utf-8")
        page.get_by_label("Or a file of numbers").set_input_files(numbers)
        page.get_by_role("button", name="Add to the list").click()
        expect(page.locator("#dnc-outcome")).to_have_text("Added: added 3, invalid number 1")
        page.get_by_label("Check a number").fill("030 5550002")
        page.get_by_role("button", name="Check").click()
        expect(page.locator("#dnc-check-result")).to_have_text(
            "+49305550002 is on the do-not-call list"
        )
        page.get_by_role("button", name="Remove +49305550003").click()
        expect(page.locator("#dnc-table tbody tr")).to_have_count(2)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the list (CSV)").click()
        with open(download.value.path(), encoding="utf-8", newline="") as listed:
            assert sorted(r["number"] for r in csv.DictReader(listed)) == [
                "+49305550001",
                "+49305550002",
            ]
        screenshot(page, "admin-dnc.png")

        # Users: create, change the role, deactivate; a group with a member.
        open_admin(page, f"{base_url}/console/admin/users")
        page.get_by_label("User name", exact=True).fill("max.agent")
        page.get_by_label("Password", exact=True).fill("long enough secret")
        page.get_by_role("button", name="Create user").click()
        expect(page.locator("#notice")).to_have_text("User max.agent created.")
        page.get_by_label("Role of max.agent").select_option("supervisor")
        expect(page.locator("#notice")).to_have_text("max.agent is now supervisor.")
        page.once("dialog", lambda dialog: dialog.accept("a new secret 42"))
        page.get_by_role("button", name="Reset password of max.agent").click()
        expect(page.locator("#notice")).to_have_text("The password of max.agent was changed.")
        token = {"username": "max.agent", "password": "a new secret 42"}
        assert httpx.post(f"{base_url}/api/v1/auth/token", json=token).status_code == 200
        page.get_by_role("button", name="Deactivate max.agent").click()
        expect(page.locator("#notice")).to_have_text("max.agent deactivated.")
        page.get_by_label("Group name").fill("Day shift")
        page.get_by_role("button", name="Create group").click()
        expect(page.locator("#notice")).to_have_text("Group Day shift created.")
        page.get_by_label("User", exact=True).select_option(label="erika.agent")
        page.get_by_role("button", name="Add to group").click()
        expect(page.locator("#notice")).to_have_text("Added to the group.")
        expect(page.locator(f'tr[data-user="{agent}"]')).to_contain_text("Day shift")
        screenshot(page, "admin-users.png")
        users = api.get("/api/v1/users").json()["items"]
        made = next(u for u in users if u["username"] == "max.agent")
        assert made["role"] == "supervisor" and made["active"] is False

        # Exports: start, follow until ready, the file is there.
        open_admin(page, f"{base_url}/console/admin/exports")
        page.get_by_role("button", name="Start export").click()
        expect(page.locator(".export-state")).to_have_text("ready", timeout=20_000)
        link = page.get_by_role("link", name="Download")
        exported = httpx.get(base_url + (link.get_attribute("href") or ""))
        assert exported.status_code == 200 and "Mustermann" in exported.text

        # CRM: an endpoint; a dead letter sent again.
        open_admin(page, f"{base_url}/console/admin/crm")
        page.get_by_label("Endpoint name").fill("Our CRM")
        page.get_by_label("URL").fill("https://crm.example/hook")
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.locator("#endpoint-table")).to_contain_text("Our CRM")
        endpoint = api.get("/api/v1/crm/endpoints").json()[0]["id"]
        message = make_dead_letter(sessions, tenant.tenant.id, endpoint)
        page.get_by_role("button", name="Show").click()
        expect(page.locator(f'tr[data-message="{message}"] .outbox-status')).to_have_text("dead")
        screenshot(page, "admin-crm.png")
        page.get_by_role("button", name=f"Retrigger message {message}").click()
        expect(page.locator("#notice")).to_have_text("1 messages sent again.")
        api.close()


def make_dead_letter(sessions: SessionMaker, tenant_id: int, endpoint_id: int) -> int:
    with unit_of_work(sessions) as session:
        message = OutboxMessage(
            tenant_id=tenant_id,
            endpoint_id=endpoint_id,
            event_type="call.ended",
            payload={"call": 1},
            delivery_id="dead-letter-1",
            status=OutboxStatus.DEAD,
            attempts=8,
            last_error="HTTP 500",
        )
        session.add(message)
        session.flush()
        return message.id


def test_a_supervisor_reads_the_pages_and_is_refused_changes_in_words(
    page: Page, settings: Settings, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "sam.super", UserRole.SUPERVISOR)
    with console_server(settings, page) as base_url:
        sign_in(page, base_url, "sam.super")
        open_admin(page, f"{base_url}/console/admin/users")
        expect(page.locator("#user-table")).to_contain_text("sam.super")
        page.get_by_label("User name", exact=True).fill("sneaky")
        page.get_by_role("button", name="Create user").click()
        expect(page.locator("#message")).to_be_visible()
        expect(page.locator("#message")).to_contain_text("admin")
        with sessions() as session:
            assert session.scalar(select(User).where(User.username == "sneaky")) is None
