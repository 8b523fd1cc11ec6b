"""CSV exports of a campaign's leads: filters, chosen fields, encodings, background builds.

An export is a file ``<exports_dir>/<file_id>.csv`` with a small JSON sidecar (owner, state,
size). Rows are streamed from the database into the file, so memory stays flat at any size;
exports of more than ``export_background_rows`` leads are built in a thread after the request.
"""

import codecs
import contextlib
import csv
import json
import logging
import os
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import link_secret
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.errors import BadRequest, NotFound
from opendialer.exports import fields as lead
from opendialer.models import Campaign, Contact, FormField, ResultCode
from opendialer.scoping import Scope, require_owner
from opendialer.security import sign_path, verify_signed_path

log = logging.getLogger(__name__)

LEAD_PREFIX = "customerfield_"
FORM_PREFIX = "webformfield_"
ENCODINGS = {"iso8859-1": "iso-8859-1", "cp1252": "windows-1252", "utf-8": "utf-8"}
DEFAULT_ENCODING = "iso-8859-1"
DEFAULT_DATE_TYPE = "last_phone"
DELIMITER = ";"
FETCH_ROWS = 5000
FILE_PATH = "/api/v1/exports/{file_id}/file"
FALLBACK_ERRORS = "opendialer-transliterate"
_FILE_ID = re.compile(r"^[0-9a-f]{32}$")
# A cell a spreadsheet would read as a formula ...
_FORMULA_START = frozenset("=+-@\t\r")
# ... unless it is a plain (phone) number such as "+49 89 1234567" or "-5".
_NUMBER_LIKE = re.compile(r"^[+-]?[0-9][0-9 ()/.-]*$")


class ExportError(BadRequest):
    code = "invalid_export"


# The request ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    lead_field: str | None = None  # one of fields.LEAD_FIELDS
    form_field: str | None = None  # an order-form field of the campaign


@dataclass(frozen=True, slots=True)
class ExportSpec:
    campaign_id: int
    columns: tuple[Column, ...]
    statuses: tuple[str, ...] = ()
    date_types: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    encoding: str = DEFAULT_ENCODING


def encoding_name(value: str | None) -> str:
    """``ISO-8859-1`` (default), ``Windows-1252`` or ``UTF-8``, in any spelling Python knows."""
    if value is None or not value.strip():
        return DEFAULT_ENCODING
    try:
        name = codecs.lookup(value.strip()).name
    except LookupError:
        name = ""
    if name not in ENCODINGS:
        raise ExportError(
            f"Unknown encoding {value!r}: use ISO-8859-1, Windows-1252 or UTF-8",
            code="unknown_encoding",
        )
    return ENCODINGS[name]


def parse_columns(selected: list[str], form_fields: set[str]) -> tuple[Column, ...]:
    """``customerfield_<lead field>`` and ``webformfield_<order-form field>`` selectors."""
    if not selected:
        raise ExportError("Select at least one field", code="no_fields")
    columns, unknown = [], []
    for name in selected:
        if name.startswith(LEAD_PREFIX) and name[len(LEAD_PREFIX) :] in lead.LEAD_FIELDS:
            columns.append(Column(name, lead_field=name[len(LEAD_PREFIX) :]))
        elif name.startswith(FORM_PREFIX) and name[len(FORM_PREFIX) :] in form_fields:
            columns.append(Column(name, form_field=name[len(FORM_PREFIX) :]))
        else:
            unknown.append(name)
    if unknown:
        raise ExportError(f"Unknown fields: {', '.join(unknown)}", code="unknown_fields")
    return tuple(columns)


def campaign_form_fields(session: Session, campaign_id: int) -> set[str]:
    return set(session.scalars(select(FormField.name).where(FormField.campaign_id == campaign_id)))


def check_date_types(date_types: list[str]) -> tuple[str, ...]:
    unknown = [d for d in date_types if d not in lead.DATE_FIELDS]
    if unknown:
        raise ExportError(
            f"Unknown datetype {unknown[0]!r}: use last_phone, last_edit or imported_date",
            code="unknown_datetype",
        )
    return tuple(dict.fromkeys(date_types))


# The query --------------------------------------------------------------------------------


def _needs_status(spec: ExportSpec) -> bool:
    return bool(spec.statuses) or any(c.lead_field == lead.STATUS_FIELD for c in spec.columns)


def _filtered(stmt: Select[Any], scope: Scope, spec: ExportSpec) -> Select[Any]:
    stmt = stmt.where(Contact.tenant_id == scope.tenant_id, Contact.campaign_id == spec.campaign_id)
    if _needs_status(spec):
        stmt = stmt.outerjoin(ResultCode, ResultCode.id == Contact.result_code_id)
    if spec.statuses:
        stmt = stmt.where(lead.status_expression().in_(spec.statuses))
    if spec.start is not None or spec.end is not None:
        date_types = spec.date_types or (DEFAULT_DATE_TYPE,)
        stmt = stmt.where(or_(*(_in_range(lead.DATE_FIELDS[d], spec) for d in date_types)))
    return stmt


def _in_range(column: Any, spec: ExportSpec) -> ColumnElement[bool]:
    bounds = []
    if spec.start is not None:
        bounds.append(column >= spec.start)
    if spec.end is not None:
        bounds.append(column <= spec.end)
    return and_(*bounds)


def _expression(name: str) -> Any:
    if name in lead.TEXT_FIELDS:
        return lead.TEXT_FIELDS[name]
    if name in lead.ID_FIELDS:
        return lead.ID_FIELDS[name]
    if name in lead.DATE_FIELDS:
        return lead.DATE_FIELDS[name]
    if name in lead.PHONE_FIELDS:
        return lead.PHONE_ALIASES[lead.PHONE_FIELDS[name]].raw
    return lead.status_expression()


def _column_expression(column: Column) -> Any:
    if column.form_field is not None:  # read in SQL: no JSON decoding per row in Python
        return Contact.form_data[column.form_field].as_string()
    assert column.lead_field is not None
    return _expression(column.lead_field)


def rows_query(scope: Scope, spec: ExportSpec) -> Select[Any]:
    """One row per lead, one value per chosen column, in lead id order."""
    selected = [_column_expression(c).label(f"c{i}") for i, c in enumerate(spec.columns)]
    stmt = select(*selected).select_from(Contact)
    names = {c.lead_field for c in spec.columns}
    for name, position in lead.PHONE_FIELDS.items():
        if name in names:
            phone = lead.PHONE_ALIASES[position]
            stmt = stmt.outerjoin(
                phone, and_(phone.contact_id == Contact.id, phone.position == position)
            )
    return _filtered(stmt, scope, spec).order_by(Contact.id)


def count_rows(session: Session, scope: Scope, spec: ExportSpec) -> int:
    stmt = _filtered(select(func.count()).select_from(Contact), scope, spec)
    return int(session.scalar(stmt) or 0)


# Cells ------------------------------------------------------------------------------------


def safe_cell(text: str) -> str:
    """Neutralise spreadsheet formulas (a leading ``'``), but leave numbers like ``+4989...``."""
    if text and text[0] in _FORMULA_START and not _NUMBER_LIKE.match(text):
        return "'" + text
    return text


def _transliterate(error: UnicodeError) -> tuple[str, int]:
    """Characters the encoding lacks: their unaccented letter ("ő" → "o"), else "?"."""
    assert isinstance(error, UnicodeEncodeError)
    out = []
    for char in error.object[error.start : error.end]:
        base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        out.append(base or "?")
    return "".join(out), error.end


@lru_cache(maxsize=1)
def _register_fallback() -> str:
    codecs.register_error(FALLBACK_ERRORS, _transliterate)
    return FALLBACK_ERRORS


def encoded_cell(text: str, encoding: str) -> str:
    """The cell as the file will hold it: transliterated into ``encoding``, then neutralised.

    In that order, because transliteration can make a formula: a full-width "=" (U+FF1D)
    becomes "=" in ISO-8859-1 and Windows-1252.
    """
    if not text.isascii():
        text = text.encode(encoding, _register_fallback()).decode(encoding)
    return safe_cell(text) if text[:1] in _FORMULA_START else text


def _formatter(spec: ExportSpec, tz: ZoneInfo) -> Callable[[Any], list[str]]:
    """A function turning one database row into the CSV cells, already in the file's encoding."""
    dates = [c.lead_field in lead.DATE_FIELDS for c in spec.columns]
    encoding = spec.encoding

    def cells(row: Any) -> list[str]:
        out = []
        for value, is_date in zip(row, dates, strict=True):
            if value is None:
                out.append("")
                continue
            if is_date:
                value = value.astimezone(tz).strftime("%d.%m.%Y %H:%M:%S")
            out.append(encoded_cell(str(value), encoding))
        return out

    return cells


# Files ------------------------------------------------------------------------------------


def new_file_id() -> str:
    return uuid.uuid4().hex


def _paths(settings: Settings, file_id: str) -> tuple[Path, Path]:
    if not _FILE_ID.match(file_id):
        raise NotFound("export", file_id)
    root = settings.exports_dir
    return root / f"{file_id}.csv", root / f"{file_id}.json"


def _write_meta(path: Path, meta: dict[str, Any]) -> None:
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(partial, path)


def read_meta(settings: Settings, file_id: str, scope: Scope | None = None) -> dict[str, Any]:
    """The export's state; ``NotFound`` for unknown ids and exports of a tenant other than the
    scope's (no scope: a signed link already names the file)."""
    _csv, meta_path = _paths(settings, file_id)
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotFound("export", file_id) from None
    if scope is not None:
        require_owner(scope, meta.get("tenant_id"), "export", file_id)
    return meta


def export_file(settings: Settings, file_id: str) -> Path:
    return _paths(settings, file_id)[0]


def write_csv(session: Session, scope: Scope, spec: ExportSpec, tz: ZoneInfo, path: Path) -> int:
    """Stream the rows into ``path`` (via a ``.part`` file); returns the number of rows."""
    partial = path.with_suffix(".csv.part")
    cells = _formatter(spec, tz)
    count = 0
    errors = _register_fallback()
    stmt = rows_query(scope, spec).execution_options(yield_per=FETCH_ROWS)
    with partial.open("w", encoding=spec.encoding, errors=errors, newline="") as out:
        writer = csv.writer(out, delimiter=DELIMITER, lineterminator="\r\n")
        writer.writerow([c.header for c in spec.columns])
        for batch in session.execute(stmt).partitions():
            writer.writerows(map(cells, batch))
            count += len(batch)
    os.replace(partial, path)
    return count


@dataclass(frozen=True, slots=True)
class ExportResult:
    file_id: str
    ready: bool
    size: int | None
    rows: int


def start_export(
    session: Session,
    sessions: SessionMaker,
    settings: Settings,
    campaign: Campaign,
    spec: ExportSpec,
    tz: ZoneInfo,
) -> ExportResult:
    """Build the file now (small exports) or in a background thread (large ones)."""
    settings.exports_dir.mkdir(parents=True, exist_ok=True)
    file_id = new_file_id()
    path, meta_path = _paths(settings, file_id)
    scope = Scope.system(campaign.tenant_id)
    rows = count_rows(session, scope, spec)
    meta: dict[str, Any] = {
        "tenant_id": campaign.tenant_id,
        "campaign_id": campaign.id,
        "rows": rows,
    }
    meta |= {"created_at": datetime.now(UTC).isoformat(), "encoding": spec.encoding}
    if rows <= settings.export_background_rows:
        written = write_csv(session, scope, spec, tz, path)
        size = path.stat().st_size
        _write_meta(meta_path, meta | {"state": "ready", "rows": written, "size": size})
        return ExportResult(file_id, True, size, written)
    _write_meta(meta_path, meta | {"state": "building", "size": None})
    worker = threading.Thread(
        target=_build,
        args=(sessions, scope, spec, tz, path, meta_path, meta),
        name=f"export-{file_id[:8]}",
        daemon=True,
    )
    worker.start()
    return ExportResult(file_id, False, None, rows)


def _build(
    sessions: SessionMaker,
    scope: Scope,
    spec: ExportSpec,
    tz: ZoneInfo,
    path: Path,
    meta_path: Path,
    meta: dict[str, Any],
) -> None:
    try:
        with unit_of_work(sessions, writes=False) as session:
            written = write_csv(session, scope, spec, tz, path)
        size = path.stat().st_size
        _write_meta(meta_path, meta | {"state": "ready", "rows": written, "size": size})
    except Exception as exc:
        log.exception("export %s failed", path.stem)
        _write_meta(meta_path, meta | {"state": "failed", "size": None, "error": str(exc)})


# Retention --------------------------------------------------------------------------------


def purge_expired_exports(settings: Settings, now: datetime) -> int:
    """Delete exports created more than ``export_retention_days`` ago: the CSV and any
    half-built file first, the sidecar last, so a pass cut short is finished by the next one.
    Afterwards their ``file_id`` and links answer 404."""
    if settings.export_retention_days <= 0 or not settings.exports_dir.is_dir():
        return 0
    cutoff = now - timedelta(days=settings.export_retention_days)
    deleted = 0
    for meta_path in settings.exports_dir.glob("*.json"):
        if _FILE_ID.match(meta_path.stem) and _expired(meta_path, cutoff):
            for path in (meta_path.with_suffix(".csv"), meta_path.with_suffix(".csv.part")):
                path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def _expired(meta_path: Path, cutoff: datetime) -> bool:
    """Created before ``cutoff``; a build still ``building`` also has to have stopped writing
    before it (then it crashed), so a running builder never loses its files."""
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
        last_active = datetime.fromisoformat(meta["created_at"])
        if meta.get("state") == "building":
            last_active = max(last_active, _last_written(meta_path))
        return last_active < cutoff
    except (OSError, ValueError, KeyError, TypeError):  # gone meanwhile, or not an export's
        return False


def _last_written(meta_path: Path) -> datetime:
    """When the builder last wrote its file: the half-built one, or the CSV it became."""
    newest = 0.0
    for path in (meta_path.with_suffix(".csv.part"), meta_path.with_suffix(".csv")):
        with contextlib.suppress(OSError):
            newest = max(newest, path.stat().st_mtime)
    return datetime.fromtimestamp(newest, UTC)


# Links ------------------------------------------------------------------------------------


def _link_secret(session: Session, settings: Settings, file_id: str) -> str | None:
    tenant_id = read_meta(settings, file_id).get("tenant_id")
    if not isinstance(tenant_id, int):
        return None
    return link_secret(session, settings.secret_key.get_secret_value(), Scope.system(tenant_id))


def download_url(session: Session, settings: Settings, file_id: str, base_url: str) -> str:
    """The expiring link anyone holding it can GET, signed with the tenant's link key."""
    path = FILE_PATH.format(file_id=file_id)
    expires = int(time.time()) + settings.export_link_ttl_seconds
    secret = _link_secret(session, settings, file_id)
    if secret is None:
        raise NotFound("export", file_id)
    return f"{base_url.rstrip('/')}{path}?{sign_path(secret, path, expires)}"


def check_link(
    session: Session, settings: Settings, file_id: str, expires: int, signature: str
) -> bool:
    """``NotFound`` for an export that is gone (its tenant, hence its key, is unknown)."""
    secret = _link_secret(session, settings, file_id)
    path = FILE_PATH.format(file_id=file_id)
    return secret is not None and verify_signed_path(secret, path, expires, signature, time.time())


def open_export(settings: Settings, file_id: str) -> BinaryIO:
    """The export's CSV, opened now: ``NotFound`` once housekeeping has deleted it."""
    try:
        return export_file(settings, file_id).open("rb")
    except FileNotFoundError:
        raise NotFound("export", file_id) from None


def iter_file(data: BinaryIO, chunk: int = 1 << 16) -> Iterator[bytes]:
    with data:
        while block := data.read(chunk):
            yield block
