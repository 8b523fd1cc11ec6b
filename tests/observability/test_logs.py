"""Structured logs: JSON lines with request and call ids, and never a secret (a full API and
engine session's logs scanned for every credential it used)."""

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from opendialer.db import SessionMaker
from opendialer.observability.logs import configure_logging_to
from opendialer.observability.redaction import REDACTED, redact_secrets
from tests.observability.campaign import dialling_app, stop_and_settle
from tests.observability.conftest import wait_for

SECRET_KEY = "the-servers-own-secret-key-" + "q" * 20
WEBHOOK_SECRET = "webhook-signing-secret-" + "w" * 20


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every log line of the process as the server would write it (JSON), then the test
    runner's logging as it was."""
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging_to(stream, "debug", "json")
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    structlog.reset_defaults()


def _events(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_processor_redacts_secret_keys_and_credential_values() -> None:
    event = {
        "event": "signed in with od_AAAAAAAAAAAAAAAAAAAAAAAA and Bearer abc.def-123456",
        "password": "hunter2",
        "headers": {"Authorization": "Basic dXNlcjpwYXNz", "Accept": "*/*"},
        "api_key": "x",
        "note": ["cl_BBBBBBBBBBBBBBBBBBBBBBBB"],
        "count": 3,
    }
    out = redact_secrets(None, "info", event)
    assert out["event"] == f"signed in with od_{REDACTED} and Bearer {REDACTED}"
    assert out["password"] == REDACTED and out["api_key"] == REDACTED
    assert out["headers"] == {"Authorization": REDACTED, "Accept": "*/*"}
    assert out["note"] == [f"cl_{REDACTED}"] and out["count"] == 3


def test_a_full_session_logs_no_secret(
    captured: io.StringIO, database_url: str, sessions: SessionMaker, unused_tcp_port: int
) -> None:
    with dialling_app(database_url, sessions, secret_key=SECRET_KEY) as (
        _app,
        client,
        tenant,
        campaign_id,
    ):
        login = client.post(
            "/api/v1/auth/token",
            json={"username": tenant.admin_user, "password": tenant.admin_password},
            headers={"Authorization": ""},
        )
        assert login.status_code == 200, login.text
        login_token = login.json()["access_token"]
        me = {"Authorization": f"Bearer {login_token}", "X-Request-ID": "scan-1"}
        assert client.get(f"/api/v1/campaigns/{campaign_id}/live", headers=me).status_code == 200
        wrong = {"username": tenant.admin_user, "password": tenant.admin_password + "x"}
        assert client.post("/api/v1/auth/token", json=wrong, headers={}).status_code == 401
        endpoint = {
            "name": "CRM",
            "kind": "webhook",
            "url": f"http://127.0.0.1:{unused_tcp_port}/hook",  # nothing listens: failures
            "secret": WEBHOOK_SECRET,
        }
        assert client.post("/api/v1/crm/endpoints", json=endpoint).status_code == 201
        bad_key = {"Authorization": "Bearer od_" + "Z" * 40}
        assert client.get("/api/v1/campaigns", headers=bad_key).status_code == 401
        wait_for(lambda: '"call ended' in captured.getvalue(), "a call to end")
        stop_and_settle(client, campaign_id)
    text = captured.getvalue()
    secrets = {
        "API key": tenant.api_key,
        "admin password": tenant.admin_password,
        "call-log key": tenant.calllog_api_key,
        "account code": tenant.account_code,
        "login token": login_token,
        "secret key": SECRET_KEY,
        "webhook secret": WEBHOOK_SECRET,
        "refused key": "Z" * 40,
    }
    leaked = [name for name, value in secrets.items() if value in text]
    assert leaked == []
    events = _events(captured)  # every line is one JSON object
    requests = [e for e in events if e["event"] == "request"]
    assert any(e.get("request_id") == "scan-1" for e in requests)
    live = "/api/v1/campaigns/{campaign_id}/live"
    assert any(e["route"] == live and e["status"] == 200 for e in requests)
    assert not [e for e in requests if "path" in e]  # paths can hold link tokens
    assert all(len(str(e["request_id"])) > 0 for e in requests)
    ended = [e for e in events if str(e["event"]).startswith("call ended")]
    assert ended and all(
        {"call_id", "attempt_id", "campaign_id", "tenant_id"} <= e.keys() for e in ended
    )
    assert {e["campaign_id"] for e in ended} == {campaign_id}
