"""The reading side of a contact import: records read, mapped, normalised and checked.

A chunk of rows leaves here with its phone numbers in E.164, do-not-call numbers dropped, its
duplicate keys and the report entries of the rows that failed. The importing side (``importer``)
then looks up duplicates, writes and reports. For a big file the reading side runs in a second
process (``process``), so the two halves share the machine's cores.
"""

import gc
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from opendialer.contacts.imports.mapping import Row, RowMapper, packed
from opendialer.contacts.imports.schemas import (
    DuplicateKey,
    DuplicatePolicy,
    ImportFormat,
    ImportOptions,
    Outcome,
)
from opendialer.contacts.imports.sources import Record, open_source
from opendialer.contacts.imports.writer import Phones, contact_row, copy_row, field_names
from opendialer.phones import e164_or_none

CHUNK_ROWS = 5000
Issue = tuple[int, Outcome, str, Any]  # line, outcome, message, the row as the file gave it
Blocked = Callable[[set[str]], set[str]]  # the do-not-call numbers among some numbers


# A row with at least one dialable number, as a new contact: line, its values (in the order of
# ``writer.contact_row`` with the chunk's ``names``; or when the job says ``copy_text``, those
# values and its numbers in COPY's text format, ``writer.copy_row``), phones (position → (raw,
# E.164 or None when invalid); empty with ``copy_text``), its duplicate keys, notes for the
# report, the row as the file gave it (``mapping.packed``), and only when the import may merge
# it into another contact (``overwrite``) its fields and custom_data / form_data keys, else only
# its caller ID (to be checked) if it has one. A plain tuple, and no more than needed: a million
# of them cross to the importing process, and every value costs on both sides.
CheckedRow = tuple[
    int,
    tuple[Any, ...],
    Phones,
    list[str],
    list[str] | None,
    Any,
    tuple[dict[str, Any], dict[str, dict[str, Any]]] | None,
]
NO_PHONES: Phones = {}


class CheckedChunk(NamedTuple):
    rows: list[CheckedRow]
    issues: list[Issue]  # the rows that failed (malformed, no valid number, do-not-call)
    names: list[str]  # the contact fields the rows fill
    bytes_read: int  # of the file, when the chunk was complete


class SourceInfo(NamedTuple):
    delimiter: str | None
    line_kind: str
    columns: list[str] | None


class Mapped(NamedTuple):
    """How the columns (or JSON keys) were mapped, known once the whole file is read."""

    mapping: dict[str, str]
    unmapped: list[str]


@dataclass(frozen=True)
class ReadJob:
    """What the reading side needs to know; it travels to the reading process."""

    fmt: ImportFormat
    options: ImportOptions
    timezone: str
    form_fields: frozenset[str]
    region: str  # national numbers are read in this region
    copy_text: bool = False  # new rows in COPY's text format (PostgreSQL, no merging)
    # Read from the module when the job is made, so a changed size travels with it.
    chunk_rows: int = field(default_factory=lambda: CHUNK_ROWS)


class Reader(Protocol):
    info: SourceInfo

    def chunks(self) -> Iterator[CheckedChunk]: ...

    def mapped(self) -> Mapped: ...


# Garbage collection -----------------------------------------------------------------------

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


# Checking rows ----------------------------------------------------------------------------


def normalise_numbers(raws: list[str], region: str) -> list[str | None]:
    """E.164 for each raw number (None when invalid)."""
    seen: dict[str, str | None] = {}  # a number repeated in the chunk is parsed once
    out: list[str | None] = []
    for raw in raws:
        if raw in seen:
            out.append(seen[raw])
        else:
            out.append(seen.setdefault(raw, e164_or_none(raw, region)))
    return out


def duplicate_keys(key: DuplicateKey, row: Row, kept: list[str]) -> list[str]:
    if key is DuplicateKey.PHONE:
        return kept
    value = row.fields.get(key.value)
    return [value] if value else []


_Passed = tuple[Row, dict[int, tuple[str, str | None]], list[str], list[str]]  # phones, keys, notes


class RowChecker:
    def __init__(
        self, mapper: RowMapper, options: ImportOptions, blocked: Blocked, copy_text: bool
    ) -> None:
        self.mapper, self.key, self.blocked = mapper, options.duplicate_key, blocked
        self.merging = options.duplicates is DuplicatePolicy.OVERWRITE
        self.copy_text = copy_text

    def check(
        self, items: list[Row | Record], numbers: list[str | None], bytes_read: int
    ) -> CheckedChunk:
        valid = {n for n in numbers if n is not None}
        blocked = self.blocked(valid) if valid else set()
        passed: list[_Passed] = []
        issues: list[Issue] = []
        position = 0
        for item in items:
            if isinstance(item, Record):
                data = self.mapper.describe(item.raw)
                issues.append((item.line, Outcome.MALFORMED, item.error or "", data))
                continue
            count = len(item.phones)
            self._check(item, numbers[position : position + count], blocked, passed, issues)
            position += count
        names = field_names([entry[0].fields for entry in passed])
        rows: list[CheckedRow] = []
        for row, phones, keys, notes in passed:
            values = contact_row(row.fields, row.extra, names)
            if self.copy_text:
                values, phones = copy_row(values, phones), NO_PHONES
            rows.append(
                (
                    row.line,
                    values,
                    phones,
                    keys,
                    notes or None,
                    packed(row.source),
                    self._merge(row),
                )
            )
        return CheckedChunk(rows, issues, names, bytes_read)

    def _merge(self, row: Row) -> tuple[dict[str, Any], dict[str, dict[str, Any]]] | None:
        """What the importing side needs of a row's fields: all of them to merge it, else its
        caller ID, which the campaign may refuse."""
        if self.merging:
            return row.fields, row.extra
        caller_id = row.fields.get("caller_id")
        return ({"caller_id": caller_id}, {}) if caller_id else None

    def _check(
        self,
        row: Row,
        numbers: list[str | None],
        blocked: set[str],
        passed: list[_Passed],
        issues: list[Issue],
    ) -> None:
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
            issues.append(self._rejected(row, dropped))
            return
        if dropped:
            notes.append("on the do-not-call list, dropped: " + ", ".join(dropped))
        passed.append((row, phones, duplicate_keys(self.key, row, kept), notes))

    def _rejected(self, row: Row, dropped: list[str]) -> Issue:
        data = self.mapper.describe(row.source)
        if dropped:
            message = "every valid number is on the do-not-call list: " + ", ".join(dropped)
            return (row.line, Outcome.DNC, message, data)
        invalid = ", ".join(f"phone{p} {raw!r}" for p, raw in row.phones) or "none given"
        return (row.line, Outcome.INVALID_NUMBER, f"no valid number: {invalid}", data)


# Reading a file ---------------------------------------------------------------------------


def _items(source: Iterable[Record], mapper: RowMapper) -> Iterator[Row | Record]:
    for record in source:
        if record.error is not None:
            yield record
            continue
        row = mapper.row(record)
        yield row if isinstance(row, Row) else Record(record.line, None, row, raw=record.values)


def _chunks(
    items: Iterator[Row | Record], size: int
) -> Iterator[tuple[list[Row | Record], list[str]]]:
    """Chunks of ``size`` rows with the raw numbers to normalise, in row order."""
    chunk: list[Row | Record] = []
    raws: list[str] = []
    for item in items:
        chunk.append(item)
        if isinstance(item, Row):
            raws.extend([raw for _position, raw in item.phones])
        if len(chunk) >= size:
            yield chunk, raws
            chunk, raws = [], []
    if chunk:
        yield chunk, raws


class FileReader:
    """Reads a file in this process; errors that stop the import are raised on opening."""

    def __init__(self, file: IO[bytes], job: ReadJob, blocked: Blocked) -> None:
        options = job.options
        self.source = open_source(file, job.fmt, options.encoding, options.delimiter)
        columns = self.source.columns
        self.mapper = RowMapper(options, ZoneInfo(job.timezone), columns, job.form_fields)
        self.checker = RowChecker(self.mapper, options, blocked, job.copy_text)
        self.region, self.chunk_rows = job.region, job.chunk_rows
        self.info = SourceInfo(self.source.delimiter, self.source.line_kind, columns)

    def chunks(self) -> Iterator[CheckedChunk]:
        for items, raws in _chunks(_items(self.source.records(), self.mapper), self.chunk_rows):
            numbers = normalise_numbers(raws, self.region)
            yield self.checker.check(items, numbers, self.source.bytes_read)

    def mapped(self) -> Mapped:
        return Mapped(self.mapper.mapping, self.mapper.unmapped)
