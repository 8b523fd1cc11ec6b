"""The fourteen Forward Dialer methods: Voicenter parameters in, domain services, envelope out.

Every function takes the request's session (it flushes, the router commits) and the key that
makes and checks campaign codes (``campaigns/codes.py``), and returns the envelope; a
request-level problem raises :class:`VoicenterError`, which rolls everything back.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from opendialer.accounts.service import account_code_scope
from opendialer.agents.service import User, get_user_by_extension, get_user_by_member_code
from opendialer.campaigns.codes import (
    CampaignRef,
    CodeKey,
    campaign_by_code,
    campaign_ref,
    campaign_refs,
    code_scope,
)
from opendialer.campaigns.schemas import CampaignStatus, CampaignUpdate
from opendialer.campaigns.service import (
    Campaign,
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
from opendialer.dialing.service import set_status
from opendialer.errors import OpendialerError

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


def _target_campaign(session: Session, key: CodeKey, params: Params) -> CampaignRef:
    campaign = campaign_ref(session, key, campaign_code(params, TARGET_METHODS))
    if campaign is None:
        raise TARGET_METHODS.unknown_error()
    return campaign


# Account ------------------------------------------------------------------------------------


def get_campaign_list(session: Session, params: Params, key: CodeKey) -> dict[str, Any]:
    errors = CampaignErrors(1, ACCOUNT_MISSING, INVALID_ACCOUNT)
    code = campaign_code(params, errors, name="Code")
    scope = account_code_scope(session, code)
    if scope is None:
        raise errors.unknown_error()
    campaigns = campaigns_by_id(session, scope)
    summaries = queue.queue_summaries(session, [c.id for c in campaigns], _now())
    return ok(Data=[schemas.campaign_item(c, summaries[c.id], key.of(c)) for c in campaigns])


# Targets ------------------------------------------------------------------------------------


def _checked(
    session: Session, campaign: CampaignRef, fields: schemas.TargetFields
) -> schemas.TargetFields:
    """The target's own ``CallerID`` against the campaign's ``own_caller_id_check``."""
    if fields.caller_id:
        check = (campaign.own_caller_id_check, campaign.id, campaign.region)
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
    update_campaign(session, code_scope(campaign), campaign.id, data)
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
        scope = code_scope(campaign)
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
