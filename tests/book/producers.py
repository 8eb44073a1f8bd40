"""The pipeline's real producers, run at small bounds into any data root: what the book's fixture is made of,
and what the shape test compares the fixture with.

Each function calls the same code the Snakemake rule calls (the theorem runner, the boundary search, a sim
benchmark's ``run``, ``shift faults``, a figure script, the claims builder, the stage manifest), never a copy of
its output format. ``tests/book/fixtures/make_fixture.py`` (``make book-fixtures``) writes the fixture with them.
"""

from __future__ import annotations

import importlib
import runpy
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from shift_core.results import manifest, write_json_atomic, write_text_atomic

REPO = Path(__file__).resolve().parents[2]
FIGURE_SCRIPTS = REPO / "workflow" / "scripts" / "figures"
#: small settings of the sim benchmarks (merged over config/config.yaml's section of the same name)
SMALL_BENCH: dict[str, dict[str, Any]] = {
    "downtime": {"runs": 1},
    "latency": {"iterations": 50, "idle_qps": 20},
    "detection": {"runs": 1, "timeouts": [8, 14]},
    "memory_cost": {},
}


def config() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return loaded if isinstance(loaded, dict) else {}


def theorems(out: Path, names: Sequence[str] | None = None) -> dict[str, bool]:
    """``python -m shift_core.theorems`` for ``names`` (default: every check) into ``out`` (its default bounds)."""
    from shift_core.theorems.runner import run_and_write
    from shift_core.vocabulary import THEOREM_CHECKS

    return run_and_write(tuple(names or THEOREM_CHECKS), out)


def boundary(out: Path, bound: int = 2) -> None:
    """The protocol-boundary searches at ``bound`` iterations (``python -m shift_core.boundary``)."""
    from shift_core.boundary.run import run, write_results

    write_results(run(bound), out)


def bench(name: str, out: Path, overrides: Mapping[str, Any] | None = None) -> None:
    """One sim benchmark (``workflow/scripts/bench.py``): ``out/<name>.csv`` and ``.json``."""
    from shift_core.bench.record import write_result

    cfg = config()
    settings = {"seed": cfg["seed"], "fabric": cfg["fabric"],
                name: {**cfg[name], **SMALL_BENCH.get(name, {}), **dict(overrides or {})}}
    t0 = time.monotonic()
    result = importlib.import_module(f"shift_core.bench.{name}").run(settings)
    write_result(result, out / f"{name}.csv", out / f"{name}.json", settings, wall_seconds=time.monotonic() - t0)


def faults(out: Path, runs: int = 200, *extra: str) -> None:
    """``shift faults --runs N`` into ``out`` (faults.csv, faults.json)."""
    cmd = [sys.executable, "-m", "shift_core.cli.main", "faults", "--runs", str(runs), "--seed", "1",
           "--processes", "1", "--out", str(out), *extra]
    subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO)


def explore(out: Path, steps: int = 2) -> None:
    """``shift explore --mode single --steps N`` into ``out`` (single.json, single.csv, single_coverage.csv)."""
    cmd = [sys.executable, "-m", "shift_core.cli.main", "explore", "--mode", "single", "--steps", str(steps),
           "--processes", "1", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO)


def figure(name: str, inputs: Sequence[Path], output: Path) -> None:
    """``workflow/scripts/figures/<name>.py`` as Snakemake runs it (a ``snakemake`` object with input/output)."""
    smk = SimpleNamespace(input=[str(p) for p in inputs], output=[str(output)], log=[str(output) + ".log"],
                          config=config(), params=SimpleNamespace(), wildcards=SimpleNamespace(fig=name))
    runpy.run_path(str(FIGURE_SCRIPTS / f"{name}.py"), init_globals={"snakemake": smk}, run_name="__main__")
    Path(smk.log[0]).unlink(missing_ok=True)


def claims(data: Path) -> None:
    """``data/claims.csv`` from the paper's reference table and ``data`` (``workflow/scripts/claims.py``)."""
    from shift_core.bench.claims import build_rows, to_csv

    write_text_atomic(data / "claims.csv", to_csv(build_rows(REPO / "config" / "paper_values.yaml", data)))


def stage_manifest(data: Path, stage: str, backend: str, wall_seconds: float, **extra: Any) -> None:
    """``data/<stage>/manifest.json`` as the stage rules write it (``shift_core.results.manifest``)."""
    write_json_atomic(data / stage / "manifest.json",
                      manifest(backend, config(), extra={"stage": stage, "wall_seconds": round(wall_seconds, 2),
                                                         **extra}))


def skipped_stage(data: Path, stage: str, reason: str) -> None:
    """A stage that could not run: its manifest says ``skipped`` with the reason (``write_skipped``)."""
    from shift_core.bench.stage import write_skipped

    write_skipped([data / stage / "manifest.json"], stage, reason, config())
