"""A campaign's settings as its runner keeps them from one transaction to the next.

The runner reads its campaign in most of its transactions (a claim, a read of the campaign's
state, an attempt's end), and the row is wide. So it keeps the last copy it loaded and, in each
transaction, reads only the row's version (``updated_at``, set by every change of the row, ORM
or Core): the same version, the same settings; another, the row is loaded again. A deleted
campaign has no version. The version is read once per transaction: the engine never changes its
campaign's row, and a transaction sees its snapshot (or, on SQLite, holds the writer's lock).

The runner's busiest transactions (its read, its claim) do not read the version on its own: a
statement they send anyway returns it as one more column (:func:`version_column`), and the work
begun on the kept copy (:meth:`KeptCampaign.peek`, nothing written yet) is confirmed by it
(:meth:`KeptCampaign.confirm`), or done again on the row loaded anew.

The copy is an ORM object detached from the session that loaded it (sessions do not expire on
commit, and a campaign has no relationships to load later). It belongs to the transactions that
use it: the engine's database thread, never the loop.
"""

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ScalarSelect, Select, bindparam, select
from sqlalchemy.orm import Session

from opendialer.db import transaction_memo
from opendialer.models import Campaign
from opendialer.models.campaign import CAMPAIGNS


@cache
def _version_statement() -> Select[Any]:
    return select(CAMPAIGNS.c.updated_at).where(CAMPAIGNS.c.id == bindparam("campaign_id"))


@cache
def version_column() -> ScalarSelect[Any]:
    """The campaign's version (NULL once deleted), for a statement with a ``campaign_id``
    parameter to return beside its own columns."""
    return _version_statement().scalar_subquery()


class KeptCampaign:
    def __init__(self, campaign_id: int) -> None:
        self.campaign_id = campaign_id
        self._kept: Campaign | None = None
        self._version: datetime | None = None

    def get(self, session: Session) -> Campaign | None:
        """The campaign's settings as of this transaction; None once it is deleted."""
        memo = transaction_memo(session)
        if memo is not None and self in memo:
            return self._kept
        kept = self._read(session)
        if (memo := transaction_memo(session)) is not None:
            memo[self] = True  # checked in this transaction
        return kept

    def _read(self, session: Session) -> Campaign | None:
        version = session.execute(_version_statement(), {"campaign_id": self.campaign_id}).scalar()
        self._load(session, version)
        return self._kept

    def _load(self, session: Session, version: datetime | None) -> None:
        """The copy for ``version`` (read in this transaction): loaded again when it moved."""
        if version is None:
            self._kept = None
        elif self._kept is None or version != self._version:
            self._kept = session.get_one(Campaign, self.campaign_id)
            self._version = version

    def checked(self, session: Session) -> bool:
        """Whether this transaction has checked the copy (:meth:`get`, :meth:`confirm`)."""
        memo = transaction_memo(session)
        return memo is not None and self in memo

    def peek(self, session: Session) -> Campaign | None:
        """The copy to begin work with, unchecked: the work must confirm it (:meth:`confirm`)
        with the version one of its statements read before it writes anything. The checked copy
        once this transaction has one, and :meth:`get` while no copy is kept."""
        if self._kept is None or self.checked(session):
            return self.get(session)
        return self._kept

    def confirm(self, session: Session, version: datetime | None) -> bool:
        """``version``, as a statement of this transaction read it (:func:`version_column`;
        None: the row is gone): True when the copy is current; else it is loaded again (None once
        deleted: :meth:`get` returns it without a read) and the work begun on the old copy must
        be done again. True, reading nothing, once this transaction has checked the copy."""
        if self.checked(session):
            return True
        current = self._kept is not None and version is not None and version == self._version
        if not current:
            self._load(session, version)
        if (memo := transaction_memo(session)) is not None:
            memo[self] = True
        return current

    @property
    def last(self) -> Campaign | None:
        """The copy as of the last :meth:`get`, without reading anything (None before the first
        and once the campaign was seen deleted)."""
        return self._kept

    def get_one(self, session: Session) -> Campaign:
        campaign = self.get(session)
        if campaign is None:
            raise LookupError(f"campaign {self.campaign_id} is deleted")
        return campaign
