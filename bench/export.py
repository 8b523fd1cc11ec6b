"""Benchmark: a CSV export of 100k and 1M leads with 10 fields (mmDial exportbystatus).

The export streams rows from the database into the file, so its memory must not grow with the
campaign: the table shows the process's RSS before the export and its peak during it (the
peak is reset just before the export starts). Goal: 1M leads in <= 20 s on SQLite.

    .venv/bin/python -m bench.export --sizes 100000,1000000 --backends sqlite
"""

import argparse
import multiprocessing
import tempfile
import time
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from bench.common import print_table, throwaway_database
from opendialer.accounts.service import create_tenant
from opendialer.campaigns.schemas import CampaignCreate, FormFieldWrite
from opendialer.campaigns.service import create_campaign, put_form_field
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.exports import service
from opendialer.scoping import Scope

PAST = "2026-01-01 00:00:00.000000"
FIELDS = [
    "customerfield_leadid",
    "customerfield_status",
    "customerfield_first_name",
    "customerfield_last_name",
    "customerfield_phone",
    "customerfield_street",
    "customerfield_plz",
    "customerfield_ort",
    "customerfield_last_phone",
    "webformfield_product",
]
SQLITE_SERIES = (
    "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :rows)"
)


def _fill_sql(dialect: str) -> list[str]:
    series, source = (
        (SQLITE_SERIES, "seq")
        if dialect == "sqlite"
        else ("", "generate_series(1, :rows) AS seq(n)")
    )
    false = "0" if dialect == "sqlite" else "false"
    phone = "'+4930' || (10000000 + id)"
    form = """'{"product": "Tarif ' || (n % 7) || '", "note": "Rückruf erwünscht"}'"""
    return [
        f"""{series} INSERT INTO contacts (tenant_id, campaign_id, custom_data, form_data,
            priority, next_try_at, locked, ignore_dnc, status, tries, next_phone_position,
            created_at, updated_at, last_call_at, first_name, name, address, postal_code, city)
        SELECT :tenant, :campaign, '{{}}', {form}, 0, :past, {false}, {false},
            CASE WHEN n % 3 = 0 THEN 'done' ELSE 'pending' END, 0, 1, :past, :past, :past,
            'Jürgen ' || n, 'Müller-Łukasz', 'Hauptstraße ' || (n % 200), '1' || (n % 9000 + 1000),
            'München'
        FROM {source}""",
        f"""INSERT INTO contact_phones (contact_id, tenant_id, campaign_id, position, raw, e164,
            invalid, tries)
        SELECT id, tenant_id, campaign_id, 1, {phone}, {phone}, {false}, 0
        FROM contacts WHERE campaign_id = :campaign""",
    ]


def _setup(engine: Engine, rows: int) -> tuple[int, int]:
    sessions = create_sessionmaker(engine)
    with unit_of_work(sessions) as session:
        tenant = create_tenant(session, "bench", default_region="DE", timezone="UTC").tenant
        campaign = create_campaign(
            session,
            Scope.system(tenant.id),
            CampaignCreate(
                name="bench",
                dial_mode="predictive",
                calling_hours_start=clock_time(0),
                calling_hours_end=clock_time(23, 59, 59),
            ),
        )
        put_form_field(session, campaign, FormFieldWrite(name="product"))
        ids = (tenant.id, campaign.id)
    params = {"tenant": ids[0], "campaign": ids[1], "rows": rows, "past": PAST}
    for statement in _fill_sql(engine.dialect.name):
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return ids


def _status_kb(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")


def _measure(
    backend: str, rows: int, encoding: str, out: "multiprocessing.Queue[list[object]]"
) -> None:
    with throwaway_database(backend) as url, tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(url)
        start = time.perf_counter()
        tenant_id, campaign_id = _setup(engine, rows)
        setup = time.perf_counter() - start
        spec = service.ExportSpec(
            campaign_id=campaign_id,
            columns=service.parse_columns(FIELDS, {"product"}),
            encoding=service.encoding_name(encoding),
        )
        path = Path(tmp) / "export.csv"
        sessions = create_sessionmaker(engine)
        before = _status_kb("VmRSS")
        _reset_peak()
        start = time.perf_counter()
        with unit_of_work(sessions) as session:
            written = service.write_csv(
                session, Scope.system(tenant_id), spec, ZoneInfo("UTC"), path
            )
        seconds = time.perf_counter() - start
        peak = _status_kb("VmHWM")
        size = path.stat().st_size
        engine.dispose()
    assert written == rows
    out.put(
        [
            backend,
            f"{rows:,}",
            encoding,
            f"{setup:.1f}",
            f"{seconds:.2f}",
            f"{rows / seconds:,.0f}",
            f"{size / 1e6:.0f}",
            f"{before / 1024:.0f}",
            f"{peak / 1024:.0f}",
        ]
    )


def run(backend: str, rows: int, encoding: str) -> list[object]:
    """In a fresh process, so each size's memory is measured on its own."""
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[object]] = context.Queue()
    process = context.Process(target=_measure, args=(backend, rows, encoding, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


COLUMNS = [
    "backend",
    "leads",
    "encoding",
    "setup s",
    "export s",
    "rows/s",
    "file MB",
    "RSS before MB",
    "peak RSS MB",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--encodings", default="ISO-8859-1")
    args = parser.parse_args()
    results = []
    for backend in args.backends.split(","):
        for encoding in args.encodings.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                results.append(run(backend, size, encoding))
                print_table("export (so far)", COLUMNS, results)
    print_table("CSV export, 10 fields (1 order-form field)", COLUMNS, results)


if __name__ == "__main__":
    main()
