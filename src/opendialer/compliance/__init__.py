"""Consent records, compliance holds and caller-ID pools (docs/compliance.md)."""
