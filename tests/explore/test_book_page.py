"""The explorer's book fragment, rendered from what the real producer (``shift explore``) wrote."""

from __future__ import annotations

import sys
from pathlib import Path

from shift_core.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "book" / "_ext"))

from shift_book import explore as page
from shift_book.data import DataRoot
from shift_book.fragments import Renderer


def test_fragment_has_the_cell_and_coverage_tables(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    main(["explore", "--workload", "fadd_counter", "--strategy", "shift", "--strategy", "naive", "--steps", "2",
          "--processes", "1", "--out", str(tmp_path / "sim" / "explore")])
    capsys.readouterr()
    r = Renderer(DataRoot(tmp_path))
    page.render(r)
    md = str(r.files["explore.md"])
    assert "## Single faults" in md and "| `fadd_counter` | `shift` |" in md and "| `fadd_counter` | `naive` |" in md
    assert "Every expectation **met**" in md and "## Coverage of the failover machine" in md
    assert "| sq | <code>fallback</code> | <code>probe_<wbr>ok</code> | <code>wait_<wbr>signaled</code> |" in md
    assert "of 19 (state, event) pairs" in md and "not reached:" in md
    assert "Not generated in this run (the pair exploration runs in the full profile)" in md
    assert "`fadd_counter/shift` **error_surfaced**" in md and "```yaml\nrun: {workload: fadd_counter" in md


def test_fragment_without_data_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(DataRoot(tmp_path))
    page.render(r)
    assert "Not generated in this run: `data/sim/explore/single.json`" in str(r.files["explore.md"])
