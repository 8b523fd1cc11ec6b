"""The pacing benchmark: dialers side by side on simulated days (``python -m bench.pacing``)."""
