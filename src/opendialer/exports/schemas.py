"""Native API shapes for CSV exports."""

from datetime import datetime

from pydantic import Field

from opendialer.schemas import InputModel, OutputModel


class ExportCreate(InputModel):
    campaign_id: int = Field(ge=1, le=2**63 - 1)
    fields: list[str] = Field(
        min_length=1,
        max_length=500,
        description="customerfield_<lead field> and webformfield_<order-form field>",
    )
    statuses: list[str] = Field(
        default_factory=list, max_length=1000, description="Lead statuses to export; empty: all"
    )
    date_types: list[str] = Field(
        default_factory=list,
        max_length=3,
        description="last_phone, last_edit, imported_date (OR); default last_phone",
    )
    start: datetime | None = Field(default=None, description="From (inclusive), with offset")
    end: datetime | None = Field(default=None, description="To (inclusive), with offset")
    encoding: str = Field(default="ISO-8859-1", description="ISO-8859-1, Windows-1252, UTF-8")


class ExportRead(OutputModel):
    file_id: str
    state: str = Field(description="building, ready or failed")
    rows: int | None
    size: int | None = Field(description="Bytes, once ready")
    encoding: str
    url: str | None = Field(description="Signed, expiring download link, once ready")
    error: str | None = None
