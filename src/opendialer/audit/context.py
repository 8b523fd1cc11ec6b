"""Who acts, for the audit trail.

A request gets an :class:`AuditContext` naming its face as it enters (``AuditFaces``, the
ASGI middleware); the places that check credentials fill in the actor (``act_as``,
``act_with``). The context is one mutable object per request: the worker threads a request's
handlers run in see copies of the request's context variables, so they all see (and fill in)
the same object. Work outside any context (the engine, housekeeping) is not audited.

A command line command that changes data runs inside ``acting_from_cli``: face ``cli``, the
actor the operating-system user who ran it (``os:alice``), the tenant once the command knows it.
"""

import functools
import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from opendialer.scoping import Scope

NATIVE = "native"
CONSOLE = "console"
JTEL = "jtel"
MMDIAL = "mmdial"
VOICENTER = "voicenter"
MINICRM = "minicrm"
CLI = "cli"
SCHEDULE = "schedule"  # work the server does on a schedule an operator set (dnc/schedule.py)
WEB = "web"  # any other path (the login pages, the token endpoint)


@dataclass(slots=True)
class BulkRun:
    """A bulk run (an import) writes one audit row with its counts, not one per record."""

    counts: dict[str, int] = field(default_factory=dict)

    def count(self, key: str, rows: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + rows


@dataclass(slots=True)
class AuditContext:
    face: str
    tenant_id: int | None = None
    user_id: int | None = None
    api_key_id: int | None = None
    credential: str | None = None  # a vendor face's credential (its safe prefix)
    bulk: BulkRun | None = None


_current: ContextVar[AuditContext | None] = ContextVar("opendialer_audit", default=None)

P = ParamSpec("P")
R = TypeVar("R")


def current() -> AuditContext | None:
    return _current.get()


@contextmanager
def acting_through(face: str) -> Iterator[AuditContext]:
    """Everything done inside is audited as done through ``face`` (by whoever authenticates)."""
    context = AuditContext(face)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def os_user() -> str:
    """The operating-system user running this process, as the CLI's actor."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for the uid (a container without a passwd entry)
        return f"os:uid {os.getuid()}"


@contextmanager
def acting_from_cli() -> Iterator[AuditContext]:
    """Everything done inside is audited as done through the command line by the OS user."""
    with acting_through(CLI) as context:
        context.credential = os_user()
        yield context


def audited_command(command: Callable[P, R]) -> Callable[P, R]:
    """A CLI command whose changes are audited (``acting_from_cli``); Typer reads the wrapped
    command's signature."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with acting_from_cli():
            return command(*args, **kwargs)

    setattr(run, AUDITED_MARK, True)
    return run


AUDITED_MARK = "__opendialer_audited__"


def act_for_tenant(scope: Scope) -> None:
    """The current context's tenant, once a command line command knows it (the OS user stays
    the actor)."""
    context = _current.get()
    if context is not None:
        context.tenant_id = scope.tenant_id


def act_as(scope: Scope, *, face: str | None = None) -> None:
    """The authenticated user or API key acts from here on (in the current request); ``face``
    when the credential tells the face better than the path (the console's session cookie on
    a native route is the console)."""
    context = _current.get()
    if context is not None:
        context.face = face or context.face
        context.tenant_id = scope.tenant_id
        context.user_id = scope.user_id
        context.api_key_id = scope.api_key_id


def act_with(credential: str, scope: Scope | None = None) -> None:
    """A vendor credential (a Voicenter code, a MiniCRM call-log key: only its safe prefix)
    acts, for the tenant of ``scope`` where the face knows it already."""
    context = _current.get()
    if context is not None:
        context.credential = credential[:100]
        if scope is not None:
            context.tenant_id = scope.tenant_id


@contextmanager
def bulk_run() -> Iterator[BulkRun]:
    """Inside, bulk statements count their rows into the run instead of writing audit rows;
    the run's owner writes one row with the counts (``service.record_run``)."""
    context = _current.get()
    run = BulkRun()
    if context is None:
        yield run
        return
    outer, context.bulk = context.bulk, run
    try:
        yield run
    finally:
        context.bulk = outer
