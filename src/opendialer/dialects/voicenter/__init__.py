"""Voicenter Forward Dialer API dialect (spec 003)."""
