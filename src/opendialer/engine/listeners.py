"""Several engine listeners as one: the simulator's agent driver, the console's push, the
wrap-up timer each hear every moment."""

from opendialer.engine.context import EngineListener
from opendialer.engine.live import LiveCall
from opendialer.models import CallOutcome


class Listeners:
    def __init__(self, *listeners: EngineListener) -> None:
        self.listeners = listeners

    def call_connected(self, call: LiveCall) -> None:
        for listener in self.listeners:
            listener.call_connected(call)

    def call_ended(self, call: LiveCall, outcome: CallOutcome) -> None:
        for listener in self.listeners:
            listener.call_ended(call, outcome)

    def agent_wrap_up(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        for listener in self.listeners:
            listener.agent_wrap_up(tenant_id, user_id, campaign_id)

    def preview_offered(self, tenant_id: int, user_id: int, campaign_id: int) -> None:
        for listener in self.listeners:
            listener.preview_offered(tenant_id, user_id, campaign_id)
