"""Native CRM API: endpoint validation, the recording template resolver, tenant scoping."""

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.crm.links import resolve_template
from opendialer.models import Recording


def test_minicrm_endpoint_needs_an_api_key_and_known_events(api: TestClient) -> None:
    body = {"name": "m", "kind": "minicrm_calllog", "url": "https://r3.minicrm.io/Api/CallLog"}
    assert api.post("/api/v1/crm/endpoints", json=body).json()["error"]["code"] == "no_api_key"
    wrong = api.post(
        "/api/v1/crm/endpoints", json={**body, "api_key": "k", "events": ["contact.done"]}
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "unknown_event"
    bad_url = api.post("/api/v1/crm/endpoints", json={**body, "api_key": "k", "url": "ftp://x"})
    assert bad_url.status_code == 422
    bad_template = api.post(
        "/api/v1/crm/endpoints",
        json={**body, "api_key": "k", "recording_url_template": "https://x/r?Rec={%ReferenceId%}"},
    )
    assert bad_template.status_code == 422  # the placeholder is spelled {%RefereceId%}


def test_recording_template_resolves_to_a_signed_link(
    api: TestClient, other_api: TestClient, tenant: NewTenant, session: Session
) -> None:
    body = {
        "name": "m",
        "kind": "minicrm_calllog",
        "url": "https://crm.example/Api/CallLog",
        "api_key": "k",
    }
    endpoint = api.post("/api/v1/crm/endpoints", json=body).json()
    template = endpoint["recording_url_template"]
    assert template.endswith("?Rec={%RefereceId%}")
    recording = Recording(
        tenant_id=tenant.tenant.id, voice_id="v1", duration_seconds=3.0, size_bytes=10, path="x"
    )
    session.add(recording)
    session.commit()
    url = urlsplit(resolve_template(template, str(recording.id)))
    answer = api.get(f"{url.path}?{url.query}", follow_redirects=False)
    assert answer.status_code == 302
    target = urlsplit(answer.headers["location"])
    assert target.path == f"/api/v1/recordings/{recording.id}/audio"
    assert {"expires", "signature"} <= set(parse_qs(target.query))
    assert api.get(f"{url.path}?Rec=999999", follow_redirects=False).status_code == 404
    assert other_api.get(f"/api/v1/crm/endpoints/{endpoint['id']}").status_code == 404
