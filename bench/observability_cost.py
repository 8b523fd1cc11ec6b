"""Benchmark: the CPU that metrics and logs add to one HTTP request, in-process.

Runs the request middleware (observability/requests.py) around an app that answers at once,
N times, with metrics and the access log off (the request id only) and on (a JSON access line
through the configured structlog pipeline, to /dev/null, and the request counted), and prints
the CPU time per request of each. CPU time, not wall time: the machine is shared, and other
processes change CPU time much less than they change throughput. Compare with the server's CPU
per AddCall from ``python -m bench.voicenter_api --observability-rounds 3``.

    .venv/bin/python -m bench.observability_cost --requests 20000
"""

import argparse
import asyncio
import logging
import os
import statistics
import time

from prometheus_client import CollectorRegistry
from starlette.types import Receive, Scope, Send

from bench.common import print_table
from opendialer.observability.logs import configure_logging_to
from opendialer.observability.metrics import HttpMetrics
from opendialer.observability.requests import RequestContext

SCOPE: Scope = {
    "type": "http",
    "method": "POST",
    "path": "/ForwardDialer/Dialer/AddCall",
    "headers": [(b"content-type", b"application/json")],
}


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def drive(app: RequestContext, requests: int) -> float:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: object) -> None:
        return None

    started = time.process_time()
    for _ in range(requests):
        await app(dict(SCOPE), receive, send)
    return (time.process_time() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sink = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)
    configure_logging_to(sink, "info", "json")
    off = RequestContext(answer, metrics=None, access_log=False)
    on = RequestContext(answer, metrics=HttpMetrics(CollectorRegistry()), access_log=True)
    costs: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.rounds):
        costs["off"].append(asyncio.run(drive(off, args.requests)))
        costs["on"].append(asyncio.run(drive(on, args.requests)))
    logging.getLogger().handlers.clear()
    rows = [
        (f"metrics + access log {mode}", f"{1e6 * statistics.median(values):.1f} µs")
        for mode, values in costs.items()
    ]
    added = statistics.median(costs["on"]) - statistics.median(costs["off"])
    rows.append(("added per request", f"{1e6 * added:.1f} µs"))
    print_table(
        f"CPU per request in the middleware ({args.requests:,} requests x {args.rounds})",
        ("case", "CPU"),
        rows,
    )
    print(f"load average {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
