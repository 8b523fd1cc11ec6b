"""Users with roles and agent fields, agent (ACD) groups and their members."""

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from opendialer.agents.schemas import GroupCreate, GroupUpdate, UserCreate, UserUpdate
from opendialer.dedupe import exclusive, insert_new
from opendialer.errors import BadRequest, Conflict, NotFound
from opendialer.models import AgentGroup as AgentGroup
from opendialer.models import (
    AgentGroupMember,
    AgentSession,
    AgentState,
    UserRole,
)
from opendialer.models import User as User
from opendialer.scoping import Scope, get_owned
from opendialer.security import hash_password

UNIQUE_USER_FIELDS = ("username", "extension", "member_code")


def _check_unique(
    session: Session, scope: Scope, values: dict[str, Any], exclude_id: int = 0
) -> None:
    # The write that follows takes the keys: checks run one at a time per tenant, so the later
    # of simultaneous requests gets this Conflict too (not the database's IntegrityError).
    exclusive(session, "users", scope.tenant_id)
    for name in UNIQUE_USER_FIELDS:
        value = values.get(name)
        if value is None:
            continue
        column: InstrumentedAttribute[Any] = getattr(User, name)
        taken = session.scalar(
            select(User.id).where(
                User.tenant_id == scope.tenant_id, column == value, User.id != exclude_id
            )
        )
        if taken is not None:
            raise Conflict(f"Another user has {name} {value!r}", code=f"duplicate_{name}")


def _with_password(values: dict[str, Any]) -> dict[str, Any]:
    """Swap the password for its hash; an explicit ``None`` removes the password (no sign-in)."""
    if "password" in values:
        password = values.pop("password")
        values["password_hash"] = None if password is None else hash_password(password)
    return values


def create_user(session: Session, scope: Scope, data: UserCreate) -> User:
    values = data.model_dump(exclude_none=True)
    _check_unique(session, scope, values)
    user = User(tenant_id=scope.tenant_id, **_with_password(values))
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, scope: Scope, user_id: int) -> User:
    return get_owned(session, User, scope, user_id, "user")


def usernames(session: Session, scope: Scope) -> dict[int, str]:
    """Every user name of the tenant, by user id."""
    rows = session.execute(select(User.id, User.username).where(User.tenant_id == scope.tenant_id))
    return {int(user_id): name for user_id, name in rows}


def user_id_by_username(session: Session, scope: Scope, username: str) -> int | None:
    stmt = select(User.id).where(User.tenant_id == scope.tenant_id, User.username == username)
    return session.scalar(stmt)


def update_user(session: Session, scope: Scope, user_id: int, data: UserUpdate) -> User:
    user = get_user(session, scope, user_id)
    values = data.model_dump(exclude_unset=True)
    for required in ("username", "role", "active"):
        if required in values and values[required] is None:
            raise BadRequest(f"{required} cannot be null", code="invalid_value")
    _check_unique(session, scope, values, exclude_id=user.id)
    for key, value in _with_password(values).items():
        setattr(user, key, value)
    session.flush()
    return user


def delete_user(session: Session, scope: Scope, user_id: int) -> None:
    """Delete a user; refused while they are signed in as an agent (the engine may be routing
    a call to them). Their calls and ACD events keep a NULL user."""
    user = get_user(session, scope, user_id)
    agent = session.get(AgentSession, user.id)
    if agent is not None and agent.state != AgentState.LOGGED_OUT:
        raise Conflict(
            "The user is signed in as an agent; sign them out first", code="agent_signed_in"
        )
    session.delete(user)
    session.flush()


def users_query(
    scope: Scope,
    *,
    role: UserRole | None = None,
    active: bool | None = None,
    extension: str | None = None,
    member_code: str | None = None,
) -> Select[Any]:
    stmt = select(User).where(User.tenant_id == scope.tenant_id)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    if extension is not None:
        stmt = stmt.where(User.extension == extension)
    if member_code is not None:
        stmt = stmt.where(User.member_code == member_code)
    return stmt


def get_user_by_extension(session: Session, scope: Scope, extension: str) -> User | None:
    user: User | None = session.scalar(users_query(scope, extension=extension))
    return user


def get_user_by_member_code(session: Session, scope: Scope, code: str) -> User | None:
    user: User | None = session.scalar(users_query(scope, member_code=code))
    return user


# Groups ----------------------------------------------------------------------------------


def _check_group_name(session: Session, scope: Scope, name: str, exclude_id: int = 0) -> None:
    exclusive(session, "agent_groups", scope.tenant_id)
    taken = session.scalar(
        select(AgentGroup.id).where(
            AgentGroup.tenant_id == scope.tenant_id,
            AgentGroup.name == name,
            AgentGroup.id != exclude_id,
        )
    )
    if taken is not None:
        raise Conflict(f"A group named {name!r} already exists", code="duplicate_name")


def create_group(session: Session, scope: Scope, data: GroupCreate) -> AgentGroup:
    _check_group_name(session, scope, data.name)
    group = AgentGroup(tenant_id=scope.tenant_id, **data.model_dump())
    session.add(group)
    session.flush()
    return group


def get_group(session: Session, scope: Scope, group_id: int) -> AgentGroup:
    return get_owned(session, AgentGroup, scope, group_id, "group")


def update_group(session: Session, scope: Scope, group_id: int, data: GroupUpdate) -> AgentGroup:
    group = get_group(session, scope, group_id)
    values = data.model_dump(exclude_unset=True)
    for required in ("name", "no_duplicate_events"):
        if required in values and values[required] is None:
            raise BadRequest(f"{required} cannot be null", code="invalid_value")
    if values.get("name"):
        _check_group_name(session, scope, values["name"], exclude_id=group.id)
    for key, value in values.items():
        setattr(group, key, value)
    session.flush()
    return group


def delete_group(session: Session, scope: Scope, group_id: int) -> None:
    session.delete(get_group(session, scope, group_id))
    session.flush()


def groups_query(scope: Scope, name: str | None = None) -> Select[Any]:
    """The tenant's groups; ``name`` keeps those whose name contains it, ignoring case
    (jtel's "get by name" is a partial match; % and _ are plain characters)."""
    stmt = select(AgentGroup).where(AgentGroup.tenant_id == scope.tenant_id)
    if name:
        stmt = stmt.where(AgentGroup.name.icontains(name, autoescape=True))
    return stmt


def find_groups_by_name(session: Session, scope: Scope, part: str) -> list[AgentGroup]:
    """Every group whose name contains ``part`` (any case), in id order."""
    return list(session.scalars(groups_query(scope, part).order_by(AgentGroup.id)))


def group_members_query(group: AgentGroup) -> Select[Any]:
    return (
        select(User)
        .join(AgentGroupMember, AgentGroupMember.user_id == User.id)
        .where(AgentGroupMember.group_id == group.id)
    )


def group_members(session: Session, group: AgentGroup) -> list[User]:
    return list(session.scalars(group_members_query(group).order_by(User.id)))


def add_group_member(session: Session, group: AgentGroup, user_id: int) -> tuple[User, bool]:
    """Make the tenant's user a member; idempotent. Returns the user and whether they joined
    just now. Another tenant's user id is a 404."""
    user = get_user(session, Scope.system(group.tenant_id), user_id)
    row = {"group_id": group.id, "user_id": user.id}
    joined = insert_new(session, AgentGroupMember, [row], AgentGroupMember.user_id)
    return user, bool(joined)


def remove_group_member(session: Session, group: AgentGroup, user_id: int) -> None:
    member = session.get(AgentGroupMember, (group.id, user_id))
    if member is None:
        raise NotFound("group_member", user_id)
    session.delete(member)
    session.flush()


def user_groups_query(user: User) -> Select[Any]:
    return (
        select(AgentGroup)
        .join(AgentGroupMember, AgentGroupMember.group_id == AgentGroup.id)
        .where(AgentGroupMember.user_id == user.id)
    )


def user_groups(session: Session, user: User) -> list[AgentGroup]:
    return list(session.scalars(user_groups_query(user).order_by(AgentGroup.id)))
