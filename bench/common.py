"""Helpers shared by the benchmarks: throw-away databases, servers and result tables."""

import os
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url

from opendialer import migrate

PG_ADMIN_URL = os.environ.get(
    "OPENDIALER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _admin_dsn() -> str:
    return make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(False)


@contextmanager
def throwaway_database(backend: str) -> Iterator[str]:
    """A migrated, empty database URL for ``sqlite`` or ``postgresql``; removed afterwards."""
    if backend == "sqlite":
        with TemporaryDirectory(prefix="opendialer-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            migrate.upgrade(url)
            yield url
        return
    name = f"opendialer_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(False)
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stop(server: "subprocess.Popen[bytes]", timeout: float = 30.0) -> None:
    """A server started by a bench: SIGTERM, and SIGKILL if it outlives ``timeout``."""
    server.terminate()
    try:
        server.wait(timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    Console(width=160).print(table)
