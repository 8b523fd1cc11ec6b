"""``opendialer import`` against a real SQLite file database."""

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from opendialer import migrate
from opendialer.accounts.service import create_tenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.cli import app
from opendialer.config import get_settings
from opendialer.models import Contact
from opendialer.scoping import Scope
from tests.conftest import empty_database

runner = CliRunner()
LEADS = "Nachname;Telefon;Kundennr\nMüller;030 1234567;K1\nX;12;K2\nWeber;030 1234567;K3\n"


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("OPENDIALER_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


@pytest.fixture
def database(db_url: str) -> str:
    migrate.upgrade(db_url)
    add_tenant(db_url, "Acme", "Spring")
    return db_url


@pytest.fixture(params=["sqlite", "postgresql"])
def both_databases(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A new migrated database of each kind with tenant Acme's campaign Spring, as the CLI's."""
    with empty_database(request.param, tmp_path) as url:
        migrate.upgrade(url)
        add_tenant(url, "Acme", "Spring")
        monkeypatch.setenv("OPENDIALER_DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            yield url
        finally:
            get_settings.cache_clear()


def add_tenant(url: str, name: str, campaign: str) -> int:
    engine = create_engine(url)
    with Session(engine) as session:
        tenant = create_tenant(session, name, default_region="DE", timezone="Europe/Berlin").tenant
        data = CampaignCreate(name=campaign, dial_mode="predictive")
        create_campaign(session, Scope.system(tenant.id), data)
        session.commit()
        tenant_id = tenant.id
    engine.dispose()
    return tenant_id


def contacts(url: str) -> list[tuple[str | None, str | None]]:
    engine = create_engine(url)
    with Session(engine) as session:
        rows = session.execute(select(Contact.name, Contact.user_data).order_by(Contact.id)).all()
    engine.dispose()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def count(url: str) -> int:
    engine = create_engine(url)
    with Session(engine) as session:
        number = session.scalar(select(func.count()).select_from(Contact)) or 0
    engine.dispose()
    return number


def test_import_prints_a_summary(database: str, tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS, encoding="utf-8")
    mapping = json.dumps({"Kundennr": "user_data"})
    result = runner.invoke(
        app, ["import", str(leads), "--campaign", "Spring", "--mapping", mapping]
    )
    assert result.exit_code == 0, result.output
    assert "imported" in result.stdout and "invalid_number" in result.stdout
    assert "3 rows in" in result.stdout
    assert contacts(database) == [("Müller", "K1")]


def test_report_file_lists_the_rows_not_imported(database: str, tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_bytes(LEADS.encode("windows-1252"))
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(json.dumps({"Kundennr": "user_data"}))
    report = tmp_path / "report.csv"
    args = ["import", str(leads), "--campaign", "Spring", "--encoding", "windows-1252"]
    args += ["--mapping", f"@{mapping_file}", "--report", str(report), "--no-parallel"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with report.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["line", "outcome", "message", "Nachname", "Telefon", "Kundennr"]
    assert [r[:2] for r in rows[1:]] == [["3", "invalid_number"], ["4", "duplicate"]]
    assert rows[2][3:] == ["Weber", "030 1234567", "K3"]
    assert contacts(database) == [("Müller", "K1")]


def test_json_report_has_a_data_column(database: str, tmp_path: Path) -> None:
    leads = tmp_path / "leads.ndjson"
    leads.write_text('{"name": "A", "phone1": "030 1234567"}\n{"name": "B"}\n')
    report = tmp_path / "report.csv"
    args = ["import", str(leads), "--campaign", "Spring", "--report", str(report)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with report.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["line", "outcome", "message", "data"]
    assert json.loads(rows[1][3]) == {"name": "B"}


def test_tenant_is_needed_when_there_are_several(database: str, tmp_path: Path) -> None:
    other = add_tenant(database, "Other", "Spring")
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS)
    result = runner.invoke(app, ["import", str(leads), "--campaign", "Spring"])
    assert result.exit_code == 2 and "--tenant" in result.output
    result = runner.invoke(
        app, ["import", str(leads), "--campaign", "Spring", "--tenant", str(other)]
    )
    assert result.exit_code == 0, result.output
    assert count(database) == 1


def test_fatal_errors_exit_non_zero_and_write_nothing(database: str, tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS)
    result = runner.invoke(app, ["import", str(leads), "--campaign", "Winter"])
    assert result.exit_code == 1 and "no campaign 'Winter'" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes("Straße;Telefon\nA;030 1234567\n".encode("latin-1"))
    result = runner.invoke(app, ["import", str(bad), "--campaign", "Spring"])
    assert result.exit_code == 1
    assert "not valid utf-8" in result.output and "nothing was imported" in result.output
    result = runner.invoke(app, ["import", str(leads), "--campaign", "Spring", "--mapping", "{x"])
    assert result.exit_code == 2 and "mapping" in result.output
    unknown = tmp_path / "leads.xlsx"
    unknown.write_text(LEADS)
    result = runner.invoke(app, ["import", str(unknown), "--campaign", "Spring"])
    assert result.exit_code == 2 and "--format" in result.output
    assert count(database) == 0


def test_missing_schema_is_explained(db_url: str, tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS)
    result = runner.invoke(app, ["import", str(leads), "--campaign", "Spring"])
    assert result.exit_code == 2 and "opendialer db upgrade" in result.output


def _group(pgid: int) -> dict[int, int]:
    """The processes of a process group, each with its parent (fields 4 and 5 of its stat)."""
    members = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members[int(stat.parent.name)] = int(fields[1])
    return members


def _reader_started(pgid: int) -> bool:
    """Whether the command's grandchild is there: the reading process, which its forkserver
    starts."""
    group = _group(pgid)
    return any(parent in group and parent != pgid for parent in group.values())


# Ctrl-C reaches a command a shell starts with SIGINT's default action, whatever the test
# worker's own signal state (an ignored signal stays ignored across exec): this resets it, then
# becomes the command (the same process, so still the group's leader).
AS_FROM_A_TERMINAL = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL);"
    " signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT]);"
    " os.execv(sys.argv[1], sys.argv[1:])",
]


def _signal_state(pid: int) -> list[str]:
    """The signal masks of the process and each of its threads (pending, blocked, ignored)."""
    found = []
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        with contextlib.suppress(OSError):
            lines = (task / "status").read_text().splitlines()
            found += [f"{task.name} {line}" for line in lines if line.startswith("Sig")]
    return found


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _writer(fifo: Path, seconds: float) -> int:
    """The FIFO's writing end, once the command has opened it for reading (or fail)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_ctrl_c_stops_both_processes_and_writes_nothing(database: str, tmp_path: Path) -> None:
    # The file is a FIFO the test keeps open: the import cannot reach its end, however fast the
    # machine, so Ctrl-C always arrives in the middle of it.
    leads = tmp_path / "leads.csv"
    os.mkfifo(leads)
    rows = "".join(f"N{i};030 {1_000_000 + i};K{i}\n" for i in range(1_000))
    executable = Path(sys.executable).with_name("opendialer")  # the installed command
    command = [str(executable), "import", str(leads), "--campaign", "Spring"]
    cli = subprocess.Popen(
        [*AS_FROM_A_TERMINAL, *command, "--parallel"],
        env={**os.environ, "OPENDIALER_DATABASE_URL": database},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    feed = -1
    try:
        feed = _writer(leads, 30)
        os.write(feed, ("Nachname;Telefon;Kundennr\n" + rows).encode())  # < a pipe's buffer
        assert _wait_for(lambda: _reader_started(cli.pid), 30), _group(cli.pid)
        os.killpg(cli.pid, signal.SIGINT)  # what Ctrl-C sends
        signals = _signal_state(cli.pid)  # for the message, should the command not stop
        # The signal is pending before the end of the file arrives, so the command stops
        # (and rolls back) before it could use that end; its file-reading thread then ends.
        os.close(feed)
        feed = -1
        output, _ = cli.communicate(timeout=30)
    finally:
        cli.kill()
        if feed >= 0:
            os.close(feed)
    assert cli.returncode == 130, "\n".join([*signals, output.decode(errors="replace")])
    assert b"Traceback" not in output  # the reading process leaves Ctrl-C to the command
    assert _wait_for(lambda: not _group(cli.pid), 10), _group(cli.pid)
    assert count(database) == 0


@pytest.mark.parametrize("parallel", ["--parallel", "--no-parallel"])
def test_text_no_database_stores_is_a_malformed_row(
    both_databases: str, tmp_path: Path, parallel: str
) -> None:
    """NUL or a lone surrogate makes its row malformed on both databases; the report file is
    written (the surrogate as its escape) and the other rows import."""
    leads = tmp_path / "leads.ndjson"
    rows = [
        {"name": "A\x00", "phone1": "030 1111111"},
        {"name": "B", "phone1": "030 2222222", "custom_data": {"k": "\udc80"}},
        {"name": "C", "phone1": "030 3333333"},
    ]
    leads.write_text("".join(json.dumps(row) + "\n" for row in rows))
    report = tmp_path / "report.csv"
    args = ["import", str(leads), "--campaign", "Spring", "--report", str(report), parallel]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with report.open(encoding="utf-8", newline="") as file:
        lines = list(csv.reader(file))
    assert [line[:3] for line in lines[1:]] == [
        ["1", "malformed", "name: text must not contain NUL characters"],
        ["2", "malformed", "custom_data: text must not contain unpaired surrogate code points"],
    ]
    assert "\\udc80" in lines[2][3]
    assert contacts(both_databases) == [("C", None)]
