"""The pipeline as a whole: lint-clean, documented rules, a bad config value fails in one line, the quick plan has
every stage, and each reviewer target plans exactly its paper item."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


ITEMS = yaml.safe_load((REPO / "workflow" / "paper_items.yaml").read_text())["items"]


def snakemake(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SNAKEMAKE), "--snakefile", "workflow/Snakefile", "--nolock", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)


def planned_jobs(target: str) -> list[tuple[str, set[str]]]:
    """``(rule, outputs)`` of every job ``snakemake <target> -n --forceall`` plans (parsed from the dry run)."""
    proc = snakemake(target, "-n", "--forceall")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jobs, rule = [], None
    for line in proc.stdout.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            rule = m.group(1)
            jobs.append((rule, set()))
        elif rule and line.startswith("    output: "):
            jobs[-1][1].update(f.strip() for f in line.removeprefix("    output: ").split(","))
    return jobs


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


@pytest.mark.parametrize("rxe", [True, False], ids=["rxe", "no-rxe"])
def test_every_rule_has_a_docstring(rxe: bool, tmp_path: Path) -> None:
    overlay = tmp_path / "rxe.yaml"
    overlay.write_text(yaml.safe_dump({"backends": {"rxe": {"enabled": rxe}}}))
    proc = snakemake("--list-rules", "--configfile", str(overlay))
    assert proc.returncode == 0, proc.stderr
    names = [ln.split()[0] for ln in proc.stdout.splitlines() if ln and not ln[0].isspace()]
    undocumented = [ln for ln in proc.stdout.splitlines() if ln and not ln[0].isspace() and " (" not in ln]
    assert len(names) > 15 and not undocumented, f"rules without a docstring: {undocumented}"


@pytest.mark.parametrize("item", [i for i in ITEMS if i["target"] not in ("claims", "book")], ids=lambda i: i["target"])
def test_a_paper_item_target_plans_exactly_that_item(item: dict[str, object]) -> None:
    jobs = planned_jobs(str(item["target"]))
    produced = set().union(*(outs for _, outs in jobs))
    assert produced == set(item["files"]), f"{item['target']} plans {sorted(produced)}"  # type: ignore[call-overload]
    assert jobs[-1] == (item["target"], set())


def test_the_claims_and_book_targets_plan_their_files_and_only_the_book_builds_the_book() -> None:
    by_target = {i["target"]: i for i in ITEMS}
    claims = planned_jobs("claims")
    claims_out = set().union(*(o for _, o in claims))
    assert set(by_target["claims"]["files"]) <= claims_out
    assert not {r for r, _ in claims} & {"figure", "book"}
    book = planned_jobs("book")
    assert set(by_target["book"]["files"]) <= set().union(*(o for _, o in book))
    assert {"figure", "claims", "book"} <= {r for r, _ in book}


def test_every_paper_item_file_is_produced_by_a_rule() -> None:
    produced = set().union(*(outs for _, outs in planned_jobs("all")))
    listed = {f for i in ITEMS for f in i["files"]}
    assert listed <= produced, f"no rule produces {sorted(listed - produced)}"
