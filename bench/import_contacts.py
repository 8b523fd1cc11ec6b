"""Benchmark: bulk contact import (the same code path as the API and the CLI).

Generates a German lead list deterministically (two valid numbers per row in mixed formats; about
2% duplicates, 1% rows without a valid number, 0.1% malformed rows, 5% of rows with a landline on
the do-not-call list and 0.5% with both numbers on it), puts a 100,000-number tenant-wide DNC list
in a throw-away database, imports the file with the default options (skip duplicates by phone in
the campaign) and prints rows, seconds, rows/s, CPU time and peak RSS (this process, and the
reading process with the forkserver that starts it; each case in a fresh process so the peaks
are its own).

    .venv/bin/python -m bench.import_contacts                       # 100k and 1M, both databases
    .venv/bin/python -m bench.import_contacts --rows 20000 --backends sqlite
"""

import argparse
import csv
import gc
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from bench.common import throwaway_database
from opendialer.accounts.service import create_tenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.contacts.imports.importer import import_contacts
from opendialer.contacts.imports.schemas import ImportFormat, ImportOptions
from opendialer.db import SessionMaker, create_db_engine, create_sessionmaker, unit_of_work
from opendialer.models import Campaign, Contact, ContactPhone, DncEntry
from opendialer.scoping import Scope

DNC_SIZE = 100_000
HEADER = [
    *("Kundennr", "Anrede", "Vorname", "Nachname", "Strasse", "Hausnr", "PLZ", "Ort"),
    *("Telefon", "Mobil", "E-Mail", "Prioritaet"),
]
MAPPING = {
    "Kundennr": "user_data",
    "Anrede": "salutation",
    "Vorname": "first_name",
    "Nachname": "name",
    "Strasse": "address",
    "Hausnr": "street_number",
    "Telefon": "phone1",
    "Mobil": "phone2",
    "E-Mail": "email",
    "Prioritaet": "priority",
}
FIRST = ("Anna", "Jörg", "Lena", "Jürgen", "Sophie", "Günther", "Marie", "Paul")
LAST = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker")
STREETS = ("Hauptstraße", "Schulstraße", "Gartenweg", "Bahnhofstraße", "Lindenallee")
CITIES = (("10115", "Berlin"), ("80331", "München"), ("20095", "Hamburg"), ("50667", "Köln"))


def landline(i: int) -> tuple[str, str]:
    """(raw text in one of three formats, E.164) of row i's fixed-line number."""
    digits = f"2{i:07d}"
    raw = (f"030 {digits}", f"+49 30 {digits}", f"030{digits}")[i % 3]
    return raw, f"+4930{digits}"


def mobile(i: int) -> tuple[str, str]:
    digits = f"1{i:07d}"
    raw = (f"+49 151 {digits}", f"0151-{digits}", f"0151{digits}")[i % 3]
    return raw, f"+49151{digits}"


def generate(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(HEADER)
        for i in range(rows):
            source = i - 7 if i % 50 == 49 else i  # ~2% repeat the numbers of an earlier row
            phone, mobile_phone = landline(source)[0], mobile(source)[0]
            if i % 100 == 42:
                phone, mobile_phone = "123", "0000 1"  # no valid number
            postal, city = CITIES[i % len(CITIES)]
            priority = "hoch" if i % 1000 == 500 else str(i % 10)  # 0.1% malformed
            writer.writerow(
                [
                    f"K{i:08d}",
                    ("Frau", "Herr")[i % 2],
                    FIRST[i % len(FIRST)],
                    LAST[(i // 8) % len(LAST)],
                    STREETS[i % len(STREETS)],
                    str(1 + i % 120),
                    postal,
                    city,
                    phone,
                    mobile_phone,
                    f"kunde{i}@example.de",
                    priority,
                ]
            )


def dnc_numbers(rows: int) -> list[str]:
    """Landlines of rows i % 20 == 3, mobiles of rows i % 200 == 3, then numbers not in the file."""
    numbers = [landline(i)[1] for i in range(3, rows, 20)]
    numbers += [mobile(i)[1] for i in range(3, rows, 200)]
    numbers = numbers[:DNC_SIZE]
    numbers += [f"+4940{9_000_000 + n}" for n in range(DNC_SIZE - len(numbers))]
    return numbers


PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def _descendants(root: int) -> list[int]:
    """Children, grandchildren, ... of ``root``, from the kernel's per-thread children lists."""
    found: list[int] = []
    frontier = [root]
    while frontier:
        children: list[int] = []
        for pid in frontier:
            for tasks in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    children += [int(child) for child in tasks.read_text().split()]
                except OSError:
                    continue
        found += children
        frontier = children
    return found


def _reset_peak_rss() -> None:
    """Start this process's high-water mark (VmHWM) afresh (Linux: clear_refs 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


class HelperSampler(threading.Thread):
    """Peak resident memory and CPU time of this process's descendants (the reading process,
    which a forkserver starts as a grandchild, so RUSAGE_CHILDREN would not see it). Twice a
    second and from a few small files, so it takes next to nothing from the import it watches."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.rss = 0.0
        self.cpu: dict[int, float] = {}

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.wait(0.5):
            others = _descendants(me)
            self.rss = max(self.rss, sum(_rss_mib(p) for p in others))
            for pid in others:
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), _cpu_seconds(pid))


@dataclass
class Result:
    backend: str
    rows: int
    seconds: float
    cpu_seconds: float  # this process and its helpers: what the import costs on an idle machine
    importer_cpu_seconds: float  # this process alone
    rss_before: float  # after setup, before the import
    rss_peak: float  # during the import
    helper_rss_peak: float  # the reading process and the forkserver together
    counts: dict[str, int]
    contacts: int
    phones: int
    server_cpu_seconds: float = 0.0  # PostgreSQL: the server process that ran the import


def _server_pid(session: Session) -> int | None:
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _setup(sessions: SessionMaker, rows: int) -> int:
    with unit_of_work(sessions) as session:
        tenant = create_tenant(session, "bench", default_region="DE", timezone="UTC").tenant
        data = CampaignCreate(name="Bench", dial_mode="predictive")
        campaign_id = create_campaign(session, Scope.system(tenant.id), data).id
        entries = [
            {"tenant_id": tenant.id, "e164": n, "source": "bench"} for n in dnc_numbers(rows)
        ]
        session.execute(insert(DncEntry), entries)
    return campaign_id


def run_case(backend: str, path: Path, rows: int, parallel: bool | None) -> Result:
    """One import into a fresh database (call in a fresh process for a clean peak RSS)."""
    with throwaway_database(backend) as url:
        engine = create_db_engine(url)
        sessions = create_sessionmaker(engine)
        campaign_id = _setup(sessions, rows)
        gc.collect()
        sampler = HelperSampler()
        rss_before = _rss_mib(os.getpid())
        _reset_peak_rss()
        sampler.start()
        cpu_before = time.process_time()
        started = time.perf_counter()
        with unit_of_work(sessions) as session, path.open("rb") as file:
            server_pid = _server_pid(session)
            server_before = _cpu_seconds(server_pid) if server_pid else 0.0
            campaign = session.get_one(Campaign, campaign_id)
            report = import_contacts(
                session,
                campaign,
                file,
                ImportOptions(mapping=MAPPING),
                ImportFormat.CSV,
                size=path.stat().st_size,
                parallel=parallel,
            )
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        server_cpu = _cpu_seconds(server_pid) - server_before if server_pid else 0.0
        peak = _peak_rss_mib()
        sampler.stop.set()
        sampler.join()
        with sessions() as session:
            contacts = session.scalar(select(func.count()).select_from(Contact)) or 0
            phones = session.scalar(select(func.count()).select_from(ContactPhone)) or 0
        engine.dispose()
    counts = {k.value: v for k, v in report.counts.items()}
    report.close()
    return Result(
        backend,
        rows,
        seconds,
        cpu + sum(sampler.cpu.values()),
        cpu,
        rss_before,
        peak,
        sampler.rss,
        counts,
        contacts,
        phones,
        server_cpu,
    )


def _run_in_child(backend: str, path: Path, rows: int, parallel: bool | None) -> Result:
    command = [sys.executable, "-m", "bench.import_contacts", "--case", backend, str(path)]
    command += ["--rows", str(rows)]
    if parallel is not None:
        command += ["--parallel" if parallel else "--no-parallel"]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return Result(**json.loads(done.stdout.strip().splitlines()[-1]))


def _table(results: list[Result]) -> None:
    columns = ["database", "rows", "seconds", "rows/s", "CPU s", "importer CPU s", "server CPU s"]
    columns += ["RSS before MiB", "peak RSS MiB", "helpers' RSS MiB"]
    columns += ["imported", "duplicate", "invalid", "dnc", "malformed"]
    outcomes = ("imported", "duplicate", "invalid_number", "dnc", "malformed")
    table = Table(
        title="Contact import: CSV, 2 numbers per row, 100k-number DNC list, skip duplicates"
    )
    for column in columns:
        table.add_column(column, justify="right")
    for row in [
        [
            r.backend,
            f"{r.rows:,}",
            f"{r.seconds:.1f}",
            f"{r.rows / r.seconds:,.0f}",
            f"{r.cpu_seconds:.1f}",
            f"{r.importer_cpu_seconds:.1f}",
            f"{r.server_cpu_seconds:.1f}" if r.backend == "postgresql" else "-",
            f"{r.rss_before:.0f}",
            f"{r.rss_peak:.0f}",
            f"{r.helper_rss_peak:.0f}",
            *(f"{r.counts[k]:,}" for k in outcomes),
        ]
        for r in results
    ]:
        table.add_row(*row)
    Console(width=160).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--parallel",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="read the file in a second process (default: the importer decides by size)",
    )
    parser.add_argument("--case", nargs=2, metavar=("BACKEND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        backend, file = args.case
        result = run_case(backend, Path(file), int(args.rows), args.parallel)
        print(json.dumps(asdict(result)))
        return
    results = []
    with TemporaryDirectory(prefix="opendialer-import-bench-") as tmp:
        for rows in (int(n) for n in args.rows.split(",")):
            path = Path(tmp) / f"leads-{rows}.csv"
            generate(path, rows)
            for backend in args.backends.split(","):
                results.append(_run_in_child(backend, path, rows, args.parallel))
                print(json.dumps(asdict(results[-1])), file=sys.stderr)
    _table(results)


if __name__ == "__main__":
    main()
