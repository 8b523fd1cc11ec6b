"""Bulk import: records (CSV values, JSON objects) read into contact fields and phone numbers.

Columns map to fields by the caller's mapping first, then by name (contact field names and the
jtel and mmDial names), then, if asked, into ``custom_data``. A value that cannot be read (a
priority that is not a whole number, text longer than its column) makes the row malformed.
"""

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from opendialer.contacts.imports.schemas import (
    DATETIME_FIELDS,
    DECIMAL_FIELDS,
    INT_FIELDS,
    JSON_FIELDS,
    KEYED_TARGET,
    PHONE_FIELDS,
    STRING_FIELDS,
    ImportOptions,
    Unmapped,
    check_target,
    default_target,
    max_length,
    merge_mapping,
    squash,
)
from opendialer.contacts.imports.sources import Record, fatal
from opendialer.inputs import json_may_be_unstorable, nested_text_problem

STRING, PHONE, INTEGER, DECIMAL, DATETIME, OBJECT, KEYED = range(7)
MAX_PHONE_TEXT = 64
MAX_UNMAPPED_REPORTED = 100
_INT_RANGE = range(-(2**31), 2**31)
_CENT = Decimal("0.01")
_DECIMAL_LIMIT = Decimal("1e12")


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one source column goes, and how its text is read."""

    index: int  # CSV column index (unused for JSON keys)
    column: str
    target: str
    kind: int
    arg: Any = None  # max length (STRING), position (PHONE), (field, key) (KEYED)


def _slot(index: int, column: str, target: str) -> Slot:
    if target in PHONE_FIELDS:
        return Slot(index, column, target, PHONE, int(target.removeprefix("phone")))
    if target in STRING_FIELDS:
        return Slot(index, column, target, STRING, max_length(target))
    if target in INT_FIELDS:
        return Slot(index, column, target, INTEGER)
    if target in DECIMAL_FIELDS:
        return Slot(index, column, target, DECIMAL)
    if target in DATETIME_FIELDS:
        return Slot(index, column, target, DATETIME)
    if target in JSON_FIELDS:
        return Slot(index, column, target, OBJECT, target)
    keyed = KEYED_TARGET.match(check_target(target))
    assert keyed is not None
    return Slot(index, column, target, KEYED, (keyed[1], keyed[2]))


@dataclass(slots=True)
class Row:
    """A record read into contact fields; phones are (position, raw text), in position order."""

    line: int
    fields: dict[str, Any]
    phones: list[tuple[int, str]]
    extra: dict[str, dict[str, Any]]  # custom_data / form_data keys
    source: Any


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected text, found {type(value).__name__}")


def _integer(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        number = value if isinstance(value, int) and not isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a whole number") from None
    if number not in _INT_RANGE:
        raise ValueError(f"{number} is out of range")
    return number


def _decimal(value: Any) -> Decimal:
    text = _text(value)
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite() or abs(number) >= _DECIMAL_LIMIT:
        raise ValueError(f"{value!r} is out of range")
    return number.quantize(_CENT, ROUND_HALF_UP)


def _datetime(value: Any, tz: ZoneInfo) -> datetime:
    text = _text(value)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or date-time") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).astimezone(UTC)


def _object(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError("expected a JSON object") from None
        if json_may_be_unstorable(text) and (problem := nested_text_problem(value)):
            raise ValueError(f"text {problem}")
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def packed(values: Any) -> Any:
    """A row's values as the file gave them, to travel to the importing process for its report:
    CSV values joined by NUL, one string instead of a list (half the pickling). Lossless: a
    record with a NUL never becomes a row (``CsvSource`` reports it malformed)."""
    return "\0".join(values) if values.__class__ is list else values


def describe(columns: list[str] | None, values: Any) -> Any:
    """A record's values for the report: CSV values by column name when they line up."""
    if columns and isinstance(values, str):
        values = values.split("\0")  # ``packed``
    if isinstance(values, list) and columns and len(values) == len(columns):
        return dict(zip(columns, values, strict=True))
    return values


class RowMapper:
    """Turns records into rows with the explicit mapping, the default names and the options."""

    def __init__(
        self,
        options: ImportOptions,
        tz: ZoneInfo,
        columns: list[str] | None,
        form_fields: Collection[str] = (),
    ) -> None:
        self.options = options
        self.tz = tz
        self.columns = columns
        self.form_fields = frozenset(form_fields)  # the campaign's order-form field names
        self.mapping: dict[str, str] = {}  # source column → target, as used
        self.unmapped: list[str] = []
        self._slots: dict[str, Slot | None] = {}
        plan = self._plan_columns(columns) if columns is not None else []
        # Split by kind so the per-row loop does as little as possible (it runs a million times).
        self._strings = [(s.index, s.target, s.arg) for s in plan if s.kind == STRING]
        phones = sorted((s.arg, s.index) for s in plan if s.kind == PHONE)
        self._phones = [(index, position) for position, index in phones]
        self._others = [s for s in plan if s.kind not in (STRING, PHONE)]

    def _resolve(self, index: int, column: str) -> Slot | None:
        explicit, target = merge_mapping(self.options.mapping, column)
        if not explicit and self.options.default_mapping:
            target = default_target(column)
        if target is None and not explicit and self.options.unmapped is Unmapped.CUSTOM_DATA:
            target = f"custom_data.{column}"
        if target is None:
            if not explicit and len(self.unmapped) < MAX_UNMAPPED_REPORTED:
                self.unmapped.append(column)
            return None
        if len(self.mapping) < MAX_UNMAPPED_REPORTED * 10:
            self.mapping[column] = target
        return _slot(index, column, target)

    def _plan_columns(self, columns: list[str]) -> list[Slot]:
        plan: list[Slot] = []
        used: dict[str, str] = {}
        for index, column in enumerate(columns):
            slot = self._resolve(index, column) if column else None
            if slot is None:
                continue
            if slot.target in used and slot.kind != OBJECT:
                message = f"Columns {used[slot.target]!r} and {column!r} both map to {slot.target}"
                raise fatal("ambiguous_mapping", message, 1)
            used[slot.target] = column
            plan.append(slot)
        unknown = [s.arg[1] for s in plan if s.kind == KEYED and s.arg[0] == "form_data"]
        unknown = sorted(set(unknown) - self.form_fields)
        if unknown:
            message = f"The campaign has no order-form fields named {unknown}"
            raise fatal("unknown_form_fields", message, 1)
        present = {squash(c) for c in columns}
        missing = [c for c in self.options.mapping if squash(c) not in present]
        if missing:
            raise fatal("unknown_column", f"The mapping names columns not in the header: {missing}")
        if not any(slot.kind == PHONE for slot in plan):
            raise fatal("no_phone_column", "No column maps to a phone number (phone1..phone6)", 1)
        return plan

    def describe(self, values: Any) -> Any:
        return describe(self.columns, values)

    def row(self, record: Record) -> Row | str:
        """The row, or why the record is malformed."""
        if isinstance(record.values, dict):
            return self._from_object(record.line, record.values)
        assert record.values is not None
        return self._from_values(record.line, record.values)

    def _from_values(self, line: int, values: list[str]) -> Row | str:
        fields: dict[str, Any] = {}
        for index, target, limit in self._strings:
            value = values[index].strip()
            if value:
                if len(value) > limit:
                    return f"{self.columns[index]}: longer than {limit} characters"  # type: ignore[index]
                fields[target] = value
        phones: list[tuple[int, str]] = []
        for index, position in self._phones:
            value = values[index].strip()
            if value:
                if len(value) > MAX_PHONE_TEXT:
                    return f"{self.columns[index]}: longer than {MAX_PHONE_TEXT} characters"  # type: ignore[index]
                phones.append((position, value))
        row = Row(line, fields, phones, {}, values)
        for slot in self._others:
            value = values[slot.index].strip()
            if value and (error := self._put(row, slot, value)):
                return error
        return row

    def _from_object(self, line: int, obj: dict[str, Any]) -> Row | str:
        row = Row(line, {}, [], {}, obj)
        seen: set[str] = set()
        for key, value in obj.items():
            if value is None or value == "":
                continue
            if key not in self._slots and len(self._slots) < MAX_UNMAPPED_REPORTED * 10:
                self._slots[key] = self._resolve(0, key)
            slot = self._slots[key] if key in self._slots else self._resolve(0, key)
            if slot is None:
                continue
            if slot.target in seen and slot.kind != OBJECT:
                return f"two keys map to {slot.target}"
            seen.add(slot.target)
            if error := self._put(row, slot, value):
                return error
        row.phones.sort()
        return row

    def _check_form_fields(self, values: dict[str, Any]) -> None:
        unknown = sorted(set(values) - self.form_fields)
        if unknown:
            raise ValueError(f"the campaign has no order-form fields named {unknown}")

    def _put(self, row: Row, slot: Slot, value: Any) -> str | None:
        try:
            if slot.kind == STRING or slot.kind == PHONE:
                text = _text(value)
                limit = MAX_PHONE_TEXT if slot.kind == PHONE else slot.arg
                if len(text) > limit:
                    raise ValueError(f"longer than {limit} characters")
                if text and slot.kind == PHONE:
                    row.phones.append((slot.arg, text))
                elif text:
                    row.fields[slot.target] = text
            elif slot.kind == INTEGER:
                row.fields[slot.target] = _integer(value)
            elif slot.kind == DECIMAL:
                row.fields[slot.target] = _decimal(value)
            elif slot.kind == DATETIME:
                row.fields[slot.target] = _datetime(value, self.tz)
            elif slot.kind == OBJECT:
                values = _object(value)
                if slot.arg == "form_data":
                    self._check_form_fields(values)
                row.extra.setdefault(slot.arg, {}).update(values)
            else:
                name, key = slot.arg
                if name == "form_data":
                    self._check_form_fields({key: value})
                row.extra.setdefault(name, {})[key] = value
        except ValueError as exc:
            return f"{slot.column}: {exc}"
        return None
