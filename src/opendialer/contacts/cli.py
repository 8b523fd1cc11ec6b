"""``opendialer import``: bulk contact import from the command line (being built)."""

from pathlib import Path
from typing import Annotated

import typer


def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON file")],
    campaign: Annotated[str, typer.Option(help="Campaign name")],
) -> None:
    """Import contacts from a CSV or JSON file into a campaign."""
    raise typer.Exit(code=1)
