"""Command line: ``opendialer serve | demo | db upgrade | tenant create | import``."""

import json
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from opendialer import migrate
from opendialer.accounts.service import create_tenant
from opendialer.config import Settings, get_settings
from opendialer.contacts.cli import import_command
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work

app = typer.Typer(
    help="opendialer: outbound dialer and contact-center server", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants (accounts)", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.command("import")(import_command)
console = Console(stderr=True)

DEMO_TENANT = "Demo"
DEMO_CREDENTIALS = Path("opendialer-demo.json")


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
            "account_code": created.tenant.account_code,
            "calllog_api_key": created.calllog_api_key,
            "admin_user": created.admin_user,
            "admin_password": created.admin_password,
        }


@tenant_app.command("create")
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


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
) -> None:
    """Run the API server."""
    settings = get_settings()
    uvicorn.run(
        "opendialer.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
    )


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
) -> None:
    """Create the database and a demo tenant (once), then run the server."""
    settings = get_settings()
    migrate.upgrade(settings.database_url)
    if DEMO_CREDENTIALS.exists():
        record = json.loads(DEMO_CREDENTIALS.read_text())
    else:
        record = _tenant_record(settings, DEMO_TENANT, None, None)
        DEMO_CREDENTIALS.write_text(json.dumps(record, indent=2))
    url = f"http://{host or settings.host}:{port or settings.port}"
    console.print(f"[bold green]opendialer demo[/bold green] at {url}  (API docs: {url}/docs)")
    console.print(f"Demo tenant credentials (also in {DEMO_CREDENTIALS}):")
    console.print_json(json.dumps(record))
    console.print(
        f"Try: curl -H 'Authorization: Bearer {record['api_key']}' {url}/api/v1/campaigns"
    )
    serve(host, port)
