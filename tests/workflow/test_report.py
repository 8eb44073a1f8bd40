"""`snakemake --report` builds one self-contained HTML file that holds every figure with its caption and the
claims table. Built from a dry fixture: a copy of the tree whose report outputs are written by their real
producers (a "not run" figure of shift_core.bench.figure per planned figure, the claims table from an empty
data/), so the test is about the report, not about running the pipeline."""

from __future__ import annotations

import html
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


def _smk(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(tree), "HOME": str(tree)}
    return subprocess.run([str(SNAKEMAKE), "--snakefile", "workflow/Snakefile", "--cores", "1", *args], cwd=tree,
                          capture_output=True, text=True, timeout=600, check=False, env=env)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, str]], list[str]]:
    tree = tmp_path_factory.mktemp("report") / "tree"
    shutil.copytree(REPO, tree, ignore=IGNORE)
    plan = _smk(tree, "data/figures/manifest.json", "-n", "--forceall")
    assert plan.returncode == 0, plan.stderr
    figures = sorted(set(re.findall(r"^    output: data/figures/(\w+)\.png$", plan.stdout, re.M)))
    producer = (
        "import sys\nfrom pathlib import Path\nfrom shift_core.bench.figure import not_run\n"
        "from shift_core.bench.claims import build_rows, to_csv, to_html\n"
        "for fig in sys.argv[1:]:\n"
        "    not_run(f'fixture {fig}', 'report fixture', Path('data/figures', fig + '.png'))\n"
        "rows = build_rows(Path('config/paper_values.yaml'), Path('data'))\n"
        "Path('data/claims.csv').write_text(to_csv(rows))\nPath('data/claims.html').write_text(to_html(rows))\n")
    subprocess.run([sys.executable, "-c", producer, *figures], cwd=tree, check=True,
                   env={"PYTHONPATH": str(tree), "MPLCONFIGDIR": str(tree / ".mpl")})
    built = _smk(tree, "--report", "report.html")
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    page = (tree / "report.html").read_text()
    results = json.loads(re.search(r"var results = (\{.*?\});\n", page, re.S).group(1))  # type: ignore[union-attr]
    return tree, results, figures


def test_every_figure_is_in_the_report_with_its_caption(report: tuple[Path, dict[str, dict[str, str]],
                                                                      list[str]]) -> None:
    tree, results, figures = report
    assert len(figures) >= 9
    for fig in figures:
        entry = results.get(f"data/figures/{fig}.png")
        assert entry is not None, f"{fig} is not in the report"
        caption = (tree / "workflow" / "report" / "figures" / f"{fig}.rst").read_text()
        first_words = re.sub(r"[*`]", "", caption).split(".")[0]
        assert first_words in html.unescape(re.sub(r"<[^>]+>", "", entry["caption"])), fig


def test_the_claims_table_is_in_the_report(report: tuple[Path, dict[str, dict[str, str]], list[str]]) -> None:
    _, results, _ = report
    assert {"data/claims.csv", "data/claims.html"} <= set(results)
    assert "reproduced" in results["data/claims.html"]["caption"]


def test_the_report_is_one_file_that_needs_no_network(report: tuple[Path, dict[str, dict[str, str]],
                                                                   list[str]]) -> None:
    tree, _, _ = report
    page = (tree / "report.html").read_text()
    assert not re.findall(r"""(?:src|href)\s*=\s*["']https?://""", page)
    assert page.count(";base64,") >= 9  # the figures are embedded, not linked
