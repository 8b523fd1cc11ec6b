from collections.abc import Mapping
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from opendialer.clock import Clock, VirtualClock
from opendialer.telephony import registry
from opendialer.telephony.registry import (
    ENTRY_POINT_GROUP,
    TelephonyConfigError,
    available_backends,
    load_backend,
)
from opendialer.telephony.sim import SimNetwork


def not_a_backend(clock: Clock, options: Mapping[str, Any]) -> object:
    return object()


def fake_points(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    points = [EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in values.items()]
    monkeypatch.setattr(registry, "_entry_points", lambda: points)


def test_sim_is_registered() -> None:
    assert "sim" in available_backends()
    backend = load_backend("sim", clock=VirtualClock(), options={"seed": 4})
    assert isinstance(backend, SimNetwork)
    assert backend.seed == 4


def test_an_unknown_name_lists_the_available_backends() -> None:
    with pytest.raises(TelephonyConfigError, match=r"unknown telephony backend 'asterisk'.*sim"):
        load_backend("asterisk", clock=VirtualClock())


def test_an_import_failure_names_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_points(monkeypatch, sip="opendialer_missing_sip.backend:create_backend")
    with pytest.raises(TelephonyConfigError, match=r"'sip' .* could not be imported: Module"):
        load_backend("sip", clock=VirtualClock())


def test_bad_options_name_the_backend() -> None:
    with pytest.raises(TelephonyConfigError, match=r"'sim' could not be created: .*colour"):
        load_backend("sim", clock=VirtualClock(), options={"colour": "blue"})
    with pytest.raises(TelephonyConfigError, match=r"'sim' could not be created"):
        load_backend(
            "sim", clock=VirtualClock(), options={"scenario": {"customers": {"p_live": 2}}}
        )


def test_a_factory_must_return_a_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_points(monkeypatch, odd=f"{__name__}:not_a_backend")
    with pytest.raises(TelephonyConfigError, match="lacks the TelephonyBackend methods"):
        load_backend("odd", clock=VirtualClock())


def test_conflicting_registrations_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [
        EntryPoint("sim", "a.b:c", ENTRY_POINT_GROUP),
        EntryPoint("sim", "a.b:c", ENTRY_POINT_GROUP),
        EntryPoint("sip", "x:y", ENTRY_POINT_GROUP),
        EntryPoint("sip", "z:y", ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(registry, "_entry_points", lambda: points)
    with pytest.raises(TelephonyConfigError, match="registered twice"):
        available_backends()
