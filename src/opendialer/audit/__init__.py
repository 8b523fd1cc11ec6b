"""The audit trail (issue 25 §6): every change to a tenant's configuration, who made it, when,
through which face, before and after; written by session events, so no service can forget it."""
