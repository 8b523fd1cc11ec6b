"""Native API: bulk contact import.

``POST /campaigns/{id}/contacts:import`` takes the file itself as the body (``text/csv``,
``application/json``, ``application/x-ndjson``, or a ``multipart/form-data`` upload in a part named
``file``) and the options as query parameters. The body is spooled to a temporary file, imported
in the request's transaction, and answered with the report: counts per outcome and every row that
was not imported cleanly, streamed from disk.
"""

import json
from collections.abc import Iterator
from functools import partial
from typing import IO, Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from opendialer.accounts.roles import AdminReadScope
from opendialer.campaigns.service import get_campaign, list_form_fields
from opendialer.contacts.imports.importer import import_contacts
from opendialer.contacts.imports.preview import ImportPreview, preview_import
from opendialer.contacts.imports.progress import ImportProgressBoard
from opendialer.contacts.imports.schemas import (
    DuplicateKey,
    DuplicatePolicy,
    DuplicateScope,
    ImportFormat,
    ImportOptions,
    ImportReport,
    Unmapped,
)
from opendialer.contacts.imports.sources import format_for, spool
from opendialer.db import run_unit_of_work
from opendialer.errors import BadRequest, NotFound
from opendialer.schemas import OutputModel
from opendialer.scoping import Scope
from opendialer.web.db import ReadSession
from opendialer.web.params import RecordId
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import app_state

router = IndexedRouter(route_class=OneTripRoute, tags=["contacts"])

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("text/csv", "application/json", "application/x-ndjson")
        }
        | {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}
_FLUSH_BYTES = 1 << 16
ProgressKey = Annotated[
    str,
    Query(
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="A name of the caller's choosing (8-64 letters, digits, - or _) to follow "
        "the import with GET /imports/{progress}",
    ),
]


class ImportProgressRead(OutputModel):
    progress: str
    bytes_read: int
    size: int
    done: bool


async def import_options(
    request: Request,
    format: ImportFormat | None = None,
    encoding: Annotated[str | None, Query(description="utf-8, iso-8859-1, windows-1252")] = None,
    delimiter: Annotated[str | None, Query(description="CSV delimiter; default sniffed")] = None,
    duplicates: DuplicatePolicy = DuplicatePolicy.SKIP,
    duplicate_scope: DuplicateScope = DuplicateScope.CAMPAIGN,
    duplicate_key: DuplicateKey = DuplicateKey.PHONE,
    mapping: Annotated[
        str | None, Query(description='JSON object, e.g. {"Telefon": "phone1"}')
    ] = None,
    default_mapping: bool = True,
    unmapped: Unmapped = Unmapped.IGNORE,
    list_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> ImportOptions:
    charset = _charset(request.headers.get("content-type", ""))
    values: dict[str, Any] = {
        "format": format,
        "encoding": encoding or charset or "utf-8",
        "delimiter": delimiter,
        "duplicates": duplicates,
        "duplicate_scope": duplicate_scope,
        "duplicate_key": duplicate_key,
        "mapping": mapping or {},
        "default_mapping": default_mapping,
        "unmapped": unmapped,
        "list_id": list_id,
    }
    try:
        return ImportOptions.model_validate(values)
    except ValidationError as exc:
        details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        message = "; ".join(f"{d['loc'][0]}: {d['msg']}" for d in details)
        raise BadRequest(message, code="invalid_options", status_code=422, details=details) from exc


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def _format(options: ImportOptions, content_type: str | None, name: str | None) -> ImportFormat:
    fmt = options.format or format_for(content_type, name)
    if fmt is None:
        raise BadRequest(
            "Send text/csv, application/json or application/x-ndjson, or pass format=",
            code="unsupported_format",
            status_code=415,
        )
    return fmt


async def _upload(request: Request, options: ImportOptions) -> tuple[IO[bytes], ImportFormat]:
    """The uploaded file (spooled to disk when large) and its format."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        fmt = _format(options, content_type, None)  # before reading a large body
        return await spool(request.stream()), fmt
    form = await request.form(max_files=1)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise BadRequest("Send the file in a form part named 'file'", code="missing_file")
    return upload.file, _format(options, upload.content_type, upload.filename)


def _render(report: ImportReport) -> Iterator[bytes]:
    try:
        head = json.dumps(report.summary(), ensure_ascii=False)
        buffer = [head[:-1], ', "rows": [']
        size = 0
        for index, line in enumerate(report.issues.lines()):
            buffer.append(",\n" + line if index else "\n" + line)
            size += len(line)
            if size > _FLUSH_BYTES:
                yield "".join(buffer).encode()
                buffer, size = [], 0
        buffer.append("\n]}\n")
        yield "".join(buffer).encode()
    finally:
        report.close()


@router.post(
    "/campaigns/{campaign_id}/contacts:import",
    openapi_extra=_BODY_DOC,
    response_class=StreamingResponse,
    responses={200: {"description": "The import report", "content": {"application/json": {}}}},
)
async def import_contacts_endpoint(
    campaign_id: RecordId,
    request: Request,
    options: Annotated[ImportOptions, Depends(import_options)],
    session: ReadSession,
    who: AdminReadScope,
    progress: ProgressKey | None = None,
) -> StreamingResponse:
    """Import contacts from a CSV, JSON-array or NDJSON file into the campaign."""
    await run_in_threadpool(get_campaign, session, who, campaign_id)
    file, fmt = await _upload(request, options)
    board = _board(request)

    def work(writer: Session) -> ImportReport:
        campaign = get_campaign(writer, who, campaign_id)
        if progress is None:
            return import_contacts(writer, campaign, file, options, fmt, size=size)
        board.start(who, key=progress, size=size)
        follow = partial(board.read, who, key=progress)
        return import_contacts(writer, campaign, file, options, fmt, size=size, progress=follow)

    try:
        size = file.seek(0, 2)
        file.seek(0)
        # Its own write transaction, begun once the upload is in: a slow upload holds no writer.
        report = await run_unit_of_work(app_state(request).sessions, work, writes=True)
    finally:
        file.close()
        if progress is not None:
            board.finish(who, key=progress)
    metrics = app_state(request).metrics
    if metrics is not None:
        metrics.imports.count(report.counts)
    return StreamingResponse(_render(report), media_type="application/json")


def _board(request: Request) -> ImportProgressBoard:
    return app_state(request).import_progress


@router.get("/imports/{progress}", response_model=ImportProgressRead)
def import_progress(
    progress: Annotated[str, Path(max_length=64)], request: Request, who: AdminReadScope
) -> ImportProgressRead:
    """How far an import started with ``progress=`` has read its file (this server process)."""
    found = _board(request).get(who, key=progress)
    if found is None:
        raise NotFound("Import", progress)
    return ImportProgressRead(
        progress=progress, bytes_read=found.bytes_read, size=found.size, done=found.done
    )


@router.post(
    "/campaigns/{campaign_id}:import-preview",
    openapi_extra=_BODY_DOC,
    response_model=ImportPreview,
)
async def import_preview(
    campaign_id: RecordId,
    request: Request,
    options: Annotated[ImportOptions, Depends(import_options)],
    session: ReadSession,
    who: AdminReadScope,
) -> ImportPreview:
    """The first rows of a file (send its first 64 KiB or so), and the field each column fills
    with these options: nothing is written."""
    fields = await run_in_threadpool(_form_fields, session, who, campaign_id)
    file, fmt = await _upload(request, options)
    try:
        return await run_in_threadpool(preview_import, file, fmt, options, fields)
    finally:
        file.close()


def _form_fields(session: Session, who: Scope, campaign_id: int) -> list[str]:
    return [f.name for f in list_form_fields(session, get_campaign(session, who, campaign_id))]
