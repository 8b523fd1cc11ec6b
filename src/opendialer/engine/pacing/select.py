"""Which pacing policy a campaign gets."""

from opendialer.engine.pacing.base import PacingPolicy, ProgressivePolicy
from opendialer.engine.pacing.predictive import PredictivePolicy
from opendialer.models import Campaign, DialMode


def policy_for(campaign: Campaign) -> PacingPolicy:
    """Predictive campaigns get the model-based policy (its only input is the snapshot's
    abandonment target); progressive and preview dial one call per free agent."""
    if campaign.dial_mode is DialMode.PREDICTIVE:
        return PredictivePolicy()
    return ProgressivePolicy()
