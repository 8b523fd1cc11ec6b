"""A benchmark scenario: the campaign scenario ``opendialer simulate`` reads too (one format)."""

from opendialer.telephony.campaign_scenario import CampaignScenario as BenchScenario

__all__ = ["BenchScenario"]
