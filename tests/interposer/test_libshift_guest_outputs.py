"""The host side of the rxe suite's libshift part: data/rxe/perftest_timeline.csv + .json from the part's
result, and the Fig 7 (rxe) figure drawn from them (the guest run itself is in tests/rdma)."""

from __future__ import annotations

import csv
import json
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

from shift_core.fastpath.gen_machine import REPO_ROOT

RXE = REPO_ROOT / "workflow" / "scripts" / "rxe"


def fake_part() -> dict:
    """The shape libshift_guest.run_perftest returns, two runs of a few samples."""
    def run(strategy: str, exit_s: float | None) -> dict:
        samples = [{"t_s": float(t), "iters": 10, "gbps": 0.05 if strategy == "shift" or t < 5 else 0.0,
                    "perftest_gbps": 0.0} for t in range(1, 16)]
        steps = ([{"t_s": 5.2, "qpn": 17, "queue": "sq", "from": "DEFAULT", "event": "ERROR_SAFE", "to": "FALLBACK"},
                  {"t_s": 11.0, "qpn": 17, "queue": "sq", "from": "WAIT_DRAINED", "event": "FENCE_DONE",
                   "to": "DEFAULT"}] if strategy == "shift" else [])
        return {"tool": "ib_write_bw", "op": "write", "strategy": strategy, "site": "sender_nic", "fault_at_s": 5.0,
                "recover_at_s": 10.0, "client_exit_s": exit_s, "samples": samples, "transitions": steps,
                "survived": strategy == "shift", "failed_over": strategy == "shift",
                "switched_back": strategy == "shift", "gbps_during_fault": 0.05, "gbps_after_recovery": 0.05}
    return {"status": "ok", "perftest": {"status": "ok", "runs": [run("shift", None), run("none", 5.3)]}}


def test_timeline_csv_json_and_figure(tmp_path: Path) -> None:
    sys.path.insert(0, str(RXE))
    import libshift_guest

    libshift_guest.write_outputs(fake_part(), tmp_path)
    rows = list(csv.DictReader((tmp_path / "perftest_timeline.csv").open()))
    assert list(rows[0]) == libshift_guest.TIMELINE_COLUMNS
    paths = {(r["strategy"], float(r["t_s"])): r["path"] for r in rows}
    assert paths[("shift", 4.0)] == "default" and paths[("shift", 7.0)] == "backup"
    assert paths[("shift", 12.0)] == "default" and paths[("none", 7.0)] == "dead"
    meta = json.loads((tmp_path / "perftest_timeline.json").read_text())
    assert meta["manifest"]["status"] == "ok" and meta["summary"]["ib_write_bw_sender_nic_shift"]["switched_back"]
    (tmp_path / "manifest.json").write_text(json.dumps({"status": "ok"}))
    out = tmp_path / "fig.png"
    smk = SimpleNamespace(input=[str(tmp_path / "manifest.json")], output=[str(out)])
    runpy.run_path(str(REPO_ROOT / "workflow/scripts/figures/fig7_rxe_libshift.py"), init_globals={"snakemake": smk})
    assert out.stat().st_size > 10_000


def test_figure_says_why_when_there_is_no_run(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"status": "skipped", "reason": "no QEMU here"}))
    out = tmp_path / "fig.png"
    smk = SimpleNamespace(input=[str(tmp_path / "manifest.json")], output=[str(out)])
    runpy.run_path(str(REPO_ROOT / "workflow/scripts/figures/fig7_rxe_libshift.py"), init_globals={"snakemake": smk})
    assert out.exists()
