"""Manifests: measured wall time, and no machine's absolute path in anything published beside the data."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shift_core.results import PROJECT, benchmark_seconds, manifest, portable, process_seconds


def test_project_paths_become_relative_and_others_lose_their_machine_part() -> None:
    home = str(Path.home())
    tmp = tempfile.gettempdir()
    got = portable({
        "html": f"{PROJECT}/book/_build/html/index.html",
        "reason": f"suite failed (see {tmp}/shift-rxe-1/console.txt); image {home}/cache/img.qcow2",
        "elsewhere": ["/srv/cache/rxe/abc/rootfs.img", "/usr/bin/coqc", "no /dev/kvm"],
        "text": "100 Gb/s, 1/2 of https://arxiv.org/abs/2512.11094, logs/rxe/suite.log",
    })
    assert got["html"] == "book/_build/html/index.html"
    assert got["reason"] == "suite failed (see $TMPDIR/shift-rxe-1/console.txt); image ~/cache/img.qcow2"
    assert got["elsewhere"] == ["…/rootfs.img", "/usr/bin/coqc", "no /dev/kvm"]
    assert got["text"] == "100 Gb/s, 1/2 of https://arxiv.org/abs/2512.11094, logs/rxe/suite.log"


def test_manifest_scrubs_paths_in_reason_and_extra() -> None:
    m = manifest("rxe", status="skipped", reason=f"no image under {PROJECT}/build/rxe",
                 extra={"interposer": f"{PROJECT}/csrc/libshift.so", "nested": {"p": Path(PROJECT, "data")}})
    assert m["reason"] == "no image under build/rxe"
    assert m["interposer"] == "csrc/libshift.so" and m["nested"] == {"p": "data"}
    assert str(PROJECT) not in repr(m)


def test_wall_seconds_is_given_or_the_writing_process_own() -> None:
    assert manifest("sim", wall_seconds=3.21)["wall_seconds"] == 3.21
    assert manifest("sim", extra={"wall_seconds": 1.5})["wall_seconds"] == 1.5
    code = ("import time; t = time.monotonic(); from shift_core.results import manifest\n"
            "while time.monotonic() - t < 0.6: pass\nprint(manifest('sim')['wall_seconds'])")
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    outer = time.monotonic() - t0
    assert 0.6 <= float(out) <= outer + 0.05
    assert process_seconds() > 0


def test_benchmark_seconds_reads_snakemakes_benchmark_file(tmp_path: Path) -> None:
    tsv = tmp_path / "x.benchmark.tsv"
    tsv.write_text("s\th:m:s\tmax_rss\tmax_vms\n12.3456\t0:00:12\t100.1\t200.2\n")
    assert benchmark_seconds(tsv) == 12.3456
    assert benchmark_seconds(tmp_path / "absent.tsv") == 0.0
