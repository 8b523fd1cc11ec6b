"""Bulk contact import: one pass over the file, a few thousand rows at a time.

Each chunk of rows goes through: phone normalisation (in worker processes for big files, the
slowest step by far), the do-not-call filter, the duplicate check against the database (earlier
chunks are already written, so duplicates inside the file are found the same way), then bulk
writes. Everything happens in the caller's transaction: a fatal error rolls all of it back.
"""

import gc
import json
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from time import perf_counter
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from opendialer.contacts.import_mapping import Row, RowMapper
from opendialer.contacts.import_schemas import (
    DuplicateKey,
    DuplicatePolicy,
    DuplicateScope,
    ImportFormat,
    ImportOptions,
    ImportReport,
    Outcome,
)
from opendialer.contacts.import_sources import Record, Source, open_source
from opendialer.contacts.import_writer import ContactWriter, Pending
from opendialer.dnc.service import blocked_numbers
from opendialer.errors import NotFound
from opendialer.models import Campaign, ContactList, DncEntry, FormField, Tenant
from opendialer.phones import e164_or_none

CHUNK_ROWS = 5000
LOOKUP_CHUNK = 50_000
POOL_MIN_BYTES = 4 << 20  # smaller files are normalised in this process
DNC_SET_LIMIT = 2_000_000  # a do-not-call list up to this size is loaded into memory once
Progress = Callable[[int], None]


# Phone normalisation --------------------------------------------------------------------


def normalise_numbers(raws: list[str], region: str) -> list[str | None]:
    """E.164 for each raw number (None when invalid); runs in a worker process."""
    seen: dict[str, str | None] = {}  # a number repeated in the chunk is parsed once
    out: list[str | None] = []
    for raw in raws:
        if raw in seen:
            out.append(seen[raw])
        else:
            out.append(seen.setdefault(raw, e164_or_none(raw, region)))
    return out


def _init_worker() -> None:
    # The importing process does the serial part (reading, writing); let it go first.
    os.nice(5)


class _Inline(Executor):
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def default_workers(size: int | None) -> int:
    """Worker processes for a file of ``size`` bytes: none for small files, else one per core."""
    if size is not None and size < POOL_MIN_BYTES:
        return 0
    return min(os.cpu_count() or 1, 8)


def _executor(workers: int) -> Executor:
    if workers < 1:
        return _Inline()
    # Not fork(): the API server runs threads, and forking a threaded process is unsafe.
    try:
        context: Any = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
    except ValueError:  # no forkserver on this platform
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker)


_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] = gc.get_threshold()
RELAXED_GC = (50_000, 50, 100)


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Rarer cyclic-GC passes while an import runs: with the default thresholds the collector
    keeps re-scanning the chunks in flight and more than doubles the time spent per row."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(*RELAXED_GC)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


# Do-not-call and duplicates -------------------------------------------------------------


class DncFilter:
    """The tenant's and the campaign's do-not-call numbers: a set, or queries for huge lists."""

    def __init__(self, session: Session, tenant_id: int, campaign_id: int) -> None:
        self.session, self.tenant_id, self.campaign_id = session, tenant_id, campaign_id
        scope = or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign_id)
        where = (DncEntry.tenant_id == tenant_id, scope)
        size = session.scalar(select(func.count()).select_from(DncEntry).where(*where)) or 0
        self.numbers: set[str] | None = None
        if size <= DNC_SET_LIMIT:
            self.numbers = set(session.scalars(select(DncEntry.e164).where(*where)))

    def blocked(self, numbers: set[str]) -> set[str]:
        if self.numbers is not None:
            return numbers & self.numbers
        return blocked_numbers(self.session, self.tenant_id, self.campaign_id, numbers)


class DuplicateIndex:
    """Existing contacts by key (a phone number, user_data or external_id) in the scope.

    One query per chunk; the keys travel as one parameter (a JSON array read with ``json_each``
    on SQLite, an array on PostgreSQL), and the lookup is a seek in the matching index.
    """

    def __init__(self, session: Session, campaign: Campaign, options: ImportOptions) -> None:
        self.session = session
        self.key = options.duplicate_key
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self.campaign_id = None if options.duplicate_scope is DuplicateScope.TENANT else campaign.id
        keys = "(SELECT value FROM json_each(:keys))" if self.sqlite else "ANY(:keys)"
        keys = f"IN {keys}" if self.sqlite else f"= {keys}"
        if self.key is DuplicateKey.PHONE:
            scope = "tenant_id = :tenant" if self.campaign_id is None else "campaign_id = :campaign"
            self.sql = text(
                f"SELECT e164, contact_id, campaign_id FROM contact_phones WHERE {scope}"
                f" AND e164 {keys}"
            )
        else:  # campaign scope filtered below: the (tenant_id, key) index does the seeking
            column = self.key.value
            self.sql = text(
                f"SELECT {column}, id, campaign_id FROM contacts WHERE tenant_id = :tenant"
                f" AND {column} {keys}"
            )
        self.params: dict[str, Any] = {"tenant": campaign.tenant_id, "campaign": campaign.id}

    def keys(self, row: Row, kept: list[str]) -> list[str]:
        if self.key is DuplicateKey.PHONE:
            return kept
        value = row.fields.get(self.key.value)
        return [value] if value else []

    def existing(self, keys: set[str]) -> dict[str, tuple[int, int]]:
        """key → (contact id, its campaign id); the oldest contact when several match."""
        found: dict[str, tuple[int, int]] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            chunk = ordered[start : start + LOOKUP_CHUNK]
            bound = json.dumps(chunk) if self.sqlite else chunk
            for key, contact_id, campaign_id in self.session.execute(
                self.sql, {**self.params, "keys": bound}
            ):
                if self.campaign_id is not None and campaign_id != self.campaign_id:
                    continue
                if key not in found or contact_id < found[key][0]:
                    found[key] = (contact_id, campaign_id)
        return found


# One chunk ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Checked:
    """A row whose numbers passed: what to write, its duplicate keys, notes for the report."""

    row: Row
    pending: Pending
    keys: list[str]
    notes: list[str] | None


@dataclass
class _Plan:
    """What one chunk writes: new contacts, and merged changes to existing ones."""

    inserts: list[Pending] = field(default_factory=list)
    updates: dict[int, Pending] = field(default_factory=dict)
    by_key: dict[str, Pending] = field(default_factory=dict)


def _merge(target: Pending, source: Pending) -> None:
    target.fields.update(source.fields)
    target.phones.update(source.phones)
    for name, values in source.extra.items():
        target.extra.setdefault(name, {}).update(values)


class ChunkProcessor:
    def __init__(
        self,
        session: Session,
        campaign: Campaign,
        options: ImportOptions,
        report: ImportReport,
        mapper: RowMapper,
    ) -> None:
        self.campaign_id, self.options, self.report, self.mapper = (
            campaign.id,
            options,
            report,
            mapper,
        )
        self.dnc = DncFilter(session, campaign.tenant_id, campaign.id)
        self.duplicates = DuplicateIndex(session, campaign, options)
        self.writer = ContactWriter(session, campaign, options.list_id)
        self._issues: list[tuple[int, Outcome, str, Any]] = []

    def process(self, items: list[Row | Record], numbers: list[str | None]) -> None:
        valid = {n for n in numbers if n is not None}
        blocked = self.dnc.blocked(valid) if valid else set()
        checked: list[_Checked | Record] = []
        position = 0
        for item in items:
            if isinstance(item, Record):
                checked.append(item)
                continue
            count = len(item.phones)
            passed = self._check(item, numbers[position : position + count], blocked)
            position += count
            if passed is not None:
                checked.append(passed)
        self._decide(checked)
        for entry in sorted(self._issues, key=lambda issue: issue[0]):
            self.report.add(*entry)
        self._issues.clear()

    def _log(self, line: int, outcome: Outcome, message: str, data: Any) -> None:
        """Rows for the report, written in line order once the chunk is done."""
        self._issues.append((line, outcome, message, data))

    def _check(self, row: Row, numbers: list[str | None], blocked: set[str]) -> _Checked | None:
        """The row with its numbers checked, or None after reporting why it is not imported."""
        phones: dict[int, tuple[str, str | None]] = {}
        kept: list[str] = []
        notes: list[str] = []
        dropped: list[str] = []
        for (position, raw), e164 in zip(row.phones, numbers, strict=True):
            if e164 is not None and e164 not in blocked and e164 not in kept:
                phones[position] = (raw, e164)
                kept.append(e164)
            elif e164 is None:
                phones[position] = (raw, None)
                notes.append(f"phone{position} {raw!r} is not a valid number (kept as invalid)")
            elif e164 in blocked:
                dropped.append(f"phone{position} {e164}")
            else:
                notes.append(f"phone{position} {e164} repeats another number of the row; dropped")
        if not kept:
            self._reject(row, row.phones, dropped)
            return None
        if dropped:
            notes.append("on the do-not-call list, dropped: " + ", ".join(dropped))
        pending = Pending(row.line, row.fields, phones, row.extra, None, self.campaign_id)
        return _Checked(row, pending, self.duplicates.keys(row, kept), notes or None)

    def _reject(self, row: Row, phones: list[tuple[int, str]], dropped: list[str]) -> None:
        data = self.mapper.describe(row.source)
        if dropped:
            message = "every valid number is on the do-not-call list: " + ", ".join(dropped)
            self._log(row.line, Outcome.DNC, message, data)
        else:
            invalid = ", ".join(f"phone{p} {raw!r}" for p, raw in phones) or "none given"
            self._log(row.line, Outcome.INVALID_NUMBER, f"no valid number: {invalid}", data)

    def _decide(self, checked: list[_Checked | Record]) -> None:
        existing: dict[str, tuple[int, int]] = {}
        if self.options.duplicates is not DuplicatePolicy.ALLOW:
            keys = {k for c in checked if isinstance(c, _Checked) for k in c.keys}
            existing = self.duplicates.existing(keys) if keys else {}
        plan = _Plan()
        for item in checked:
            if isinstance(item, Record):
                data = self.mapper.describe(item.raw)
                self._log(item.line, Outcome.MALFORMED, item.error or "", data)
            else:
                self._place(plan, item, existing)
        self.writer.insert(plan.inserts)
        self.writer.update(list(plan.updates.values()))

    def _place(self, plan: _Plan, item: _Checked, existing: dict[str, tuple[int, int]]) -> None:
        policy, pending = self.options.duplicates, item.pending
        earlier: Pending | None = None
        stored: tuple[int, int] | None = None
        match = ""
        if policy is not DuplicatePolicy.ALLOW:
            for match in item.keys:
                if (earlier := plan.by_key.get(match)) or (stored := existing.get(match)):
                    break
        outcome = Outcome.IMPORTED
        if policy is DuplicatePolicy.SKIP and (earlier or stored):
            what = f"line {earlier.line}" if earlier else f"contact {stored[0]}"  # type: ignore[index]
            message = f"same {self.duplicates.key.value} {match} as {what}"
            self._log(
                item.row.line, Outcome.DUPLICATE, message, self.mapper.describe(item.row.source)
            )
            return
        if earlier is not None:
            _merge(earlier, pending)
            outcome, pending = Outcome.UPDATED, earlier
        elif stored is not None:
            target = plan.updates.get(stored[0])
            if target is None:
                target = plan.updates[stored[0]] = Pending(pending.line, {}, {}, {}, *stored)
            _merge(target, pending)
            outcome, pending = Outcome.UPDATED, target
        else:
            plan.inserts.append(pending)
        for key in item.keys:
            plan.by_key[key] = pending
        if item.notes:
            message = "; ".join(item.notes)
            self._log(item.row.line, outcome, message, self.mapper.describe(item.row.source))
        else:
            self.report.counts[outcome] += 1


# The whole file -------------------------------------------------------------------------


def _items(source: Iterable[Record], mapper: RowMapper) -> Iterator[Row | Record]:
    for record in source:
        if record.error is not None:
            yield record
            continue
        row = mapper.row(record)
        yield row if isinstance(row, Row) else Record(record.line, None, row, raw=record.values)


def _chunks(items: Iterator[Row | Record]) -> Iterator[tuple[list[Row | Record], list[str]]]:
    """Chunks of rows with the raw numbers to normalise, in row order."""
    chunk: list[Row | Record] = []
    raws: list[str] = []
    for item in items:
        chunk.append(item)
        if isinstance(item, Row):
            raws.extend([raw for _position, raw in item.phones])
        if len(chunk) >= CHUNK_ROWS:
            yield chunk, raws
            chunk, raws = [], []
    if chunk:
        yield chunk, raws


def _pipeline(
    chunks: Iterator[tuple[list[Row | Record], list[str]]],
    executor: Executor,
    region: str,
    processor: ChunkProcessor,
    lookahead: int,
    progress: Progress | None,
    source: Source,
) -> None:
    """Normalise up to ``lookahead`` chunks ahead while earlier chunks are checked and written."""
    queue: deque[tuple[list[Row | Record], Future[list[str | None]]]] = deque()
    for chunk, raws in _chunks_with_progress(chunks, progress, source):
        queue.append((chunk, executor.submit(normalise_numbers, raws, region)))
        if len(queue) > lookahead:
            items, numbers = queue.popleft()
            processor.process(items, numbers.result())
    while queue:
        items, numbers = queue.popleft()
        processor.process(items, numbers.result())


def _chunks_with_progress(
    chunks: Iterator[tuple[list[Row | Record], list[str]]],
    progress: Progress | None,
    source: Source,
) -> Iterator[tuple[list[Row | Record], list[str]]]:
    for chunk in chunks:
        yield chunk
        if progress is not None:
            progress(source.bytes_read)


def _check_list(session: Session, campaign: Campaign, list_id: int | None) -> None:
    if list_id is not None:
        record = session.get(ContactList, list_id)
        if record is None or record.campaign_id != campaign.id:
            raise NotFound("list", list_id)


def import_contacts(
    session: Session,
    campaign: Campaign,
    file: IO[bytes],
    options: ImportOptions,
    fmt: ImportFormat,
    *,
    size: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    region: str | None = None,
) -> ImportReport:
    """Import ``file`` into ``campaign``; the caller commits (or rolls back) the session.

    National numbers are read in ``region`` (default: the tenant's default region).
    """
    started = perf_counter()
    tenant = session.get_one(Tenant, campaign.tenant_id)
    _check_list(session, campaign, options.list_id)
    source = open_source(file, fmt, options.encoding, options.delimiter)
    form_fields = session.scalars(
        select(FormField.name).where(FormField.campaign_id == campaign.id)
    )
    mapper = RowMapper(options, ZoneInfo(tenant.timezone), source.columns, set(form_fields))
    report = ImportReport(
        campaign.id, fmt, options.encoding, source.delimiter, source.line_kind, source.columns or []
    )
    try:
        processor = ChunkProcessor(session, campaign, options, report, mapper)
        count = default_workers(size) if workers is None else workers
        with relaxed_gc(), _executor(count) as executor:
            chunks = _chunks(_items(source.records(), mapper))
            region = region or tenant.default_region
            _pipeline(chunks, executor, region, processor, 2 * max(count, 1), progress, source)
    except BaseException:
        report.close()
        raise
    report.mapping, report.unmapped_columns = mapper.mapping, mapper.unmapped
    report.seconds = perf_counter() - started
    return report
