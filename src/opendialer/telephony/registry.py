"""Telephony backends by name, found through the ``opendialer.telephony`` entry-point group.

A backend package registers a factory ``(clock, options) -> TelephonyBackend``::

    [project.entry-points."opendialer.telephony"]
    sip = "opendialer_sip.backend:create_backend"

Any problem (unknown name, failed import, rejected options) becomes a
:class:`TelephonyConfigError` at start-up that names the backend, never a late surprise.
"""

from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from opendialer.clock import Clock
from opendialer.telephony.base import TelephonyBackend

ENTRY_POINT_GROUP = "opendialer.telephony"

BackendFactory = Callable[[Clock, Mapping[str, Any]], TelephonyBackend]


class TelephonyConfigError(Exception):
    """The configured telephony backend cannot be used."""


def _entry_points() -> list[EntryPoint]:
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _registered() -> dict[str, EntryPoint]:
    """Entry points by name; the same one installed twice (say, editable and egg-info) is fine."""
    found: dict[str, EntryPoint] = {}
    for point in _entry_points():
        other = found.setdefault(point.name, point)
        if other.value != point.value:
            raise TelephonyConfigError(
                f"telephony backend {point.name!r} is registered twice: "
                f"{other.value} and {point.value}"
            )
    return found


def available_backends() -> list[str]:
    return sorted(_registered())


def _factory(name: str) -> BackendFactory:
    registered = _registered()
    point = registered.get(name)
    if point is None:
        names = ", ".join(sorted(registered)) or "none"
        raise TelephonyConfigError(
            f"unknown telephony backend {name!r}; available backends: {names} "
            f"(a backend registers itself in the {ENTRY_POINT_GROUP!r} entry-point group)"
        )
    try:
        factory = point.load()
    except Exception as exc:
        raise TelephonyConfigError(
            f"telephony backend {name!r} ({point.value}) could not be imported: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not callable(factory):
        raise TelephonyConfigError(f"telephony backend {name!r} ({point.value}) is not callable")
    return factory  # type: ignore[no-any-return]


def load_backend(
    name: str, *, clock: Clock, options: Mapping[str, Any] | None = None
) -> TelephonyBackend:
    factory = _factory(name)
    try:
        backend = factory(clock, options or {})
    except Exception as exc:
        raise TelephonyConfigError(
            f"telephony backend {name!r} could not be created: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(backend, TelephonyBackend):
        raise TelephonyConfigError(
            f"telephony backend {name!r} returned a {type(backend).__name__}, "
            "which lacks the TelephonyBackend methods"
        )
    return backend
