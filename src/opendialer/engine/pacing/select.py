"""Which pacing policy a campaign gets."""

from opendialer.engine.pacing.base import PacingPolicy, ProgressivePolicy
from opendialer.models import Campaign


def policy_for(campaign: Campaign) -> PacingPolicy:
    return ProgressivePolicy()
