"""The first rows of a file to import, read by the import's own sources, and the field each
column would fill: what a person sees before choosing the mapping."""

from itertools import islice
from typing import IO

from pydantic import Field

from opendialer.contacts.imports.schemas import (
    TARGETS,
    ImportFormat,
    ImportOptions,
    default_target,
    merge_mapping,
)
from opendialer.contacts.imports.sources import Record, open_source
from opendialer.schemas import OutputModel

SAMPLE_ROWS = 5


class PreviewColumn(OutputModel):
    name: str
    target: str | None = Field(description="The field the column fills with these options")
    samples: list[str] = Field(description="Its values in the first rows")


class ImportPreview(OutputModel):
    format: ImportFormat
    delimiter: str | None
    columns: list[PreviewColumn]
    targets: list[str] = Field(description="Every field a column may fill")


def _as_text(value: object) -> str:
    return "" if value is None else str(value)


def _table(records: list[Record], columns: list[str] | None) -> tuple[list[str], list[list[str]]]:
    """Column names and rows of text, from CSV values or JSON objects."""
    if columns is not None:
        rows = [r.values for r in records if isinstance(r.values, list)]
        return columns, [[_as_text(v) for v in row] for row in rows]
    objects = [r.values for r in records if isinstance(r.values, dict)]
    names = list(dict.fromkeys(key for obj in objects for key in obj))
    return names, [[_as_text(obj.get(name)) for name in names] for obj in objects]


def _target(options: ImportOptions, column: str) -> str | None:
    explicit, target = merge_mapping(options.mapping, column)
    if explicit:
        return target
    return default_target(column) if options.default_mapping else None


def preview_import(
    file: IO[bytes],
    fmt: ImportFormat,
    options: ImportOptions,
    form_fields: list[str],
    rows: int = SAMPLE_ROWS,
) -> ImportPreview:
    """Readable rows only (a file cut short by the caller ends in a broken row: left out)."""
    source = open_source(file, fmt, options.encoding, options.delimiter)
    records = [r for r in islice(source.records(), rows) if r.error is None]
    columns, table = _table(records, getattr(source, "columns", None))
    return ImportPreview(
        format=fmt,
        delimiter=getattr(source, "delimiter", None),
        columns=[
            PreviewColumn(
                name=name,
                target=_target(options, name),
                samples=[row[index] for row in table if index < len(row)],
            )
            for index, name in enumerate(columns)
        ],
        targets=sorted(TARGETS) + [f"form_data.{name}" for name in form_fields],
    )
