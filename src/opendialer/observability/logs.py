"""Structured logs: one event per line, JSON when the output is not a terminal (or when asked),
readable text in a terminal. The standard library's loggers (ours, uvicorn's, SQLAlchemy's) go
through the same processors, so every line carries the request or call it belongs to and no
line carries a secret."""

import logging
import sys
from typing import Any, Literal

import structlog
from structlog.typing import Processor

from opendialer.observability.redaction import redact_secrets

LogFormat = Literal["auto", "json", "text"]


def _renderer(log_format: LogFormat) -> Processor:
    text = log_format == "text" or (log_format == "auto" and sys.stderr.isatty())
    if text:
        return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    return structlog.processors.JSONRenderer()


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(level: str = "info", log_format: LogFormat = "auto") -> None:
    """Route every logger of the process to stderr through structlog. Called by the CLI before
    it serves; tests use configure_logging_to with a stream of their own to read the lines."""
    configure_logging_to(sys.stderr, level, log_format)


def configure_logging_to(stream: Any, level: str, log_format: LogFormat) -> None:
    shared = _shared_processors()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,  # after the traceback is text: it is scanned too
            _renderer(log_format),
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
