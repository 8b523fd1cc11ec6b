"""Benchmark: claiming the next eligible contact with 100k, 1M and 10M contacts in a campaign.

Each claim is a whole transaction (find by the dial-queue index, load phones, DNC check,
compare-and-set, commit); the last two columns time claims the way the engine makes them when
one tick dials several, five to a transaction. The time must not grow with the campaign: an
index seek, not a scan.

    .venv/bin/python -m bench.select_next --sizes 100000,1000000,10000000 --claims 2000

``--checks plain,compliance`` also runs each size with every issue-25 check on: holidays (DE),
closed dates, frequency caps per number, per contact and per conversation (against one earlier
attempt for every tenth contact), and local-presence caller IDs from a pool; and the tenant's
own closed date and number cap (over another window). One database per size serves both: the
checks are switched on the same rows.

Building 10 M contacts takes long; ``--database URL --build-only`` builds into a database that
is kept (migrated to head on every use), and a later ``--database URL`` measures on it:

    nice -n 10 .venv/bin/python -m bench.select_next --sizes 10000000 --backends sqlite \
        --database sqlite:////tmp/select_next_10m.db --build-only
    .venv/bin/python -m bench.select_next --sizes 10000000 --backends sqlite \
        --database sqlite:////tmp/select_next_10m.db --checks plain,compliance
"""

import argparse
import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import Engine, event, select, text

from bench.common import print_table, throwaway_database
from opendialer import migrate
from opendialer.accounts.service import create_tenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.engine.selection import claim_next
from opendialer.models import CallerIdNumber, CallerIdStrategy, Campaign, Tenant
from opendialer.scoping import Scope

PAST = "2026-01-01 00:00:00.000000"
TICK_CLAIMS = 5
DNC_SIZE = 100_000

SQLITE_SERIES = (
    "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :rows)"
)


def _fill_sql(dialect: str) -> list[str]:
    """Contacts (10% locked, 10% done, priorities 0-9), one phone each, a 100k-number DNC list."""
    series, source = (
        (SQLITE_SERIES, "seq")
        if dialect == "sqlite"
        else ("", "generate_series(1, :rows) AS seq(n)")
    )
    false, true = ("0", "1") if dialect == "sqlite" else ("false", "true")
    concat_phone = "'+4930' || (10000000 + id)"
    return [
        f"""{series} INSERT INTO contacts (tenant_id, campaign_id, custom_data, form_data, priority,
            next_try_at, locked, ignore_dnc, status, tries, next_phone_position, created_at,
            updated_at)
        SELECT :tenant, :campaign, '{{}}', '{{}}', n % 10, :past,
            CASE WHEN n % 10 = 3 THEN {true} ELSE {false} END, {false},
            CASE WHEN n % 10 = 7 THEN 'done' ELSE 'pending' END, 0, 1, :past, :past
        FROM {source}""",
        f"""INSERT INTO contact_phones (contact_id, tenant_id, campaign_id, position, raw, e164,
            invalid, tries)
        SELECT id, tenant_id, campaign_id, 1, {concat_phone}, {concat_phone}, {false}, 0
        FROM contacts WHERE campaign_id = :campaign""",
        f"""INSERT INTO dnc_entries (tenant_id, campaign_id, e164, source, created_at)
        SELECT :tenant, NULL, {concat_phone}, 'bench', :past FROM contacts
        WHERE campaign_id = :campaign AND id % 7 = 0 AND id <= :dnc_limit""",
    ]


ATTEMPTS_SQL = """INSERT INTO call_attempts (tenant_id, campaign_id, contact_id, b_number,
    outbound, test_call, started_at, created_at)
    SELECT :tenant, :campaign, id, '+4930' || (10000000 + id), {true}, {false}, :recent, :recent
    FROM contacts WHERE campaign_id = :campaign AND id % 10 = 1"""


def _set_checks(campaign: Campaign, on: bool) -> None:
    campaign.holiday_calendars = ["DE"] if on else []
    campaign.closed_dates = ["2020-12-24"] if on else []
    campaign.max_attempts_per_number = 7 if on else None
    campaign.max_attempts_per_contact = 7 if on else None
    campaign.max_conversations = 3 if on else None
    campaign.caller_id = "+4969000000"
    campaign.caller_id_strategy = CallerIdStrategy.LOCAL if on else CallerIdStrategy.FIXED


def _set_tenant_checks(tenant: Tenant, on: bool) -> None:
    """The tenant's own rules, kept besides the campaign's: a closed date and a number cap
    over 30 days (a second window, so the number's attempts are counted twice)."""
    tenant.closed_dates = ["2020-12-25"] if on else []
    tenant.max_attempts_per_number = 10 if on else None
    tenant.cap_window_hours = 30 * 24


def _pool(campaign: Campaign) -> list[CallerIdNumber]:
    return [
        CallerIdNumber(tenant_id=campaign.tenant_id, campaign_id=campaign.id, e164=number)
        for number in ("+493012340000", "+494012340000", "+498912340000")
    ]


def _setup(engine: Engine, rows: int) -> int:
    """The bench campaign with its contacts, DNC list, caller-ID pool and earlier attempts."""
    sessions = create_sessionmaker(engine)
    with unit_of_work(sessions) as session:
        tenant = create_tenant(session, "bench", default_region="DE", timezone="UTC").tenant
        always_open = {
            "calling_hours_start": clock_time(0),
            "calling_hours_end": clock_time(23, 59, 59),
        }
        settings = CampaignCreate(
            name="bench",
            dial_mode="predictive",
            status="enabled",
            calling_days=[1, 2, 3, 4, 5, 6, 7],
            **always_open,
        )
        campaign = create_campaign(session, Scope.system(tenant.id), settings)
        campaign.max_tries_per_number = 5
        session.add_all(_pool(campaign))
        ids = {"tenant": tenant.id, "campaign": campaign.id}
    params = {**ids, "rows": rows, "past": PAST, "dnc_limit": DNC_SIZE * 7}
    params["recent"] = datetime.now(UTC).replace(tzinfo=None)
    contacts, *rest = _fill_sql(engine.dialect.name)
    false, true = ("0", "1") if engine.dialect.name == "sqlite" else ("false", "true")
    rest.append(ATTEMPTS_SQL.format(true=true, false=false))
    with engine.begin() as conn:
        conn.execute(text(contacts), params)
    with engine.begin() as conn:  # fresh statistics, or PostgreSQL checks foreign keys slowly
        conn.execute(text("ANALYZE"))
    with engine.begin() as conn:
        for statement in rest:
            conn.execute(text(statement), params)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return ids["campaign"]


def _claim_latencies(
    engine: Engine, campaign_id: int, claims: int
) -> tuple[list[float], list[float]]:
    """Per claim: the claim itself (queries and flush), and the whole transaction with commit."""
    sessions = create_sessionmaker(engine)
    with sessions() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        session.expunge(campaign)
    now = datetime.now(UTC)
    claim_ms, txn_ms = [], []
    for _ in range(claims):
        start = time.perf_counter()
        with unit_of_work(sessions) as session:
            assert claim_next(session, campaign, now, "bench") is not None
            claim_ms.append((time.perf_counter() - start) * 1000)
        txn_ms.append((time.perf_counter() - start) * 1000)
    return sorted(claim_ms), sorted(txn_ms)


def _claims_in_ticks(engine: Engine, campaign_id: int, claims: int) -> list[float]:
    """Per claim, as the engine claims when one tick dials several: ``TICK_CLAIMS`` claims in
    one transaction (the commit is the tick's, not the claim's)."""
    sessions = create_sessionmaker(engine)
    with sessions() as session:
        campaign = session.get_one(Campaign, campaign_id)
        session.expunge(campaign)
    now = datetime.now(UTC)
    claim_ms = []
    for _ in range(claims // TICK_CLAIMS):
        with unit_of_work(sessions) as session:
            for _ in range(TICK_CLAIMS):
                start = time.perf_counter()
                assert claim_next(session, campaign, now, "bench") is not None
                claim_ms.append((time.perf_counter() - start) * 1000)
    return sorted(claim_ms)


def _server_cpu_seconds(engine: Engine) -> float:
    """CPU used so far by the PostgreSQL backends serving this database (read from /proc: the
    server runs on this machine); 0 for SQLite, whose work is in this process's CPU."""
    if engine.dialect.name != "postgresql":
        return 0.0
    with engine.connect() as conn:
        pids = conn.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _cpu_per_claim(engine: Engine, campaign_id: int, claims: int) -> list[str]:
    """Per claim with commit: CPU in ms (this process, the PostgreSQL backends serving the
    database, both), and the statements sent (BEGIN and COMMIT not counted). Unlike wall-clock
    latency, these barely move when the machine is shared."""
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    server, client = _server_cpu_seconds(engine), time.process_time()
    _claim_latencies(engine, campaign_id, claims)
    client = time.process_time() - client
    server = _server_cpu_seconds(engine) - server
    event.remove(engine, "before_cursor_execute", count)
    per_claim = (client * 1000 / claims, server * 1000 / claims)
    cpu = [f"{ms:.3f}" for ms in (*per_claim, sum(per_claim))]
    return [*cpu, f"{len(sent) / claims:.2f}"]


def _p(latencies: list[float], q: float) -> str:
    return f"{latencies[max(0, int(len(latencies) * q) - 1)]:.3f}"


def _switch_checks(engine: Engine, campaign_id: int, on: bool) -> None:
    with unit_of_work(create_sessionmaker(engine)) as session:
        campaign = session.get_one(Campaign, campaign_id)
        _set_checks(campaign, on)
        _set_tenant_checks(session.get_one(Tenant, campaign.tenant_id), on)


def _existing_campaign(engine: Engine) -> int | None:
    with create_sessionmaker(engine)() as session:
        return session.scalar(select(Campaign.id).where(Campaign.name == "bench"))


@contextmanager
def _database(backend: str, kept_url: str | None) -> Iterator[str]:
    if kept_url is None:
        with throwaway_database(backend) as url:
            yield url
        return
    migrate.upgrade(kept_url)
    yield kept_url


def _built(engine: Engine, rows: int) -> tuple[int, str]:
    """The bench campaign's id and how long building it took ("kept" when it was already there)."""
    existing = _existing_campaign(engine)
    if existing is not None:
        return existing, "kept"
    start = time.perf_counter()
    campaign_id = _setup(engine, rows)
    return campaign_id, f"{time.perf_counter() - start:.0f}"


def _measure(engine: Engine, campaign_id: int, claims: int, checks: bool) -> list[str]:
    _switch_checks(engine, campaign_id, checks)
    _claim_latencies(engine, campaign_id, min(200, claims))  # warm caches
    claim, txn = _claim_latencies(engine, campaign_id, claims)
    in_tick = _claims_in_ticks(engine, campaign_id, claims)
    cpu = _cpu_per_claim(engine, campaign_id, claims)
    return [
        "compliance" if checks else "plain",
        _p(claim, 0.5),
        _p(claim, 0.99),
        _p(txn, 0.5),
        _p(txn, 0.99),
        _p(in_tick, 0.5),
        _p(in_tick, 0.99),
        *cpu,
    ]


def run(
    backend: str, rows: int, claims: int, modes: list[str], kept_url: str | None = None
) -> list[list[object]]:
    """One row per check mode, all measured on one database of ``rows`` contacts."""
    with _database(backend, kept_url) as url:
        engine = create_db_engine(url)
        campaign_id, build = _built(engine, rows)
        measured = [_measure(engine, campaign_id, claims, mode == "compliance") for mode in modes]
        engine.dispose()
    load = f"{os.getloadavg()[0]:.1f}"
    return [[backend, mode, f"{rows:,}", claims, build, *rest, load] for mode, *rest in measured]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--checks", default="plain", help="plain, compliance, or both")
    parser.add_argument("--database", help="a database URL to build into and keep (one size)")
    parser.add_argument("--build-only", action="store_true", help="build, measure nothing")
    args = parser.parse_args()
    modes = [] if args.build_only else args.checks.split(",")
    results: list[list[object]] = []
    for backend in args.backends.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            results.extend(run(backend, size, args.claims, modes, args.database))
            print_table("select_next (so far)", COLUMNS, results)
    print_table("Claiming the next contact: latency per claim (ms)", COLUMNS, results)


COLUMNS = [
    "backend",
    "checks",
    "contacts",
    "claims",
    "build s",
    "claim p50 ms",
    "claim p99 ms",
    "with commit p50",
    "with commit p99",
    "in a tick p50",
    "in a tick p99",
    "client CPU ms",
    "server CPU ms",
    "CPU ms/claim",
    "statements",
    "load",
]

if __name__ == "__main__":
    main()
