"""jtel-style Dialler and ACD REST API (spec 001), under ``settings.jtel_base_path``."""
