"""The command line against a real SQLite file database."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from opendialer.accounts.service import create_tenant
from opendialer.cli import app, demo_secret_key, server_config
from opendialer.config import Settings, get_settings
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.models import ApiKey, Tenant, User
from opendialer.security import hash_token, verify_password
from tests.whatif.history import attempts_of, campaign_with_history, recent_days

runner = CliRunner()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("OPENDIALER_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_db_upgrade_then_tenant_create_json(db_url: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["tenant", "create", "--name", "Acme", "--json", "--region", "IL"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert set(record) >= {
        "tenant_id",
        "api_key",
        "account_code",
        "calllog_api_key",
        "admin_user",
        "admin_password",
    }
    with Session(create_engine(db_url)) as session:
        tenant = session.get_one(Tenant, record["tenant_id"])
        assert (tenant.name, tenant.default_region) == ("Acme", "IL")
        assert tenant.calllog_key_hash == hash_token(record["calllog_api_key"])
        key = session.scalar(select(ApiKey).where(ApiKey.tenant_id == tenant.id))
        assert key is not None and key.key_hash == hash_token(record["api_key"])
        admin = session.scalar(select(User).where(User.username == record["admin_user"]))
        assert admin is not None and admin.password_hash is not None
        assert verify_password(record["admin_password"], admin.password_hash)


def test_tenant_create_on_missing_schema_fails_clearly(db_url: str) -> None:
    result = runner.invoke(app, ["tenant", "create", "--name", "Acme", "--json"])
    assert result.exit_code == 2
    assert "opendialer db upgrade" in result.output


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "demo", "db", "tenant", "import"):
        assert command in result.stdout


def test_housekeeping_applies_the_retention(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENDIALER_EXPORT_RETENTION_DAYS", "7")
    exports = Path("exports")
    exports.mkdir()
    created = datetime.now(UTC) - timedelta(days=8)
    (exports / f"{'a' * 32}.json").write_text(json.dumps({"created_at": created.isoformat()}))
    (exports / f"{'a' * 32}.csv").write_text("x\r\n")
    (exports / f"{'b' * 32}.json").write_text(json.dumps({"created_at": _now_iso()}))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["housekeeping"])
    assert result.exit_code == 0, result.output
    assert "0 recording files" in result.output and "1 exports" in result.output
    assert sorted(p.name for p in exports.iterdir()) == [f"{'b' * 32}.json"]


def test_housekeeping_on_missing_schema_fails_clearly(db_url: str) -> None:
    result = runner.invoke(app, ["housekeeping"])
    assert result.exit_code == 2
    assert "opendialer db upgrade" in result.output


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


@pytest.mark.parametrize(
    ("key", "message"), [(None, "is not set"), ("short-key", "shorter than 32 characters")]
)
def test_serve_refuses_a_weak_secret_key(
    db_url: str, monkeypatch: pytest.MonkeyPatch, key: str | None, message: str
) -> None:
    if key is None:
        monkeypatch.delenv("OPENDIALER_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("OPENDIALER_SECRET_KEY", key)
    get_settings.cache_clear()
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert message in result.output and "OPENDIALER_SECRET_KEY" in result.output


def test_demo_makes_its_own_secret_key_once(db_url: str) -> None:
    first = demo_secret_key(Settings(database_url=db_url)).secret_key.get_secret_value()
    again = demo_secret_key(Settings(database_url=db_url)).secret_key.get_secret_value()
    assert first == again and len(first) >= 32
    assert first != Settings().secret_key.get_secret_value()
    assert Path("opendialer-demo-secret.key").stat().st_mode & 0o077 == 0
    configured = Settings(database_url=db_url, secret_key="x" * 40)
    assert demo_secret_key(configured).secret_key.get_secret_value() == "x" * 40


def test_server_does_not_trust_forwarded_headers_by_itself(db_url: str) -> None:
    config = server_config(Settings(database_url=db_url, engine_enabled=False), None, None)
    assert config.proxy_headers is False


def test_simulate_reads_the_pacing_benchs_scenario_format(db_url: str, tmp_path: Path) -> None:
    scenario = tmp_path / "mine.toml"
    scenario.write_text(
        'name = "mine"\nagents = 3\nhours = 0.25\namd = false\n'
        "[contacts]\nsize = 400\n"
        "[sim.customers]\np_live = 0.2\np_machine = 0.4\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["simulate", "--scenario", str(scenario), "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert "abandonment of people (as the law counts)" in result.stdout
    lines = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.stdout.splitlines()
        if line.count("│") >= 3
    }
    assert lines["agents"] == "3"
    assert lines["simulated hours"] == "0.2"
    assert int(lines["answering machines agents reported"]) > 0


def test_simulate_runs_several_days_with_a_restart_and_prints_each_day(
    db_url: str, tmp_path: Path
) -> None:
    scenario = tmp_path / "week.toml"
    scenario.write_text(
        'name = "week"\nagents = { "09:00" = 3, "09:05" = 2 }\nhours = 0.1\n'
        "[contacts]\nsize = 300\n",
        encoding="utf-8",
    )
    args = ["simulate", "--scenario", str(scenario), "--days", "2", "--restart-at", "09:03"]
    result = runner.invoke(app, [*args, "--amd", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    days = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in result.stdout.split("Day by day")[1].splitlines()
        if line.count("│") >= 9
    ]
    assert [row[0] for row in days] == ["1", "2"]
    assert [row[7] for row in days] == ["1", "1"]  # one engine restart each day
    summary = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.stdout.split("Day by day")[0].splitlines()
        if line.count("│") >= 3
    }
    assert summary["simulated hours"] == "0.2"  # two shifts of 0.1 h


def test_simulate_refuses_a_restart_time_that_is_no_time_of_day(db_url: str) -> None:
    result = runner.invoke(app, ["simulate", "--restart-at", "noon", "--hours", "0.05"])
    assert result.exit_code == 2
    assert "--restart-at" in result.output and "Traceback" not in result.output


def test_serve_refuses_an_unmigrated_database_naming_the_fix(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENDIALER_SECRET_KEY", "s" * 40)
    get_settings.cache_clear()
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "opendialer db upgrade" in result.output


def test_db_current_history_and_downgrade(db_url: str) -> None:
    history = runner.invoke(app, ["db", "history"])
    assert history.exit_code == 0
    lines = history.stdout.splitlines()
    head = lines[0].split(" -> ")[1].split(":")[0]
    before_head = lines[0].split(" -> ")[0]
    assert lines[-1].startswith("<base> -> ")
    assert "never migrated" in runner.invoke(app, ["db", "current"]).stdout
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    current = runner.invoke(app, ["db", "current"]).stdout
    assert current.startswith(head) and "up to date" in current
    assert runner.invoke(app, ["db", "downgrade", before_head]).exit_code == 0
    behind = runner.invoke(app, ["db", "current"]).stdout
    assert behind.startswith(before_head) and "opendialer db upgrade" in behind
    assert runner.invoke(app, ["db", "downgrade"]).exit_code != 0  # the revision is required


def test_serve_refuses_unprotected_metrics_on_the_main_port(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENDIALER_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("OPENDIALER_METRICS", "main")
    get_settings.cache_clear()
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "OPENDIALER_METRICS_TOKEN" in result.output and "Traceback" not in result.output


def test_simulate_draws_the_day_when_asked(db_url: str, tmp_path: Path) -> None:
    png = tmp_path / "day.png"
    args = ["simulate", "--agents", "2", "--contacts", "200", "--hours", "0.2"]
    result = runner.invoke(app, [*args, "--database-url", db_url, "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_a_campaigns_what_if_from_its_history(db_url: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    sessions = create_sessionmaker(create_db_engine(db_url))
    with unit_of_work(sessions) as session:
        tenant = create_tenant(session, "Acme", default_region="DE", timezone="Europe/Berlin")
    days = recent_days(1)
    campaign_id = campaign_with_history(sessions, tenant, days)
    result = runner.invoke(
        app, ["simulate", "--campaign", str(campaign_id), "--agents", "+2", "--hours", "0.05"]
    )
    assert result.exit_code == 0, result.output
    rows: dict[str, list[list[str]]] = {}
    for line in result.stdout.splitlines():
        if line.count("│") >= 3:
            name, *cells = [cell.strip() for cell in line.split("│")[1:-1]]
            rows.setdefault(name, []).append(cells)
    agents = days[0].agents
    fitted, compared = rows["agents on duty"]
    assert fitted == [f"09h {agents:.1f}, 10h {agents:.1f}"]  # per hour of the day
    assert compared == [f"{agents:.1f}", f"{agents + 2:.1f}"]  # as it was, as simulated
    assert rows["attempts"][0][0] == f"{len(attempts_of(days[0])):,}"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--agents", "+2"], "add --campaign"),
        (["--agents", "many"], "whole number"),
        (["--campaign", "1", "--scenario", "pyproject.toml"], "not both"),
    ],
)
def test_simulate_refuses_what_it_cannot_run(
    db_url: str, arguments: list[str], message: str
) -> None:
    Path("pyproject.toml").write_text("", encoding="utf-8")
    result = runner.invoke(app, ["simulate", *arguments])
    assert result.exit_code == 2
    assert message in result.output


def test_simulate_a_campaign_that_does_not_exist(db_url: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["simulate", "--campaign", "999"])
    assert result.exit_code == 1
    assert "campaign 999 not found" in result.output
