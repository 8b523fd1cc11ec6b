"""The walk (issues 18 and 19): every route of all five faces, taken from the app's own routes
(so a new route is walked without anyone adding it here), called

* with a second tenant's credentials on the first tenant's object ids: nothing of the first
  tenant is readable (none of its marker texts in any answer; ids in the path are the face's
  not-found) or changeable (its rows are the same afterwards), never a 5xx, and a vendor path
  never answers in the native error shape;
* on the native face, with an agent's and a supervisor's API key of the first tenant: 403
  exactly where the role may not act (the policy below is the reviewed table);
* on the console (issue 19), with a second tenant's signed-in agent and supervisor (session
  cookie and CSRF token), with the first tenant's agent (403 exactly on supervisor pages) and
  without a login (pages go to the login page, calls are 401).

Routes that take no credentials are an explicit, reviewed list.
"""

import base64
import re
from collections.abc import Iterator
from typing import Any, get_args

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from opendialer.accounts.logins import CSRF_HEADER, SESSION_COOKIE
from opendialer.accounts.roles import ROLE_DEPENDENCIES
from opendialer.accounts.service import NewTenant
from opendialer.console.admin_pages import AdminSection
from opendialer.console.schemas import AgentAction, CallAction
from opendialer.db import SessionMaker, unit_of_work
from opendialer.dialects.voicenter.router import METHODS as VOICENTER_METHODS
from opendialer.models import Base, LoginSession, UserRole
from opendialer.security import hash_token
from tests.console.browser import PASSWORD, make_agent
from tests.test_scoping import BODIES, _owner_objects, _with_owner_ids

FACES = {
    "/api/v1/": "native",
    "/ForwardDialer/": "voicenter",
    "/jtel/": "jtel",
    "/mmdial/": "mmdial",
    "/Api/": "minicrm",
    "/console": "console",  # the agent console's pages and calls (a login's cookie)
}
# Reviewed: these take no credentials of a tenant.
NO_CREDENTIALS = {
    "GET /openapi.json",  # the API's description
    "GET /docs",
    "GET /docs/oauth2-redirect",
    "GET /redoc",
    "GET /healthz",  # liveness for the orchestrator: says only that the process answers
    "GET /readyz",  # readiness: check names and states, no tenant's data
    "GET /metrics",  # only with OPENDIALER_METRICS=main: its own bearer token (metrics_token)
    "GET /api/v1/recordings/{recording_id}/audio",  # a signed link is the credential
    "GET /api/v1/exports/{file_id}/file",  # a signed link is the credential
    "GET /Api/Recordings/{token}",  # the endpoint's recording token is the credential
    "POST /api/v1/auth/token",  # takes a user name and password
    "GET /console/login",  # the login page
    "POST /console/login",  # takes a user name and password
}
# Reviewed: streams without end for a signed-in agent, so walked only without a login (401);
# what they send is the state of GET /console/api/state and the document of
# GET /console/api/wallboard, which are walked.
ENDLESS = {"GET /console/api/events", "GET /console/api/wallboard/events"}
# Reviewed role policy of the console: pages and calls an agent may not open.
CONSOLE_SUPERVISOR_ROUTES = {
    "GET /console/team",
    # the admin pages: a supervisor reads them (what only an admin may change, the API refuses)
    *(f"GET /console/admin/{section}" for section in get_args(AdminSection)),
    "GET /console/wallboard",
    "GET /console/api/wallboard",
    *(f"GET /console/reports/{name}" for name in ("agents", "results", "campaigns", "compliance")),
}
# Reviewed role policy of the native face: the least role each route needs. Not listed: admin.
AGENT_ROUTES = {
    "GET /api/v1/campaigns/{campaign_id}/result-codes",  # an agent's dispositions
    "GET /api/v1/campaigns/{campaign_id}/form-fields",  # the form they fill in
    "GET /api/v1/contacts/{contact_id}",  # only the contact of their own call
    "GET /api/v1/contacts/{contact_id}/history",
    "GET /api/v1/agents/{user_id}/session",  # only their own session and calls
    "POST /api/v1/auth/logout",  # ends the caller's own login
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
    "POST /api/v1/campaigns/{campaign_id}/what-if",
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
    "GET /api/v1/contacts/{contact_id}/consents",
    "POST /api/v1/contacts/{contact_id}/consents",
    "POST /api/v1/contacts/{contact_id}/consents:revoke",
    "GET /api/v1/contacts/{contact_id}/holds",
    "GET /api/v1/reports/agent-performance",
    "GET /api/v1/reports/results",
    "GET /api/v1/reports/campaigns",
    "GET /api/v1/reports/compliance",
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
        if name in ("method_name", "action", "section"):
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
    if face in ("native", "console"):
        return client.request(method, url, json=body)
    if face == "minicrm":
        envelope = {"ApiKey": params["ApiKey"], "UserExtension": "100", "Data": []}
        return client.request(method, url, json=envelope, params=params)
    if method == "GET" or (face == "jtel" and method == "DELETE"):
        return client.request(method, url, params=params)
    if face == "jtel":
        return client.request(method, url, params=params, json=params)
    return client.request(method, url, data=params)


def _requests(
    app: FastAPI, ids: dict[str, Any], *, endless: bool = False
) -> Iterator[tuple[str, str, str, Any]]:
    """Every credentialed request; the ones logging out last, so the login lasts the walk."""
    routes = sorted(_routes(app), key=lambda route: route[1].endswith("/logout"))
    for method, path, _route in routes:
        face = _face(path)
        if face is None or f"{method} {path}" in NO_CREDENTIALS:
            continue
        if f"{method} {path}" in ENDLESS and not endless:
            continue
        for name in _names(path):
            body = _with_owner_ids(BODIES.get((method.lower(), path)), ids)
            yield face, method, _url(path, ids, name), body


def _names(path: str) -> list[str]:
    """Every value of a path's name parameter: the vendor's methods, the console's actions."""
    if "{method_name}" in path:
        return list(VOICENTER_METHODS)
    if path.endswith("/agent/{action}"):
        return list(get_args(AgentAction))
    if path.endswith("/call/{action}"):
        return list(get_args(CallAction))
    if path.endswith("/admin/{section}"):
        return list(get_args(AdminSection))
    return [""]


def _console_login(
    sessions: SessionMaker, client: TestClient, who: NewTenant, name: str, role: UserRole
) -> dict[str, str]:
    """A new user of the tenant, signed in: the console's session cookie and CSRF header."""
    make_agent(sessions, who.tenant.id, name, role)
    username = f"{name}@{who.tenant.id}"
    answer = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    token = _made(answer)["access_token"]
    with unit_of_work(sessions) as session:
        login = session.scalars(
            select(LoginSession).where(LoginSession.token_hash == hash_token(token))
        ).one()
        csrf = login.csrf_token
    return {"Cookie": f"{SESSION_COOKIE}={token}", CSRF_HEADER: csrf}


def test_a_second_tenant_reads_and_changes_nothing_on_any_face(
    app: FastAPI,
    db_engine: Engine,
    sessions: SessionMaker,
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
    walked: dict[str, int] = {}
    problems = []
    console_statuses: set[int] = set()
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = {
            "native": [{"Authorization": f"Bearer {other_tenant.api_key}"}],
            "jtel": [_basic(other_tenant)],
            "mmdial": [_basic(other_tenant)],
            "console": [
                _console_login(sessions, client, other_tenant, "walk_agent", UserRole.AGENT),
                _console_login(sessions, client, other_tenant, "walk_boss", UserRole.SUPERVISOR),
            ],
        }
        before = _tenant_rows(db_engine, tenant.tenant.id)
        for face, method, url, body in _requests(app, ids):
            for credentials in headers.get(face, [{}]):
                client.headers.clear()
                client.headers.update(credentials)
                response = _call(client, face, method, url, params, body)
                walked[face] = walked.get(face, 0) + 1
                if face == "console" and not url.endswith("/logout"):
                    console_statuses.add(response.status_code)
                problem = _leak(face, method, url, response)
                if problem:
                    problems.append(f"{method} {url}: {problem}")
    assert problems == []
    assert 401 not in console_statuses  # the second tenant's logins lasted the whole walk
    assert _tenant_rows(db_engine, tenant.tenant.id) == before
    print(f"cross-tenant walk: {sum(walked.values())} requests, by face {walked}")
    assert set(walked) == set(FACES.values())
    # The control: the same reads with the owner's credentials do show the marker, so the walk
    # reaches the data and would see a leak.
    owner = _credentials(tenant, _owner_codes(api, ids))
    with TestClient(app) as client:  # the team page lists the agent whose name is marked
        owner["headers"]["console"] = _console_login(
            sessions, client, tenant, "walk_owner_boss", UserRole.SUPERVISOR
        )
    shown = _faces_showing_the_marker(app, ids, owner)
    assert shown == {"native", "jtel", "mmdial", "voicenter", "console"}


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
    # the console's calls are the project's own JSON: they answer in the native error body
    if face not in ("native", "console") and '"error":{"code"' in text.replace(" ", ""):
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


def _console_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    for method, path, _route in _routes(app):
        route = f"{method} {path}"
        if _face(path) == "console" and route not in NO_CREDENTIALS:
            yield route, path


def test_a_console_agent_gets_403_exactly_on_supervisor_pages(
    app: FastAPI, api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    ids = _owner_objects(api)
    wrong = {}
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        client.headers.update(_console_login(sessions, client, tenant, "walk_ann", UserRole.AGENT))
        for face, method, url, body in _requests(app, ids):
            if face != "console" or url == "/console/logout":
                continue
            status = client.request(method, url, json=body).status_code
            if (status == 403) != (f"{method} {url}" in CONSOLE_SUPERVISOR_ROUTES):
                wrong[f"{method} {url}"] = status
    assert wrong == {}


def test_the_console_without_a_login_is_the_login_page_or_401(app: FastAPI) -> None:
    answers = {}
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        for route, path in _console_routes(app):
            method = route.split()[0]
            url = _url(path, {}, "campaigns" if path.endswith("/admin/{section}") else "ready")
            response = client.request(method, url)
            where = response.headers.get("location", "").partition("?")[0] or None
            answers[route] = (response.status_code, where)
    expected = {
        route: (401, None) if path.startswith("/console/api/") else (303, "/console/login")
        for route, path in _console_routes(app)
    }
    assert answers == expected
    assert len(answers) == 19  # the 21 console routes but the login page's two
