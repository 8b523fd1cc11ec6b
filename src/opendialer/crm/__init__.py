"""CRM integration: call logs posted by PBXs, call logs and webhooks pushed to CRMs."""
