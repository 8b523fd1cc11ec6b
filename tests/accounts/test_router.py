"""Native API: the caller's tenant and API keys."""

from fastapi.testclient import TestClient

from opendialer.accounts.service import NewTenant


def test_get_own_tenant(api: TestClient, tenant: NewTenant) -> None:
    body = api.get("/api/v1/tenant").json()
    assert body["id"] == tenant.tenant.id
    assert not {"calllog_key_hash", "account_code", "account_code_hash"} & set(body)


def test_update_tenant_validates(api: TestClient) -> None:
    ok = api.patch(
        "/api/v1/tenant", json={"default_region": "il", "calllog_allowed_ips": ["10.0.0.0/8"]}
    )
    assert ok.status_code == 200
    assert ok.json()["default_region"] == "IL"
    assert api.patch("/api/v1/tenant", json={"timezone": "Nowhere/City"}).status_code == 422
    assert (
        api.patch("/api/v1/tenant", json={"calllog_allowed_ips": ["not-an-ip"]}).status_code == 422
    )
    assert api.patch("/api/v1/tenant", json={"name": None}).status_code == 400


def test_the_tenants_calling_rules(api: TestClient) -> None:
    rules = {
        "holiday_calendars": ["us-ny", "DE"],
        "closed_dates": ["2026-12-31"],
        "max_attempts_per_number": 7,
        "max_conversations": 3,
        "cap_window_hours": 24 * 7,
    }
    body = api.patch("/api/v1/tenant", json=rules).json()
    assert body["holiday_calendars"] == ["DE", "US-NY"]
    assert (body["max_attempts_per_number"], body["max_attempts_per_contact"]) == (7, None)
    assert api.get("/api/v1/tenant").json()["closed_dates"] == ["2026-12-31"]
    lifted = api.patch("/api/v1/tenant", json={"max_attempts_per_number": None})
    assert lifted.json()["max_attempts_per_number"] is None
    for bad in (
        {"holiday_calendars": ["XX"]},
        {"closed_dates": ["31.12.2026"]},
        {"max_conversations": 0},
        {"dnc_import_path": "../etc/passwd"},
    ):
        refused = api.patch("/api/v1/tenant", json=bad)
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["code"] == "validation_error"
    null = api.patch("/api/v1/tenant", json={"cap_window_hours": None})
    assert (null.status_code, null.json()["error"]["code"]) == (400, "invalid_value")
    assert api.get("/api/v1/tenant").json()["cap_window_hours"] == 168


def test_api_keys_create_list_revoke(api: TestClient, client: TestClient) -> None:
    made = api.post("/api/v1/api-keys", json={"name": "crm"})
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith("od_")
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/tenant", headers=headers).status_code == 200
    listed = api.get("/api/v1/api-keys").json()
    assert {k["name"] for k in listed} == {"default", "crm"}
    assert all("key" not in k and "key_hash" not in k for k in listed)
    assert api.delete(f"/api/v1/api-keys/{made.json()['id']}").status_code == 200
    assert client.get("/api/v1/tenant", headers=headers).status_code == 401
    assert api.delete(f"/api/v1/api-keys/{made.json()['id']}").status_code == 409


def test_cannot_revoke_other_tenants_key(api: TestClient, other_api: TestClient) -> None:
    theirs = other_api.get("/api/v1/api-keys").json()[0]["id"]
    assert api.delete(f"/api/v1/api-keys/{theirs}").status_code == 404
    assert other_api.get("/api/v1/tenant").status_code == 200


def test_a_new_account_code_is_shown_once_and_replaces_the_old(
    api: TestClient, tenant: NewTenant
) -> None:
    def campaign_list(code: str) -> int:
        body = api.get("/ForwardDialer/Dialer/GetCampaignList", params={"Code": code}).json()
        error_code: int = body["ErrorCode"]
        return error_code

    assert campaign_list(tenant.account_code) == 0
    created = api.post("/api/v1/tenant:new-account-code")
    assert created.status_code == 200
    new_code = created.json()["account_code"]
    assert campaign_list(new_code) == 0
    assert campaign_list(tenant.account_code) == 1
    assert new_code not in api.get("/api/v1/tenant").text


def test_api_keys_carry_a_role(api: TestClient, client: TestClient) -> None:
    default = api.post("/api/v1/api-keys", json={"name": "integration"}).json()
    made = api.post("/api/v1/api-keys", json={"name": "wallboard", "role": "supervisor"})
    assert made.status_code == 201 and made.json()["role"] == "supervisor"
    assert default["role"] == "admin"
    roles = {k["name"]: k["role"] for k in api.get("/api/v1/api-keys").json()}
    assert roles == {"default": "admin", "integration": "admin", "wallboard": "supervisor"}
    headers = {"Authorization": f"Bearer {made.json()['key']}"}
    assert client.get("/api/v1/campaigns", headers=headers).status_code == 200
    refused = client.post("/api/v1/campaigns", headers=headers, json={"name": "x"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    bad = api.post("/api/v1/api-keys", json={"name": "x", "role": "owner"})
    assert bad.status_code == 422
