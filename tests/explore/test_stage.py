"""The explore stage in the pipeline: single faults in the quick profile, pairs too in the full one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shift_core.explore import stage

REPO = Path(__file__).resolve().parents[2]


def test_outputs_and_sources() -> None:
    assert stage.modes({"explore": {"pairs": False}}) == ["single"]
    out = stage.outputs({"explore": {"pairs": True}})
    assert "data/sim/explore/pairs.json" in out and "data/sim/explore/check.json" in out
    src = stage.sources(REPO)
    assert "shift_core/explore/search.py" in src and "shift_core/shift/machine.py" in src
    assert all((REPO / p).is_file() for p in src)


def _planned(*profile: str) -> str:
    proc = subprocess.run([str(Path(sys.executable).with_name("snakemake")), "--snakefile", "workflow/Snakefile",
                           "--nolock", "-n", "--forceall", *profile, "data/sim/explore/check.json"], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_quick_plans_single_and_full_plans_pairs() -> None:
    quick = _planned("--profile", "workflow/profiles/quick")
    assert "data/sim/explore/single.json" in quick and "pairs.json" not in quick
    full = _planned("--profile", "workflow/profiles/full")
    assert "data/sim/explore/pairs.json" in full
