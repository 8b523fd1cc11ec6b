"""Audio of real calls that opendialer itself judges: answering-machine detection (``amd``)."""

from opendialer.media.amd import (
    AmdDetector,
    AmdResult,
    AmdSettings,
    AmdVerdict,
    Beep,
    BeepDetector,
)

__all__ = ["AmdDetector", "AmdResult", "AmdSettings", "AmdVerdict", "Beep", "BeepDetector"]
