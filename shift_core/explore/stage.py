"""The explore stage of the pipeline (``workflow/rules/explore.smk``): which modes run, what they write, what code
they depend on (kept here, not in the Snakefile, so the rules file holds rules only)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: packages whose code decides an explored run (a change re-runs the exploration)
_PACKAGES = ("explore", "fabric", "shift", "kv", "model")
_FILES = ("shift_core/bench/workloads.py", "shift_core/bench/judge.py", "shift_core/cli/explore.py")


def modes(config: Mapping[str, Any]) -> list[str]:
    """``single`` always; ``pairs`` too when ``explore.pairs`` is set (the full profile)."""
    return ["single", "pairs"] if config["explore"]["pairs"] else ["single"]


def outputs(config: Mapping[str, Any]) -> list[str]:
    """The stage's results (the pipeline's stage outputs include them)."""
    return ([f"data/sim/explore/{m}{suffix}" for m in modes(config) for suffix in (".json", ".csv", "_coverage.csv")]
            + ["data/sim/explore/check.json", "data/sim/explore/manifest.json"])


def sources(root: str | Path = ".") -> list[str]:
    """The code behind the exploration, relative to the repository ``root``."""
    base = Path(root)
    py = sorted(str(p.relative_to(base)) for pkg in _PACKAGES for p in (base / "shift_core" / pkg).rglob("*.py"))
    return [*_FILES, *py]
