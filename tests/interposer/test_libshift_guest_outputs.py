"""The host side of the rxe suite's libshift part: data/rxe/perftest_timeline.csv + .json from the part's
result, and the Fig 7 (rxe) figure drawn from them (the guest run itself is in tests/rdma)."""

from __future__ import annotations

import csv
import json
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from shift_core.fastpath.gen_machine import REPO_ROOT
from tests.interposer.conftest import BACKUPS, clean_env

RXE = REPO_ROOT / "workflow" / "scripts" / "rxe"


#: perftest's per-interval report line, as ib_write_bw --report_gbits prints it under TCG (rxe run logs)
LINE = " 65536      {iters}           0.000000            0.000000            0.000000"


def perftest_part(trace: list[dict]) -> dict:
    """The part's result from the real producer (libshift_guest.perftest_result): perftest's report lines and
    libshift's own trace of a failover and a switch-back (fake provider). The report comes every ``step`` seconds,
    a fifth of the trace's time on the backup, so the failover falls after the 5th line and FENCE_DONE after the
    10th, like the rxe run's link-down at 5 s and up at 10 s; stock verbs stop at the 5th."""
    sys.path.insert(0, str(RXE))
    import libshift_guest

    sq = [t for t in trace if t.get("queue") == "sq"]
    t_fail = next(t["t"] for t in sq if t["event"] in ("ERROR_SAFE", "PEER_FALLBACK"))
    t_done = next(t["t"] for t in sq if t["event"] == "FENCE_DONE")
    # the fake run takes milliseconds and the producer rounds to them: stretch its clock so a report is 1 s
    trace = [{**t, "t": 5.2 + (t["t"] - t_fail) * 5 / (t_done - t_fail)} if "t" in t else t for t in trace]
    t_probe = next(t["t"] for t in trace if t.get("queue") == "sq" and t["event"] == "PROBE_OK")
    step, t0 = 1.0, 0.0
    runs = []
    for strategy in ("shift", "none"):
        lines = [(t0 + k * step, LINE.format(iters=10 if strategy == "shift" or k < 5 else 0)) for k in range(1, 16)]
        state = {"fault": 5 * step, "recover": t_probe - t0 - 0.1 * step}
        res, _ = libshift_guest.perftest_result("ib_write_bw", strategy, "sender_nic", lines, t0, state,
                                                None if strategy == "shift" else 5.3 * step, None, "",
                                                trace if strategy == "shift" else [])
        runs.append(res)
    return {"status": "ok", "perftest": {"status": "ok", "runs": runs}}


@pytest.fixture(scope="module")
def part(csrc: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """libshift's trace of one failover and one switch-back (csrc/shift_pair on the fake provider)."""
    tmp = tmp_path_factory.mktemp("trace")
    trace = tmp / "trace.jsonl"
    env = clean_env(LD_LIBRARY_PATH=str(csrc / "fakeverbs"), SHIFT_KV_DIR=str(tmp / "kv"), SHIFT_PROBE_MS="10",
                    SHIFT_TRACE=str(trace), SHIFT_BACKUP_DEVICE=BACKUPS, LD_PRELOAD=str(csrc / "libshift.so"),
                    SHIFT_LOG="0")
    subprocess.run([str(csrc / "shift_pair"), "--n", "400", "--fault", "fake:p:down", "--fault-at", "100",
                    "--restore", "fake:p:up", "--restore-at", "200", "--pace-us", "2000"], check=True, env=env,
                   capture_output=True, timeout=120)
    return perftest_part([json.loads(x) for x in trace.read_text().splitlines()])


def test_timeline_csv_json_and_figure(part: dict, tmp_path: Path) -> None:
    sys.path.insert(0, str(RXE))
    import libshift_guest

    libshift_guest.write_outputs(part, tmp_path)
    rows = list(csv.DictReader((tmp_path / "perftest_timeline.csv").open()))
    assert list(rows[0]) == libshift_guest.TIMELINE_COLUMNS
    paths = {s: [r["path"] for r in rows if r["strategy"] == s] for s in ("shift", "none")}  # line k at [k - 1]
    assert paths["shift"][3] == "default" and paths["shift"][6] == "backup"
    assert paths["shift"][11] == "default" and paths["none"][6] == "dead"
    shift_run = part["perftest"]["runs"][0]
    assert shift_run["failed_over"] and shift_run["switched_back"] and shift_run["iters_on_backup"] == 40
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
