"""How many writers a SQLite group commit held under ``bench/voicenter_api.py``'s load.

Runs AddCall, then the native contact create, each on a fresh ``opendialer serve`` and database,
with wrk as that bench does, and reads the count the server logs at exit
(``opendialer.db``: "group commit: N writers in G groups").

    .venv/bin/python -m bench.group_sizes --seconds 10
"""

import argparse
import os
import re
import secrets
from pathlib import Path

from bench.common import print_table, throwaway_database
from bench.voicenter_api import NATIVE_SCRIPT, WRK_SCRIPT, free_port, measured_load, prepare, server

COUNTS = re.compile(r"group commit: (\d+) writers in (\d+) groups")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    for case in ("AddCall", "native create"):
        with throwaway_database("sqlite") as url:
            secret = secrets.token_urlsafe(48)
            ready = prepare(url, secret)
            with server(url, free_port(), secret, {"OPENDIALER_LOG_LEVEL": "info"}) as running:
                if case == "AddCall":
                    load = measured_load(
                        running, WRK_SCRIPT, [ready.code], args.clients, args.seconds
                    )
                else:
                    arguments = [str(ready.campaign_id), ready.api_key]
                    load = measured_load(
                        running, NATIVE_SCRIPT, arguments, args.clients, args.seconds
                    )
            log = (
                Path(url.removeprefix("sqlite:///")).with_suffix(".log").read_text(errors="replace")
            )
            found = COUNTS.findall(log)
            writers, groups = (int(found[-1][0]), int(found[-1][1])) if found else (0, 0)
            rows.append(
                (
                    case,
                    f"{load.requests / args.seconds:.0f} req/s",
                    f"{load.p99_ms:.1f} ms",
                    f"{load.cpu_ms:.2f} ms",
                    f"{writers:,}",
                    f"{groups:,}",
                    f"{writers / groups:.2f}" if groups else "-",
                )
            )
    load_after = os.getloadavg()
    print_table(
        "Group commit under wrk (warm-up included in the counts)",
        ("case", "throughput", "p99", "server CPU/req", "writers", "groups", "writers a group"),
        rows,
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
