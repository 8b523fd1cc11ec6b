"""Benchmark: bulk contact import (the same code path as the API and the CLI).

Generates a German lead list deterministically (two valid numbers per row in mixed formats; about
2% duplicates, 1% rows without a valid number, 0.1% malformed rows, 5% of rows with a landline on
the do-not-call list and 0.5% with both numbers on it), puts a 100,000-number tenant-wide DNC list
in a throw-away database, imports the file with the default options (skip duplicates by phone in
the campaign) and prints rows, seconds, rows/s and peak RSS (this process and the normalisation
workers, each case in a fresh process so the peaks are its own).

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
from sqlalchemy import func, insert, select

from bench.common import throwaway_database
from opendialer.accounts.service import create_tenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.contacts.import_schemas import ImportFormat, ImportOptions
from opendialer.contacts.importer import import_contacts
from opendialer.db import SessionMaker, create_db_engine, create_sessionmaker, unit_of_work
from opendialer.models import Campaign, Contact, ContactPhone, DncEntry

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
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


class RssSampler(threading.Thread):
    """Peak resident memory and CPU time of this process's descendants (the normalisation
    workers, which a forkserver starts as grandchildren, so RUSAGE_CHILDREN would not see them),
    and the peak resident memory of this process."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.own = self.workers = 0.0
        self.worker_cpu: dict[int, float] = {}

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.wait(0.2):
            self.own = max(self.own, _rss_mib(me))
            others = _descendants(me)
            self.workers = max(self.workers, sum(_rss_mib(p) for p in others))
            for pid in others:
                self.worker_cpu[pid] = max(self.worker_cpu.get(pid, 0.0), _cpu_seconds(pid))


@dataclass
class Result:
    backend: str
    rows: int
    seconds: float
    cpu_seconds: float  # this process and the workers: what the import costs on an idle machine
    rss_before: float  # after setup, before the import
    rss_peak: float  # during the import
    worker_rss_peak: float  # all normalisation workers together
    counts: dict[str, int]
    contacts: int
    phones: int


def _setup(sessions: SessionMaker, rows: int) -> int:
    with unit_of_work(sessions) as session:
        tenant = create_tenant(session, "bench", default_region="DE", timezone="UTC").tenant
        data = CampaignCreate(name="Bench", dial_mode="predictive")
        campaign_id = create_campaign(session, tenant, data).id
        entries = [
            {"tenant_id": tenant.id, "e164": n, "source": "bench"} for n in dnc_numbers(rows)
        ]
        session.execute(insert(DncEntry), entries)
    return campaign_id


def run_case(backend: str, path: Path, rows: int, workers: int | None) -> Result:
    """One import into a fresh database (call in a fresh process for a clean peak RSS)."""
    with throwaway_database(backend) as url:
        engine = create_db_engine(url)
        sessions = create_sessionmaker(engine)
        campaign_id = _setup(sessions, rows)
        gc.collect()
        sampler = RssSampler()
        rss_before = _rss_mib(os.getpid())
        sampler.start()
        cpu_before = time.process_time()
        started = time.perf_counter()
        with unit_of_work(sessions) as session, path.open("rb") as file:
            campaign = session.get_one(Campaign, campaign_id)
            report = import_contacts(
                session,
                campaign,
                file,
                ImportOptions(mapping=MAPPING),
                ImportFormat.CSV,
                size=path.stat().st_size,
                workers=workers,
            )
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        sampler.stop.set()
        sampler.join()
        sampler.own = max(sampler.own, _rss_mib(os.getpid()))
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
        cpu + sum(sampler.worker_cpu.values()),
        rss_before,
        sampler.own,
        sampler.workers,
        counts,
        contacts,
        phones,
    )


def _run_in_child(backend: str, path: Path, rows: int, workers: int | None) -> Result:
    command = [sys.executable, "-m", "bench.import_contacts", "--case", backend, str(path)]
    command += ["--rows", str(rows)] + (["--workers", str(workers)] if workers is not None else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return Result(**json.loads(done.stdout.strip().splitlines()[-1]))


def _table(results: list[Result]) -> None:
    columns = ["database", "rows", "seconds", "rows/s", "CPU s", "RSS before MiB", "peak RSS MiB"]
    columns += ["workers' RSS MiB", "imported", "duplicate", "invalid", "dnc", "malformed"]
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
            f"{r.rss_before:.0f}",
            f"{r.rss_peak:.0f}",
            f"{r.worker_rss_peak:.0f}",
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
    parser.add_argument("--workers", type=int, default=None, help="normalisation processes")
    parser.add_argument("--case", nargs=2, metavar=("BACKEND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        backend, file = args.case
        result = run_case(backend, Path(file), int(args.rows), args.workers)
        print(json.dumps(asdict(result)))
        return
    results = []
    with TemporaryDirectory(prefix="opendialer-import-bench-") as tmp:
        for rows in (int(n) for n in args.rows.split(",")):
            path = Path(tmp) / f"leads-{rows}.csv"
            generate(path, rows)
            for backend in args.backends.split(","):
                results.append(_run_in_child(backend, path, rows, args.workers))
                print(json.dumps(asdict(results[-1])), file=sys.stderr)
    _table(results)


if __name__ == "__main__":
    main()
