"""DNC lists from files: ``opendialer dnc replace FILE`` once, or on a schedule.

A tenant names a file in the server's ``dnc_import_dir`` and how often to read it
(``dnc_import_path``, ``dnc_import_every_minutes``); housekeeping reads each file that is due
and makes it the tenant-wide list through ``service.replace_list``, in one transaction: the
list is the old version or the new one, never a mix, and a file that cannot be read (or holds
no valid number) leaves the old list. The outcome (counts per outcome, the lines that were no
number) is kept on the tenant (``dnc_import_last_result``), logged, and written to the audit
trail with the replacement (face ``schedule``).

The file: one number per line, or CSV whose first field is the number; blank lines and lines
starting with ``#`` are skipped; a header line is reported as a line that is no number.
"""

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.audit.context import SCHEDULE, act_for_tenant, acting_through
from opendialer.dnc.schemas import DncBulkResult, DncOutcome, DncRecordOutcome
from opendialer.dnc.service import replace_list
from opendialer.errors import BadRequest, OpendialerError
from opendialer.models import Tenant
from opendialer.scoping import Scope

log = logging.getLogger(__name__)
MAX_FILE_BYTES = 512 * 1024 * 1024
LISTED_INVALID_LINES = 20
SCHEDULE_ACTOR = "dnc_import"


@dataclass(frozen=True, slots=True)
class FileLine:
    line: int
    number: str


class UnreadableDncFile(BadRequest):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="unreadable_dnc_file")


def read_numbers(path: Path) -> list[FileLine]:
    """The numbers in the file, with their line numbers."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UnreadableDncFile(f"{path.name} is over {MAX_FILE_BYTES // 2**20} MiB")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise UnreadableDncFile(f"cannot read {path.name}: {error}") from None
    numbers = []
    for line, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        first = fields[0].strip() if fields else ""
        if first and not first.startswith("#"):
            numbers.append(FileLine(line, first))
    return numbers


def summary(
    name: str, lines: Sequence[FileLine], records: list[DncRecordOutcome], removed: int
) -> dict[str, Any]:
    """Counts per outcome and the first lines that were no number (never their text: the
    file is the operator's, the summary is shown through the API)."""
    counts: dict[str, int] = {o.value: n for o, n in DncBulkResult.of(records).counts.items()}
    counts[DncOutcome.REMOVED.value] = removed
    invalid = [
        line.line
        for line, record in zip(lines, records, strict=True)
        if record.outcome == DncOutcome.INVALID_NUMBER
    ]
    return {"file": name, "counts": counts, "invalid_lines": invalid[:LISTED_INVALID_LINES]}


def replace_from_file(
    session: Session, scope: Scope, campaign_id: int | None, path: Path, source: str = "file"
) -> dict[str, Any]:
    """Make the list (tenant-wide, or a campaign's) exactly the file's numbers."""
    lines = read_numbers(path)
    raws = [line.number for line in lines]
    records, removed = replace_list(session, scope, campaign_id, raws, (source, path.name, None))
    return summary(path.name, lines, records, removed)


def _due(tenant: Tenant, now: datetime) -> bool:
    if tenant.dnc_import_path is None or tenant.dnc_import_every_minutes is None:
        return False
    last = tenant.dnc_import_last_at
    return last is None or now - last >= timedelta(minutes=tenant.dnc_import_every_minutes)


def due_tenants(session: Session, now: datetime) -> list[int]:
    """The tenants whose scheduled DNC file is due to be read."""
    scheduled = select(Tenant).where(Tenant.dnc_import_path.is_not(None))
    return [tenant.id for tenant in session.scalars(scheduled) if _due(tenant, now)]


def _replace_scheduled(
    session: Session, scope: Scope, name: str, folder: Path | None
) -> dict[str, Any]:
    """The replacement, audited as the schedule's; on failure nothing changed and the result
    says why."""
    with acting_through(SCHEDULE) as context:
        context.credential = SCHEDULE_ACTOR
        act_for_tenant(scope)
        try:
            if folder is None:
                raise UnreadableDncFile("the server has no dnc_import_dir")
            with session.begin_nested():
                return replace_from_file(session, scope, None, folder / name, "schedule")
        except OpendialerError as error:
            return {"file": name, "error": error.message}


def run_scheduled(session: Session, scope: Scope, folder: Path | None, now: datetime) -> bool:
    """Read the scope's tenant's file into its tenant-wide list and keep the outcome on the
    tenant; True if the list was replaced."""
    tenant_id = scope.tenant_id
    tenant = session.get_one(Tenant, tenant_id)
    assert tenant.dnc_import_path is not None
    result = _replace_scheduled(session, scope, tenant.dnc_import_path, folder)
    if "error" in result:
        log.warning("scheduled DNC import for tenant %d failed: %s", tenant_id, result["error"])
    else:
        log.info("scheduled DNC import for tenant %d: %s", tenant_id, result["counts"])
    tenant.dnc_import_last_at = now
    tenant.dnc_import_last_result = result
    session.flush()
    return "error" not in result
