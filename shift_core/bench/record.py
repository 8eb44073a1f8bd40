"""A benchmark's result as data: the per-sample table (CSV), named summary metrics, and its manifest.

Every benchmark of :mod:`shift_core.bench` returns a :class:`BenchResult`; :func:`write_result` writes
``<name>.csv`` (the samples a figure plots) and ``<name>.json`` (manifest + ``summary`` + ``notes``)
atomically. The claims table reads ``summary`` keys by name (``config/paper_values.yaml`` ``metric:``), so a
metric has one name from the benchmark to the claims table and the book.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shift_core.results import manifest, write_json_atomic, write_text_atomic

#: the benchmarks, by name: module ``shift_core.bench.<name>`` with ``run(settings) -> BenchResult``
BENCHES: tuple[str, ...] = ("timeline", "downtime", "detection", "verbs_cost", "latency", "training", "memory_cost")


class BenchUnavailable(Exception):
    """Raised by a benchmark whose backend or dependency is absent; the pipeline records ``skipped: <reason>``."""


@dataclass(frozen=True)
class BenchResult:
    """One benchmark run: ``frame`` (samples), ``summary`` (named metrics), ``notes`` (how to read them)."""

    name: str
    backend: str
    frame: pd.DataFrame
    summary: Mapping[str, float | int | str | None]
    notes: Mapping[str, Any] = field(default_factory=dict)


def write_result(result: BenchResult, csv: str | Path, json_path: str | Path,
                 config: Mapping[str, Any] | None = None, *, wall_seconds: float | None = None) -> None:
    """Write the samples as CSV and the manifest with ``summary`` and ``notes`` as JSON, both atomically."""
    write_text_atomic(csv, result.frame.to_csv(index=False))
    extra = {"benchmark": result.name, "summary": dict(result.summary), "notes": dict(result.notes),
             "rows": len(result.frame)}
    if wall_seconds is not None:
        extra["wall_seconds"] = round(wall_seconds, 3)
    write_json_atomic(json_path, manifest(result.backend, config, extra=extra))
