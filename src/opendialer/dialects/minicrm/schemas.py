"""MiniCRM CallLog bodies: the envelope, the history items and the statistics answer.

Written by hand rather than as Pydantic models because MiniCRM's answer tells a *missing*
field from a *malformed* one, item by item, and one bad item must not reject the batch.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opendialer.crm.calllog import CallLogItem, CallType, ItemOutcome
from opendialer.errors import BadRequest
from opendialer.inputs import InputRejected, check_date, loads_json, parse_int, text_problem

REQUIRED_ITEM_KEYS = ("Date", "Number", "CallType", "Duration")
MAX_TEXT = 255
MAX_NUMBER = 64
MAX_DURATION = 2**31 - 1


class Invalid(Exception):
    """One item cannot be stored; ``missing`` when a required field is absent or empty."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.missing = missing


@dataclass(frozen=True, slots=True)
class Envelope:
    api_key: str
    user_extension: str
    data: list[Any]


@dataclass(slots=True)
class Stats:
    """``Skipped`` counts every invalid item; ``Missing`` those among them lacking a field."""

    skipped: int = 0
    processed: int = 0
    exists: int = 0
    missing: int = 0
    not_found: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add_invalid(self, index: int, error: Invalid) -> None:
        self.skipped += 1
        self.missing += int(error.missing)
        self.errors.append({"index": index, "error": str(error)})

    def add(self, outcome: ItemOutcome) -> None:
        match outcome:
            case ItemOutcome.PROCESSED:
                self.processed += 1
            case ItemOutcome.NOT_FOUND:
                self.not_found += 1
            case ItemOutcome.EXISTS:
                self.exists += 1

    def body(self) -> dict[str, int]:
        return {
            "Skipped": self.skipped,
            "Processed": self.processed,
            "Exists": self.exists,
            "Missing": self.missing,
            "NotFound": self.not_found,
        }


# Envelope --------------------------------------------------------------------------------


def parse_envelope(raw: bytes) -> dict[str, Any]:
    """The body as JSON, whatever the Content-Type (curl -d sends a form type)."""
    try:
        body = loads_json(raw, item_checks=True)  # one bad item must not refuse the batch
    except InputRejected as exc:
        raise BadRequest(str(exc), code="malformed_json") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object", code="invalid_body")
    return body


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{key} is required (a non-empty string)", code=f"missing_{key.lower()}")
    if len(value) > MAX_TEXT:
        raise BadRequest(f"{key} is longer than {MAX_TEXT} characters", code="invalid_body")
    problem = text_problem(value)
    if problem is not None:
        raise BadRequest(f"{key} {problem}", code="invalid_body")
    return value.strip()


def api_key(body: dict[str, Any]) -> str:
    return _text(body, "ApiKey")


def envelope(body: dict[str, Any]) -> Envelope:
    extension = _text(body, "UserExtension")
    if "Data" not in body or body["Data"] is None:
        raise BadRequest("Data is required (an item or an array of items)", code="missing_data")
    data = body["Data"]
    if isinstance(data, dict):
        data = [data]  # Example #1 sends one object
    if not isinstance(data, list):
        raise BadRequest("Data must be an object or an array of objects", code="invalid_data")
    return Envelope(api_key(body), extension, data)


# Items -----------------------------------------------------------------------------------


def _present(item: dict[str, Any], key: str) -> Any:
    value = item.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Invalid(f"{key} is missing", missing=True)
    return value


def _integer(item: dict[str, Any], key: str) -> int:
    value = _present(item, key)
    if isinstance(value, bool):
        raise Invalid(f"{key} must be an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = parse_int(value, 0, MAX_DURATION)
        except InputRejected:
            raise Invalid(f"{key} must be a non-negative integer, got {value[:40]!r}") from None
    if not isinstance(value, int) or not 0 <= value <= MAX_DURATION:
        raise Invalid(f"{key} must be a non-negative integer, got {value!r}")
    return value


def _date(item: dict[str, Any]) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, or ISO-8601 with an offset (converted to UTC)."""
    value = _present(item, "Date")
    if not isinstance(value, str):
        raise Invalid("Date must be a string like '2016-03-02 16:00:12'")
    try:
        parsed = check_date(datetime.fromisoformat(value.strip()))
    except InputRejected as exc:
        raise Invalid(f"Date {value[:40]!r}: {exc}") from None
    except ValueError:
        raise Invalid(f"Date {value[:40]!r} is not 'YYYY-MM-DD HH:MM:SS'") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _number(item: dict[str, Any]) -> str:
    value = _present(item, "Number")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value.strip()) > MAX_NUMBER:
        raise Invalid(f"Number must be a phone number of at most {MAX_NUMBER} characters")
    return _storable("Number", value.strip())


def _reference_id(item: dict[str, Any]) -> str | None:
    value = item.get("ReferenceId")
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise Invalid(f"ReferenceId must be a string of at most {MAX_TEXT} characters")
    return _storable("ReferenceId", value)


def _storable(key: str, value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise Invalid(f"{key} {problem}")
    return value


def parse_item(item: Any) -> CallLogItem:
    if not isinstance(item, dict):
        raise Invalid("an item must be a JSON object")
    absent = [key for key in REQUIRED_ITEM_KEYS if item.get(key) in (None, "")]
    if absent:
        raise Invalid(f"missing {', '.join(absent)}", missing=True)
    call_type = _integer(item, "CallType")
    if call_type not in set(CallType):
        raise Invalid(f"CallType must be 0, 1 or 2, got {call_type}")
    return CallLogItem(
        number=_number(item),
        call_type=CallType(call_type),
        duration_seconds=_integer(item, "Duration"),
        occurred_at=_date(item),
        reference_id=_reference_id(item),
    )
