"""The explorer's files: ``<mode>.json`` (summary, per-cell verdicts, violations and witnesses with their schedules,
the machine's coverage table, the manifest with ``wall_seconds``), ``<mode>.csv`` (one row per explored run) and
``<mode>_coverage.csv`` (one row per (state, event) pair of the machine), all written atomically.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from shift_core.results import manifest, write_json_atomic, write_text_atomic

#: columns of ``<mode>.csv``, in order (stable: the book and tests read them)
ROW_COLUMNS: tuple[str, ...] = ("mode", "workload", "strategy", "placement", "point", "outcome", "first_outcome",
                                "end_state", "reason", "transitions", "diverged", "wall_ms", "faults")
COVERAGE_COLUMNS: tuple[str, ...] = ("queue", "state", "event", "next", "runs", "witness", "why_unreached")


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    """Write ``report`` (from :func:`shift_core.explore.search.explore`) under ``out``; returns the paths."""
    mode = report["mode"]
    body = {k: v for k, v in report.items() if k != "rows"}
    body["manifest"] = manifest("sim", report["config"], extra={"wall_seconds": report["wall_seconds"],
                                                                  "stage": "explore", "mode": mode})
    paths = [out / f"{mode}.json", out / f"{mode}.csv", out / f"{mode}_coverage.csv"]
    write_json_atomic(paths[0], body)
    write_text_atomic(paths[1], _csv(report["rows"], ROW_COLUMNS))
    write_text_atomic(paths[2], _csv(report["coverage"], COVERAGE_COLUMNS))
    return paths
