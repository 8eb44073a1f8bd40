"""The pipeline as a whole: lint-clean, a bad config value fails in one line, the quick plan has every stage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SNAKEMAKE), "--snakefile", "workflow/Snakefile", "--nolock", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)


def test_lint_is_clean() -> None:
    proc = snakemake("--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr


@pytest.mark.parametrize(("section", "key", "value"), [
    ("timeline", "time_scale", 2),
    ("fabric", "retry_cnt", 9),
    ("latency", "sizes", "sixteen"),
])
def test_bad_config_value_fails_with_one_line_naming_the_key(tmp_path: Path, section: str, key: str,
                                                             value: object) -> None:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config[section][key] = value
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = snakemake("-n", "--configfile", str(bad))
    assert proc.returncode != 0
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "invalid config:" in ln]
    assert len(lines) == 1, proc.stdout + proc.stderr
    assert f"{section}.{key}:" in lines[0]


def test_quick_profile_plans_every_stage() -> None:
    proc = snakemake("--profile", "workflow/profiles/quick", "-n", "--forceall", "--quiet", "rules")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    planned = {line.split()[0] for line in proc.stdout.splitlines() if line.strip() and line.split()[-1].isdigit()}
    expected = {"check_theorem", "theorems_manifest", "boundary", "build_fastpath", "bench", "fault_matrix",
                "sim_manifest", "nic_probe", "proofs", "figure", "figures_manifest", "claims", "book", "all"}
    assert expected <= planned, f"missing from the plan: {expected - planned}"
    assert planned & {"rxe_suite", "rxe_unavailable"}, "the rxe stage is not planned"


def test_snakefile_is_a_table_of_contents() -> None:
    lines = (REPO / "workflow" / "Snakefile").read_text().splitlines()
    assert len(lines) <= 40
    assert sum(line.startswith("include:") for line in lines) >= 8
