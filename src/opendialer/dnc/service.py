"""Do-not-call rules: which numbers a campaign must never dial, and keeping the lists.

A tenant has one tenant-wide list (``campaign_id`` NULL) that blocks every campaign, and each
campaign may have its own list that blocks only that campaign. The same number may be on both.
"""

import re
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    ColumnExpressionArgument,
    Select,
    SQLColumnExpression,
    delete,
    or_,
    select,
)
from sqlalchemy.orm import Session

from opendialer.audit.context import bulk_run
from opendialer.audit.recorder import record_run
from opendialer.dedupe import insert_new_keys
from opendialer.dnc.schemas import DncCheck, DncEntryRead, DncOutcome, DncRecordOutcome
from opendialer.errors import BadRequest
from opendialer.models import Campaign, DncEntry, Tenant
from opendialer.phones import Phone, normalize
from opendialer.scoping import Scope, get_owned, tenant_of

# Keeps IN (...) lists under every database's bind-parameter limit.
LOOKUP_CHUNK = 5000

T = TypeVar("T")


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _blocking_lists(
    campaign_id: int | BindParameter[int] | None,
    list_column: SQLColumnExpression[int | None] = DncEntry.campaign_id,
) -> ColumnElement[bool]:
    """The lists that block a campaign: the tenant-wide one, plus the campaign's own."""
    tenant_wide: ColumnElement[bool] = list_column.is_(None)
    if campaign_id is None:
        return tenant_wide
    return or_(tenant_wide, list_column == campaign_id)


def _in_force(
    now: datetime | BindParameter[datetime],
    expires_at: SQLColumnExpression[datetime | None] = DncEntry.expires_at,
) -> ColumnElement[bool]:
    """Entries that have not expired (an entry without ``expires_at`` never does)."""
    return or_(expires_at.is_(None), expires_at > now)


def _exact_list(campaign_id: int | None) -> ColumnElement[bool]:
    """Exactly one list: the tenant-wide one, or the campaign's own."""
    if campaign_id is None:
        return DncEntry.campaign_id.is_(None)
    return DncEntry.campaign_id == campaign_id


def _entries(
    session: Session, scope: Scope, numbers: Collection[str], lists: ColumnElement[bool]
) -> Iterator[DncEntry]:
    for chunk in _chunks(sorted(set(numbers)), LOOKUP_CHUNK):
        stmt = select(DncEntry).where(
            DncEntry.tenant_id == scope.tenant_id, DncEntry.e164.in_(chunk), lists
        )
        yield from session.scalars(stmt.order_by(DncEntry.id))


def blocked_numbers(
    session: Session, scope: Scope, campaign_id: int | None, numbers: Collection[str]
) -> set[str]:
    """The E.164 numbers among ``numbers`` on the tenant's list or on the campaign's list."""
    blocked: set[str] = set()
    for chunk in _chunks(sorted(set(numbers)), LOOKUP_CHUNK):
        stmt = select(DncEntry.e164).where(
            DncEntry.tenant_id == scope.tenant_id,
            DncEntry.e164.in_(chunk),
            _blocking_lists(campaign_id),
            _in_force(datetime.now(UTC)),
        )
        blocked.update(session.scalars(stmt))
    return blocked


def blocked_clause(
    tenant_id: int | BindParameter[int],
    campaign_id: int | BindParameter[int] | None,
    e164: ColumnExpressionArgument[str | None],
    now: BindParameter[datetime],
) -> ColumnElement[bool]:
    """SQL truth of "``e164`` is on the tenant's list or on the campaign's list" at ``now``.

    For reading the DNC state together with the numbers in one query (the engine's claim); in
    table columns, so that query stays a plain Core statement.
    """
    entries = DncEntry.__table__.c
    return (
        select(entries.id)
        .where(
            entries.tenant_id == tenant_id,
            entries.e164 == e164,
            _blocking_lists(campaign_id, entries.campaign_id),
            _in_force(now, entries.expires_at),
        )
        .exists()
    )


def is_blocked(session: Session, scope: Scope, campaign_id: int | None, e164: str) -> bool:
    return bool(blocked_numbers(session, scope, campaign_id, [e164]))


def check_campaign(session: Session, scope: Scope, campaign_id: int | None) -> None:
    """A campaign id must name one of the tenant's campaigns (404 otherwise)."""
    if campaign_id is not None:
        get_owned(session, Campaign, scope, campaign_id, "campaign")


def _normalize_all(tenant: Tenant, raws: Sequence[str]) -> list[Phone]:
    return [normalize(raw, tenant.default_region) for raw in raws]


def _valid_e164s(phones: list[Phone]) -> list[str]:
    return [p.e164 for p in phones if p.e164 is not None]


def add_numbers(
    session: Session,
    scope: Scope,
    campaign_id: int | None,
    raws: Sequence[str],
    source: str = "api",
    note: str | None = None,
    expires_at: datetime | None = None,
) -> list[DncRecordOutcome]:
    """Put numbers on one list; each record says ``added``, ``exists`` or ``invalid_number``.

    Adding is idempotent: a number already on that list (or earlier in ``raws``, in any format)
    is ``exists`` and keeps its original source and note.
    """
    tenant = tenant_of(session, scope)
    check_campaign(session, scope, campaign_id)
    phones = _normalize_all(tenant, raws)
    lists = _exact_list(campaign_id)
    on_list = {e.e164 for e in _entries(session, scope, _valid_e164s(phones), lists)}
    new_numbers = list(dict.fromkeys(n for n in _valid_e164s(phones) if n not in on_list))
    # A number another request put on the list meanwhile is not inserted again: "exists".
    added = _insert(session, scope, campaign_id, new_numbers, (source, note, expires_at))
    records = []
    for phone in phones:
        if phone.e164 is None:
            outcome = DncOutcome.INVALID_NUMBER
        elif phone.e164 in added:
            added.discard(phone.e164)  # a repeat later in ``raws`` is "exists"
            outcome = DncOutcome.ADDED
        else:
            outcome = DncOutcome.EXISTS
        records.append(DncRecordOutcome(number=phone.raw, e164=phone.e164, outcome=outcome))
    return records


def _insert(
    session: Session,
    scope: Scope,
    campaign_id: int | None,
    numbers: list[str],
    details: tuple[str, str | None, datetime | None],
) -> set[str]:
    """The numbers inserted, in one INSERT that skips numbers already on the list; ``details``
    are the entries' source, note and expiry."""
    source, note, expires_at = details
    shared: dict[str, object] = {"tenant_id": scope.tenant_id, "campaign_id": campaign_id}
    shared |= {"source": source, "note": note, "expires_at": expires_at}
    shared["created_at"] = datetime.now(UTC)
    return insert_new_keys(session, DncEntry, shared, DncEntry.e164, numbers)


def remove_numbers(
    session: Session, scope: Scope, campaign_id: int | None, raws: Sequence[str]
) -> list[DncRecordOutcome]:
    """Take numbers off one list; each record says ``removed``, ``not_found`` or
    ``invalid_number``. Removing from the tenant-wide list leaves campaign lists alone, and
    the other way round."""
    tenant = tenant_of(session, scope)
    check_campaign(session, scope, campaign_id)
    phones = _normalize_all(tenant, raws)
    lists = _exact_list(campaign_id)
    on_list = {e.e164: e.id for e in _entries(session, scope, _valid_e164s(phones), lists)}
    records, removed_ids = [], []
    for phone in phones:
        entry_id = on_list.pop(phone.e164, None) if phone.e164 else None
        if phone.e164 is None:
            outcome = DncOutcome.INVALID_NUMBER
        elif entry_id is None:
            outcome = DncOutcome.NOT_FOUND
        else:
            removed_ids.append(entry_id)
            outcome = DncOutcome.REMOVED
        records.append(DncRecordOutcome(number=phone.raw, e164=phone.e164, outcome=outcome))
    for chunk in _chunks(removed_ids, LOOKUP_CHUNK):
        session.execute(delete(DncEntry).where(DncEntry.id.in_(chunk)))
    return records


def replace_list(
    session: Session,
    scope: Scope,
    campaign_id: int | None,
    raws: Sequence[str],
    details: tuple[str, str | None, datetime | None] = ("api", None, None),
) -> tuple[list[DncRecordOutcome], int]:
    """Make one list exactly ``raws`` (its new version); the records' outcomes (``added``,
    ``exists``: kept as it was, ``invalid_number``) and how many entries left the list.

    Atomic as the caller's transaction is: readers see the old list until it commits, a failure
    rolls everything back. A version without one valid number is refused (it would empty the
    list by mistake); emptying is ``dnc:remove``. One audit row for the whole replacement.
    """
    tenant = tenant_of(session, scope)
    check_campaign(session, scope, campaign_id)
    wanted = set(_valid_e164s(_normalize_all(tenant, raws)))
    if not wanted:
        raise BadRequest(
            "No valid number in the new list; the list is unchanged", code="empty_dnc_list"
        )
    with bulk_run() as run:
        removed = _drop_all_but(session, scope, campaign_id, wanted)
        source, note, expires_at = details
        records = add_numbers(session, scope, campaign_id, raws, source, note, expires_at)
        record_run(
            session,
            ("dnc_entries", "*" if campaign_id is None else f"campaign:{campaign_id}"),
            "replace",
            {"numbers": len(raws), "removed": removed, "rows": run.counts},
        )
    return records, removed


def _drop_all_but(session: Session, scope: Scope, campaign_id: int | None, kept: set[str]) -> int:
    """Delete the list's entries whose number is not in ``kept``; how many."""
    stmt = select(DncEntry.id, DncEntry.e164).where(
        DncEntry.tenant_id == scope.tenant_id, _exact_list(campaign_id)
    )
    gone = [entry_id for entry_id, e164 in session.execute(stmt) if e164 not in kept]
    for chunk in _chunks(gone, LOOKUP_CHUNK):
        session.execute(delete(DncEntry).where(DncEntry.id.in_(chunk)))
    return len(gone)


def _check_result(phone: Phone, entries: list[DncEntry]) -> DncCheck:
    return DncCheck(
        number=phone.raw,
        e164=phone.e164,
        blocked=bool(entries),
        on_tenant_list=any(e.campaign_id is None for e in entries),
        on_campaign_list=any(e.campaign_id is not None for e in entries),
        entries=[DncEntryRead.model_validate(e) for e in entries],
    )


def check_numbers(
    session: Session, scope: Scope, campaign_id: int | None, raws: Sequence[str]
) -> list[DncCheck]:
    """For each number: is it blocked for the campaign, and by which entries?

    Without a campaign only the tenant-wide list counts. An invalid number is reported with
    ``e164`` None and ``blocked`` False (it cannot be dialled anyway).
    """
    tenant = tenant_of(session, scope)
    check_campaign(session, scope, campaign_id)
    phones = _normalize_all(tenant, raws)
    by_number: dict[str, list[DncEntry]] = defaultdict(list)
    for entry in _entries(session, scope, _valid_e164s(phones), _blocking_lists(campaign_id)):
        by_number[entry.e164].append(entry)
    return [_check_result(p, by_number.get(p.e164, []) if p.e164 else []) for p in phones]


def dnc_query(
    scope: Scope,
    *,
    campaign_id: int | None = None,
    tenant_wide: bool = False,
    number: str | None = None,
) -> Select[Any]:
    """The tenant's entries: all, one campaign's own list, or the tenant-wide list only;
    ``number`` keeps entries whose E.164 form contains its digits."""
    if tenant_wide and campaign_id is not None:
        raise BadRequest(
            "Filter by campaign_id or by tenant_wide, not both", code="conflicting_filters"
        )
    stmt = select(DncEntry).where(DncEntry.tenant_id == scope.tenant_id)
    if tenant_wide:
        stmt = stmt.where(DncEntry.campaign_id.is_(None))
    elif campaign_id is not None:
        stmt = stmt.where(DncEntry.campaign_id == campaign_id)
    search_digits = re.sub(r"\D", "", number or "")
    if search_digits:
        stmt = stmt.where(DncEntry.e164.contains(search_digits, autoescape=True))
    return stmt


def tenant_wide_numbers(
    session: Session, scope: Scope, *, batch: int = 10_000
) -> Iterator[list[str]]:
    """The tenant-wide list's E.164 numbers in the order they were added, ``batch`` at a time
    (streamed from the database: a list of millions never sits in memory)."""
    stmt = dnc_query(scope, tenant_wide=True).with_only_columns(DncEntry.e164)
    rows = session.execute(stmt.order_by(DncEntry.id).execution_options(yield_per=batch))
    for part in rows.partitions():
        yield [row[0] for row in part]


def tenant_wide_matches(session: Session, scope: Scope, *, digits: str, limit: int) -> list[str]:
    """Up to ``limit`` E.164 numbers of the tenant-wide list that contain ``digits``."""
    stmt = dnc_query(scope, tenant_wide=True, number=digits).with_only_columns(DncEntry.e164)
    return list(session.scalars(stmt.order_by(DncEntry.id).limit(limit)))


def delete_entry(session: Session, scope: Scope, entry_id: int) -> None:
    session.delete(get_owned(session, DncEntry, scope, entry_id, "dnc_entry"))
    session.flush()
