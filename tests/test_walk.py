"""The walk (issues 18 and 19): every route of all five faces, taken from the app's own routes
(so a new route is walked without anyone adding it here), called

* with a second tenant's credentials on the first tenant's object ids: nothing of the first
  tenant is readable (none of its marker texts in any answer; ids in the path are the face's
  not-found) or changeable (its rows are the same afterwards), never a 5xx, and a vendor path
  never answers in the native error shape;
* on the native face, with an agent's and a supervisor's API key of the first tenant: 403
  exactly where the role may not act (the policy below is the reviewed table).

Routes that take no credentials are an explicit, reviewed list.
"""

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from opendialer.accounts.roles import ROLE_DEPENDENCIES
from opendialer.accounts.service import NewTenant
from opendialer.dialects.voicenter.router import METHODS as VOICENTER_METHODS
from opendialer.models import Base, UserRole
from tests.test_scoping import BODIES, _owner_objects, _with_owner_ids

FACES = {
    "/api/v1/": "native",
    "/ForwardDialer/": "voicenter",
    "/jtel/": "jtel",
    "/mmdial/": "mmdial",
    "/Api/": "minicrm",
}
# Reviewed: these take no credentials of a tenant.
NO_CREDENTIALS = {
    "GET /openapi.json",  # the API's description
    "GET /docs",
    "GET /docs/oauth2-redirect",
    "GET /redoc",
    "GET /healthz",
    "GET /api/v1/recordings/{recording_id}/audio",  # a signed link is the credential
    "GET /api/v1/exports/{file_id}/file",  # a signed link is the credential
    "GET /Api/Recordings/{token}",  # the endpoint's recording token is the credential
}
# Reviewed role policy of the native face: the least role each route needs. Not listed: admin.
AGENT_ROUTES = {
    "GET /api/v1/campaigns/{campaign_id}/result-codes",  # an agent's dispositions
    "GET /api/v1/campaigns/{campaign_id}/form-fields",  # the form they fill in
    "GET /api/v1/contacts/{contact_id}",  # only the contact of their own call
    "GET /api/v1/contacts/{contact_id}/history",
    "GET /api/v1/agents/{user_id}/session",  # only their own session and calls
    *(
        f"POST /api/v1/agents/{{user_id}}:{action}"
        for action in (
            "login",
            "ready",
            "pause",
            "logout",
            "dial-preview",
            "skip-preview",
            "hangup",
            "result",
            "callback",
        )
    ),
}
SUPERVISOR_ROUTES = {
    "GET /api/v1/campaigns",
    "GET /api/v1/campaigns/{campaign_id}",
    "GET /api/v1/campaigns/{campaign_id}/retry-rules",
    "GET /api/v1/campaigns/{campaign_id}/members",
    "GET /api/v1/lists",
    "GET /api/v1/lists/{list_id}",
    "GET /api/v1/contacts",
    "GET /api/v1/dnc",
    "GET /api/v1/dnc/check",
    "GET /api/v1/users",
    "GET /api/v1/users/{user_id}",
    "GET /api/v1/users/{user_id}/groups",
    "GET /api/v1/groups",
    "GET /api/v1/groups/{group_id}",
    "GET /api/v1/groups/{group_id}/members",
    "POST /api/v1/campaigns/{campaign_id}:start",
    "POST /api/v1/campaigns/{campaign_id}:stop",
    "GET /api/v1/campaigns/{campaign_id}/live",
    "GET /api/v1/campaigns/{campaign_id}/live/stream",
    "GET /api/v1/campaigns/{campaign_id}/pacing-log",
    "GET /api/v1/crm/outbox",
    "GET /api/v1/crm/call-logs",
    "GET /api/v1/contacts/{contact_id}/call-logs",
    "GET /api/v1/acd/events",
    "POST /api/v1/acd/events",
    "GET /api/v1/acd/events/{event_id}",
    "POST /api/v1/acd/events/{event_id}:complete",
    "GET /api/v1/recordings",
    "GET /api/v1/recordings/{recording_id}",
    "POST /api/v1/exports",
    "GET /api/v1/exports/{file_id}",
}
QUERIES = {"/api/v1/campaigns/{campaign_id}/live/stream": "?limit=1"}  # one event, not forever
MARKER = "Wxq7Secret"  # in the first tenant's names; never sent by the second tenant
# The first tenant's ids, under every name a face gives them in its paths and parameters.
ID_NAMES = {
    "diallerContactsID": "contact_id",
    "DiallerCampaignsID": "campaign_id",
    "diallerCampaignsID": "campaign_id",
    "AcdGroupsID": "group_id",
    "AcdEventsID": "event_id",
    "leadid": "contact_id",
    "agentid": "user_id",
    "campaignID": "campaign_id",
    "list_id": "list_id",
    "Rec": "recording_id",
}


def _routes(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    for route in iter_route_contexts(app.routes):
        for method in sorted((route.methods or set()) - {"HEAD"}):
            yield method, str(route.path), route


def _face(path: str) -> str | None:
    return next((face for prefix, face in FACES.items() if path.startswith(prefix)), None)


def test_every_route_belongs_to_a_face_or_the_reviewed_list(app: FastAPI) -> None:
    unknown = [
        f"{m} {p}"
        for m, p, _ in _routes(app)
        if _face(p) is None and f"{m} {p}" not in NO_CREDENTIALS
    ]
    assert unknown == []


def _role_dependencies(dependant: Any) -> Iterator[UserRole]:
    for sub in dependant.dependencies:
        if sub.call in ROLE_DEPENDENCIES:
            yield ROLE_DEPENDENCIES[sub.call]
        yield from _role_dependencies(sub)


def test_every_native_route_names_its_role_in_one_place(app: FastAPI) -> None:
    declared = {
        f"{m} {p}": set(_role_dependencies(route.dependant))
        for m, p, route in _routes(app)
        if _face(p) == "native" and f"{m} {p}" not in NO_CREDENTIALS
    }
    assert {route for route, roles in declared.items() if len(roles) != 1} == set()
    expected = {
        route: UserRole.AGENT
        if route in AGENT_ROUTES
        else UserRole.SUPERVISOR
        if route in SUPERVISOR_ROUTES
        else UserRole.ADMIN
        for route in declared
    }
    assert {route: roles.pop() for route, roles in declared.items()} == expected


# -- the second tenant -------------------------------------------------------------------------


def _basic(tenant: NewTenant) -> dict[str, str]:
    token = f"{tenant.admin_user}@{tenant.tenant.id}:{tenant.admin_password}"
    return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}


def _made(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _campaign(name: str) -> dict[str, str]:
    return {"name": name, "dial_mode": "preview"}


def _marked_objects(api: TestClient) -> dict[str, Any]:
    ids = _owner_objects(api)
    campaign = _made(api.post("/api/v1/campaigns", json=_campaign(f"{MARKER} campaign")))
    contact = _made(
        api.post(
            f"/api/v1/campaigns/{ids['campaign_id']}/contacts",
            json={"phones": ["030 7777777"], "first_name": MARKER, "external_id": f"{MARKER}-x"},
        )
    )
    _made(api.post("/api/v1/groups", json={"name": f"{MARKER} group"}))
    _made(api.patch(f"/api/v1/users/{ids['user_id']}", json={"display_name": f"{MARKER} A"}))
    return ids | {"marked_campaign_id": campaign["id"], "marked_contact_id": contact["id"]}


def _tenant_rows(db_engine: Engine, tenant_id: int) -> dict[str, list[Any]]:
    """Every row the tenant owns, table by table."""
    rows: dict[str, list[Any]] = {}
    with db_engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if "tenant_id" in table.c:
                query = select(table).where(table.c.tenant_id == tenant_id)
                rows[table.name] = sorted(map(tuple, conn.execute(query)), key=repr)
    return rows


def _url(path: str, ids: dict[str, Any], method_name: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name == "method_name":
            return method_name
        if name == "path":
            return "anything"
        return str(ids[ID_NAMES.get(name, name)])

    return re.sub(r"\{([^}]+)\}", fill, path) + QUERIES.get(path, "")


def _vendor_params(ids: dict[str, Any], other: NewTenant, codes: dict[str, str]) -> dict[str, str]:
    """The first tenant's ids under every vendor name, with the second tenant's own codes."""
    params = {name: str(ids[key]) for name, key in ID_NAMES.items() if key in ids}
    return params | {
        "campaign_id": str(ids["campaign_id"]),
        "number": "030 7777777",
        "phone": "030 7777777",
        "Code": codes["campaign"],
        "Campaign": codes["campaign"],
        "AccountCode": codes["account"],
        "userData": f"{ids['contact_id']}",
        "ApiKey": other.calllog_api_key,
    }


def _call(
    client: TestClient, face: str, method: str, url: str, params: dict[str, str], body: Any
) -> Any:
    if face == "native":
        return client.request(method, url, json=body)
    if face == "minicrm":
        envelope = {"ApiKey": params["ApiKey"], "UserExtension": "100", "Data": []}
        return client.request(method, url, json=envelope, params=params)
    if method == "GET" or (face == "jtel" and method == "DELETE"):
        return client.request(method, url, params=params)
    if face == "jtel":
        return client.request(method, url, params=params, json=params)
    return client.request(method, url, data=params)


def _requests(app: FastAPI, ids: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    for method, path, _route in _routes(app):
        face = _face(path)
        if face is None or f"{method} {path}" in NO_CREDENTIALS:
            continue
        names = list(VOICENTER_METHODS) if "{method_name}" in path else [""]
        for name in names:
            body = _with_owner_ids(BODIES.get((method.lower(), path)), ids)
            yield face, method, _url(path, ids, name), body


def test_a_second_tenant_reads_and_changes_nothing_on_any_face(
    app: FastAPI,
    db_engine: Engine,
    api: TestClient,
    other_api: TestClient,
    tenant: NewTenant,
    other_tenant: NewTenant,
) -> None:
    ids = _marked_objects(api)
    own = _made(other_api.post("/api/v1/campaigns", json=_campaign("Theirs")))
    codes = {
        "campaign": own["code"],
        "account": other_api.post("/api/v1/tenant:new-account-code").json()["account_code"],
    }
    params = _vendor_params(ids, other_tenant, codes)
    before = _tenant_rows(db_engine, tenant.tenant.id)
    headers = {"native": {"Authorization": f"Bearer {other_tenant.api_key}"}}
    headers |= {"jtel": _basic(other_tenant), "mmdial": _basic(other_tenant)}
    walked: dict[str, int] = {}
    problems = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for face, method, url, body in _requests(app, ids):
            client.headers.clear()
            client.headers.update(headers.get(face, {}))
            response = _call(client, face, method, url, params, body)
            walked[face] = walked.get(face, 0) + 1
            problem = _leak(face, method, url, response)
            if problem:
                problems.append(f"{method} {url}: {problem}")
    assert problems == []
    assert _tenant_rows(db_engine, tenant.tenant.id) == before
    print(f"cross-tenant walk: {sum(walked.values())} requests, by face {walked}")
    assert set(walked) == set(FACES.values())
    # The control: the same reads with the owner's credentials do show the marker, so the walk
    # reaches the data and would see a leak.
    owner = _credentials(tenant, _owner_codes(api, ids))
    assert _faces_showing_the_marker(app, ids, owner) == {"native", "jtel", "mmdial", "voicenter"}


def _owner_codes(api: TestClient, ids: dict[str, Any]) -> dict[str, str]:
    campaign = _made(api.get(f"/api/v1/campaigns/{ids['marked_campaign_id']}"))
    account = _made(api.post("/api/v1/tenant:new-account-code"))["account_code"]
    return {"campaign": campaign["code"], "account": account}


def _credentials(who: NewTenant, codes: dict[str, str]) -> dict[str, Any]:
    return {
        "headers": {
            "native": {"Authorization": f"Bearer {who.api_key}"},
            "jtel": _basic(who),
            "mmdial": _basic(who),
        },
        "codes": codes,
        "tenant": who,
    }


def _faces_showing_the_marker(app: FastAPI, ids: dict[str, Any], who: dict[str, Any]) -> set[str]:
    params = _vendor_params(ids, who["tenant"], who["codes"])
    seen = set()
    with TestClient(app, raise_server_exceptions=False) as client:
        for face, method, url, body in _requests(app, ids):
            if method != "GET" and face != "voicenter":
                continue
            client.headers.clear()
            client.headers.update(who["headers"].get(face, {}))
            if MARKER in _call(client, face, method, url, params, body).text:
                seen.add(face)
    return seen


def _leak(face: str, method: str, url: str, response: Any) -> str | None:
    text = response.text
    if response.status_code >= 500:
        return f"status {response.status_code}"
    if MARKER in text:
        return "the first tenant's data in the answer"
    if face != "native" and '"error":{"code"' in text.replace(" ", ""):
        return "a native error body on a vendor path"
    has_id = re.search(r"/\d+(/|:|$)", url.split("?")[0])
    if face == "native" and has_id and response.status_code != 404:
        return f"status {response.status_code}, not 404"
    if face == "jtel" and has_id and response.status_code not in (404, 400):
        return f"status {response.status_code}, not the face's not-found"
    return None


# -- roles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [UserRole.AGENT, UserRole.SUPERVISOR])
def test_each_role_gets_403_exactly_where_it_may_not_act(
    app: FastAPI, api: TestClient, role: UserRole
) -> None:
    ids = _owner_objects(api)
    key = api.post("/api/v1/api-keys", json={"name": role.value, "role": role.value}).json()
    allowed = AGENT_ROUTES if role is UserRole.AGENT else AGENT_ROUTES | SUPERVISOR_ROUTES
    # An API key acts for no agent: an agent key may act on no agent's session or contact.
    usable = {r for r in allowed if "/agents/" not in r and "/contacts/{" not in r}
    wrong = {}
    headers = {"Authorization": f"Bearer {key['key']}"}
    with TestClient(app, headers=headers, raise_server_exceptions=False) as client:
        for method, path, _route in _routes(app):
            route = f"{method} {path}"
            if _face(path) != "native" or route in NO_CREDENTIALS:
                continue
            body = _with_owner_ids(BODIES.get((method.lower(), path)), ids)
            status = client.request(method, _url(path, ids, ""), json=body).status_code
            refused = status == 403
            should_refuse = route not in (usable if role is UserRole.AGENT else allowed)
            if refused != should_refuse:
                wrong[route] = status
    assert wrong == {}
