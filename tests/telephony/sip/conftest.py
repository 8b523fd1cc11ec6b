"""Fixtures: a private loopback network, SIPp peers on it, and a sip backend aimed at them."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opendialer.accounts.service import NewTenant
from opendialer.config import Settings
from opendialer.db import SessionMaker
from opendialer.telephony.sip import SipBackend
from tests.telephony.sip.engine_calls import EngineCalls
from tests.telephony.sip.rtpengine import Rtpengine
from tests.telephony.sip.sipp import Farm, Network, close_network, open_network

MMDIAL = "http://testserver/mmdial/api/"


@pytest.fixture(scope="session")
def sip_network() -> Iterator[Network]:
    network = open_network()
    yield network
    close_network(network)


@pytest.fixture
def farm(sip_network: Network, tmp_path: Path) -> Iterator[Farm]:
    farm = Farm(sip_network, tmp_path, first_port=5200)
    yield farm
    farm.stop()


@pytest.fixture(autouse=True)
def _stop_a_backend_left_running() -> Iterator[None]:
    """One sip backend per process: a test that failed half-way must not fail the next ones."""
    yield
    left = SipBackend.running_in_process()
    if left is not None:
        asyncio.run(left.stop())


@pytest.fixture
def sip_options(sip_network: Network) -> dict[str, Any]:
    """Test timers: short rings and waits; routes are added per test."""
    return {
        "trunk": "127.0.0.1:5199",  # nothing listens there: the unreachable trunk
        "bind_address": "127.0.0.1",
        "port_range": [5060, 5099],
        "network_namespace": sip_network.namespace,
        "min_ring_timeout": 0.5,
        "agent_ring_timeout": 2.0,
        "trunk_response_timeout": 1.0,
        "keepalive_interval": 0,
        "keepalive_timeout": 1.0,
        "announcement_max_seconds": 5.0,
    }


@pytest.fixture(scope="session")
def rtpengine(
    sip_network: Network, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rtpengine]:
    """One real rtpengine for the session, recording pcaps into its own spool directory."""
    engine = Rtpengine(sip_network, tmp_path_factory.mktemp("rtpengine")).start()
    yield engine
    engine.stop()


@pytest.fixture
def media_options(sip_options: dict[str, Any], rtpengine: Rtpengine) -> dict[str, Any]:
    """The test options with media anchored in the session's rtpengine."""
    return {
        **sip_options,
        "media": "rtpengine",
        "rtpengine": [rtpengine.address],
        "recording_dir": str(rtpengine.spool),
    }


@pytest.fixture
def mm(
    app: FastAPI,
    tenant: NewTenant,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    """An mmDial client (the tenant's admin, Basic auth); recordings stored in tmp_path."""
    monkeypatch.setattr(settings, "recordings_dir", tmp_path / "recordings")
    auth = (f"{tenant.admin_user}@{tenant.tenant.id}", tenant.admin_password)
    with TestClient(app, base_url=MMDIAL, raise_server_exceptions=False) as client:
        client.auth = auth
        yield client


@pytest.fixture
def calls(
    mm: TestClient, sessions: SessionMaker, settings: Settings, tenant: NewTenant
) -> EngineCalls:
    """The engine dialling the tenant's campaigns, leads added through ``mm``."""
    return EngineCalls(mm, sessions, settings, tenant)
