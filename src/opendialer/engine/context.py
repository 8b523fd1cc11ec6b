"""What a campaign runner and the ACD delivery loop need of the engine that hosts them.

The engine (``runner.Engine``) satisfies these protocols; its parts depend on them, not on the
engine itself, so ``runner`` imports ``campaign_runner`` and ``acd_delivery`` and neither imports
it back.
"""

from collections.abc import Callable, Hashable, Mapping
from typing import Protocol

from opendialer.clock import Clock
from opendialer.engine.database import EngineDatabase
from opendialer.engine.lateness import TickLateness
from opendialer.engine.live import LiveCall
from opendialer.engine.pacing.base import PacingPolicy
from opendialer.models import CallOutcome, Campaign
from opendialer.telephony import CallId, TelephonyBackend


class EngineListener(Protocol):
    """Told about the engine's moments; the simulator's agent driver is one."""

    def call_connected(self, call: LiveCall) -> None: ...

    def call_ended(self, call: LiveCall, outcome: CallOutcome) -> None: ...

    def agent_wrap_up(self, tenant_id: int, user_id: int, campaign_id: int) -> None: ...

    def preview_offered(self, tenant_id: int, user_id: int, campaign_id: int) -> None: ...


class NullListener:
    def call_connected(self, call: LiveCall) -> None:
        return None

    def call_ended(self, call: LiveCall, outcome: CallOutcome) -> None:
        return None

    def agent_wrap_up(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        return None

    def preview_offered(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        return None


class EngineContext(Protocol):
    """The engine as one campaign runner sees it: its clock, database, network, live calls."""

    @property
    def db(self) -> EngineDatabase: ...

    @property
    def backend(self) -> TelephonyBackend: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def engine_id(self) -> str: ...

    @property
    def tick_seconds(self) -> float: ...

    @property
    def reread_seconds(self) -> float | None: ...

    async def change_token(self) -> Hashable: ...

    @property
    def grace_seconds(self) -> float: ...

    @property
    def tick_lateness(self) -> TickLateness: ...

    @property
    def policy_factory(self) -> Callable[[Campaign], PacingPolicy]: ...

    @property
    def listener(self) -> EngineListener: ...

    @property
    def calls(self) -> dict[CallId, LiveCall]: ...

    async def close_unwritten(self) -> None: ...


class RunningCampaign(Protocol):
    @property
    def tenant_id(self) -> int: ...


class DeliveryContext(Protocol):
    """The engine as the ACD delivery loop sees it: the campaigns it runs, its clock and DB."""

    @property
    def db(self) -> EngineDatabase: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def engine_id(self) -> str: ...

    @property
    def runners(self) -> Mapping[int, RunningCampaign]: ...
