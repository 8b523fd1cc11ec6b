"""Where the tail of ``bench/load_mixed.py`` comes from.

For the requests slower than the goal: how many overlapped a 1,000-row import, how long the
server's app spent on them (its access log's ``duration_ms``, matched by request id) against
the wait outside it (the socket, the event loop's queue before the app sees the request, the
response's way out), and, when the server ran under ``bench/server_probe.py``, how many met a
pause of the garbage collector.
"""

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

IMPORT_KIND = "import_1000"
GC_PAUSE_SEEN = 0.005  # seconds: a collection at least this long counts as a pause


class Timed(Protocol):
    kind: str
    started: float
    took: float
    request_id: str
    sent: float
    answered: float


@dataclass
class Window:
    start: float
    end: float


def _windows(records: Iterable[Timed], kind: str) -> list[Window]:
    return [Window(r.started, r.started + r.took) for r in records if r.kind == kind]


def _overlaps(record: Timed, windows: Sequence[Window]) -> bool:
    end = record.started + record.took
    return any(record.started < w.end and end > w.start for w in windows)


def _share(part: int, whole: int) -> str:
    return f"{part} ({part / whole:.0%})" if whole else "0"


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def app_windows(log_path: Path) -> dict[str, Window]:
    """Request id → when the app had it (wall clock), from the server's JSON access log."""
    found: dict[str, Window] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if '"duration_ms"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "request" and "request_id" in entry:
            end = datetime.fromisoformat(entry["timestamp"]).timestamp()
            found[entry["request_id"]] = Window(end - float(entry["duration_ms"]) / 1000, end)
    return found


def _probe(path: Path, what: str) -> list[Any]:
    return list(json.loads(path.read_text())[what]) if path.exists() else []


def gc_pauses(path: Path, since: float, until: float) -> list[Window]:
    """The server's collections of at least ``GC_PAUSE_SEEN`` between two wall-clock times."""
    pauses = [Window(end - pause, end) for end, _, pause in _probe(path, "gc")]
    return [p for p in pauses if p.end - p.start >= GC_PAUSE_SEEN and since <= p.end <= until]


def gc_summary(path: Path, since: float, until: float) -> str:
    """Collections per generation in the loaded phase: count, total and longest pause."""
    parts = []
    entries = [e for e in _probe(path, "gc") if since <= e[0] <= until]
    for generation in (0, 1, 2):
        pauses = [pause for _, gen, pause in entries if gen == generation]
        if pauses:
            total, longest = sum(pauses) * 1000, max(pauses) * 1000
            parts.append(f"gen{generation}: {len(pauses)} x, {total:.0f} ms, max {longest:.1f}")
    return "; ".join(parts) or "-"


def lag_summary(lags: Sequence[float]) -> str:
    """p50 / p99 / max of an event loop's lag samples, in ms."""
    if not lags:
        return "-"
    p50, p99 = _percentile(lags, 0.5) * 1000, _percentile(lags, 0.99) * 1000
    return f"{p50:.1f} / {p99:.1f} / {max(lags) * 1000:.0f}"


def _median_ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}" if values else "-"


def _import_rows(
    plain: Sequence[Timed], slow_ones: Sequence[Timed], imports: Sequence[Window]
) -> list[tuple[str, str]]:
    near = [r for r in plain if _overlaps(r, imports)]
    apart = [r.took for r in plain if not _overlaps(r, imports)]
    return [
        (
            "of those, overlapping an import",
            _share(sum(r in near for r in slow_ones), len(slow_ones)),
        ),
        ("all requests overlapping an import", _share(len(near), len(plain))),
        ("p99 ms of requests overlapping no import", f"{_percentile(apart, 0.99) * 1000:.0f}"),
        (
            "p99 ms of requests overlapping an import",
            f"{_percentile([r.took for r in near], 0.99) * 1000:.0f}",
        ),
    ]


STAGES = (
    "in the client before sending",
    "sent, before the app",
    "in the app",
    "after the app, before the headers were read",
    "in the client after the headers",
)


def _stages(record: Timed, app: Window) -> tuple[float, ...]:
    """Seconds of each of ``STAGES``; the client's trace gives when it sent and read."""
    end = record.started + record.took
    return (
        record.sent - record.started,
        app.start - record.sent,
        app.end - app.start,
        record.answered - app.end,
        end - record.answered,
    )


def _app_rows(
    plain: Sequence[Timed], slow_ones: Sequence[Timed], log_path: Path
) -> list[tuple[str, str]]:
    windows = app_windows(log_path)
    rows = []
    for name, group in (("slow", slow_ones), ("all", plain)):
        seen = [(r, windows[r.request_id]) for r in group if r.request_id in windows and r.sent]
        stages = [_stages(r, app) for r, app in seen]
        medians = " / ".join(_median_ms([s[i] for s in stages]) for i in range(len(STAGES)))
        rows.append((f"{name} requests: median ms {' / '.join(STAGES)}", medians))
    return rows


def _probe_rows(
    plain: Sequence[Timed], slow_ones: Sequence[Timed], probe_file: Path
) -> list[tuple[str, str]]:
    since = min(r.started for r in plain)
    until = max(r.started + r.took for r in plain)
    pauses = gc_pauses(probe_file, since, until)
    seen = f"{GC_PAUSE_SEEN * 1000:.0f}"
    lags = [lag for at, lag in _probe(probe_file, "lag") if since <= at <= until]
    return [
        ("server GC in the loaded phase", gc_summary(probe_file, since, until)),
        (
            f"slow requests overlapping a GC pause >= {seen} ms",
            _share(sum(_overlaps(r, pauses) for r in slow_ones), len(slow_ones)),
        ),
        (
            "all requests overlapping such a pause",
            _share(sum(_overlaps(r, pauses) for r in plain), len(plain)),
        ),
        ("server event loop lag ms p50 / p99 / max", lag_summary(lags)),
    ]


def tail_rows(
    records: Sequence[Timed], log_path: Path, probe_file: Path | None, slow: float
) -> list[tuple[str, str]]:
    """(figure, value) rows: where the requests slower than ``slow`` seconds spent their time."""
    plain = [r for r in records if r.kind != IMPORT_KIND]
    if not plain:
        return []
    slow_ones = [r for r in plain if r.took > slow]
    rows = [
        (
            f"requests slower than {slow * 1000:.0f} ms (imports not counted)",
            _share(len(slow_ones), len(plain)),
        )
    ]
    rows += _import_rows(plain, slow_ones, _windows(records, IMPORT_KIND))
    rows += _app_rows(plain, slow_ones, log_path)
    if probe_file is not None:
        rows += _probe_rows(plain, slow_ones, probe_file)
    return rows
