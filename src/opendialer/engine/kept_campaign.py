"""A campaign's settings as its runner keeps them from one transaction to the next.

The runner reads its campaign in most of its transactions (a claim, a read of the campaign's
state, an attempt's end), and the row is wide. So it keeps the last copy it loaded and, in each
transaction, reads only the row's version (``updated_at``, set by every change of the row, ORM
or Core): the same version, the same settings; another, the row is loaded again. A deleted
campaign has no version. The version is read once per transaction: the engine never changes its
campaign's row, and a transaction sees its snapshot (or, on SQLite, holds the writer's lock).

The copy is an ORM object detached from the session that loaded it (sessions do not expire on
commit, and a campaign has no relationships to load later). It belongs to the transactions that
use it: the engine's database thread, never the loop.
"""

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from opendialer.db import transaction_memo
from opendialer.models import Campaign
from opendialer.models.campaign import CAMPAIGNS


@cache
def _version_statement() -> Select[Any]:
    return select(CAMPAIGNS.c.updated_at).where(CAMPAIGNS.c.id == bindparam("campaign_id"))


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
        if version is None:
            self._kept = None
            return None
        if self._kept is None or version != self._version:
            self._kept = session.get_one(Campaign, self.campaign_id)
            self._version = version
        return self._kept

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
