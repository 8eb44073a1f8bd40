"""Rule twohost_suite (workflow/rules/nic.smk): how a user points the pipeline at a peer, and what it then plans.

Snakemake 9 rejects dotted keys on ``--config`` (``backends.nic.peer=x``: "Config entry must start with a valid
identifier"); the forms the runbook documents are a nested ``--config`` value (YAML, deep-merged into the config
files; its scalars arrive as strings, so only for string and list keys) and a ``--configfile`` overlay.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
PEER = "backends={nic: {peer: shift-peer, devices: [rxe0, rxe1], backend: rxe}}"


def plan(*args: str) -> dict[str, set[str]]:
    """``rule -> outputs`` of what ``snakemake data/figures/fig7_timeline.png -n --forceall ARGS`` plans."""
    proc = subprocess.run([str(SNAKEMAKE), "--snakefile", "workflow/Snakefile", "--nolock", "-n", "--forceall",
                           "data/figures/fig7_timeline.png", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    jobs: dict[str, set[str]] = {}
    rule = ""
    for line in proc.stdout.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            rule = m.group(1)
            jobs.setdefault(rule, set())
        elif rule and line.startswith("    output: "):
            jobs[rule].update(f.strip() for f in line.removeprefix("    output: ").split(","))
    return jobs


def test_without_a_peer_the_two_host_suite_is_not_planned() -> None:
    assert "twohost_suite" not in plan()


def test_a_peer_given_on_the_command_line_plans_the_suite_before_the_figure() -> None:
    jobs = plan("--config", PEER)
    assert {"data/rxe/timeline.csv", "data/rxe/twohost.json", "data/rxe/faults/faults.csv"} <= jobs["twohost_suite"]
    assert "figure" in jobs


def test_a_configfile_overlay_is_the_same_as_the_command_line(tmp_path: Path) -> None:
    overlay = tmp_path / "peer.yaml"
    overlay.write_text(yaml.safe_dump({"backends": {"nic": {"peer": "shift-peer", "devices": ["rxe0", "rxe1"],
                                                            "backend": "rxe", "rc": {"timeout": 15}}}}))
    assert plan("--configfile", str(overlay)) == plan("--config", PEER)


def test_dotted_keys_are_what_snakemake_refuses() -> None:
    proc = subprocess.run([str(SNAKEMAKE), "--snakefile", "workflow/Snakefile", "--nolock", "-n",
                           "--config", "backends.nic.peer=shift-peer"], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode != 0 and "valid identifier" in proc.stdout + proc.stderr
