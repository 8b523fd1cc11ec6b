"""Campaign rules: creation with defaults, unique names and codes, and the campaign's parts."""

from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from opendialer.campaigns.codes import new_salt
from opendialer.campaigns.schemas import (
    CampaignCreate,
    CampaignSettings,
    CampaignUpdate,
    FormFieldWrite,
    ListCreate,
    ListUpdate,
    ResultCodeCreate,
    ResultCodeUpdate,
    RetryRuleWrite,
)
from opendialer.dedupe import exclusive, insert_new
from opendialer.errors import BadRequest, Conflict, NotFound
from opendialer.models import (
    AgentGroup,
    CallAttempt,
    CampaignMember,
    CampaignStatus,
    Contact,
    ContactList,
    ContactStatus,
    DialMode,
    FormField,
    RetryRule,
    User,
    UserRole,
)
from opendialer.models import Campaign as Campaign
from opendialer.models import ResultCode as ResultCode
from opendialer.scoping import Scope, get_owned, owned, tenant_of
from opendialer.telephony.announcements import UnreadableAnnouncement, check_announcement

Keyed = TypeVar("Keyed", RetryRule, FormField)
Child = TypeVar("Child", ResultCode, RetryRule, FormField, CampaignMember)
OwnChild = TypeVar("OwnChild", ResultCode, RetryRule)
_PUT_KEYS: dict[type[Any], tuple[str, ...]] = {RetryRule: ("outcome",), FormField: ("name",)}


def _check_settings(session: Session, scope: Scope, data: CampaignSettings) -> None:
    if data.agent_group_id is not None:
        get_owned(session, AgentGroup, scope, data.agent_group_id, "agent_group")
    if data.begin_at and data.end_at and data.begin_at >= data.end_at:
        raise BadRequest("begin_at must be before end_at", code="invalid_dates")
    for message in (data.abandon_announcement_uri, data.machine_message_uri):
        if message is not None:
            try:
                check_announcement(message)
            except UnreadableAnnouncement as exc:
                raise BadRequest(str(exc), code="invalid_announcement") from exc


def _check_name_free(session: Session, scope: Scope, name: str, exclude_id: int = 0) -> None:
    # Every check of a unique key is followed by the write that takes the key: checks of one
    # key run one at a time, so the later of simultaneous requests gets this Conflict too.
    exclusive(session, "campaigns", scope.tenant_id)
    taken = session.scalar(
        select(Campaign.id).where(
            Campaign.tenant_id == scope.tenant_id, Campaign.name == name, Campaign.id != exclude_id
        )
    )
    if taken is not None:
        raise Conflict(f"A campaign named {name!r} already exists", code="duplicate_name")


def create_campaign(session: Session, scope: Scope, data: CampaignCreate) -> Campaign:
    tenant = tenant_of(session, scope)
    _check_settings(session, scope, data)
    _check_name_free(session, scope, data.name)
    values = data.model_dump(exclude_none=True)
    values.setdefault("timezone", tenant.timezone)
    campaign = Campaign(tenant_id=tenant.id, code_salt=new_salt(), **values)
    session.add(campaign)
    session.flush()
    return campaign


def campaigns_query(
    scope: Scope,
    *,
    status: CampaignStatus | None = None,
    dial_mode: DialMode | None = None,
    name: str | None = None,
) -> Select[Any]:
    stmt = select(Campaign).where(Campaign.tenant_id == scope.tenant_id)
    if status is not None:
        stmt = stmt.where(Campaign.status == status)
    if dial_mode is not None:
        stmt = stmt.where(Campaign.dial_mode == dial_mode)
    if name:
        stmt = stmt.where(Campaign.name.contains(name, autoescape=True))
    return stmt


def get_campaign(session: Session, scope: Scope, campaign_id: int) -> Campaign:
    return get_owned(session, Campaign, scope, campaign_id, "campaign")


def get_campaign_by_name(session: Session, scope: Scope, name: str) -> Campaign:
    campaign = session.scalar(
        select(Campaign).where(Campaign.tenant_id == scope.tenant_id, Campaign.name == name)
    )
    if campaign is None:
        raise NotFound("campaign", name)
    return campaign


def _refuse_nulls(changes: dict[str, Any]) -> None:
    """A null for a column that holds no null is the caller's mistake (400), read from the
    table itself: no list to forget a setting in (it was a 500 or a 409 for most of them)."""
    columns = Campaign.__table__.c
    for key, value in changes.items():
        if value is None and key in columns and not columns[key].nullable:
            raise BadRequest(f"{key} cannot be null", code="invalid_value")


def update_campaign(
    session: Session, scope: Scope, campaign_id: int, data: CampaignUpdate
) -> Campaign:
    campaign = get_campaign(session, scope, campaign_id)
    _check_settings(session, scope, data)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name"):
        _check_name_free(session, scope, changes["name"], exclude_id=campaign.id)
    _refuse_nulls(changes)
    for key, value in changes.items():
        setattr(campaign, key, value)
    begin, end = campaign.begin_at, campaign.end_at
    if begin and end and begin >= end:
        raise BadRequest("begin_at must be before end_at", code="invalid_dates")
    session.flush()
    return campaign


def delete_campaign(session: Session, scope: Scope, campaign_id: int) -> None:
    """Delete the campaign with its contacts; refused (409) while any of its calls is up.

    The engine stops a deleted campaign's runner at its next tick; a call that raced the
    delete still ends with a terminal state (its attempt outlives the campaign).
    """
    campaign = get_campaign(session, scope, campaign_id)
    calls_up = calls_in_progress(session, campaign.id)
    if calls_up:
        raise Conflict(
            "The campaign has calls in progress: stop it, then delete it once they have ended",
            code="campaign_has_calls",
            details={"calls_in_progress": calls_up},
        )
    session.delete(campaign)
    session.flush()


def calls_in_progress(session: Session, campaign_id: int) -> int:
    """Open attempts, and contacts claimed for a call (a preview shown to an agent)."""
    attempts = session.scalar(
        select(func.count())
        .select_from(CallAttempt)
        .where(CallAttempt.campaign_id == campaign_id, CallAttempt.outcome.is_(None))
    )
    claimed = session.scalar(
        select(func.count())
        .select_from(Contact)
        .where(Contact.campaign_id == campaign_id, Contact.status == ContactStatus.IN_CALL)
    )
    return max(int(attempts or 0), int(claimed or 0))


# Result codes ---------------------------------------------------------------------------


# Sub-resources: rows that belong to one campaign ------------------------------------------


def _children(session: Session, model: type[Child], campaign: Campaign, *order: Any) -> list[Child]:
    """The campaign's rows of ``model`` in ``order``."""
    stmt = select(model).where(model.campaign_id == campaign.id).order_by(*order)
    return list(session.scalars(stmt))


def _child(
    session: Session, model: type[OwnChild], campaign: Campaign, key: int, resource: str
) -> OwnChild:
    """The campaign's row of ``model`` with this primary key; another campaign's is a 404."""
    row = session.get(model, key)
    if row is None or row.campaign_id != campaign.id:
        raise NotFound(resource, key)
    return row


def list_result_codes(session: Session, campaign: Campaign) -> list[ResultCode]:
    return _children(session, ResultCode, campaign, ResultCode.id)


def campaigns_by_id(session: Session, scope: Scope) -> list[Campaign]:
    """Every campaign of the tenant, oldest first."""
    return list(session.scalars(campaigns_query(scope).order_by(Campaign.id)))


def campaigns_by_name(session: Session, scope: Scope) -> list[Campaign]:
    """Every campaign of the tenant, by name (ties by id)."""
    return list(session.scalars(campaigns_query(scope).order_by(Campaign.name, Campaign.id)))


def result_code_of(session: Session, contact_result_code_id: int | None) -> ResultCode | None:
    """The result code a contact carries, if any."""
    if contact_result_code_id is None:
        return None
    return session.get(ResultCode, contact_result_code_id)


def result_code_types(session: Session, scope: Scope, code_ids: set[int]) -> dict[int, int]:
    """Each result code's type id (jtel's numbering), by the code's id."""
    stmt = owned(ResultCode, scope).where(ResultCode.id.in_(code_ids))
    return {code.id: code.type_id for code in session.scalars(stmt)}


def get_result_code(session: Session, campaign: Campaign, code_id: int) -> ResultCode:
    return _child(session, ResultCode, campaign, code_id, "result_code")


def _check_code_free(session: Session, campaign: Campaign, code: str, exclude_id: int = 0) -> None:
    exclusive(session, "result_codes", campaign.id)
    taken = session.scalar(
        select(ResultCode.id).where(
            ResultCode.campaign_id == campaign.id,
            ResultCode.code == code,
            ResultCode.id != exclude_id,
        )
    )
    if taken is not None:
        raise Conflict(f"Result code {code!r} already exists", code="duplicate_code")


def create_result_code(session: Session, campaign: Campaign, data: ResultCodeCreate) -> ResultCode:
    _check_code_free(session, campaign, data.code)
    values = data.model_dump(exclude_none=True)
    values.setdefault("text_de", data.text_en)
    record = ResultCode(tenant_id=campaign.tenant_id, campaign_id=campaign.id, **values)
    session.add(record)
    session.flush()
    return record


NOT_NULL_RESULT_FIELDS = frozenset(
    {"code", "text_en", "text_de", "action", "type_id", "is_success", "answering_machine"}
)


def update_result_code(
    session: Session, campaign: Campaign, code_id: int, data: ResultCodeUpdate
) -> ResultCode:
    record = get_result_code(session, campaign, code_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("code"):
        _check_code_free(session, campaign, changes["code"], exclude_id=record.id)
    for key, value in changes.items():
        if value is None and key in NOT_NULL_RESULT_FIELDS:
            raise BadRequest(f"{key} cannot be null", code="invalid_value")
        setattr(record, key, value)
    session.flush()
    return record


def delete_result_code(session: Session, campaign: Campaign, code_id: int) -> None:
    session.delete(get_result_code(session, campaign, code_id))
    session.flush()


# Retry rules ----------------------------------------------------------------------------


def _put(
    session: Session, model: type[Keyed], parent: dict[str, int], values: dict[str, Any]
) -> Keyed:
    """Create or replace the row whose unique key is ``parent`` plus the key in ``values``;
    simultaneous identical PUTs all succeed and leave one row."""
    insert_new(session, model, [{**parent, **values}], model.id)
    key = {name: values[name] for name in _PUT_KEYS[model]}
    row = session.scalars(select(model).filter_by(**parent, **key)).one()
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()
    return row


def list_retry_rules(session: Session, campaign: Campaign) -> list[RetryRule]:
    return _children(session, RetryRule, campaign, RetryRule.id)


def put_retry_rule(session: Session, campaign: Campaign, data: RetryRuleWrite) -> RetryRule:
    """Create or replace the rule for one outcome."""
    return _put(session, RetryRule, {"campaign_id": campaign.id}, data.model_dump())


def delete_retry_rule(session: Session, campaign: Campaign, rule_id: int) -> None:
    session.delete(_child(session, RetryRule, campaign, rule_id, "retry_rule"))
    session.flush()


# Order-form fields ----------------------------------------------------------------------


def list_form_fields(session: Session, campaign: Campaign) -> list[FormField]:
    return _children(session, FormField, campaign, FormField.position, FormField.id)


def put_form_field(session: Session, campaign: Campaign, data: FormFieldWrite) -> FormField:
    """Create or replace the field with this name."""
    return _put(session, FormField, {"campaign_id": campaign.id}, data.model_dump())


def delete_form_field(session: Session, campaign: Campaign, name: str) -> None:
    result = session.execute(
        delete(FormField).where(FormField.campaign_id == campaign.id, FormField.name == name)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound("form_field", name)


# Members --------------------------------------------------------------------------------


def list_members(session: Session, campaign: Campaign) -> list[CampaignMember]:
    return _children(session, CampaignMember, campaign, CampaignMember.user_id)


def add_member(session: Session, campaign: Campaign, user_id: int) -> tuple[CampaignMember, bool]:
    """Make the tenant's agent a member; idempotent, also when the same member is added by
    simultaneous requests. Returns the member and whether they joined just now."""
    user = get_owned(session, User, Scope.system(campaign.tenant_id), user_id, "user")
    if user.role != UserRole.AGENT:
        raise BadRequest("Only agents can be campaign members", code="not_an_agent")
    row = {"campaign_id": campaign.id, "user_id": user_id, "created_at": datetime.now(UTC)}
    joined = bool(insert_new(session, CampaignMember, [row], CampaignMember.user_id))
    member = session.get_one(CampaignMember, (campaign.id, user_id))
    return member, joined


def remove_member(session: Session, campaign: Campaign, user_id: int) -> None:
    member = session.get(CampaignMember, (campaign.id, user_id))
    if member is None:
        raise NotFound("campaign_member", user_id)
    session.delete(member)
    session.flush()


def member_users(session: Session, campaign: Campaign) -> list[User]:
    """The campaign's members as users, in the order they joined."""
    stmt = (
        select(User)
        .join(CampaignMember, CampaignMember.user_id == User.id)
        .where(CampaignMember.campaign_id == campaign.id)
        .order_by(CampaignMember.created_at, User.id)
    )
    return list(session.scalars(stmt))


# Lists ----------------------------------------------------------------------------------


def _check_list_name_free(session: Session, campaign_id: int, name: str) -> None:
    exclusive(session, "contact_lists", campaign_id)
    taken = session.scalar(
        select(ContactList.id).where(
            ContactList.campaign_id == campaign_id, ContactList.name == name
        )
    )
    if taken is not None:
        raise Conflict(f"A list named {name!r} already exists", code="duplicate_name")


def create_list(session: Session, campaign: Campaign, data: ListCreate) -> ContactList:
    _check_list_name_free(session, campaign.id, data.name)
    record = ContactList(tenant_id=campaign.tenant_id, campaign_id=campaign.id, **data.model_dump())
    session.add(record)
    session.flush()
    return record


def lists_query(scope: Scope, campaign_id: int | None = None) -> Select[Any]:
    stmt = select(ContactList).where(ContactList.tenant_id == scope.tenant_id)
    if campaign_id is not None:
        stmt = stmt.where(ContactList.campaign_id == campaign_id)
    return stmt


def get_list(session: Session, scope: Scope, list_id: int) -> ContactList:
    return get_owned(session, ContactList, scope, list_id, "list")


def update_list(session: Session, scope: Scope, list_id: int, data: ListUpdate) -> ContactList:
    record = get_list(session, scope, list_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") and changes["name"] != record.name:
        _check_list_name_free(session, record.campaign_id, changes["name"])
    for key, value in changes.items():
        if value is None and key in ("name", "active"):
            raise BadRequest(f"{key} cannot be null", code="invalid_value")
        setattr(record, key, value)
    session.flush()
    return record


def delete_list(session: Session, scope: Scope, list_id: int) -> None:
    session.delete(get_list(session, scope, list_id))
    session.flush()


# Lookup by partial name and cloning (jtel Dialler Campaigns) ----------------------------------


def find_campaigns_by_name(session: Session, scope: Scope, part: str) -> list[Campaign]:
    """Every campaign whose name contains ``part`` (any case; % and _ are plain), by id."""
    stmt = select(Campaign).where(
        Campaign.tenant_id == scope.tenant_id, Campaign.name.icontains(part, autoescape=True)
    )
    return list(session.scalars(stmt.order_by(Campaign.id)))


_NOT_CLONED = frozenset(
    {"id", "tenant_id", "name", "code_salt", "legacy_code_hash", "status", "user_data"}
)


def _copy_rows(session: Session, model: Any, source_id: int, target: Campaign) -> None:
    """Copy every ``model`` row of the source campaign to ``target`` (new ids)."""
    skip = ("id", "campaign_id", "updated_at")
    columns = [c.key for c in model.__table__.columns if c.key not in skip]
    rows = session.scalars(select(model).where(model.campaign_id == source_id)).all()
    for row in rows:
        values = {key: getattr(row, key) for key in columns}
        if "tenant_id" in values:
            values["tenant_id"] = target.tenant_id
        if "created_at" in values:
            values["created_at"] = datetime.now(UTC)
        session.add(model(campaign_id=target.id, **values))


def clone_campaign(
    session: Session, scope: Scope, source_name: str, name: str, user_data: str | None = None
) -> Campaign:
    """A copy of the campaign named ``source_name`` with its settings, result codes, retry
    rules, order-form fields, members and (empty) lists, but no contacts. The copy is disabled
    until someone enables it. Unknown source: 404; ``name`` taken: 409."""
    source = get_campaign_by_name(session, scope, source_name)
    _check_name_free(session, scope, name)
    values = {
        c.key: getattr(source, c.key)
        for c in Campaign.__table__.columns
        if c.key not in _NOT_CLONED and c.key not in ("created_at", "updated_at")
    }
    clone = Campaign(
        tenant_id=scope.tenant_id,
        name=name,
        code_salt=new_salt(),
        status=CampaignStatus.DISABLED,
        user_data=user_data,
        **values,
    )
    session.add(clone)
    session.flush()
    for model in (ResultCode, RetryRule, FormField, CampaignMember, ContactList):
        _copy_rows(session, model, source.id, clone)
    session.flush()
    return clone
