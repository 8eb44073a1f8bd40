"""Run theorem checks and write their records: ``data/theorems/<id>.json`` + ``manifest.json``.

Each ``<id>.json`` holds ``{"check_id", "passed", "results": [CheckResult...], "xref": [...]}``; the runner
also exports the Rocq/paper/Python cross-reference (:mod:`shift_core.model.xref`) as ``rocq_xref.json``. All
writes are atomic (:func:`shift_core.results.write_json_atomic`), so the pipeline can run one check per job.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shift_core.errors import ShiftUserError
from shift_core.model import xref
from shift_core.model.check import CheckResult
from shift_core.model.universes import MODES
from shift_core.results import manifest, write_json_atomic
from shift_core.theorems.registry import resolve, runner_for

DEFAULT_OUT = Path("data/theorems")


def validate(bound: int | None, mode: str | None) -> None:
    """One-line errors for bad arguments."""
    if bound is not None and bound < 1:
        raise ShiftUserError(f"--bound must be a positive integer, got {bound}")
    if mode is not None and mode not in MODES:
        raise ShiftUserError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")


def run_check(check_id: str, bound: int | None = None, mode: str | None = None) -> list[CheckResult]:
    """All evidence of one check id (or alias), without writing anything."""
    validate(bound, mode)
    out: list[CheckResult] = []
    for cid in resolve(check_id):
        out += runner_for(cid)(bound=bound, mode=mode)
    return out


def record(check_id: str, results: list[CheckResult], wall_seconds: float | None = None) -> dict[str, Any]:
    """The JSON document of one check id (``wall_seconds``: the whole check, else the sum of its results)."""
    wall = sum(r.seconds for r in results) if wall_seconds is None else wall_seconds
    return {"check_id": check_id, "passed": all(r.passed for r in results), "status": "ok",
            "wall_seconds": round(wall, 3),
            "results": [r.to_json() for r in results],
            "xref": [dataclasses.asdict(x) for x in xref.for_check(check_id)]}


def write_check(check_id: str, results: list[CheckResult], out: Path, wall_seconds: float | None = None) -> Path:
    """Write ``<out>/<check_id>.json`` atomically."""
    return write_json_atomic(out / f"{check_id}.json", record(check_id, results, wall_seconds))


def write_manifest(out: Path, bound: int | None, mode: str | None, summary: dict[str, Any]) -> Path:
    """``manifest.json`` of the stage: provenance plus a per-check pass/fail summary.

    Entries of checks run earlier (e.g. one pipeline job per check) are kept unless rerun now; the
    read-merge-write holds an exclusive lock on ``<out>/.manifest.lock`` so concurrent jobs do not lose entries.
    """
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "rocq_xref.json", {"rocq_repo": xref.ROCQ_REPO, "rocq_commit": xref.ROCQ_COMMIT,
                                               "paper_commit": xref.PAPER_COMMIT, "rows": xref.as_records()})
    path = out / "manifest.json"
    with open(out / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        previous: dict[str, Any] = {}
        if path.exists():
            try:
                previous = dict(json.loads(path.read_text()).get("checks", {}))
            except (OSError, ValueError):
                previous = {}
        merged = {**previous, **summary}
        return write_json_atomic(path, manifest("model", {"bound": bound, "mode": mode}, extra={"checks": merged}))


def run_and_write(names: tuple[str, ...], out: Path = DEFAULT_OUT, bound: int | None = None,
                  mode: str | None = None,
                  on_result: Callable[[str, list[CheckResult], float], None] | None = None) -> dict[str, bool]:
    """Run each check id, write its JSON as soon as it finishes, then the manifest; returns id -> passed."""
    validate(bound, mode)
    summary: dict[str, Any] = {}
    passed: dict[str, bool] = {}
    for cid in names:
        start = time.perf_counter()
        results = run_check(cid, bound, mode)
        seconds = time.perf_counter() - start
        write_check(cid, results, out, seconds)
        passed[cid] = all(r.passed for r in results)
        summary[cid] = {"passed": passed[cid], "results": len(results), "seconds": round(seconds, 3),
                        "bound": bound, "mode": mode}
        if on_result is not None:
            on_result(cid, results, seconds)
    write_manifest(out, bound, mode, summary)
    return passed

