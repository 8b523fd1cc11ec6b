"""Vendor-compatible API dialects: translation only, over the same services as /api/v1."""
