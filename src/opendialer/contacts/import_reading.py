"""The reading side of a contact import: records read, mapped, normalised and checked.

A chunk of rows leaves here with its phone numbers in E.164, do-not-call numbers dropped, its
duplicate keys and the report entries of the rows that failed. The importing side (``importer``)
then looks up duplicates, writes and reports. For a big file the reading side runs in a second
process, so the two halves share the machine's cores: the file's bytes stream to it through a
pipe and each chunk comes back as plain values.
"""

import gc
import io
import multiprocessing
import pickle
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from types import TracebackType
from typing import IO, Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from opendialer.contacts.import_mapping import Row, RowMapper
from opendialer.contacts.import_schemas import (
    DuplicateKey,
    DuplicatePolicy,
    ImportFormat,
    ImportOptions,
    Outcome,
)
from opendialer.contacts.import_sources import BlockStream, Record, open_source
from opendialer.contacts.import_writer import contact_row, field_names
from opendialer.errors import OpendialerError
from opendialer.phones import e164_or_none

CHUNK_ROWS = 5000
PIPE_BLOCK = 1 << 20
LOOKAHEAD = 4  # chunks the reading process may be ahead of the importing one
JOIN_SECONDS = 10.0
Issue = tuple[int, Outcome, str, Any]  # line, outcome, message, the row as the file gave it
Blocked = Callable[[set[str]], set[str]]  # the do-not-call numbers among some numbers


# A row with at least one dialable number, as a new contact: line, its values (in the order of
# ``import_writer.contact_row`` with the chunk's ``names``), phones (position → (raw, E.164 or
# None when invalid)), its duplicate keys, notes for the report, the row as the file gave it, and
# only when the import may merge it into another contact (``overwrite``) its fields and
# custom_data / form_data keys. A plain tuple, and no more than needed: a million of them cross
# to the importing process, and every value costs on both sides.
CheckedRow = tuple[
    int,
    tuple[Any, ...],
    dict[int, tuple[str, str | None]],
    list[str],
    list[str] | None,
    Any,
    tuple[dict[str, Any], dict[str, dict[str, Any]]] | None,
]


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
    def __init__(self, mapper: RowMapper, options: ImportOptions, blocked: Blocked) -> None:
        self.mapper, self.key, self.blocked = mapper, options.duplicate_key, blocked
        self.merging = options.duplicates is DuplicatePolicy.OVERWRITE

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
            merge = (row.fields, row.extra) if self.merging else None
            rows.append((row.line, values, phones, keys, notes or None, row.source, merge))
        return CheckedChunk(rows, issues, names, bytes_read)

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
        self.checker = RowChecker(self.mapper, options, blocked)
        self.region, self.chunk_rows = job.region, job.chunk_rows
        self.info = SourceInfo(self.source.delimiter, self.source.line_kind, columns)

    def chunks(self) -> Iterator[CheckedChunk]:
        for items, raws in _chunks(_items(self.source.records(), self.mapper), self.chunk_rows):
            numbers = normalise_numbers(raws, self.region)
            yield self.checker.check(items, numbers, self.source.bytes_read)

    def mapped(self) -> Mapped:
        return Mapped(self.mapper.mapping, self.mapper.unmapped)


# The reading process ----------------------------------------------------------------------


class _Failed(NamedTuple):
    error: Exception


def _received(connection: Connection) -> Iterator[bytes]:
    """The blocks of the file the importing process sends, until it closes the pipe."""
    while True:
        try:
            yield connection.recv_bytes()
        except EOFError:
            return


def _send(connection: Connection, message: object) -> None:
    # Plain pickle in this thread: multiprocessing's queue pickles in a thread of its own, with
    # its own reducers, and that cost a fifth of this process's time.
    connection.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))


def _read_in_process(file: Connection, results: Connection, job: ReadJob, dnc: set[str]) -> None:
    """The reading process: everything it learns goes to ``results``, errors included."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the importing process's to handle
    gc.set_threshold(*RELAXED_GC)
    try:
        stream = io.BufferedReader(BlockStream(_received(file)), PIPE_BLOCK)
        reader = FileReader(stream, job, dnc.intersection)
        _send(results, reader.info)
        for chunk in reader.chunks():
            _send(results, chunk)
        _send(results, reader.mapped())
    except OpendialerError as exc:
        _send(results, _Failed(exc))
    except BaseException:  # anything else is a bug; the importing process shows where
        failure = RuntimeError("the reading process failed:\n" + traceback.format_exc())
        _send(results, _Failed(failure))


def _context() -> Any:
    # Not fork(): the API server runs threads, and forking a threaded process is unsafe.
    try:
        context: Any = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
    except ValueError:  # no forkserver on this platform
        context = multiprocessing.get_context("spawn")
    return context


class ReadingProcess:
    """Reads a file in a second process. Two threads here move the bytes: one streams the file
    to it, one receives its messages, up to ``LOOKAHEAD`` ahead of the importing thread."""

    def __init__(self, file: IO[bytes], job: ReadJob, dnc: set[str]) -> None:
        context = _context()
        file_out, self._file_in = context.Pipe(duplex=False)
        self._results, results_in = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_read_in_process,
            args=(file_out, results_in, job, dnc),
            name="opendialer-import-reader",
            daemon=True,
        )
        self._process.start()
        file_out.close()  # so that either side sees the other end
        results_in.close()
        self._feed_error: BaseException | None = None
        self._feeder = threading.Thread(target=self._feed, args=(file,), daemon=True)
        self._inbox: queue.Queue[bytes | None] = queue.Queue(LOOKAHEAD)
        self._receiver = threading.Thread(target=self._receive, daemon=True)
        self._feeder.start()
        self._receiver.start()
        self._mapped: Mapped | None = None
        try:
            self.info: SourceInfo = self._next()
        except BaseException:
            self.close(aborted=True)
            raise

    def __enter__(self) -> "ReadingProcess":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(aborted=kind is not None)

    def _feed(self, file: IO[bytes]) -> None:
        try:
            while block := file.read(PIPE_BLOCK):
                self._file_in.send_bytes(block)
        except BrokenPipeError:
            pass  # the reading process stopped early: it says why, or it was stopped
        except BaseException as exc:  # the file could not be read: the import must not finish
            self._feed_error = exc
        finally:
            self._file_in.close()

    def _receive(self) -> None:
        try:
            while True:
                self._inbox.put(self._results.recv_bytes())
        except (EOFError, OSError):
            self._inbox.put(None)  # the reading process has ended
        finally:
            self._results.close()

    def _next(self) -> Any:
        blob = self._inbox.get()
        if blob is None:
            self._process.join(JOIN_SECONDS)
            code = self._process.exitcode
            raise RuntimeError(f"the reading process ended without a word (exit code {code})")
        message = pickle.loads(blob)
        if isinstance(message, _Failed | Mapped):
            self._check_feed()
        if isinstance(message, _Failed):
            raise message.error
        return message

    def _check_feed(self) -> None:
        """Once the reading process is done: if this side could not read the file, that is the
        error (the other side saw the file end early, and took it for the end)."""
        self._feeder.join()
        if self._feed_error is not None:
            raise self._feed_error

    def chunks(self) -> Iterator[CheckedChunk]:
        while isinstance(message := self._next(), CheckedChunk):
            yield message
        self._mapped = message

    def mapped(self) -> Mapped:
        if self._mapped is None:
            raise RuntimeError("the file has not been read to its end")
        return self._mapped

    def close(self, aborted: bool) -> None:
        if not aborted:
            self._process.join(JOIN_SECONDS)  # it ends on its own once everything is sent
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._feeder.join()
        while self._receiver.is_alive():  # it may wait for room for its last message
            with suppress(queue.Empty):
                self._inbox.get(timeout=0.1)
        self._receiver.join()
