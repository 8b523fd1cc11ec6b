"""Arranging campaigns, order-form fields and lists through the native API."""

from typing import Any

from fastapi.testclient import TestClient


def campaign(api: TestClient, name: str = "Leads", fields: tuple[str, ...] = ("product",)) -> int:
    response = api.post("/api/v1/campaigns", json={"name": name, "dial_mode": "preview"})
    assert response.status_code == 201, response.text
    campaign_id: int = response.json()["id"]
    for position, field in enumerate(fields):
        put = api.put(
            f"/api/v1/campaigns/{campaign_id}/form-fields",
            json={"name": field, "label": field.title(), "position": position},
        )
        assert put.status_code == 200, put.text
    return campaign_id


def add_list(mm: TestClient, campaign_id: int, description: str = "Batch 1") -> int:
    body = mm.post("addlist", data={"campaignID": str(campaign_id), "description": description})
    assert body.status_code == 200
    assert body.json()["status"] == "ok", body.text
    list_id: int = body.json()["listid"]
    return list_id


def lead_form(
    campaign_id: int, list_id: int, leaddata: dict[str, str], **options: str
) -> dict[str, str]:
    form = {
        "campaign_id": str(campaign_id),
        "list_id": str(list_id),
        "country_phone_code": "49",
        "invalidcheck": "no",
        "doubletcheck_global": "no",
        "doubletcheck_campaign": "no",
    }
    form.update(options)
    for key, value in leaddata.items():
        if key.startswith("formfields."):
            form[f"formfields[{key.removeprefix('formfields.')}]"] = value
        else:
            form[f"leaddata[{key}]"] = value
    return form


def add_lead(mm: TestClient, campaign_id: int, list_id: int, **leaddata: str) -> dict[str, Any]:
    response = mm.post("addlead", data=lead_form(campaign_id, list_id, leaddata))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
