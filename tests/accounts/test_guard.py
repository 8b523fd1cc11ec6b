"""Failed-credential limits on every face: after the limit, even the right credential is refused
within the window, per credential and per client address, with the face's own error and an
audit row that never holds the secret. Real HTTP (TestClient) on both databases."""

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import AuthFailure
from opendialer.web.state import state_of

PER_CREDENTIAL, PER_ADDRESS = 3, 6


@pytest.fixture
def strict_app(settings: Settings, tmp_path: Path) -> Iterator[FastAPI]:
    """The test server with small limits, so a test reaches them in a few requests."""
    app = create_app(
        settings.model_copy(
            update={
                "auth_max_failures_per_credential": PER_CREDENTIAL,
                "auth_max_failures_per_address": PER_ADDRESS,
                "exports_dir": tmp_path / "exports",
                "recordings_dir": tmp_path / "recordings",
            }
        )
    )
    yield app
    state_of(app).db_engine.dispose()


def client(app: FastAPI, address: str = "192.0.2.1") -> TestClient:
    return TestClient(app, client=(address, 50000), raise_server_exceptions=False)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def audit_rows(app: FastAPI, sessions: SessionMaker) -> list[AuthFailure]:
    state_of(app).auth_guard.written()
    with unit_of_work(sessions) as session:
        rows = list(session.scalars(select(AuthFailure).order_by(AuthFailure.id)))
        session.expunge_all()
        return rows


def refuse_after_failures(send: Callable[[str], Any], wrong: str, right: str, failures: int) -> Any:
    """``failures`` wrong attempts (each refused), then the right one: its answer."""
    for _ in range(failures):
        assert send(wrong).status_code != 429
    return send(right)


def test_jtel_user_is_locked_even_with_the_right_password(
    strict_app: FastAPI, tenant: NewTenant, sessions: SessionMaker
) -> None:
    user = f"{tenant.admin_user}@{tenant.tenant.id}"
    with client(strict_app) as http:

        def send(password: str) -> Any:
            return http.get("/jtel/dialler/campaigns", headers=basic(user, password))

        assert send(tenant.admin_password).status_code == 200
        answer = refuse_after_failures(send, "wrong", tenant.admin_password, PER_CREDENTIAL)
    assert answer.status_code == 429
    assert answer.json()["status"] == 429
    # The same user from another address: still locked (per credential).
    with client(strict_app, "192.0.2.99") as elsewhere:
        again = elsewhere.get("/jtel/dialler/campaigns", headers=basic(user, tenant.admin_password))
    assert again.status_code == 429
    rows = audit_rows(strict_app, sessions)
    assert [(r.face, r.credential, r.address) for r in rows] == [
        ("jtel", user, "192.0.2.1")
    ] * PER_CREDENTIAL
    assert rows[-1].locked and not rows[0].locked
    assert all(tenant.admin_password not in r.credential for r in rows)


def test_mmdial_user_is_locked(strict_app: FastAPI, tenant: NewTenant) -> None:
    user = f"{tenant.admin_user}@{tenant.tenant.id}"
    with client(strict_app) as http:

        def send(password: str) -> Any:
            return http.get("/mmdial/api/dncget", headers=basic(user, password))

        answer = refuse_after_failures(send, "wrong", tenant.admin_password, PER_CREDENTIAL)
    assert answer.status_code == 429
    assert answer.json()["status"] == "error" and "Too many" in answer.json()["reason"]
    assert int(answer.headers["Retry-After"]) >= 1


def test_native_api_keys_are_limited_per_address(
    strict_app: FastAPI, tenant: NewTenant, sessions: SessionMaker
) -> None:
    with client(strict_app) as http:
        tries = iter(range(100))

        def send(key: str) -> Any:
            # A different wrong key each time: only the address limit can stop a key guesser.
            key = key.format(next(tries))
            return http.get("/api/v1/tenant", headers={"Authorization": f"Bearer {key}"})

        answer = refuse_after_failures(send, "od_{}guess", tenant.api_key, PER_ADDRESS)
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "too_many_attempts"
    assert int(answer.headers["Retry-After"]) >= 1
    with client(strict_app, "192.0.2.2") as other_address:
        ok = other_address.get(
            "/api/v1/tenant", headers={"Authorization": f"Bearer {tenant.api_key}"}
        )
    assert ok.status_code == 200
    rows = audit_rows(strict_app, sessions)
    assert len(rows) == PER_ADDRESS and {r.face for r in rows} == {"native"}
    assert all(len(r.credential) <= 8 for r in rows)  # a prefix, never the key


def _voicenter_code(strict_app: FastAPI, tenant: NewTenant) -> str:
    with client(strict_app, "198.51.100.1") as http:
        created = http.post(
            "/api/v1/campaigns",
            json={"name": "V", "dial_mode": "progressive"},
            headers={"Authorization": f"Bearer {tenant.api_key}"},
        )
    assert created.status_code == 201, created.text
    code: str = created.json()["code"]
    return code


def test_voicenter_codes_are_limited(strict_app: FastAPI, tenant: NewTenant) -> None:
    code = _voicenter_code(strict_app, tenant)
    with client(strict_app) as http:
        tries = iter(range(100))

        def send(campaign: str) -> Any:
            campaign = campaign.format(next(tries))
            body = {"Campaign": campaign, "Target": "030 1234567"}
            return http.post("/ForwardDialer/Dialer/AddCall", json=body)

        for _ in range(PER_ADDRESS):
            assert send("guess{}").json()["Description"] == "Invalid campaign code"
        answer = send(code)
    assert answer.status_code == 200  # the Voicenter envelope, as for every answer (spec V2)
    body: dict[str, Any] = answer.json()
    assert body["ErrorCode"] == -1 and "Too many failed attempts" in body["Description"]


def test_minicrm_calllog_key_is_limited(strict_app: FastAPI, tenant: NewTenant) -> None:
    with client(strict_app) as http:
        tries = iter(range(100))

        def send(key: str) -> Any:
            body = {"ApiKey": key.format(next(tries)), "UserExtension": "1", "Data": []}
            return http.post("/Api/CallLog", json=body)

        # Keys are guessed, not known: the address limit is the one that stops it.
        answer = refuse_after_failures(send, "cl_{}wrong", tenant.calllog_api_key, PER_ADDRESS)
    assert answer.status_code == 429
    assert answer.json()["code"] == "too_many_attempts"


def test_signed_links_are_limited(strict_app: FastAPI, tenant: NewTenant) -> None:
    auth = {"Authorization": f"Bearer {tenant.api_key}"}
    with client(strict_app, "198.51.100.1") as owner:
        campaign = owner.post(
            "/api/v1/campaigns", json={"name": "E", "dial_mode": "preview"}, headers=auth
        )
        export = owner.post(
            "/api/v1/exports",
            json={"campaign_id": campaign.json()["id"], "fields": ["customerfield_leadid"]},
            headers=auth,
        )
    assert export.status_code == 201, export.text
    url: str = export.json()["url"]
    path, _, query = url.partition("?")
    path = path.removeprefix(state_of(strict_app).settings.public_base_url)
    with client(strict_app) as http:
        assert http.get(f"{path}?{query}").status_code == 200

        def send(link_query: str) -> Any:
            return http.get(f"{path}?{link_query}")

        forged = query.rsplit("=", 1)[0] + "=" + "0" * 64
        answer = refuse_after_failures(send, forged, query, PER_CREDENTIAL)
    assert answer.status_code == 429


def test_failures_are_forgotten_by_reset(strict_app: FastAPI, tenant: NewTenant) -> None:
    """What the test suite does between tests (conftest); a new window starts clean."""
    user = f"{tenant.admin_user}@{tenant.tenant.id}"
    with client(strict_app) as http:
        for _ in range(PER_CREDENTIAL):
            http.get("/jtel/dialler/campaigns", headers=basic(user, "wrong"))
        state_of(strict_app).auth_guard.reset()
        ok = http.get("/jtel/dialler/campaigns", headers=basic(user, tenant.admin_password))
    assert ok.status_code == 200


def test_a_failed_check_inside_a_writing_request_answers_at_once(
    strict_app: FastAPI, tenant: NewTenant, sessions: SessionMaker
) -> None:
    """A writing request holds the SQLite writer gate from its start: the audit row of its
    failed credential check is written after it, not inside it (where it would wait for the
    gate the request holds, then fail with 503 after a minute)."""
    with client(strict_app) as http:
        answer = http.post(
            "/api/v1/campaigns",
            headers={"Authorization": "Bearer od_wrong"},
            json={"name": "Spring"},
        )
    assert answer.status_code == 401
    rows = audit_rows(strict_app, sessions)
    assert [(r.face, r.address) for r in rows] == [("native", "192.0.2.1")]
