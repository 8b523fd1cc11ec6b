"""The import's preview (columns with sample rows) and its progress, over HTTP."""

from fastapi.testclient import TestClient

from tests.contacts.imports.test_router import CSV, campaign, post


def test_preview_shows_columns_with_samples_and_their_default_fields(api: TestClient) -> None:
    campaign_id = campaign(api)
    api.put(f"/api/v1/campaigns/{campaign_id}/form-fields", json={"name": "product"})
    response = api.post(
        f"/api/v1/campaigns/{campaign_id}:import-preview",
        content=CSV.encode() + b"Cut;030",  # the rest of a file cut short: left out
        headers={"content-type": "text/csv"},
        params={"mapping": '{"UserData": "external_id"}'},
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["delimiter"] == ";" and preview["format"] == "csv"
    assert preview["columns"] == [
        {"name": "Name", "target": "name", "samples": ["Müller", "X", "Weber"]},
        {"name": "Telefon", "target": "phone1", "samples": ["030 1234567", "12", "030 1234567"]},
        {"name": "UserData", "target": "external_id", "samples": ["K1", "K2", "K3"]},
    ]
    assert "phone6" in preview["targets"] and "form_data.product" in preview["targets"]
    contacts = api.get("/api/v1/contacts", params={"campaign_id": campaign_id}).json()
    assert contacts["items"] == []  # nothing written


def test_preview_of_an_empty_file_is_the_imports_own_error(api: TestClient) -> None:
    response = api.post(
        f"/api/v1/campaigns/{campaign(api)}:import-preview",
        content=b"",
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "empty_file"


def test_a_followed_import_reports_its_bytes_read_when_done(api: TestClient) -> None:
    response = post(api, campaign(api), CSV, progress="page-import-1")
    assert response.status_code == 200, response.text
    progress = api.get("/api/v1/imports/page-import-1")
    assert progress.status_code == 200, progress.text
    assert progress.json() == {
        "progress": "page-import-1",
        "bytes_read": len(CSV.encode()),
        "size": len(CSV.encode()),
        "done": True,
    }


def test_unknown_or_badly_named_progress_is_refused(api: TestClient) -> None:
    assert api.get("/api/v1/imports/never-started").status_code == 404
    response = post(api, campaign(api), CSV, progress="a b")
    assert response.status_code == 422
