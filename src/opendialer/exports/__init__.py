"""CSV exports of leads (native API and mmDial exportbystatus)."""
