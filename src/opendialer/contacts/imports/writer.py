"""Bulk writes for the contact import: thousands of rows per statement, no ORM objects.

SQLite: one ``executemany`` per table in the import's transaction; the contacts' ids are the
contiguous block that ends at ``last_insert_rowid()`` (SQLite gives each new row max(id) + 1, and
the transaction holds the only write lock), checked by counting the block.
PostgreSQL: the ids are reserved from the table's sequence, then both tables are filled with COPY
in its text format, one buffer per table: new rows arrive in it from the reading side
(``copy_row``; the importing process only puts the ids in front), merged ones are made here.
Changes to existing contacts (duplicates with ``overwrite``) use ordinary batched UPDATEs.

PostgreSQL checks the foreign key of every new row on its own (one SPI query per contact and per
number: 41 % of the server's COPY time). The COPY of brand-new rows skips those checks when the
role may set ``session_replication_role``, and keeps the guarantee by construction: the
campaign (and the list) are locked ``FOR KEY SHARE`` once, the lock each check would take, so
they cannot be deleted or re-keyed until the import commits; every new contact names that
campaign and its tenant (and the list, if any; their other keys, to users and result codes, are
NULL), and every new number a contact of the same COPY batch. Numbers added
to existing contacts (``overwrite``) and every UPDATE keep the checked path (and its cascades).
"""

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, text, update
from sqlalchemy.orm import Session

from opendialer.contacts.imports.schemas import DATETIME_FIELDS, DECIMAL_FIELDS
from opendialer.models import Campaign, Contact, ContactPhone, ContactStatus
from opendialer.models.contact import CONTACTS, PHONES

PHONE_COLUMNS = ("contact_id", "tenant_id", "campaign_id", "position", "raw", "e164", "invalid")
# COPY's order: the columns a number's own line gives (``phone_lines``) come last.
COPY_PHONE_COLUMNS = ("contact_id", "tenant_id", "campaign_id", "tries", *PHONE_COLUMNS[3:])
NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
FIXED_COLUMNS = (
    *("tenant_id", "campaign_id", "list_id", "status", "locked", "ignore_dnc", "tries"),
    *("next_phone_position", "next_try_at", "created_at", "updated_at"),
)
PER_ROW_COLUMNS = ("priority", "custom_data", "form_data")
STATISTICS_MIN_ROWS = 100_000
REPLICATION_ROLE = "session_replication_role"
log = logging.getLogger(__name__)
RESET_PHONE = {
    "tries": 0,
    "last_cause": None,
    "last_end_reason_id": None,
    "last_attempt_at": None,
    "abandoned_at": None,
}


Phones = dict[int, tuple[str, str | None]]  # position → (raw, E.164 or None when invalid)


@dataclass(slots=True)
class Pending:
    """A contact to insert (``contact_id`` None) or the changes to an existing one."""

    line: int
    fields: dict[str, Any]
    phones: Phones
    extra: dict[str, dict[str, Any]]  # custom_data / form_data keys
    contact_id: int | None
    campaign_id: int
    values: tuple[Any, ...] | None = None  # a new contact's row, made ahead; None once merged
    # Or, for PostgreSQL, the row and its numbers made ahead in COPY's text format (``copy_row``)
    copied: tuple[str, str] | None = None


def _literal(value: Any) -> str:
    """An SQL literal for one of the writer's own constants (ids, flags, a timestamp)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def _json(values: dict[str, Any] | None) -> str:
    return json.dumps(values, ensure_ascii=False, default=str) if values else "{}"


# COPY's text format: the reading process writes new rows in it, the writer the rest. ----------


def _special(text: str) -> bool:
    return "\\" in text or "\t" in text or "\n" in text or "\r" in text


def _escaped(text: str) -> str:
    return text.translate(_ESCAPES) if _special(text) else text


def _copy_text(value: Any) -> str:
    """A value that is neither a string nor None, as PostgreSQL reads it."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)  # timestamp without time zone
    return str(value)


def copy_fields(values: tuple[Any, ...]) -> str:
    """One row in COPY's text format, without the line's end: NULL as ``\\N``, and the
    backslashes, tabs and line breaks of the values escaped."""
    texts = [v if v.__class__ is str else NULL if v is None else _copy_text(v) for v in values]
    line = "\t".join(texts)
    # Checked on the whole line at once: most rows have nothing to escape.
    if (
        line.count("\\") == values.count(None)
        and line.count("\t") == len(texts) - 1
        and "\n" not in line
        and "\r" not in line
    ):
        return line
    return "\t".join(
        [NULL if v is None else _escaped(t) for v, t in zip(values, texts, strict=True)]
    )


def phone_lines(phones: Phones) -> str:
    """A contact's numbers in COPY's text format, one line each (no end after the last), each
    without ``COPY_PHONE_COLUMNS``' first four (contact, tenant, campaign, tries), which the
    writer puts in front of each line."""
    if _special("".join([raw for raw, _ in phones.values()])):  # the only free text here
        phones = {position: (_escaped(raw), e164) for position, (raw, e164) in phones.items()}
    return "\n".join(
        [
            f"{position}\t{raw}\t{e164 or NULL}\t{'f' if e164 else 't'}"
            for position, (raw, e164) in phones.items()
        ]
    )


def copy_row(values: tuple[Any, ...], phones: Phones) -> tuple[str, str]:
    """A new contact's row (``contact_row``) and numbers in COPY's text format."""
    return copy_fields(values), phone_lines(phones)


def field_names(fields: Iterable[dict[str, Any]]) -> list[str]:
    """The columns that rows with these fields fill, beside ``PER_ROW_COLUMNS``."""
    names: set[str] = set().union(*fields)
    names.discard("priority")
    return sorted(names)


def contact_row(
    fields: dict[str, Any], extra: dict[str, dict[str, Any]], names: list[str]
) -> tuple[Any, ...]:
    """A new contact's values for ``PER_ROW_COLUMNS`` and then ``names``."""
    return (
        fields.get("priority", 0),
        _json(extra.get("custom_data")) if extra else "{}",
        _json(extra.get("form_data")) if extra else "{}",
        *map(fields.get, names),
    )


class ContactWriter:
    def __init__(self, session: Session, campaign: Campaign, list_id: int | None) -> None:
        self.conn: Connection = session.connection()
        self.sqlite = self.conn.dialect.name == "sqlite"
        self._analyzed = self.sqlite or self._has_statistics()
        self.tenant_id, self.campaign_id, self.list_id = campaign.tenant_id, campaign.id, list_id
        self._stored = {name: self._converter(name) for name in (*DATETIME_FIELDS, *DECIMAL_FIELDS)}
        # The role's value to restore after an unchecked COPY; None: every COPY is checked.
        self._role_before: str | None = None if self.sqlite else self._lock_for_unchecked_copy()

    def _lock_for_unchecked_copy(self) -> str | None:
        """Lock the parents of the new rows as their key checks would, when this role may skip
        those checks; the current ``session_replication_role``, or None for checked COPYs."""
        if not self._may_set_replication_role():
            log.info("import into campaign %s: foreign keys checked row by row", self.campaign_id)
            return None
        parents: list[tuple[str, int, int | None]] = [
            ("campaigns", self.campaign_id, self.tenant_id)
        ]
        if self.list_id is not None:
            parents.append(("contact_lists", self.list_id, None))
        for table, row_id, tenant_id in parents:
            where = "id = :id" + ("" if tenant_id is None else " AND tenant_id = :tenant")
            locked = self.conn.execute(
                text(f"SELECT 1 FROM {table} WHERE {where} FOR KEY SHARE"),
                {"id": row_id, "tenant": tenant_id},
            ).first()
            if locked is None:  # gone meanwhile: the checked COPY reports it
                return None
        log.info("import into campaign %s: parents locked, key checks skipped", self.campaign_id)
        return str(self.conn.exec_driver_sql(f"SHOW {REPLICATION_ROLE}").scalar_one())

    def _may_set_replication_role(self) -> bool:
        """A superuser, or on PostgreSQL 15+ a role granted ``SET ON PARAMETER``."""
        version = self.conn.dialect.server_version_info or (0,)
        query = (
            f"SELECT has_parameter_privilege('{REPLICATION_ROLE}', 'SET')"
            if version >= (15,)
            else "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        return bool(self.conn.exec_driver_sql(query).scalar())

    def _converter(self, name: str) -> Callable[[Any], Any]:
        """How a datetime or decimal value is bound: as SQLAlchemy would store it (SQLite), or
        naive UTC (PostgreSQL COPY into ``timestamp without time zone``)."""
        if not self.sqlite:
            if name in DATETIME_FIELDS:
                return lambda value: value.astimezone(UTC).replace(tzinfo=None)
            return lambda value: value
        column_type = CONTACTS.c[name].type
        process = column_type.dialect_impl(self.conn.dialect).bind_processor(self.conn.dialect)
        return process or (lambda value: value)

    def _fixed(self) -> tuple[Any, ...]:
        stamp = self._stored["begin_at"](datetime.now(UTC))
        status = ContactStatus.PENDING.value
        return (self.tenant_id, self.campaign_id, self.list_id, status, False, False, 0, 1) + (
            (stamp,) * 3
        )

    # Inserts ----------------------------------------------------------------------------

    def insert(self, contacts: list[Pending], names: list[str]) -> None:
        """New contacts whose fields are among ``names`` (see ``field_names``)."""
        if not contacts:
            return
        if self.sqlite:
            self._insert_rows(contacts, names)
        else:
            self._copy_new(contacts, names)
        self._analyzed = True

    def _insert_rows(self, contacts: list[Pending], names: list[str]) -> None:
        rows = [self._values(c, names) for c in contacts]
        self._convert(rows, names)
        ids = self._insert_contacts((*PER_ROW_COLUMNS, *names), rows)
        phones = [
            (contact_id, c.campaign_id, position, raw, e164, e164 is None)
            for c, contact_id in zip(contacts, ids, strict=True)
            for position, (raw, e164) in c.phones.items()
        ]
        self._insert_phones(phones)

    @staticmethod
    def _values(contact: Pending, names: list[str]) -> tuple[Any, ...]:
        if contact.values is not None:
            return contact.values
        return contact_row(contact.fields, contact.extra, names)

    def _copy_new(self, contacts: list[Pending], names: list[str]) -> None:
        """COPY new contacts and their numbers: the rows come in COPY's text format from the
        reading side (``copy_row``), or are made here for merged ones; ids go in front."""
        made = [c.copied or copy_row(self._values(c, names), c.phones) for c in contacts]
        ids = self._reserve_ids(len(contacts))
        fixed = copy_fields(self._fixed())
        columns = ("id", *FIXED_COLUMNS, *PER_ROW_COLUMNS, *names)
        lines = [f"{i}\t{fixed}\t{row}\n" for i, (row, _) in zip(ids, made, strict=True)]
        self._copy("contacts", columns, lines, unchecked=True)
        self._analyze("contacts")
        # Every number names a contact of this batch: its key holds by construction.
        phones = [
            self._phone_lines(contact_id, self.campaign_id, numbers)
            for contact_id, (_, numbers) in zip(ids, made, strict=True)
            if numbers
        ]
        self._copy("contact_phones", COPY_PHONE_COLUMNS, phones, unchecked=True)
        self._analyze("contact_phones")

    def _phone_lines(self, contact_id: int, campaign_id: int, numbers: str) -> str:
        """``phone_lines`` with the contact, tenant, campaign and tries in front of each."""
        start = f"{contact_id}\t{self.tenant_id}\t{campaign_id}\t0\t"
        return start + numbers.replace("\n", f"\n{start}") + "\n"

    def _has_statistics(self) -> bool:
        """Whether PostgreSQL has planner statistics for a contacts table of a real size."""
        query = "SELECT reltuples FROM pg_class WHERE oid = 'contacts'::regclass"
        return float(self.conn.exec_driver_sql(query).scalar_one()) >= STATISTICS_MIN_ROWS

    def _analyze(self, table: str) -> None:
        """Statistics for a new or small table, once: without them PostgreSQL checks each
        phone's foreign key by walking the (campaign_id, id) index instead of the primary key,
        which makes a large first import quadratic."""
        if not self._analyzed:
            self.conn.exec_driver_sql(f"ANALYZE {table}")

    def _convert(self, rows: list[tuple[Any, ...]], names: list[str]) -> None:
        """Datetimes and amounts in the form the database stores them (rare columns)."""
        offset = len(PER_ROW_COLUMNS)
        convert = [(offset + i, self._stored[n]) for i, n in enumerate(names) if n in self._stored]
        if not convert:
            return
        for number, row in enumerate(rows):
            values = list(row)
            for index, conv in convert:
                if values[index] is not None:
                    values[index] = conv(values[index])
            rows[number] = tuple(values)

    def _reserve_ids(self, count: int) -> list[int]:
        # One array: fetching 5,000 rows of one id each costs more than the ids.
        reserve = "SELECT array_agg(nextval(pg_get_serial_sequence('contacts', 'id')))"
        query = text(f"{reserve} FROM generate_series(1, :n)")
        return list(self.conn.execute(query, {"n": count}).scalar_one())

    def _insert_contacts(self, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[int]:
        fixed = self._fixed()
        # The per-import constants are written into the statement: fewer values to bind per row.
        values = ", ".join([*map(_literal, fixed), *("?" * len(columns))])
        names = ", ".join((*FIXED_COLUMNS, *columns))
        self.conn.exec_driver_sql(f"INSERT INTO contacts ({names}) VALUES ({values})", rows)
        last = int(self.conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())
        first = last - len(rows) + 1
        block = self.conn.exec_driver_sql(
            "SELECT count(*) FROM contacts WHERE id BETWEEN ? AND ? AND campaign_id = ?",
            (first, last, self.campaign_id),
        ).scalar_one()
        if block != len(rows):
            raise RuntimeError("SQLite did not give the imported contacts contiguous ids")
        return list(range(first, last + 1))

    def _insert_phones(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows of (contact_id, campaign_id, position, raw, e164, invalid), keys checked."""
        if not rows:
            return
        if not self.sqlite:
            lines = [self._phone_lines(r[0], r[1], phone_lines({r[2]: (r[3], r[4])})) for r in rows]
            self._copy("contact_phones", COPY_PHONE_COLUMNS, lines, unchecked=False)
            return
        self.conn.exec_driver_sql(
            f"INSERT INTO contact_phones ({', '.join(PHONE_COLUMNS)}, tries)"
            f" VALUES (?, {int(self.tenant_id)}, ?, ?, ?, ?, ?, 0)",
            rows,
        )

    def _copy(
        self, table: str, columns: tuple[str, ...], lines: list[str], unchecked: bool
    ) -> None:
        """COPY ``lines`` (text format, each with its line end); ``unchecked`` (rows whose keys
        hold by construction) skips the key checks when the parents are locked, and only for
        this statement: the cascades of every UPDATE must still fire."""
        if not lines:
            return
        dbapi: Any = self.conn.connection.dbapi_connection
        restore = self._role_before if unchecked else None
        with dbapi.cursor() as cursor:
            if restore is not None:
                cursor.execute("SELECT set_config(%s, 'replica', true)", (REPLICATION_ROLE,))
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write("".join(lines).encode())
            if restore is not None:
                cursor.execute("SELECT set_config(%s, %s, true)", (REPLICATION_ROLE, restore))

    # Updates ----------------------------------------------------------------------------

    def update(self, contacts: list[Pending]) -> None:
        if not contacts:
            return
        self._update_fields(contacts)
        self._update_phones(contacts)

    def _update_fields(self, contacts: list[Pending]) -> None:
        with_extra = [c.contact_id for c in contacts if c.extra]
        stored: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        if with_extra:
            query = select(Contact.id, Contact.custom_data, Contact.form_data).where(
                Contact.id.in_(with_extra)
            )
            stored = {row.id: (row.custom_data, row.form_data) for row in self.conn.execute(query)}
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        moment = datetime.now(UTC)
        for c in contacts:
            assert c.contact_id is not None
            values = dict(c.fields, updated_at=moment)
            custom, form = stored.get(c.contact_id, ({}, {}))
            if "custom_data" in c.extra:
                values["custom_data"] = {**custom, **c.extra["custom_data"]}
            if "form_data" in c.extra:
                values["form_data"] = {**form, **c.extra["form_data"]}
            params = {f"v_{k}": v for k, v in values.items()}
            groups.setdefault(tuple(sorted(values)), []).append({"_id": c.contact_id, **params})
        for names, batch in groups.items():
            stmt = (
                update(CONTACTS)
                .where(CONTACTS.c.id == bindparam("_id"))
                .values({name: bindparam(f"v_{name}") for name in names})
            )
            self.conn.execute(stmt, batch)

    def _update_phones(self, contacts: list[Pending]) -> None:
        ids = [c.contact_id for c in contacts]
        query = select(
            ContactPhone.id,
            ContactPhone.contact_id,
            ContactPhone.position,
            ContactPhone.raw,
            ContactPhone.e164,
        ).where(ContactPhone.contact_id.in_(ids))
        old = {(r.contact_id, r.position): r for r in self.conn.execute(query)}
        inserts: list[tuple[Any, ...]] = []
        changes: list[dict[str, Any]] = []
        for c in contacts:
            for position, (raw, e164) in c.phones.items():
                before = old.get((c.contact_id, position))
                if before is None:
                    inserts.append((c.contact_id, c.campaign_id, position, raw, e164, e164 is None))
                elif before.e164 != e164 or e164 is None or before.raw != raw:
                    keep = before.e164 == e164 and e164 is not None
                    reset = {} if keep else {f"v_{k}": v for k, v in RESET_PHONE.items()}
                    change = {"v_raw": raw, "v_e164": e164, "v_invalid": e164 is None}
                    changes.append({"_id": before.id, **change, **reset})
        self._insert_phones(inserts)
        for keys in {tuple(sorted(c)) for c in changes}:
            names = [k.removeprefix("v_") for k in keys if k != "_id"]
            stmt = (
                update(PHONES)
                .where(PHONES.c.id == bindparam("_id"))
                .values({name: bindparam(f"v_{name}") for name in names})
            )
            self.conn.execute(stmt, [p for p in changes if tuple(sorted(p)) == keys])
