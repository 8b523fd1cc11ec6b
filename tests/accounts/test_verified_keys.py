"""API keys verified lately are believed without a query; a revocation ends that at once in the
process that revoked, and within the cache's lifetime in another server process."""

from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from opendialer.accounts.service import NewTenant
from opendialer.accounts.verified_keys import MAX_KEYS, VerifiedKeys, revision, watch_key_changes
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import ApiKey, UserRole
from opendialer.scoping import Scope
from opendialer.web.state import state_of
from tests.live import serve_process
from tests.observability.conftest import wait_for

SCOPE = Scope(tenant_id=1, role=UserRole.ADMIN, api_key_id=7)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_believed_for_its_lifetime_and_not_after() -> None:
    clock = FakeClock()
    keys = VerifiedKeys(2.0, clock)
    assert keys.lookup("h") is None
    keys.remember("h", SCOPE, revision())
    clock.now += 1.9
    assert keys.lookup("h") == SCOPE
    clock.now += 0.1
    assert keys.lookup("h") is None


def test_a_lifetime_of_zero_remembers_nothing() -> None:
    keys = VerifiedKeys(0.0)
    keys.remember("h", SCOPE, revision())
    assert keys.lookup("h") is None


def test_a_lookup_that_overlapped_a_key_change_is_not_remembered(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    watch_key_changes()
    keys = VerifiedKeys(60.0)
    seen = revision()
    _revoke_directly(sessions, tenant)  # commits while the lookup "runs"
    keys.remember("h", SCOPE, seen)
    assert keys.lookup("h") is None


def test_a_full_cache_starts_again_instead_of_growing() -> None:
    keys = VerifiedKeys(60.0)
    for number in range(MAX_KEYS + 1):
        keys.remember(f"h{number}", SCOPE, revision())
    assert keys.lookup("h0") is None
    assert keys.lookup(f"h{MAX_KEYS}") == SCOPE


def _revoke_directly(sessions: SessionMaker, tenant: NewTenant) -> None:
    """Another code path of this process, not the API: an ORM change of the key's row."""
    with unit_of_work(sessions) as session:
        record = session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant.tenant.id)).one()
        record.revoked_at = datetime.now(UTC)


def test_a_key_revoked_by_any_session_of_this_process_is_refused_at_once(
    api: TestClient, sessions: SessionMaker, tenant: NewTenant, database_url: str
) -> None:
    statements: list[str] = []
    assert api.get("/api/v1/tenant").status_code == 200
    app_engine = state_of(api.app).db_engine  # type: ignore[arg-type]

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(app_engine, "before_cursor_execute", record)
    try:
        assert api.get("/api/v1/tenant").status_code == 200
    finally:
        event.remove(app_engine, "before_cursor_execute", record)
    assert not any("api_keys" in sql for sql in statements), "the key was queried again"
    _revoke_directly(sessions, tenant)
    answer = api.get("/api/v1/tenant")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def _status(base: str, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(base + "/api/v1/tenant", headers=headers, timeout=30).status_code


def test_a_key_revoked_on_another_server_stops_within_the_cache_lifetime(
    database_url: str, tenant: NewTenant, tmp_path: Path
) -> None:
    cached = {"OPENDIALER_API_KEY_CACHE_SECONDS": "0.5"}
    with (
        serve_process(database_url, tmp_path, **cached) as first,
        serve_process(database_url, tmp_path, **cached) as second,
    ):
        admin = {"Authorization": f"Bearer {tenant.api_key}"}
        made = httpx.post(
            second + "/api/v1/api-keys", json={"name": "crm"}, headers=admin, timeout=30
        )
        key, key_id = made.json()["key"], made.json()["id"]
        assert _status(first, key) == 200  # believed by the first server from now on
        revoked = httpx.delete(f"{second}/api/v1/api-keys/{key_id}", headers=admin, timeout=30)
        assert revoked.status_code == 200
        assert _status(second, key) == 401  # at once where it was revoked
        wait_for(lambda: _status(first, key) == 401, "the other server to refuse the key")
