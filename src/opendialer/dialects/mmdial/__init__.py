"""mmDial dialect: the sixteen functions of the mmDial API (docs/dialects/mmdial.md)."""
