"""Bulk import sources: CSV, a JSON array or NDJSON read record by record from a binary file.

Nothing here holds more than one record (or one 64 KiB block) at a time. Lines are decoded one by
one, so a line that is not valid in the chosen encoding spoils only its own record; only a header
that does not decode stops the import.
"""

import codecs
import csv
import io
import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain
from pathlib import PurePath
from typing import IO, Any

from opendialer.contacts.imports.schemas import ImportFormat
from opendialer.errors import BadRequest
from opendialer.inputs import json_may_be_unstorable, nested_text_problem, text_problem

MAX_LINE_BYTES = 1 << 20
JSON_BLOCK = 1 << 16
MAX_JSON_ELEMENT = 1 << 22
SNIFFED_DELIMITERS = (",", ";", "\t", "|")
SPOOL_MEMORY = 1 << 20

_CONTENT_TYPES = {
    "text/csv": ImportFormat.CSV,
    "application/csv": ImportFormat.CSV,
    "text/plain": ImportFormat.CSV,
    "text/tab-separated-values": ImportFormat.CSV,
    "application/vnd.ms-excel": ImportFormat.CSV,  # what browsers on Windows send for .csv
    "application/json": ImportFormat.JSON,
    "text/json": ImportFormat.JSON,
    "application/x-ndjson": ImportFormat.NDJSON,
    "application/ndjson": ImportFormat.NDJSON,
    "application/jsonl": ImportFormat.NDJSON,
    "application/x-jsonlines": ImportFormat.NDJSON,
}
_SUFFIXES = {
    ".csv": ImportFormat.CSV,
    ".tsv": ImportFormat.CSV,
    ".txt": ImportFormat.CSV,
    ".json": ImportFormat.JSON,
    ".ndjson": ImportFormat.NDJSON,
    ".jsonl": ImportFormat.NDJSON,
}


def fatal(code: str, message: str, line: int | None = None) -> BadRequest:
    """An error that stops the import before anything is written (HTTP 422)."""
    return BadRequest(message, code=code, status_code=422, details={"line": line})


def format_for(content_type: str | None, filename: str | None = None) -> ImportFormat | None:
    if content_type:
        found = _CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())
        if found is not None:
            return found
    if filename:
        return _SUFFIXES.get(PurePath(filename).suffix.lower())
    return None


async def spool(chunks: AsyncIterator[bytes]) -> IO[bytes]:
    """The request body in a temporary file (in memory only while small)."""
    file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
    async for chunk in chunks:
        file.write(chunk)
    file.seek(0)
    return file


@dataclass(slots=True)
class Record:
    """One row as the file gives it: CSV values or a JSON object, or why it cannot be read."""

    line: int
    values: list[str] | dict[str, Any] | None
    error: str | None = None
    raw: Any = None  # what to show in the report when the record is malformed


def _bad_bytes_message(exc: UnicodeDecodeError, encoding: str, line: int) -> str:
    byte = exc.object[exc.start : exc.start + 1].hex()
    hint = " (try encoding=windows-1252 or iso-8859-1)" if encoding == "utf-8" else ""
    return f"line {line} is not valid {encoding}: byte 0x{byte} at offset {exc.start}{hint}"


class DecodedLines:
    """Physical lines of a binary file, decoded one at a time, with the bytes read so far."""

    def __init__(self, file: IO[bytes], encoding: str) -> None:
        self.file = file
        self.encoding = encoding
        self.bytes_read = 0
        self.number = 0
        self.bad: dict[int, str] = {}  # line number → why it did not decode
        self.nul = False  # a line read since the flag was last cleared holds a NUL character

    def _read(self) -> bytes:
        line = self.file.readline(MAX_LINE_BYTES)
        self.bytes_read += len(line)
        if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := self.file.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                self.bytes_read += len(rest)
            self.bytes_read += len(rest)
            self.bad[self.number + 1] = f"line {self.number + 1} is longer than 1 MiB"
            return b"\n"
        return line

    def __iter__(self) -> Iterator[str]:
        while line := self._read():
            self.number += 1
            if self.number == 1 and self.encoding == "utf-8":
                line = line.removeprefix(codecs.BOM_UTF8)
            if b"\0" in line:  # one search per line: the encodings offered keep NUL as byte 0
                self.nul = True
            try:
                yield line.decode(self.encoding)
            except UnicodeDecodeError as exc:
                self.bad[self.number] = _bad_bytes_message(exc, self.encoding, self.number)
                yield line.decode(self.encoding, errors="replace")


def sniff_delimiter(header: str) -> str:
    """The candidate that splits the header line most often (outside quotes); "," on a tie."""
    counts = dict.fromkeys(SNIFFED_DELIMITERS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(SNIFFED_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class CsvSource:
    line_kind = "line"

    def __init__(self, file: IO[bytes], encoding: str, delimiter: str | None) -> None:
        self._lines = DecodedLines(file, encoding)
        lines = iter(self._lines)
        first = next((text for text in lines if text.strip()), None)
        if self._lines.bad:
            line = min(self._lines.bad)
            raise fatal("undecodable_file", self._lines.bad[line], line)
        if first is None:
            raise fatal("empty_file", "The file is empty; a CSV import needs a header row", 1)
        self.delimiter = delimiter or sniff_delimiter(first)
        self._reader = csv.reader(chain([first], lines), delimiter=self.delimiter)
        self._skipped = self._lines.number - 1  # blank lines before the header
        self.columns = self._header()

    @property
    def bytes_read(self) -> int:
        return self._lines.bytes_read

    def _header(self) -> list[str]:
        try:
            columns = [name.strip() for name in next(self._reader)]
        except csv.Error as exc:
            raise fatal("malformed_header", f"The header row cannot be read: {exc}", 1) from exc
        seen: set[str] = set()
        for number, name in enumerate(columns, 1):
            if problem := text_problem(name):
                raise fatal("malformed_header", f"The header's column {number} {problem}", 1)
            if name and name in seen:
                raise fatal("duplicate_column", f"The header names column {name!r} twice", 1)
            seen.add(name)
        return columns

    def _line_error(self, start: int, end: int) -> str | None:
        for line in range(start, end + 1):
            if line in self._lines.bad:
                return self._lines.bad.pop(line)
        return None

    def records(self) -> Iterator[Record]:
        previous = self._skipped + self._reader.line_num
        width = len(self.columns)
        while True:
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                start, previous = previous + 1, self._skipped + self._reader.line_num
                yield Record(start, None, f"line {start} cannot be read as CSV: {exc}")
                continue
            start, previous = previous + 1, self._skipped + self._reader.line_num
            if self._lines.bad and (error := self._line_error(start, previous)):
                yield Record(start, None, error, raw=values)
            elif len(values) != width:
                if values and any(v.strip() for v in values):
                    message = f"expected {width} columns, found {len(values)}"
                    yield Record(start, None, message, raw=values)
            elif self._lines.nul and (problem := self._unstorable(values)):
                yield Record(start, None, problem, raw=values)
            elif any(values):
                yield Record(start, values)

    def _unstorable(self, values: list[str]) -> str | None:
        """Why a record's value cannot be stored (a line read for it held NUL), naming its
        column; None when it can."""
        self._lines.nul = False
        for column, value in zip(self.columns, values, strict=True):
            if problem := text_problem(value):
                return f"{column}: text {problem}"
        return None


class NdjsonSource:
    line_kind = "line"
    columns: list[str] | None = None
    delimiter: str | None = None

    def __init__(self, file: IO[bytes], encoding: str) -> None:
        self._lines = DecodedLines(file, encoding)

    @property
    def bytes_read(self) -> int:
        return self._lines.bytes_read

    def records(self) -> Iterator[Record]:
        for text in self._lines:
            number = self._lines.number
            if number in self._lines.bad:
                yield Record(number, None, self._lines.bad.pop(number), raw=text)
            elif text.strip():
                yield _object_record(number, text)


def _object_record(number: int, text: str) -> Record:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return Record(number, None, f"not valid JSON: {exc}", raw=text.strip())
    return _json_record(number, value, json_may_be_unstorable(text))


def _json_record(line: int, value: Any, escaped: bool) -> Record:
    """A decoded JSON element as a record; ``escaped``: its text may hold a NUL or lone
    surrogate escape, so its keys and values are checked (``opendialer.inputs``)."""
    if not isinstance(value, dict):
        return Record(line, None, "not a JSON object", raw=value)
    if escaped:
        for key, item in value.items():
            if problem := text_problem(key):
                return Record(line, None, f"key {key!r}: text {problem}", raw=value)
            if problem := nested_text_problem(item):
                return Record(line, None, f"{key}: text {problem}", raw=value)
    return Record(line, value)


class JsonArraySource:
    """The elements of a top-level JSON array, one at a time (``line`` is the element index)."""

    line_kind = "index"
    columns: list[str] | None = None
    delimiter: str | None = None

    def __init__(self, file: IO[bytes], encoding: str, head: bytes) -> None:
        self.file = file
        self.bytes_read = 0
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._encoding = encoding
        self._newlines = 0
        self._text = self._decode(head.removeprefix(codecs.BOM_UTF8), final=False)
        self._pos = self._text.index("[") + 1
        self._eof = False
        self._json = json.JSONDecoder()

    def _decode(self, data: bytes, final: bool) -> str:
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            line = self._newlines + data[: exc.start].count(b"\n") + 1
            message = _bad_bytes_message(exc, self._encoding, line)
            raise fatal("undecodable_file", message, line) from exc
        self.bytes_read += len(data)
        self._newlines += data.count(b"\n")
        return text

    def _more(self) -> bool:
        if self._eof:
            return False
        data = self.file.read(JSON_BLOCK)
        self._eof = not data
        self._text = self._text[self._pos :] + self._decode(data, final=self._eof)
        self._pos = 0
        return True

    def _skip_space(self) -> str:
        while True:
            text, pos = self._text, self._pos
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            self._pos = pos
            if pos < len(text):
                return text[pos]
            if not self._more():
                return ""

    def _element(self, index: int) -> Record:
        while True:
            try:
                value, end = self._json.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._text) - self._pos > MAX_JSON_ELEMENT or not self._more():
                    message = f"element {index} is not valid JSON: {exc.msg}"
                    raise fatal("malformed_json", message, index) from exc
                continue
            if end < len(self._text) or self._eof:
                escaped = json_may_be_unstorable(self._text, self._pos, end)
                self._pos = end
                return _json_record(index, value, escaped)
            self._more()  # a number may go on in the next block

    def records(self) -> Iterator[Record]:
        index = 0
        if self._skip_space() == "]":
            self._pos += 1
            return
        while True:
            yield self._element(index)
            index += 1
            separator = self._skip_space()
            self._pos += 1
            if separator == "]":
                return
            if separator != ",":
                message = f"expected ',' or ']' after element {index - 1}"
                raise fatal("malformed_json", message, index - 1)
            self._skip_space()


class BlockStream(io.RawIOBase):
    """A file read from blocks of bytes; it ends where they do. Wrap it in a BufferedReader."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._pending = memoryview(block)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


Source = CsvSource | NdjsonSource | JsonArraySource


def open_source(file: IO[bytes], fmt: ImportFormat, encoding: str, delimiter: str | None) -> Source:
    """Read far enough to know the file can be imported; fatal errors are raised here."""
    if fmt is ImportFormat.CSV:
        return CsvSource(file, encoding, delimiter)
    head = file.read(JSON_BLOCK)
    start = head.removeprefix(codecs.BOM_UTF8).lstrip()[:1]
    if fmt is ImportFormat.JSON and start == b"[":
        return JsonArraySource(file, encoding, head)
    if not start:
        raise fatal("empty_file", "The file is empty", 1)
    if start != b"{":
        raise fatal("malformed_json", "A JSON import must be an array of objects or NDJSON", 1)
    rest = iter(partial(file.read, JSON_BLOCK), b"")  # the file need not seek back
    return NdjsonSource(io.BufferedReader(BlockStream(chain([head], rest))), encoding)
