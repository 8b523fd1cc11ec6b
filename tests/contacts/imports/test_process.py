"""The import's reading process: used for big files, stopped on every way an import can end.

``test_importer`` runs every import test both ways; these tests cover what only the second
process has: that it is really used, progress from it, and how it ends when something fails.
"""

import json
import multiprocessing
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.contacts.imports import importer
from opendialer.contacts.imports import reading as import_reading
from opendialer.contacts.imports.importer import import_contacts
from opendialer.contacts.imports.schemas import ImportFormat, ImportOptions, ImportReport
from opendialer.db import SessionMaker, unit_of_work
from opendialer.errors import OpendialerError
from opendialer.models import Campaign, Contact
from tests.contacts.imports.test_importer import add_dnc, counts, new_campaign, total

READER = "opendialer-import-reader"
ROWS = 12_000  # more than two chunks


@pytest.fixture
def campaign_id(sessions: SessionMaker, tenant: NewTenant) -> int:
    return new_campaign(sessions, tenant.tenant.id, "Spring")


def readers() -> list[str]:
    return [p.name for p in multiprocessing.active_children() if p.name == READER]


def csv_file(tmp_path: Path, rows: int = ROWS) -> Path:
    path = tmp_path / "leads.csv"
    lines = [f"N{i};030 {1_000_000 + i}\n" for i in range(rows)]
    path.write_text("Name;Telefon\n" + "".join(lines) + "X;12\n", encoding="utf-8")
    return path


def import_file(
    sessions: SessionMaker,
    campaign_id: int,
    file: IO[bytes],
    fmt: str = "csv",
    parallel: bool | None = True,
    progress: importer.Progress | None = None,
) -> ImportReport:
    with unit_of_work(sessions) as s:
        campaign = s.get_one(Campaign, campaign_id)
        options = ImportOptions(mapping={"Telefon": "phone1"} if fmt == "csv" else {})
        return import_contacts(
            s, campaign, file, options, ImportFormat(fmt), parallel=parallel, progress=progress
        )


def test_a_big_file_is_read_in_a_second_process_which_ends_with_the_import(
    sessions: SessionMaker,
    session: Session,
    campaign_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 13 chunks: the reading process can be only a few ahead, so it is there at the first one.
    monkeypatch.setattr(import_reading, "CHUNK_ROWS", 1000)
    path = csv_file(tmp_path)
    seen: list[tuple[int, list[str]]] = []
    with path.open("rb") as file:
        report = import_file(
            sessions,
            campaign_id,
            file,
            parallel=None,
            progress=lambda n: seen.append((n, readers())),
        )
    assert counts(report) == {"imported": ROWS, "invalid_number": 1}
    assert total(session, Contact) == ROWS
    assert seen[0][1] == [READER]  # size unknown: read beside
    done = [n for n, _names in seen]
    assert len(done) == 13 and done == sorted(done) and done[-1] == path.stat().st_size
    assert readers() == []


def test_a_small_file_is_read_here(
    sessions: SessionMaker, campaign_id: int, tmp_path: Path
) -> None:
    path = csv_file(tmp_path)
    seen: list[list[str]] = []
    with unit_of_work(sessions) as s, path.open("rb") as file:
        import_contacts(
            s,
            s.get_one(Campaign, campaign_id),
            file,
            ImportOptions(mapping={"Telefon": "phone1"}),
            ImportFormat.CSV,
            size=path.stat().st_size,  # under 4 MiB
            progress=lambda _n: seen.append(readers()),
        )
    assert len(seen) == 3 and all(names == [] for names in seen)


def test_a_dnc_list_too_big_to_send_keeps_the_reading_here(
    sessions: SessionMaker,
    tenant: NewTenant,
    campaign_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_dnc(sessions, tenant.tenant.id, "+49301000000")
    monkeypatch.setattr(importer, "DNC_SET_LIMIT", 0)  # the list stays in the database
    seen: list[list[str]] = []
    with csv_file(tmp_path).open("rb") as file:
        report = import_file(
            sessions, campaign_id, file, progress=lambda _n: seen.append(readers())
        )
    assert len(seen) == 3 and all(names == [] for names in seen)
    assert counts(report) == {"imported": ROWS - 1, "dnc": 1, "invalid_number": 1}


def test_mapping_found_key_by_key_comes_back_from_the_reading_process(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    rows = [{"name": f"N{i}", "phone1": f"030 {1_000_000 + i}"} for i in range(ROWS)]
    rows.append({"Bemerkung": "x", "Telefon": "030 9999999"})
    path = tmp_path / "leads.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    with path.open("rb") as file:
        report = import_file(sessions, campaign_id, file, fmt="json")
    assert report.line_kind == "index" and counts(report) == {"imported": ROWS + 1}
    assert report.mapping == {"name": "name", "phone1": "phone1", "Telefon": "phone1"}
    assert report.unmapped_columns == ["Bemerkung"]


def test_an_error_found_by_the_reading_process_stops_the_import_as_it_would_here(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    elements = [json.dumps({"phone1": f"030 {1_000_000 + i}"}) for i in range(ROWS)]
    path = tmp_path / "broken.json"
    path.write_text("[" + ",".join(elements) + ', {"phone1": ]', encoding="utf-8")
    for parallel in (False, True):
        with path.open("rb") as file, pytest.raises(OpendialerError) as caught:
            import_file(sessions, campaign_id, file, fmt="json", parallel=parallel)
        assert caught.value.code == "malformed_json" and caught.value.status_code == 422
        assert caught.value.details == {"line": ROWS}
        assert total(session, Contact) == 0  # two chunks were written, and rolled back
        assert readers() == []


def test_an_interrupted_import_stops_the_reading_process_and_writes_nothing(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    def interrupt(_done: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C in the CLI, after the first chunk

    with csv_file(tmp_path).open("rb") as file, pytest.raises(KeyboardInterrupt):
        import_file(sessions, campaign_id, file, progress=interrupt)
    assert readers() == []
    assert total(session, Contact) == 0


@pytest.mark.parametrize("parallel", [False, True])
def test_a_file_that_cannot_be_read_fails_the_import(
    sessions: SessionMaker, session: Session, campaign_id: int, parallel: bool
) -> None:
    # Reading this process's memory from address 0 fails with EIO: a real read error, which the
    # reading process must not mistake for the end of the file.
    with open("/proc/self/mem", "rb") as file, pytest.raises(OSError, match="Input/output"):
        import_file(sessions, campaign_id, file, parallel=parallel)
    assert readers() == []
    assert total(session, Contact) == 0
