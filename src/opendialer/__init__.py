"""opendialer: an open-source outbound dialer and contact-center server."""

__version__ = "0.1.0"
