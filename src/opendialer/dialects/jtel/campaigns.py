"""jtel Dialler Campaigns (spec 001 §4): translation onto the native campaigns service."""

from typing import Any

from opendialer.campaigns import service
from opendialer.dialects.jtel import routing
from opendialer.dialects.jtel.envelope import Record, bad_request, listing, records, status_only
from opendialer.dialects.jtel.records import campaign_record, result_code_record
from opendialer.dialects.jtel.routing import Call
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, tags=["jtel dialler campaigns"])

LANGUAGES = (1, 2)  # 1 English, 2 German
NAME_LIMIT, USER_DATA_LIMIT = 200, 255


def list_campaigns(call: Call) -> Record:
    """Retrieve all Dialler Campaigns (by name)."""
    rows = service.campaigns_by_name(call.session, call.scope)
    return listing([campaign_record(c, call.zone) for c in rows], "Name")


def get_campaign(call: Call) -> Record:
    """Retrieve a specific Dialler Campaign by ID."""
    campaign = service.get_campaign(call.session, call.scope, call.path_id("DiallerCampaignsID"))
    return records([campaign_record(campaign, call.zone)])


def get_by_name(call: Call) -> Record:
    """Retrieve Dialler Campaigns by Name (partial match, any case)."""
    name = call.query_text("name")
    if not name:
        raise bad_request("The query parameter name is empty")
    found = service.find_campaigns_by_name(call.session, call.scope, name)
    return records([campaign_record(c, call.zone) for c in found])


def result_codes(call: Call) -> Record:
    """Retrieve the Result Codes of a Dialler Campaign (languagesID 1 English, 2 German)."""
    language_id = call.query_int("languagesID", required=False) or 1
    if language_id not in LANGUAGES:
        raise bad_request("languagesID must be 1 (English) or 2 (German)")
    campaign = service.get_campaign(call.session, call.scope, call.path_id("DiallerCampaignsID"))
    codes = service.list_result_codes(call.session, campaign)
    return records([result_code_record(code, language_id) for code in codes])


def _text(body: dict[str, Any], key: str, limit: int, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise bad_request(f"{key} is mandatory and must be a string")
    if len(value) > limit or "\x00" in value:
        raise bad_request(f"{key} must be at most {limit} characters")
    return value.strip()


def clone_campaign(call: Call) -> Record:
    """Clone a Dialler Campaign with everything but its contacts."""
    body = call.json_object()
    source = _text(body, "source", NAME_LIMIT, required=True)
    destination = _text(body, "destination", NAME_LIMIT, required=True)
    user_data = _text(body, "userData", USER_DATA_LIMIT, required=False)
    assert source is not None and destination is not None
    clone = service.clone_campaign(call.session, call.scope, source, destination, user_data)
    return records([campaign_record(clone, call.zone)])


def delete_by_id(call: Call) -> Record:
    """Delete a Dialler Campaign by ID, with its contacts and everything else of it."""
    service.delete_campaign(call.session, call.scope, call.path_id("DiallerCampaignsID"))
    return status_only()


def delete_by_name(call: Call) -> Record:
    """Delete a Dialler Campaign by Name (exact name: a partial match could delete several)."""
    name = call.query_text("name")
    assert name is not None
    campaign = service.get_campaign_by_name(call.session, call.scope, name)
    service.delete_campaign(call.session, call.scope, campaign.id)
    return status_only()


BASE = "/dialler/campaigns"
ROUTES: tuple[tuple[str, str, routing.Handler, bool], ...] = (
    ("GET", BASE, list_campaigns, False),
    ("POST", f"{BASE}/clone", clone_campaign, True),
    ("GET", f"{BASE}/campaign", get_by_name, False),
    ("DELETE", f"{BASE}/campaign", delete_by_name, False),
    ("GET", f"{BASE}/campaign/{{DiallerCampaignsID}}/resultCodes", result_codes, False),
    ("DELETE", f"{BASE}/campaign/{{DiallerCampaignsID}}", delete_by_id, False),
    ("GET", f"{BASE}/campaign/{{DiallerCampaignsID}}", get_campaign, False),  # alias
    ("DELETE", f"{BASE}/{{DiallerCampaignsID}}", delete_by_id, False),  # alias (G16)
    ("GET", f"{BASE}/{{DiallerCampaignsID}}", get_campaign, False),
)
for _method, _path, _handler, _body in ROUTES:
    routing.add(router, _method, _path, _handler, reads_body=_body)
