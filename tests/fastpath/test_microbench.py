"""The microbenchmark's plumbing (default run: tiny sizes, structure only) and the benchmark itself (-m benchmark)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shift_core.fastpath import microbench

needs_toolchain = pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                                     reason="make/cc not installed: csrc/shift_bench cannot be built")


@needs_toolchain
def test_entry_point_writes_results_and_manifest(tmp_path: Path) -> None:
    assert microbench.main(["--repeats", "1", "--wrs", "64", "--no-callgrind", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "microbench.json").read_text())
    assert [r["pattern"] for r in result["results"]] == ["post_send_signaled", "post_send_batch8_last_signaled",
                                                         "post_recv", "poll_cq"]
    for r in result["results"]:
        assert r["base_ns_per_wr"] > 0 and r["logged_ns_per_wr"] > 0 and r["goal_added_ns"] == 5.0
    assert json.loads((tmp_path / "manifest.json").read_text())["backend"] == "native"
    assert (tmp_path / "microbench.csv").read_text().startswith("pattern,batch,")


def test_bad_arguments_are_one_line_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert microbench.main(["--repeats", "0", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: --repeats must be")


@needs_toolchain
@pytest.mark.benchmark
def test_microbench_ns_per_wr(tmp_path: Path) -> None:
    """Records (does not assert) ns/WR libshift adds; goal <= 5 ns.

    The pipeline's run: ``python -m shift_core.fastpath.microbench`` (writes data/fastpath/).
    """
    result = microbench.run()
    microbench.write(result, tmp_path)
    for r in result["results"]:
        print(f"{r['pattern']}: base {r['base_ns_per_wr']:.2f} logged {r['logged_ns_per_wr']:.2f} "
              f"added {r['added_ns_per_wr']:.2f} ns/WR ratio {r['ratio']:.2f} goal_met={r['goal_met']}")
