"""Bulk contact import: one pass over the file, a few thousand rows at a time.

The reading side (``reading``: read, map, normalise the numbers, drop do-not-call
numbers) runs in a second process for big files; here each checked chunk is looked up against
the contacts already stored (earlier chunks are written, so duplicates inside the file are found
the same way), placed, written in bulk and reported. Everything happens in the caller's
transaction: an error that stops the import rolls all of it back.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from time import perf_counter
from typing import IO, Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from opendialer.audit.context import bulk_run
from opendialer.audit.recorder import record_run
from opendialer.contacts.imports.mapping import describe
from opendialer.contacts.imports.process import ReadingProcess
from opendialer.contacts.imports.reading import (
    CheckedChunk,
    CheckedRow,
    FileReader,
    Issue,
    Reader,
    ReadJob,
    relaxed_gc,
)
from opendialer.contacts.imports.schemas import (
    DuplicateKey,
    DuplicatePolicy,
    DuplicateScope,
    ImportFormat,
    ImportOptions,
    ImportReport,
    Outcome,
)
from opendialer.contacts.imports.writer import ContactWriter, Pending
from opendialer.contacts.service import guard_duplicates, own_caller_id_problem
from opendialer.dnc.service import blocked_numbers
from opendialer.errors import NotFound
from opendialer.models import (
    Campaign,
    ContactList,
    DncEntry,
    FormField,
    OwnCallerIdCheck,
    Tenant,
)
from opendialer.scoping import Scope

LOOKUP_CHUNK = 50_000
PARALLEL_MIN_BYTES = 4 << 20  # smaller files are read in the importing process
DNC_SET_LIMIT = 2_000_000  # a do-not-call list up to this size is loaded into memory once
Progress = Callable[[int], None]


# Do-not-call and duplicates -------------------------------------------------------------


class DncFilter:
    """The tenant's and the campaign's do-not-call numbers: a set, or queries for huge lists."""

    def __init__(self, session: Session, scope: Scope, campaign_id: int) -> None:
        self.session, self.tenant_id, self.campaign_id = session, scope.tenant_id, campaign_id
        lists = or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign_id)
        where = (DncEntry.tenant_id == scope.tenant_id, lists)
        size = session.scalar(select(func.count()).select_from(DncEntry).where(*where)) or 0
        self.numbers: set[str] | None = None
        if size <= DNC_SET_LIMIT:
            self.numbers = set(session.scalars(select(DncEntry.e164).where(*where)))

    def blocked(self, numbers: set[str]) -> set[str]:
        if self.numbers is not None:
            return numbers & self.numbers
        return blocked_numbers(
            self.session, Scope.system(self.tenant_id), self.campaign_id, numbers
        )


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
        # A JSON array on both: one string to bind (a list of 10,000 keys is dumped value by
        # value); on PostgreSQL made an array once, so that each key seeks the index.
        keys = (
            "IN (SELECT value FROM json_each(:keys))"
            if self.sqlite
            else "= ANY(ARRAY(SELECT json_array_elements_text(CAST(:keys AS json))))"
        )
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

    def existing(self, keys: set[str]) -> dict[str, tuple[int, int]]:
        """key → (contact id, its campaign id); the oldest contact when several match."""
        found: dict[str, tuple[int, int]] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            chunk = ordered[start : start + LOOKUP_CHUNK]
            for key, contact_id, campaign_id in self.session.execute(
                self.sql, {**self.params, "keys": json.dumps(chunk)}
            ):
                if self.campaign_id is not None and campaign_id != self.campaign_id:
                    continue
                if key not in found or contact_id < found[key][0]:
                    found[key] = (contact_id, campaign_id)
        return found


class CallerIdCheck:
    """A row's own caller ID against the campaign's ``own_caller_id_check``, as the native,
    jtel and Voicenter faces check it; each distinct caller ID is checked once."""

    def __init__(self, session: Session, campaign: Campaign, region: str) -> None:
        self.session = session
        self.check = (campaign.own_caller_id_check, campaign.id, region)
        self.problems: dict[str, str | None] = {}
        self.on = OwnCallerIdCheck(self.check[0]) != OwnCallerIdCheck.OFF  # asked once per row

    def problem(self, raw: str) -> str | None:
        if raw not in self.problems:
            self.problems[raw] = own_caller_id_problem(self.session, self.check, raw)
        return self.problems[raw]


def _caller_id(row: CheckedRow) -> Any:
    """The row's caller ID, from the fields it travels with (see ``CheckedRow``)."""
    merge = row[6]
    return merge[0].get("caller_id") if merge is not None else None


# One chunk ------------------------------------------------------------------------------


@dataclass
class _Plan:
    """What one chunk writes: new contacts, and merged changes to existing ones."""

    inserts: list[Pending] = field(default_factory=list)
    updates: dict[int, Pending] = field(default_factory=dict)
    by_key: dict[str, Pending] = field(default_factory=dict)


def _merge(target: Pending, source: Pending) -> None:
    target.values = target.copied = None  # the writer makes its row again, from the merged fields
    target.fields.update(source.fields)
    target.phones.update(source.phones)
    for name, values in source.extra.items():
        target.extra.setdefault(name, {}).update(values)


class ChunkImporter:
    """Checked chunks into the database: duplicates looked up and placed, rows written, and
    every row counted in the report, in line order within the chunk."""

    def __init__(
        self,
        session: Session,
        campaign: Campaign,
        options: ImportOptions,
        report: ImportReport,
        columns: list[str] | None,
        caller_ids: CallerIdCheck,
        copied: bool = False,
    ) -> None:
        self.campaign_id, self.options, self.report = campaign.id, options, report
        self.columns, self.caller_ids = columns, caller_ids
        self.duplicates = DuplicateIndex(session, campaign, options)
        self.writer = ContactWriter(session, campaign, options.list_id)
        self.copied = copied  # the rows come in COPY's text format (``ReadJob.copy_text``)
        self._issues: list[Issue] = []

    def process(self, chunk: CheckedChunk) -> None:
        self._issues.extend(chunk.issues)
        self._decide(chunk.rows, chunk.names)
        for entry in sorted(self._issues, key=lambda issue: issue[0]):
            self.report.add(*entry)
        self._issues.clear()

    def _log(self, line: int, outcome: Outcome, message: str, source: Any) -> None:
        self._issues.append((line, outcome, message, describe(self.columns, source)))

    def _decide(self, rows: list[CheckedRow], names: list[str]) -> None:
        existing: dict[str, tuple[int, int]] = {}
        if self.options.duplicates is not DuplicatePolicy.ALLOW:
            keys = {key for row in rows for key in row[3]}  # each row's duplicate keys
            existing = self.duplicates.existing(keys) if keys else {}
        plan = _Plan()
        for row in rows:
            if not self._refused_caller_id(row):
                self._place(plan, row, existing)
        self.writer.insert(plan.inserts, names)
        self.writer.update(list(plan.updates.values()))

    def _refused_caller_id(self, row: CheckedRow) -> bool:
        """A caller ID the campaign may not present refuses the row (malformed, as a bad field
        is: the native API answers 400 invalid_caller_id, Voicenter refuses the target)."""
        if not self.caller_ids.on:
            return False
        raw = _caller_id(row)
        problem = self.caller_ids.problem(str(raw)) if raw else None
        if problem is None:
            return False
        self._log(row[0], Outcome.MALFORMED, f"caller_id: {raw!r} is {problem}", row[5])
        return True

    def _place(self, plan: _Plan, row: CheckedRow, existing: dict[str, tuple[int, int]]) -> None:
        line, values, phones, keys, notes, source, merge = row
        policy = self.options.duplicates
        earlier: Pending | None = None
        stored: tuple[int, int] | None = None
        match = ""
        if policy is not DuplicatePolicy.ALLOW:
            for match in keys:
                if (earlier := plan.by_key.get(match)) or (stored := existing.get(match)):
                    break
        if policy is DuplicatePolicy.SKIP and (earlier or stored):
            what = f"line {earlier.line}" if earlier else f"contact {stored[0]}"  # type: ignore[index]
            message = f"same {self.duplicates.key.value} {match} as {what}"
            self._log(line, Outcome.DUPLICATE, message, source)
            return
        fields, extra = merge or ({}, {})
        pending = Pending(line, fields, phones, extra, None, self.campaign_id)
        if self.copied:
            pending.copied = values
        else:
            pending.values = values
        outcome = Outcome.IMPORTED
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
        for key in keys:
            plan.by_key[key] = pending
        if notes:
            self._log(line, outcome, "; ".join(notes), source)
        else:
            self.report.counts[outcome] += 1


# The whole file -------------------------------------------------------------------------


def _check_list(session: Session, campaign: Campaign, list_id: int | None) -> None:
    if list_id is not None:
        record = session.get(ContactList, list_id)
        if record is None or record.campaign_id != campaign.id:
            raise NotFound("list", list_id)


@contextmanager
def _open_reader(file: IO[bytes], job: ReadJob, dnc: DncFilter, parallel: bool) -> Iterator[Reader]:
    """The file's reader: a second process when asked for and the do-not-call list fits in
    memory (it travels there), else this process."""
    if parallel and dnc.numbers is not None:
        with ReadingProcess(file, job, dnc.numbers) as reader:
            yield reader
    else:
        yield FileReader(file, job, dnc.blocked)


def _import_chunks(reader: Reader, importer: ChunkImporter, progress: Progress | None) -> None:
    for chunk in reader.chunks():
        importer.process(chunk)
        if progress is not None:
            progress(chunk.bytes_read)


def import_contacts(
    session: Session,
    campaign: Campaign,
    file: IO[bytes],
    options: ImportOptions,
    fmt: ImportFormat,
    *,
    size: int | None = None,
    parallel: bool | None = None,
    progress: Progress | None = None,
    region: str | None = None,
) -> ImportReport:
    """Import ``file`` into ``campaign``; the caller commits (or rolls back) the session.

    The file is read in a second process when ``parallel`` (default: when ``size`` is unknown or
    at least 4 MiB). National numbers are read in ``region`` (default: the tenant's).
    """
    started = perf_counter()
    if options.duplicates is not DuplicatePolicy.ALLOW:
        guard_duplicates(session, Scope.system(campaign.tenant_id))
    tenant = session.get_one(Tenant, campaign.tenant_id)
    _check_list(session, campaign, options.list_id)
    form_fields = session.scalars(
        select(FormField.name).where(FormField.campaign_id == campaign.id)
    )
    region = region or tenant.default_region
    # PostgreSQL COPYs new rows as text that the reading side makes; rows that may be merged
    # into others (overwrite) are made by the writer, from their fields.
    copy_text = session.get_bind().dialect.name == "postgresql"
    copy_text = copy_text and options.duplicates is not DuplicatePolicy.OVERWRITE
    job = ReadJob(fmt, options, tenant.timezone, frozenset(form_fields), region, copy_text)
    dnc = DncFilter(session, Scope.system(campaign.tenant_id), campaign.id)
    if parallel is None:
        parallel = size is None or size >= PARALLEL_MIN_BYTES
    with relaxed_gc(), bulk_run() as run, _open_reader(file, job, dnc, parallel) as reader:
        delimiter, kind, columns = reader.info
        report = ImportReport(campaign.id, fmt, options.encoding, delimiter, kind, columns or [])
        try:
            caller_ids = CallerIdCheck(session, campaign, region)
            importer = ChunkImporter(
                session, campaign, options, report, columns, caller_ids, copied=copy_text
            )
            _import_chunks(reader, importer, progress)
            report.mapping, report.unmapped_columns = reader.mapped()
        except BaseException:
            report.close()
            raise
    report.seconds = perf_counter() - started
    # One audit row for the run, with its counts (not one per contact).
    entity = ("campaigns", str(campaign.id))
    record_run(session, entity, "import", {"outcomes": report.counts, "rows": run.counts})
    return report
