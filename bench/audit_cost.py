"""Benchmark: the audit trail's CPU per create, in process.

The two creates of ``bench/voicenter_api.py`` (Voicenter ``AddCall``, the native contact create
with an API key), sent through the ASGI app in this process with Starlette's TestClient, so the
figure is this process's CPU per request (``time.process_time``: the app, its SQLite work and
the client's own share, the same before and after) and a loaded machine changes it least. Run it
on the code before the audit trail and after, alternately:

    PYTHONPATH=/path/to/old/src .venv/bin/python -m bench.audit_cost --requests 2000
    .venv/bin/python -m bench.audit_cost --requests 2000
"""

import argparse
import os
import secrets
import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from httpx import Response

import opendialer
from bench.common import print_table, throwaway_database
from bench.voicenter_api import BASE, prepare
from opendialer.app import create_app
from opendialer.config import Settings


def _cpu_ms_per_request(send: Callable[[int], Response], requests: int, expect: int) -> float:
    for warm in range(50):
        send(10_000_000 + warm)
    started = time.process_time()
    for sequence in range(requests):
        response = send(sequence)
        if response.status_code != expect:
            raise RuntimeError(f"request {sequence}: {response.status_code} {response.text}")
    return (time.process_time() - started) * 1000 / requests


def run(requests: int) -> list[str]:
    with throwaway_database("sqlite") as url:
        secret = secrets.token_urlsafe(48)
        ready = prepare(url, secret)
        settings = Settings(
            database_url=url,
            engine_enabled=False,
            outbox_enabled=False,
            secret_key=secret,
            metrics="off",
            access_log=False,
        )
        with TestClient(create_app(settings)) as client:
            add_call = _cpu_ms_per_request(
                lambda n: client.post(
                    BASE + "AddCall", json={"Campaign": ready.code, "Target": f"054{n:07d}"}
                ),
                requests,
                200,
            )
            headers = {"Authorization": f"Bearer {ready.api_key}"}
            native = _cpu_ms_per_request(
                lambda n: client.post(
                    f"/api/v1/campaigns/{ready.campaign_id}/contacts",
                    json={"phones": [f"052{n:07d}"], "name": "John Doe", "custom_data": {"n": n}},
                    headers=headers,
                ),
                requests,
                201,
            )
    return [f"{add_call:.3f}", f"{native:.3f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    measured = run(args.requests)
    code = os.path.dirname(opendialer.__file__)
    row = [code, str(args.requests), *measured, f"{load:.1f} / {os.getloadavg()[0]:.1f}"]
    columns = ["code", "requests", "AddCall CPU ms/req", "native create CPU ms/req", "load"]
    print_table("The audit trail's CPU per create (in process)", columns, [row])


if __name__ == "__main__":
    main()
