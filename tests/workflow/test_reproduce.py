"""End to end on a copy of the tree (slow: the whole quick pipeline): run, nothing left to do, one output re-run,
then what a reviewer reads: classed claims, manifests with wall times and no machine paths, and the report.

rxe is disabled here (its guest build belongs to the rxe tests); everything else runs as `make reproduce` does.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
IGNORE = shutil.ignore_patterns(".venv", "data", "logs", ".snakemake", "_build", "build", "__pycache__", ".git")


def _smk(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(SNAKEMAKE), "--snakefile", "workflow/Snakefile", "--profile", "workflow/profiles/quick",
           "--configfile", "norxe.yaml", *args]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(cwd), "HOME": str(cwd)}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1800, check=False, env=env)


@pytest.mark.slow
def test_quick_pipeline_runs_then_is_up_to_date_and_reruns_only_what_changed(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(REPO, tree, ignore=IGNORE)
    (tree / "data").mkdir()
    (tree / "norxe.yaml").write_text("backends:\n  rxe:\n    enabled: false\n")
    first = _smk(tree)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = list(csv.DictReader((tree / "data" / "claims.csv").open()))
    assert len(rows) > 40 and {r["class"] for r in rows} >= {"reproduced", "by construction", "needs hardware"}
    assert all(r["reason"] for r in rows if r["class"] != "reproduced")
    assert not [r["id"] for r in rows if "missing>" in r["reason"]], "a reason quotes a summary key no run wrote"
    for path in sorted((tree / "data").glob("*/manifest.json")):
        text = path.read_text()
        assert isinstance(json.loads(text).get("wall_seconds"), (int, float)), path
        assert str(tree) not in text and not re.search(r'"(?:/tmp|/root|/home|/work)/', text), path
    report = _smk(tree, "--report", "report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    page = (tree / "report.html").read_text()
    assert all(f"data/figures/{p.name}" in page for p in (tree / "data" / "figures").glob("*.png"))
    again = _smk(tree, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
    (tree / "data" / "sim" / "latency.csv").unlink()
    plan = _smk(tree, "-n", "--quiet", "rules")
    planned = {ln.split()[0] for ln in plan.stdout.splitlines() if ln.strip() and ln.split()[-1].isdigit()}
    assert planned == {"bench", "figure", "sim_manifest", "figures_manifest", "claims", "book", "all", "total"}
    # a failing stage keeps every other stage's results: break one benchmark, the rest still runs and stays
    (tree / "shift_core" / "bench" / "latency.py").write_text("raise RuntimeError('broken on purpose')\n")
    before = {p: p.stat().st_mtime for p in (tree / "data").rglob("*") if p.is_file()}
    broken = _smk(tree, "--keep-going")
    assert broken.returncode != 0
    kept = {p: p.stat().st_mtime for p in (tree / "data").rglob("*") if p.is_file()}
    assert set(before) - {tree / "data" / "sim" / "latency.json"} <= set(kept)
