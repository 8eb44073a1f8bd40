"""The reviewers' table has one source (workflow/paper_items.yaml): README.md and book/ae.md are generated from
it, name only targets that exist and book pages that exist."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "workflow" / "scripts" / "paper_items.py"
ITEMS = yaml.safe_load((REPO / "workflow" / "paper_items.yaml").read_text())["items"]


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("paper_items", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_and_ae_page_hold_the_generated_tables() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_drifted_table_is_caught() -> None:
    mod = _module()
    text = (REPO / "README.md").read_text()
    drifted = text.replace("`fig7`", "`figure7`", 1)
    assert drifted != text
    assert mod.regenerate(drifted, "github") == text  # regenerating restores it, so `check` sees the drift


def test_every_target_is_a_rule_and_every_book_page_exists() -> None:
    rules = set(re.findall(r"^rule (\w+):", "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk")),
                           re.M))
    targets = {i["target"] for i in ITEMS}
    assert targets <= rules, f"targets without a rule: {targets - rules}"
    reviewer_rules = set(re.findall(r"^rule (\w+):", (REPO / "workflow" / "rules" / "targets.smk").read_text(), re.M))
    assert reviewer_rules <= targets, f"target rules missing from paper_items.yaml: {reviewer_rules - targets}"
    assert all((REPO / "book" / f"{i['book']}.md").exists() for i in ITEMS)
    assert "- file: ae" in (REPO / "book" / "_toc.yml").read_text()


def test_time_v_output_is_read(tmp_path: Path) -> None:
    out = tmp_path / "time.txt"
    out.write_text("\tUser time (seconds): 219.53\n\tSystem time (seconds): 19.56\n"
                   "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:04:29.22\n"
                   "\tMaximum resident set size (kbytes): 3071572\n")
    got = _module()._time_v(out)
    assert got == {"wall_seconds": 3869.22, "cpu_seconds": 239.09, "peak_rss_mb": 3071572 / 1024}
