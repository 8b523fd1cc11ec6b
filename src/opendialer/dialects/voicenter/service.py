"""The fourteen Forward Dialer methods: Voicenter parameters in, domain services, envelope out.

Every function takes the request's session (it flushes, the router commits) and the key that
makes and checks campaign codes (``campaigns/codes.py``), and returns the envelope; a
request-level problem raises :class:`VoicenterError`, which rolls everything back.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import tenant_by_account_code
from opendialer.agents.service import get_user_by_extension, get_user_by_member_code
from opendialer.campaigns.codes import CodeKey, campaign_by_code, code_id
from opendialer.campaigns.schemas import CampaignUpdate
from opendialer.campaigns.service import (
    add_member,
    campaigns_by_id,
    member_users,
    remove_member,
    update_campaign,
)
from opendialer.contacts import queue
from opendialer.contacts.service import own_caller_id_problem
from opendialer.dialects.voicenter import schemas
from opendialer.dialects.voicenter.errors import (
    ACCOUNT_MISSING,
    CAMPAIGN_MISSING,
    GENERIC,
    INTERNAL_ERROR,
    INVALID_ACCOUNT,
    INVALID_CAMPAIGN,
    MEMBER_MISSING,
    UnknownCode,
    VoicenterError,
    ok,
)
from opendialer.dialects.voicenter.params import Params, invalid
from opendialer.dialects.voicenter.schemas import CampaignRef
from opendialer.dialing.service import set_status
from opendialer.errors import OpendialerError
from opendialer.models import Campaign, CampaignStatus, OwnCallerIdCheck, Tenant, User
from opendialer.scoping import Scope
from opendialer.security import hash_token

CODE_LENGTH = 64
MEMBER_LENGTH = 100
MAX_LISTED_CALLS = 10_000
INT32 = 2**31 - 1
MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class CampaignErrors:
    """How one method reports a missing or an unknown campaign code."""

    code: int
    missing: str
    unknown: str
    extra: dict[str, Any] = field(default_factory=dict)

    def missing_error(self) -> VoicenterError:
        return VoicenterError(self.code, self.missing, **self.extra)

    def unknown_error(self) -> VoicenterError:
        return UnknownCode(self.code, self.unknown, **self.extra)


TARGET_METHODS = CampaignErrors(1, CAMPAIGN_MISSING, INVALID_CAMPAIGN)
CONTROL_METHODS = CampaignErrors(1, INVALID_CAMPAIGN, INVALID_CAMPAIGN)
CLEAR_ERRORS = CampaignErrors(4, INTERNAL_ERROR, INTERNAL_ERROR)
PENDING_ERRORS = CampaignErrors(2, INTERNAL_ERROR, INTERNAL_ERROR)
ADD_MEMBER_ERRORS = CampaignErrors(
    1, INVALID_CAMPAIGN, INVALID_CAMPAIGN, {"Data": {"TotalAdded": -1}}
)
REMOVE_MEMBER_ERRORS = CampaignErrors(
    1, INVALID_CAMPAIGN, INVALID_CAMPAIGN, {"Data": {"TotalRemoved": 0}}
)


def _now() -> datetime:
    return datetime.now(UTC)


def campaign_code(params: Params, errors: CampaignErrors, name: str = "Campaign") -> str:
    value = params.raw(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise errors.missing_error()
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise errors.unknown_error()
    code = str(value).strip()  # the vendor's own example has a leading space (V4)
    if len(code) > CODE_LENGTH or "\x00" in code:
        raise errors.unknown_error()
    return code


def _campaign(session: Session, key: CodeKey, params: Params, errors: CampaignErrors) -> Campaign:
    campaign = campaign_by_code(session, key, campaign_code(params, errors))
    if campaign is None:
        raise errors.unknown_error()
    return campaign


def _ref_columns() -> Select[Any]:
    return (
        select(Campaign.id, Campaign.tenant_id, Campaign.code_salt, Campaign.legacy_code_hash)
        .add_columns(Tenant.default_region, Tenant.timezone, Campaign.own_caller_id_check)
        .join(Tenant, Tenant.id == Campaign.tenant_id)
    )


# Built once: the look-ups run for every added target, so their construction counts.
@cache
def _refs_statement() -> Select[Any]:
    return _ref_columns().where(
        or_(
            Campaign.id.in_(bindparam("ids", expanding=True)),
            Campaign.legacy_code_hash.in_(bindparam("hashes", expanding=True)),
        )
    )


@cache
def _ref_statement() -> Select[Any]:
    # Not the IN form with one id: an expanding parameter is re-rendered on every call.
    return _ref_columns().where(Campaign.id == bindparam("id"))


@cache
def _legacy_ref_statement() -> Select[Any]:
    return _ref_columns().where(Campaign.legacy_code_hash == bindparam("hash"))


def _ref(row: Any) -> CampaignRef:
    return CampaignRef(
        row.id, row.tenant_id, row.default_region, row.timezone, row.own_caller_id_check
    )


def campaign_refs(session: Session, key: CodeKey, codes: Iterable[str]) -> dict[str, CampaignRef]:
    """The campaigns with these codes and their tenants' region and zone, in one query per
    thousand codes."""
    wanted = sorted(set(codes))
    found: dict[str, CampaignRef] = {}
    conn = session.connection()
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        ids = [i for i in map(code_id, chunk) if i is not None]
        hashes = {hash_token(code): code for code in chunk if code_id(code) is None}
        rows = conn.execute(_refs_statement(), {"ids": ids, "hashes": list(hashes)})
        for row in rows:
            derived = key.code(row.id, row.code_salt)
            if derived is not None:
                found[derived] = _ref(row)
            if row.legacy_code_hash in hashes:
                found[hashes[row.legacy_code_hash]] = _ref(row)
    return found


def _target_campaign(session: Session, key: CodeKey, params: Params) -> CampaignRef:
    code = campaign_code(params, TARGET_METHODS)
    campaign_id = code_id(code)
    conn = session.connection()
    if campaign_id is None:
        row = conn.execute(_legacy_ref_statement(), {"hash": hash_token(code)}).first()
    else:
        row = conn.execute(_ref_statement(), {"id": campaign_id}).first()
    if row is None or not key.matches(code, row.id, row.code_salt, row.legacy_code_hash):
        raise TARGET_METHODS.unknown_error()
    return _ref(row)


# Account ------------------------------------------------------------------------------------


def get_campaign_list(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    errors = CampaignErrors(1, ACCOUNT_MISSING, INVALID_ACCOUNT)
    code = campaign_code(params, errors, name="Code")
    tenant = tenant_by_account_code(session, code)
    if tenant is None:
        raise errors.unknown_error()
    campaigns = campaigns_by_id(session, Scope.system(tenant.id))
    summaries = queue.queue_summaries(session, [c.id for c in campaigns], _now())
    return ok(Data=[schemas.campaign_item(c, summaries[c.id], key.of(c)) for c in campaigns])


# Targets ------------------------------------------------------------------------------------


def _checked(
    session: Session, campaign: CampaignRef, fields: schemas.TargetFields
) -> schemas.TargetFields:
    """The target's own ``CallerID`` against the campaign's ``own_caller_id_check``."""
    if fields.caller_id and campaign.own_caller_id_check != OwnCallerIdCheck.OFF:
        rule = OwnCallerIdCheck(campaign.own_caller_id_check)
        check = (rule, campaign.id, campaign.region)
        problem = own_caller_id_problem(session, check, fields.caller_id)
        if problem is not None:
            raise invalid("CallerID", problem)
    return fields


def add_call(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    campaign = _target_campaign(session, key, params)
    fields = _checked(session, campaign, schemas.target_fields(params, campaign, dnc_flag=True))
    queue.add_targets(session, [fields.new_target(campaign)])
    return ok()


def _bulk_element(
    session: Session, params: Params | None, refs: dict[str, CampaignRef]
) -> queue.NewTarget:
    if params is None:
        raise invalid("target", "each element must be a JSON object")
    code = campaign_code(params, TARGET_METHODS)
    campaign = refs.get(code)
    if campaign is None:
        raise TARGET_METHODS.unknown_error()
    fields = schemas.target_fields(params, campaign, dnc_flag=True)
    return _checked(session, campaign, fields).new_target(campaign)


def _echo_target(params: Params | None) -> str:
    value = params.raw("Target") if params is not None else None
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _element_params(element: Any) -> Params | None:
    return Params.from_json(element) if isinstance(element, dict) else None


def _code_or_none(params: Params | None) -> str | None:
    if params is None:
        return None
    value = params.raw("Campaign")
    return value.strip() if isinstance(value, str) else None


def add_calls_bulk(session: Session, body: Any, key: CodeKey) -> dict[str, Any]:
    """Each element on its own, results in request order; the valid ones inserted together."""
    if not isinstance(body, list):
        raise VoicenterError(GENERIC, "The body must be a JSON array of targets", AddResult=[])
    elements = [_element_params(e) for e in body]
    refs = campaign_refs(session, key, filter(None, map(_code_or_none, elements)))
    new: list[queue.NewTarget] = []
    results: list[dict[str, Any]] = []
    for params in elements:
        try:
            new.append(_bulk_element(session, params, refs))
            result = ok()
        except VoicenterError as error:
            result = error.envelope()
        results.append(
            {"Target": _echo_target(params), **result, "CustomData": _echo_custom(params)}
        )
    queue.add_targets(session, new)
    return ok(AddResult=results)


def _echo_custom(params: Params | None) -> dict[str, Any]:
    if params is None:
        return {}
    try:
        return params.custom_data() or {}
    except VoicenterError:
        return {}


def remove_call(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    """Every queued occurrence of the number goes; a number not queued is fine (OK)."""
    campaign = _target_campaign(session, key, params)
    try:
        _raw, e164 = schemas.target_number(params, campaign.region)
    except VoicenterError as error:
        if error.error_code == 2:
            raise
        return ok()  # not a valid number, so it cannot be in the campaign
    queue.remove_number(session, campaign.id, e164)
    return ok()


def update_call(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    """The supplied fields of every queued occurrence; the target is added when absent."""
    campaign = _target_campaign(session, key, params)
    fields = schemas.target_fields(params, campaign, dnc_flag=False)  # V12: not for UpdateCall
    _checked(session, campaign, fields)
    queue.update_or_add(session, fields.new_target(campaign), fields.changes())
    return ok()


def clear_campaign_calls(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    queue.clear_queue(session, _campaign(session, key, params, CLEAR_ERRORS).id)
    return ok()


# Campaigns ----------------------------------------------------------------------------------


def _set_status(
    session: Session, key: CodeKey, params: Params, status: CampaignStatus
) -> dict[str, Any]:
    set_status(session, _campaign(session, key, params, CONTROL_METHODS), status, _now())
    return ok()


def stop_campaign(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    return _set_status(session, key, params, CampaignStatus.DISABLED)


def start_campaign(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    return _set_status(session, key, params, CampaignStatus.ENABLED)


def get_campaign_details(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    campaign = _campaign(session, key, params, CONTROL_METHODS)
    summary = queue.queue_summaries(session, [campaign.id], _now())[campaign.id]
    return ok(Data=schemas.campaign_item(campaign, summary, key.of(campaign)))


def get_campaign_pending_calls(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    campaign = _campaign(session, key, params, PENDING_ERRORS)
    summary = queue.queue_summaries(session, [campaign.id], _now())[campaign.id]
    calls = queue.queued_targets(session, campaign.id, MAX_LISTED_CALLS)
    data = {
        "Campaign": schemas.pending_campaign(campaign, summary, key.of(campaign)),
        "Calls": [schemas.pending_call(c) for c in calls],
    }
    return ok(Data=data)


def _setting(params: Params, read: Callable[[], Any], name: str) -> Any:
    """A required setting; a missing or badly typed one is code 2 (V3)."""
    if not params.given(name):
        raise VoicenterError(2, f"{name} missing")
    try:
        return read()
    except VoicenterError as error:
        raise VoicenterError(2, error.description) from None


def update_campaign_settings(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    """The unnamed method of §3.14: monitored queue, waiting-caller cap, pacing coefficient."""
    campaign = _campaign(session, key, params, CONTROL_METHODS)
    queue_id = _setting(
        params, lambda: params.integer("setQueueForMonitoring", 1, MAX_ID), "setQueueForMonitoring"
    )
    max_callers = _setting(
        params,
        lambda: params.integer("setQueueMaximumCallers", 1, INT32),
        "setQueueMaximumCallers",
    )
    coefficient = _setting(params, lambda: params.number("setCoefficient"), "setCoefficient")
    if coefficient <= 1:
        raise VoicenterError(2, "Invalid setCoefficient: must be greater than 1")
    data = CampaignUpdate(
        monitored_queue=queue_id, max_waiting_callers=max_callers, pacing_coefficient=coefficient
    )
    update_campaign(session, Scope.system(campaign.tenant_id), campaign.id, data)
    return ok()


# Members ------------------------------------------------------------------------------------


def get_members_list(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    campaign = _campaign(session, key, params, CONTROL_METHODS)
    return ok(Data=[schemas.member_item(u) for u in member_users(session, campaign)])


def _member(session: Session, params: Params, campaign: Campaign, errors: CampaignErrors) -> User:
    if not schemas.is_agent_dialer(campaign):
        raise VoicenterError(2, "Members belong to agent-dialer campaigns only", **errors.extra)
    value = params.raw("Member")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise VoicenterError(2, MEMBER_MISSING, **errors.extra)
    code = str(value).strip() if isinstance(value, str | int) else ""
    user = None
    if code and len(code) <= MEMBER_LENGTH and "\x00" not in code and not isinstance(value, bool):
        scope = Scope.system(campaign.tenant_id)
        user = get_user_by_member_code(session, scope, code) or get_user_by_extension(
            session, scope, code
        )
    if user is None:
        raise VoicenterError(2, "Invalid member", **errors.extra)
    return user


def add_member_call(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    campaign = _campaign(session, key, params, ADD_MEMBER_ERRORS)
    user = _member(session, params, campaign, ADD_MEMBER_ERRORS)
    try:
        joined = add_member(session, campaign, user.id)[1]
    except OpendialerError:
        raise VoicenterError(2, "Invalid member: not an agent", **ADD_MEMBER_ERRORS.extra) from None
    return ok(Data={"TotalAdded": 1 if joined else 0})


def remove_member_call(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    campaign = _campaign(session, key, params, REMOVE_MEMBER_ERRORS)
    user = _member(session, params, campaign, REMOVE_MEMBER_ERRORS)
    try:
        remove_member(session, campaign, user.id)
    except OpendialerError:
        return ok(Data={"TotalRemoved": 0})
    return ok(Data={"TotalRemoved": 1})
