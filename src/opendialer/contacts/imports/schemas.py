"""Bulk import: the options, the row outcomes, the report, and the fields a column can fill."""

import codecs
import enum
import json
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opendialer.inputs import check_text
from opendialer.models import MAX_PHONES, Contact


class ImportFormat(enum.StrEnum):
    CSV = "csv"
    JSON = "json"  # an array of objects (a body starting with "{" is read as NDJSON)
    NDJSON = "ndjson"


class DuplicatePolicy(enum.StrEnum):
    SKIP = "skip"
    OVERWRITE = "overwrite"
    ALLOW = "allow"


class DuplicateScope(enum.StrEnum):
    CAMPAIGN = "campaign"
    TENANT = "tenant"


class DuplicateKey(enum.StrEnum):
    PHONE = "phone"
    USER_DATA = "user_data"
    EXTERNAL_ID = "external_id"


class Unmapped(enum.StrEnum):
    IGNORE = "ignore"
    CUSTOM_DATA = "custom_data"


class Outcome(enum.StrEnum):
    IMPORTED = "imported"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    INVALID_NUMBER = "invalid_number"
    DNC = "dnc"
    MALFORMED = "malformed"


# Contact fields -------------------------------------------------------------------------

PHONE_FIELDS = tuple(f"phone{n}" for n in range(1, MAX_PHONES + 1))
INT_FIELDS = ("priority", "random_sort_order")
DECIMAL_FIELDS = ("amount",)
DATETIME_FIELDS = ("begin_at", "end_at", "follow_up_at")
JSON_FIELDS = ("custom_data", "form_data")
STRING_FIELDS = (
    *("user_data", "user_data2", "user_data3", "external_id", "client", "service"),
    *("reference_number", "salutation", "title", "first_name", "name", "company", "address"),
    *("street_number", "address_extra", "postal_code", "city", "country", "region"),
    *("birthdate", "email", "website", "fax_number", "comment", "account_owner"),
    *("account_bank", "account_national_bank_code", "account_bic", "account_number"),
    *("account_iban", "manufacturer", "model", "tag", "external_system_link", "caller_id"),
)
# Every column a row may write (phones go to contact_phones).
CONTACT_FIELDS = (*STRING_FIELDS, *INT_FIELDS, *DECIMAL_FIELDS, *DATETIME_FIELDS)
TARGETS = frozenset((*CONTACT_FIELDS, *PHONE_FIELDS, *JSON_FIELDS))
KEYED_TARGET = re.compile(r"^(custom_data|form_data)\.(.+)$")


def max_length(field_name: str) -> int:
    length: int = Contact.__table__.c[field_name].type.length  # type: ignore[attr-defined]
    return length


def squash(name: str) -> str:
    """Header names compared loosely: "Phone Number 1", "phone_number_1" → "phonenumber1"."""
    return re.sub(r"[^a-z0-9]", "", name.casefold())


_ALIASES = {
    # jtel DiallerContacts (§3.4 of the jtel spec)
    **{f"PhoneNumber{n}": f"phone{n}" for n in range(1, MAX_PHONES + 1)},
    "dtBeginDate": "begin_at",
    "dtEndDate": "end_at",
    "FollowUpDateTime": "follow_up_at",
    # mmDial leaddata (§3.2 of the mmDial spec)
    "phone": "phone1",
    "alt_phone": "phone2",
    "last_name": "name",
    "street": "address",
    "streetnr": "street_number",
    "addradd": "address_extra",
    "plz": "postal_code",
    "ort": "city",
    "notices": "comment",
    "leadid_external": "external_id",
    "company_name": "company",
    # common German and English headers
    "Vorname": "first_name",
    "Nachname": "name",
    "Telefon": "phone1",
    "Mobil": "phone2",
    "Handy": "phone2",
    "Straße": "address",
    "Hausnummer": "street_number",
    "Stadt": "city",
    "Firma": "company",
    "Anrede": "salutation",
    "Land": "country",
    "Geburtsdatum": "birthdate",
    "surname": "name",
    "zip": "postal_code",
    "zipcode": "postal_code",
    "mobile": "phone2",
}
DEFAULT_NAMES: dict[str, str] = {
    **{squash(target): target for target in TARGETS},
    **{squash(alias): target for alias, target in _ALIASES.items()},
}


def default_target(column: str) -> str | None:
    """The contact field a column fills when nobody mapped it explicitly."""
    if KEYED_TARGET.match(column):  # "custom_data.colour" names its own target
        return column
    return DEFAULT_NAMES.get(squash(column))


def check_target(target: str) -> str:
    if target in TARGETS or KEYED_TARGET.match(target):
        return target
    raise ValueError(
        f"unknown mapping target {target!r}; use a contact field (e.g. phone1, name, user_data),"
        " custom_data.<key> or form_data.<key>"
    )


# Options --------------------------------------------------------------------------------

ENCODINGS = {"utf-8": "utf-8", "iso8859-1": "iso-8859-1", "cp1252": "windows-1252"}
DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


class ImportOptions(BaseModel):
    """How to read the file and what to do with duplicates (query parameters or CLI options)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: ImportFormat | None = Field(
        default=None, description="csv, json or ndjson; default: from the Content-Type or suffix"
    )
    encoding: str = Field(default="utf-8", description="utf-8, iso-8859-1 or windows-1252")
    delimiter: str | None = Field(
        default=None, description="CSV delimiter (one character, or 'tab'); default: sniffed"
    )
    duplicates: DuplicatePolicy = DuplicatePolicy.SKIP
    duplicate_scope: DuplicateScope = DuplicateScope.CAMPAIGN
    duplicate_key: DuplicateKey = DuplicateKey.PHONE
    mapping: dict[str, str | None] = Field(
        default_factory=dict,
        description='Source column → contact field, e.g. {"Telefon": "phone1"}; null drops it',
    )
    default_mapping: bool = Field(
        default=True, description="Map columns named like a contact field (jtel, mmDial names)"
    )
    unmapped: Unmapped = Unmapped.IGNORE
    list_id: int | None = Field(default=None, ge=1, le=2**63 - 1)

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            name = codecs.lookup(value.strip()).name
        except LookupError:
            name = ""
        if name not in ENCODINGS:
            raise ValueError("encoding must be utf-8, iso-8859-1 or windows-1252")
        return ENCODINGS[name]

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        value = DELIMITERS.get(value.lower(), value)
        if len(value) != 1 or value in '"\r\n' or value.isalnum():
            raise ValueError("delimiter must be one character such as , ; | or 'tab'")
        return value

    @field_validator("mapping", mode="before")
    @classmethod
    def _mapping_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"mapping is not valid JSON: {exc}") from exc
            if not isinstance(value, dict):
                raise ValueError('mapping must be a JSON object like {"Telefon": "phone1"}')
        return value

    @field_validator("mapping")
    @classmethod
    def _mapping_targets(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        for column, target in value.items():
            check_text(column)  # a column's name may become a custom_data key
            if target is not None:
                check_target(check_text(target))
        return value


# Report ---------------------------------------------------------------------------------

DATA_TEXT_LIMIT = 2000


class IssueLog:
    """The rows worth reporting, kept as NDJSON in a spooled temporary file (memory stays flat)."""

    def __init__(self) -> None:
        # A malformed row's values may hold lone surrogates (JSON "\\ud800"): written as the
        # JSON escape they came as, so the report stays valid UTF-8 and valid JSON.
        self._file: IO[str] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=1 << 20, mode="w+", encoding="utf-8", errors="backslashreplace"
        )
        self.count = 0

    def add(self, line: int, outcome: Outcome, message: str, data: Any) -> None:
        if isinstance(data, str) and len(data) > DATA_TEXT_LIMIT:
            data = data[:DATA_TEXT_LIMIT] + "…"
        entry = {"line": line, "outcome": outcome.value, "message": message, "data": data}
        self._file.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        self.count += 1

    def lines(self) -> Iterator[str]:
        """Each entry as one JSON text."""
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield line.rstrip("\n")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for line in self.lines():
            entry: dict[str, Any] = json.loads(line)
            yield entry

    def close(self) -> None:
        self._file.close()


@dataclass
class ImportReport:
    campaign_id: int
    format: ImportFormat
    encoding: str
    delimiter: str | None = None
    line_kind: str = "line"  # "index" for a JSON array: the element's index, from 0
    columns: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    warnings: int = 0
    seconds: float = 0.0
    issues: IssueLog = field(default_factory=IssueLog)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, line: int, outcome: Outcome, message: str = "", data: Any = None) -> None:
        """Count a row; log it when it was not imported cleanly (``message`` says why)."""
        self.counts[outcome] += 1
        if outcome in (Outcome.IMPORTED, Outcome.UPDATED) and not message:
            return
        if outcome in (Outcome.IMPORTED, Outcome.UPDATED):
            self.warnings += 1
        self.issues.add(line, outcome, message, data)

    def summary(self) -> dict[str, Any]:
        """Everything but the rows, ready for JSON."""
        return {
            "campaign_id": self.campaign_id,
            "format": self.format.value,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "line_kind": self.line_kind,
            "mapping": self.mapping,
            "unmapped_columns": self.unmapped_columns,
            "total": self.total,
            "counts": {outcome.value: n for outcome, n in self.counts.items()},
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }

    def close(self) -> None:
        self.issues.close()


def merge_mapping(explicit: Mapping[str, str | None], column: str) -> tuple[bool, str | None]:
    """(explicitly mapped?, target) for a column; the exact name wins over a loose match."""
    if column in explicit:
        return True, explicit[column]
    loose = {squash(k): v for k, v in explicit.items()}
    key = squash(column)
    if key and key in loose:
        return True, loose[key]
    return False, None
