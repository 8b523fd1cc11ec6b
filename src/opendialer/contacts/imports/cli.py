"""``opendialer import``: bulk contact import from the command line.

Same code path as ``POST /api/v1/campaigns/{id}/contacts:import``; the whole file is imported
in one transaction against ``OPENDIALER_DATABASE_URL``.
"""

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer import migrate
from opendialer.audit.context import act_for_tenant, audited_command
from opendialer.config import get_settings
from opendialer.contacts.imports.importer import import_contacts
from opendialer.contacts.imports.schemas import (
    DuplicateKey,
    DuplicatePolicy,
    DuplicateScope,
    ImportFormat,
    ImportOptions,
    ImportReport,
    Outcome,
    Unmapped,
)
from opendialer.contacts.imports.sources import format_for
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.errors import OpendialerError
from opendialer.models import Campaign, Tenant
from opendialer.scoping import Scope

err = Console(stderr=True)
out = Console()


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]Error:[/red] {message}", highlight=False)
    return typer.Exit(code=code)


def _mapping(value: str | None) -> str | None:
    """``--mapping`` is JSON text, or ``@path`` to a file holding it."""
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot read the mapping file {path}: {exc.strerror}", 2) from exc


def _options(values: dict[str, Any]) -> ImportOptions:
    try:
        return ImportOptions.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise _fail(problems, 2) from exc


def _tenant(session: Session, tenant_id: int | None) -> Tenant:
    if tenant_id is not None:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise _fail(f"there is no tenant {tenant_id}", 2)
        return tenant
    tenants = session.scalars(select(Tenant).order_by(Tenant.id).limit(2)).all()
    if not tenants:
        raise _fail("the database has no tenant yet; create one with `opendialer tenant create`")
    if len(tenants) > 1:
        raise _fail("the database has several tenants; pass --tenant ID", 2)
    return tenants[0]


def _campaign(session: Session, tenant: Tenant, name: str) -> Campaign:
    query = select(Campaign).where(Campaign.tenant_id == tenant.id)
    campaign = session.scalar(query.where(Campaign.name == name))
    if campaign is None and name.isdigit():
        campaign = session.scalar(query.where(Campaign.id == int(name)))
    if campaign is None:
        raise _fail(f"tenant {tenant.id} ({tenant.name}) has no campaign {name!r}")
    return campaign


def _summary(report: ImportReport) -> Table:
    table = Table(title=f"Import into campaign {report.campaign_id}")
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    for outcome in Outcome:
        table.add_row(outcome.value, f"{report.counts[outcome]:,}")
    table.add_row("[bold]total[/bold]", f"[bold]{report.total:,}[/bold]")
    if report.warnings:
        table.caption = f"{report.warnings:,} imported or updated rows have warnings"
    return table


def write_report(report: ImportReport, path: Path) -> int:
    """Every row that was not imported cleanly, as CSV: line, outcome, message, its values."""
    columns = report.columns
    # backslashreplace: a malformed row's lone surrogates are written as \\udXXX escapes
    with path.open("w", encoding="utf-8", errors="backslashreplace", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([report.line_kind, "outcome", "message", *(columns or ["data"])])
        count = 0
        for entry in report.issues:
            data = entry["data"]
            if columns and isinstance(data, dict):
                values = [data.get(c, "") for c in columns]
            elif columns and isinstance(data, list):
                values = [str(v) for v in data]
            else:
                values = [json.dumps(data, ensure_ascii=False)]
            writer.writerow([entry["line"], entry["outcome"], entry["message"], *values])
            count += 1
    return count


def _run(
    file: Path, campaign_name: str, tenant_id: int | None, options: ImportOptions, **kw: Any
) -> ImportReport:
    fmt = options.format or format_for(None, file.name)
    if fmt is None:
        raise _fail(f"cannot tell the format of {file.name}; pass --format csv|json|ndjson", 2)
    settings = get_settings()
    try:
        migrate.check_current(settings.database_url)
    except migrate.SchemaNotCurrent as exc:
        raise _fail(str(exc), 2) from exc
    engine = create_db_engine(settings.database_url)
    size = file.stat().st_size
    columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn()]
    columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    try:
        with (
            unit_of_work(create_sessionmaker(engine), immediate=True) as session,
            file.open("rb") as stream,
        ):
            campaign = _campaign(session, _tenant(session, tenant_id), campaign_name)
            act_for_tenant(Scope.system(campaign.tenant_id))
            with Progress(*columns, console=err, transient=False) as progress:
                task = progress.add_task(f"Importing {file.name}", total=size)
                report = import_contacts(
                    session,
                    campaign,
                    stream,
                    options,
                    fmt,
                    size=size,
                    progress=lambda done: progress.update(task, completed=done),
                    **kw,
                )
                progress.update(task, completed=size)
            err.print("Committing…")
    except OpendialerError as exc:
        line = exc.details.get("line") if isinstance(exc.details, dict) else None
        where = f" (line {line})" if line is not None else ""
        raise _fail(f"{exc.message}{where}; nothing was imported") from exc
    finally:
        engine.dispose()
    return report


@audited_command
def import_command(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV, JSON or NDJSON"),
    ],
    campaign: Annotated[str, typer.Option(help="Campaign name (or id)")],
    tenant: Annotated[
        int | None, typer.Option(help="Tenant id; optional when the database has one tenant")
    ] = None,
    file_format: Annotated[
        ImportFormat | None, typer.Option("--format", help="Default: from the file suffix")
    ] = None,
    encoding: Annotated[str, typer.Option(help="utf-8, iso-8859-1 or windows-1252")] = "utf-8",
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (one character or 'tab'); default: sniffed")
    ] = None,
    duplicates: Annotated[DuplicatePolicy, typer.Option()] = DuplicatePolicy.SKIP,
    duplicate_scope: Annotated[DuplicateScope, typer.Option()] = DuplicateScope.CAMPAIGN,
    duplicate_key: Annotated[DuplicateKey, typer.Option()] = DuplicateKey.PHONE,
    mapping: Annotated[
        str | None, typer.Option(help='JSON like {"Telefon": "phone1"}, or @file.json')
    ] = None,
    default_mapping: Annotated[
        bool, typer.Option(help="Map columns named like contact fields (jtel, mmDial names)")
    ] = True,
    unmapped: Annotated[
        Unmapped, typer.Option(help="What to do with columns nothing maps")
    ] = Unmapped.IGNORE,
    list_id: Annotated[int | None, typer.Option(help="Put the new contacts in this list")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write the rows not imported cleanly to this CSV file")
    ] = None,
    parallel: Annotated[
        bool | None,
        typer.Option(help="Read and check the file in a second process (default: over 4 MiB)"),
    ] = None,
) -> None:
    """Import contacts from a CSV, JSON or NDJSON file into a campaign."""
    options = _options(
        {
            "format": file_format,
            "encoding": encoding,
            "delimiter": delimiter,
            "duplicates": duplicates,
            "duplicate_scope": duplicate_scope,
            "duplicate_key": duplicate_key,
            "mapping": _mapping(mapping) or {},
            "default_mapping": default_mapping,
            "unmapped": unmapped,
            "list_id": list_id,
        }
    )
    result = _run(file, campaign, tenant, options, parallel=parallel)
    try:
        out.print(_summary(result))
        rate = result.total / result.seconds if result.seconds else 0.0
        out.print(f"{result.total:,} rows in {result.seconds:.1f} s ({rate:,.0f} rows/s)")
        if result.unmapped_columns:
            out.print(f"Columns not imported: {', '.join(result.unmapped_columns)}")
        if report is not None:
            written = write_report(result, report)
            out.print(f"{written:,} rows written to {report}")
    finally:
        result.close()
