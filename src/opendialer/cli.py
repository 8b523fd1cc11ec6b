"""Command line: ``opendialer serve | demo | db upgrade | tenant create | import |
dnc replace | housekeeping | simulate``.

Commands that change data are ``@audited_command``: the audit trail names face ``cli`` and the
operating-system user (tests/test_cli_audit.py keeps every command audited or reviewed)."""

import asyncio
import importlib.util
import json
import secrets
import time
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console
from sqlalchemy import select

from opendialer import migrate
from opendialer.accounts.service import create_tenant
from opendialer.audit.context import act_for_tenant, audited_command
from opendialer.clock import VIRTUAL_EPOCH
from opendialer.collector import start_up_frozen
from opendialer.config import Settings, get_settings
from opendialer.console.demo import add_console_agent, add_supervisor
from opendialer.contacts.imports.cli import import_command
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.dnc.schedule import replace_from_file
from opendialer.engine.report import days_table, summary_table
from opendialer.engine.scratch_run import ScratchRun, run_in_scratch_database
from opendialer.engine.simulation import SimulationResult
from opendialer.engine.simulation_plot import MISSING_MATPLOTLIB
from opendialer.engine.simulation_plot import plot as draw_plot
from opendialer.errors import NotFound, OpendialerError
from opendialer.models import Campaign, DialMode, Tenant
from opendialer.models.campaign import DEFAULT_ABANDON_TARGET
from opendialer.observability.logs import configure_logging
from opendialer.scoping import Scope
from opendialer.telephony.campaign_scenario import CampaignScenario
from opendialer.telephony.sim_scenario import second_of_day
from opendialer.whatif.report import scenario_table, whatif_table
from opendialer.whatif.service import Changes, fit_campaign, simulate_changes

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

app = typer.Typer(
    help="opendialer: outbound dialer and contact-center server", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants (accounts)", no_args_is_help=True)
dnc_app = typer.Typer(help="Do-not-call lists", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(dnc_app, name="dnc")
app.command("import")(import_command)
console = Console(stderr=True)

DEMO_TENANT = "Demo"
DEMO_CREDENTIALS = Path("opendialer-demo.json")
DEMO_SECRET_KEY = Path("opendialer-demo-secret.key")


def require_current_schema(settings: Settings) -> None:
    try:
        migrate.check_current(settings.database_url)
    except migrate.SchemaNotCurrent as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the database schema (OPENDIALER_DATABASE_URL)."""
    migrate.upgrade(get_settings().database_url, revision)
    console.print(f"[green]Database at revision {revision}[/green]")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and whether it is the newest this version knows."""
    current = migrate.current_revision(get_settings().database_url)
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind {head}: run `opendialer db upgrade`"
    typer.echo(f"{current or '(empty: never migrated)'} ({state})")


@db_app.command("history")
def db_history() -> None:
    """List the schema revisions, newest first."""
    for revision, down, message in migrate.history():
        typer.echo(f"{down or '<base>'} -> {revision}: {message}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Revision to go back to (see `db history`)")],
) -> None:
    """Take the schema back to REVISION (back up first: a downgrade may drop columns)."""
    migrate.downgrade(get_settings().database_url, revision)
    console.print(f"[green]Database at revision {revision}[/green]")


def _tenant_record(
    settings: Settings, name: str, region: str | None, tz: str | None
) -> dict[str, object]:
    sessions = create_sessionmaker(create_db_engine(settings.database_url))
    with unit_of_work(sessions) as session:
        created = create_tenant(
            session,
            name,
            default_region=region or settings.default_region,
            timezone=tz or settings.default_timezone,
        )
        return {
            "tenant_id": created.tenant.id,
            "name": created.tenant.name,
            "api_key": created.api_key,
            "account_code": created.account_code,
            "calllog_api_key": created.calllog_api_key,
            "admin_user": created.admin_user,
            "admin_password": created.admin_password,
        }


@tenant_app.command("create")
@audited_command
def tenant_create(
    name: Annotated[str, typer.Option("--name", help="Tenant name")],
    region: Annotated[str | None, typer.Option(help="Default phone region, e.g. DE or IL")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone of the account")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Create a tenant with an admin user, an API key and a call-log key (shown once)."""
    settings = get_settings()
    require_current_schema(settings)
    record = _tenant_record(settings, name, region, timezone)
    if as_json:
        typer.echo(json.dumps(record))
        return
    for key, value in record.items():
        console.print(f"[bold]{key}[/bold]: {value}")


@dnc_app.command("replace")
@audited_command
def dnc_replace(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Numbers file")
    ],
    tenant: Annotated[int, typer.Option(help="Tenant id")],
    campaign: Annotated[
        int | None, typer.Option(help="A campaign's own list; default: the tenant-wide list")
    ] = None,
) -> None:
    """Make a DNC list exactly the file's numbers (one per line, or CSV with the number first),
    atomically; prints the counts per outcome and the lines that were no number."""
    settings = get_settings()
    require_current_schema(settings)
    engine = create_db_engine(settings.database_url)
    try:
        with unit_of_work(create_sessionmaker(engine)) as session:
            scope = Scope.system(tenant)
            act_for_tenant(scope)
            result = replace_from_file(session, scope, campaign, file)
    except OpendialerError as error:
        console.print(f"[red]{error.message}; the list is unchanged[/red]")
        raise typer.Exit(code=1) from error
    finally:
        engine.dispose()
    typer.echo(json.dumps(result))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
) -> None:
    """Run the API server (and the dialing engine, unless OPENDIALER_ENGINE_ENABLED=false)."""
    settings = valid_settings()
    require_strong_secret(settings)
    require_current_schema(settings)
    run_server(settings, host, port)


def valid_settings() -> Settings:
    """The settings, or exit code 2 with what is wrong in them (not a traceback)."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            console.print(
                f"[red]Invalid setting{' ' + where if where else ''}:[/red] {error['msg']}"
            )
        raise typer.Exit(code=2) from exc


def require_strong_secret(settings: Settings) -> None:
    problem = settings.secret_key_problem()
    if problem is not None:
        console.print(
            f"[red]{problem}.[/red] Set it to a long random value, e.g. "
            '[bold]export OPENDIALER_SECRET_KEY="$(openssl rand -base64 48)"[/bold]'
        )
        raise typer.Exit(code=2)


def demo_secret_key(settings: Settings) -> Settings:
    """The demo signs links with the configured key, else with one made on its first run."""
    if settings.secret_key_problem() is None:
        return settings
    if not DEMO_SECRET_KEY.exists():
        DEMO_SECRET_KEY.touch(mode=0o600)
        DEMO_SECRET_KEY.write_text(secrets.token_urlsafe(48))
    return settings.model_copy(update={"secret_key": SecretStr(DEMO_SECRET_KEY.read_text())})


def server_config(
    settings: Settings, host: str | None, port: int | None, app: "FastAPI | None" = None
) -> "uvicorn.Config":
    # The server's modules are imported by the commands that serve (a second of start-up
    # the other commands, `simulate` first, need not pay).
    import uvicorn

    from opendialer.app import create_app
    from opendialer.web.state import state_of

    app = app or create_app(settings)
    state_of(app).port_bound = asyncio.Event()  # the engine waits for it (BindFirstServer)
    return uvicorn.Config(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        log_config=None,  # configure_logging: uvicorn's loggers go through structlog too
        access_log=False,  # the app logs each request itself, with its request id
        # Not uvloop: with the loop saturated it served some connections 0.5 s late
        # (docs/dialects/voicenter.md, Performance).
        loop="asyncio",
        # Forwarded headers are believed only from OPENDIALER_TRUSTED_PROXIES (create_app);
        # uvicorn's own default would believe any process on this host.
        proxy_headers=False,
        # Open event streams (the agent console) never finish by themselves: do not wait for
        # them longer than this when stopping.
        timeout_graceful_shutdown=5,
    )


def run_server(settings: Settings, host: str | None, port: int | None) -> None:
    from opendialer.app import create_app
    from opendialer.collector import settle_after_start_up
    from opendialer.safe_stop import SafeStopServer
    from opendialer.web.state import state_of

    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    config = server_config(settings, host, port, app)
    settle_after_start_up()
    SafeStopServer(config, state_of(app), settings.engine_drain_seconds).run()


@app.command("housekeeping")
def housekeeping_command() -> None:
    """Apply the recording and export retention now (the server also does, every hour)."""
    from opendialer.housekeeping import sweep  # the server's modules: see server_config

    settings = get_settings()
    require_current_schema(settings)
    engine = create_db_engine(settings.database_url)
    try:
        swept = asyncio.run(sweep(create_sessionmaker(engine), settings, datetime.now(UTC)))
    finally:
        engine.dispose()
    console.print(
        f"Deleted {swept.recordings} recording files (retention "
        f"{settings.recording_retention_days or 'off'}) and {swept.exports} exports "
        f"(retention {settings.export_retention_days or 'off'})"
    )


@app.command()
def simulate(
    agents: Annotated[
        str | None,
        typer.Option(
            help="Simulated agents (default 20); with --campaign also +N or -N: that many more "
            "or fewer than the campaign had on duty"
        ),
    ] = None,
    contacts: Annotated[int, typer.Option(min=1, help="Contacts in the campaign")] = 20_000,
    hours: Annotated[
        float | None,
        typer.Option(min=0.01, max=24, help="Virtual hours to run (default: the scenario's)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same run")] = 1,
    dial_mode: Annotated[
        DialMode | None, typer.Option(help="Dial mode (default predictive, or the campaign's)")
    ] = None,
    abandon_target: Annotated[
        float | None,
        typer.Option(
            min=0.001, max=0.5, help="Abandonment target (default 0.03, or the campaign's)"
        ),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Scenario TOML/JSON: a campaign scenario as bench/pacing reads (its agents, "
            "AMD, list size and hours win over the options), or a network scenario",
        ),
    ] = None,
    campaign: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="What-if: fit the scenario to this campaign's last 30 days (in the "
            "OPENDIALER_DATABASE_URL database), apply the other options as changes, and print "
            "the days as they were beside the simulated day",
        ),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Database for the run (default: a temporary SQLite file)")
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="Also draw occupancy, abandonment and dial rate over the run to this PNG "
            "(needs matplotlib: the bench extra)",
        ),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=31,
            help="Days in a row, the policy and the abandonment ledger carried over "
            "(default: the scenario's, else 1)",
        ),
    ] = None,
    restart_at: Annotated[
        str | None,
        typer.Option(
            help="Restart the engine at this time of day (HH:MM): a fresh policy, the day's "
            "ledger recounted from the history (default: the scenario's, else none)"
        ),
    ] = None,
    amd: Annotated[
        bool | None,
        typer.Option(
            "--amd/--no-amd", help="Answering-machine detection on or off (default: the scenario's)"
        ),
    ] = None,
) -> None:
    """Run a campaign on the simulated network on a virtual clock and print a summary."""
    if plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise typer.BadParameter(MISSING_MATPLOTLIB, param_hint="--plot")
    absolute, delta = _agents_option(agents, relative_allowed=campaign is not None)
    if campaign is not None:
        if scenario is not None:
            raise typer.BadParameter("give --campaign or --scenario, not both")
        changes = Changes(
            agents=absolute,
            agents_delta=delta,
            abandon_target=abandon_target,
            dial_mode=dial_mode,
            hours=hours,
            seed=seed,
        )
        _what_if(campaign, changes, plot)
        return
    target = abandon_target or DEFAULT_ABANDON_TARGET
    count = absolute or 20
    loaded = (
        CampaignScenario.load(scenario, agents=count, abandon_target=target)
        if scenario
        else CampaignScenario(name="default", agents=count, abandon_target=target)
    )
    loaded = _with_options(loaded, days=days, restart_at=restart_at, amd=amd)
    mode = dial_mode or DialMode.PREDICTIVE
    run = ScratchRun(
        scenario=loaded,
        setup=SimulationSetup.of(loaded, contacts, mode),
        hours=hours or loaded.hours,
        seed=seed,
        start=loaded.start_on(VIRTUAL_EPOCH.date()),
        database_url=database_url,
    )
    with start_up_frozen(), console.status(f"Simulating {run.hours:g} h"):
        done = run_in_scratch_database(run)
    result = done.result
    Console().print(summary_table(result, f"Simulation: {mode.value}, seed {seed}"))
    Console().print(days_table(result))
    if plot is not None:
        title = f"Simulation: {mode.value}, {run.setup.agents} agents, seed {seed}"
        _draw(done.result, plot, title, run.setup.abandon_target)
    per_attempt = 1000 * done.cpu_seconds / max(result.tally.attempts, 1)
    console.print(
        f"{result.seconds / 3600:g} virtual hours in {done.wall_seconds:.1f} s "
        f"(CPU {done.cpu_seconds:.1f} s, {per_attempt:.1f} ms per attempt)"
    )


def _with_options(
    scenario: CampaignScenario, *, days: int | None, restart_at: str | None, amd: bool | None
) -> CampaignScenario:
    """The scenario with the command's --days, --restart-at and --amd over its own."""
    update: dict[str, object] = {}
    if days is not None:
        update["days"] = days
    if restart_at is not None:
        try:
            second_of_day(restart_at)
        except ValueError:
            raise typer.BadParameter(
                f"a time of day HH:MM, got {restart_at!r}", param_hint="--restart-at"
            ) from None
        update["restart_at"] = restart_at
    if amd is not None:
        update["amd"] = amd
    return scenario.model_copy(update=update)


def _draw(result: SimulationResult, plot: Path, title: str, abandon_target: float) -> None:
    draw_plot(result, plot, title, abandon_target)
    console.print(f"Plot written to {plot}")


def _agents_option(text: str | None, *, relative_allowed: bool) -> tuple[int | None, int]:
    """``--agents``: an absolute count, or with a campaign a change (+N / -N)."""
    if text is None:
        return None, 0
    relative = text.strip()[:1] in ("+", "-")
    try:
        value = int(text)
    except ValueError:
        raise typer.BadParameter(f"--agents takes a whole number, got {text!r}") from None
    if relative:
        if not relative_allowed:
            raise typer.BadParameter("--agents +N / -N changes a campaign's agents: add --campaign")
        return None, value
    if not 1 <= value <= 2000:
        raise typer.BadParameter("--agents must lie between 1 and 2000")
    return value, 0


def _what_if(campaign_id: int, changes: Changes, plot: Path | None) -> None:
    settings = get_settings()
    require_current_schema(settings)
    engine = create_db_engine(settings.database_url)
    try:
        with unit_of_work(create_sessionmaker(engine)) as session:
            tenant_id = session.scalar(select(Campaign.tenant_id).where(Campaign.id == campaign_id))
            if tenant_id is None:
                raise NotFound("campaign", campaign_id)
            fitted = fit_campaign(
                session, Scope.system(tenant_id), campaign_id=campaign_id, now=datetime.now(UTC)
            )
    except OpendialerError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    out = Console()
    out.print(scenario_table(fitted.scenario))
    started = time.perf_counter()
    with console.status("Simulating the campaign with the changes"):
        result = simulate_changes(fitted, changes)
    out.print(whatif_table(result))
    if plot is not None:
        title = f"What-if: {fitted.rules.name}, {result.dial_mode.value}"
        _draw(result.run, plot, title, result.scenario.abandon_target)
    console.print(f"simulated in {time.perf_counter() - started:.1f} s")


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
    agents: Annotated[int, typer.Option(min=1, max=200, help="Simulated agents")] = 5,
    contacts: Annotated[int, typer.Option(min=1, help="Contacts in the demo campaign")] = 2000,
) -> None:
    """Create the database, a demo tenant and a live demo campaign (once), then serve.

    The campaign runs in real time on the simulated network, with simulated agents; a
    person signs in to the agent console as the printed agent and takes calls beside them.
    """
    settings = demo_secret_key(get_settings()).model_copy(
        update={
            "engine_enabled": True,
            "telephony_backend": "sim",
            "simulate_agents": True,
            # Its customers are simulated: Ctrl+C ends their calls at once instead of draining.
            "engine_drain_seconds": 0.0,
        }
    )
    migrate.upgrade(settings.database_url)
    record = _demo_tenant(settings, agents, contacts)
    url = f"http://{host or settings.host}:{port or settings.port}"
    console.print(f"[bold green]opendialer demo[/bold green] at {url}  (API docs: {url}/docs)")
    console.print(f"Demo tenant credentials (also in {DEMO_CREDENTIALS}):")
    console.print_json(json.dumps(record))
    console.print(
        f"Wallboard: {url}/console/wallboard  user [bold]{record['supervisor_user']}[/bold]  "
        f"password [bold]{record['supervisor_password']}[/bold]"
    )
    console.print(
        f"Agent console: {url}/console/login  user [bold]{record['agent_user']}[/bold]  "
        f"password [bold]{record['agent_password']}[/bold]"
    )
    auth = f"-H 'Authorization: Bearer {record['api_key']}'"
    console.print(
        f"Watch the campaign: curl {auth} {url}/api/v1/campaigns/{record['campaign_id']}/live"
    )
    run_server(settings, host, port)


def _demo_tenant(settings: Settings, agents: int, contacts: int) -> dict[str, object]:
    """The demo tenant and campaign, created on the first run and reused afterwards."""
    if DEMO_CREDENTIALS.exists():
        record: dict[str, object] = json.loads(DEMO_CREDENTIALS.read_text())
        if _tenant_exists(settings, record.get("tenant_id")) and "agent_user" in record:
            return _with_supervisor(settings, record)
    record = _tenant_record(settings, DEMO_TENANT, None, None)
    sessions = create_sessionmaker(create_db_engine(settings.database_url))
    # Simulated customers never sleep: the demo campaign may call at any hour.
    all_day = (clock_time(0), clock_time(23, 59, 59))
    setup = SimulationSetup(agents=agents, contacts=contacts, calling_hours=all_day)
    record["campaign_id"] = campaign_id = prepare_campaign(
        sessions,
        setup,
        datetime.now(UTC),
        tenant_id=int(str(record["tenant_id"])),
        name="Demo campaign",
    )
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        record["agent_user"], record["agent_password"] = add_console_agent(session, campaign)
    DEMO_CREDENTIALS.write_text(json.dumps(record, indent=2))
    return _with_supervisor(settings, record)


def _with_supervisor(settings: Settings, record: dict[str, object]) -> dict[str, object]:
    """The demo's supervisor (added once, also to a demo made before the wallboard)."""
    if "supervisor_user" in record:
        return record
    sessions = create_sessionmaker(create_db_engine(settings.database_url))
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, int(str(record["campaign_id"])))
        record["supervisor_user"], record["supervisor_password"] = add_supervisor(session, campaign)
    DEMO_CREDENTIALS.write_text(json.dumps(record, indent=2))
    return record


def _tenant_exists(settings: Settings, tenant_id: object) -> bool:
    if not isinstance(tenant_id, int):
        return False
    sessions = create_sessionmaker(create_db_engine(settings.database_url))
    with unit_of_work(sessions) as session:
        return session.get(Tenant, tenant_id) is not None
