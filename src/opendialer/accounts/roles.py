"""Who may call a native route, decided in its signature: the scope parameter's type names the
least role the route needs (agent < supervisor < admin), and the dependency behind the type is
the one place that calls :func:`opendialer.scoping.require_role` (a 403 ``forbidden``).

``Read...`` types authenticate in a read-only transaction (see ``ReadScope``)."""

from typing import Annotated

from fastapi import Depends

from opendialer.accounts.dependencies import CurrentScope, ReadScope
from opendialer.models import UserRole
from opendialer.scoping import Scope, require_role


def agent_scope(who: CurrentScope) -> Scope:
    require_role(who, UserRole.AGENT)
    return who


def supervisor_scope(who: CurrentScope) -> Scope:
    require_role(who, UserRole.SUPERVISOR)
    return who


def admin_scope(who: CurrentScope) -> Scope:
    require_role(who, UserRole.ADMIN)
    return who


def agent_read_scope(who: ReadScope) -> Scope:
    require_role(who, UserRole.AGENT)
    return who


def supervisor_read_scope(who: ReadScope) -> Scope:
    require_role(who, UserRole.SUPERVISOR)
    return who


def admin_read_scope(who: ReadScope) -> Scope:
    require_role(who, UserRole.ADMIN)
    return who


AgentScope = Annotated[Scope, Depends(agent_scope)]
SupervisorScope = Annotated[Scope, Depends(supervisor_scope)]
AdminScope = Annotated[Scope, Depends(admin_scope)]
AgentReadScope = Annotated[Scope, Depends(agent_read_scope)]
SupervisorReadScope = Annotated[Scope, Depends(supervisor_read_scope)]
AdminReadScope = Annotated[Scope, Depends(admin_read_scope)]

ROLE_DEPENDENCIES = {
    agent_scope: UserRole.AGENT,
    supervisor_scope: UserRole.SUPERVISOR,
    admin_scope: UserRole.ADMIN,
    agent_read_scope: UserRole.AGENT,
    supervisor_read_scope: UserRole.SUPERVISOR,
    admin_read_scope: UserRole.ADMIN,
}
