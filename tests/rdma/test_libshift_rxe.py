"""libshift.so on real soft-RoCE under unmodified programs (the rxe suite's ``libshift`` part, one guest boot):
perftest and ibv_rc_pingpong across a primary-link outage (down at 5 s, up at 10 s) with and without libshift,
NCCL-style dlvsym-resolved verbs, and one connection with libshift's C SHIFT on one end and the Python layer on
pyverbs on the other. Numbers are TCG's; what is asserted is survival, data, failover and switch-back."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
RXE = REPO / "workflow" / "scripts" / "rxe"
FIGURE = REPO / "workflow" / "scripts" / "figures" / "fig7_rxe_libshift.py"

pytestmark = [pytest.mark.rxe, pytest.mark.timeout(2400)]


def part(rxe_suite: Any) -> dict[str, Any]:
    p = rxe_suite.parts.get("libshift")
    assert p is not None, "the libshift part did not run"
    if p.get("status") == "skipped":
        pytest.skip(p["reason"])
    return p


def test_every_sub_part_ran(rxe_suite: Any) -> None:
    p = part(rxe_suite)
    assert p["status"] == "ok", {k: v.get("reason") for k, v in p.items() if isinstance(v, dict)}


#: a kernel defect, not libshift's: Linux 6.1's rxe_qp_reset() leaves qp->resp.res set, so a READ response the
#: server's default QP was sending when the link went down survives the switch-back's reset; the client's next READ
#: resumes it, the responder's expected PSN jumps to that old READ's end (`rdma res show qp` in the guest: rq-psn
#: 16504993 = the old QP's last PSN, client sq-psn 16489187), and the READ stream stalls or the client's QP errors
#: at every switch-back attempt. It needs the fault to land mid-response: about 1 run in 4 here.
RXE_STALE_READ = pytest.mark.xfail(reason="rxe keeps an in-progress READ response across a QP reset (Linux 6.1 "
                                          "rxe_qp_reset does not clear qp->resp.res); see RXE_STALE_READ",
                                   strict=False)


@pytest.mark.parametrize("tool", ["ib_write_bw", "ib_send_bw", pytest.param("ib_read_bw", marks=RXE_STALE_READ)])
def test_perftest_survives_the_outage_on_the_backup_and_switches_back(rxe_suite: Any, tool: str) -> None:
    runs = {(r["strategy"], r["site"]): r for r in part(rxe_suite)["perftest"]["runs"] if r["tool"] == tool}
    shift = runs[("shift", "sender_nic")]
    assert shift["failed_over"] and shift["survived"], shift["output"][-2500:]
    assert shift["iters_on_backup"] > 0, ("no traffic while on the backup", shift["backup_span_s"],
                                          [(x["from_s"], x["t_s"], x["iters"]) for x in shift["samples"]])
    assert shift["switched_back"], [t for t in shift["transitions"] if t["queue"] == "sq"]
    stock = runs[("none", "sender_nic")]
    assert not stock["survived"], stock["output"][-2500:]  # the control: stock verbs die on the fault


def test_perftest_at_the_receiver_site(rxe_suite: Any) -> None:
    """Peer link down: libshift fails over on the port state (rxe retries forever at perftest's retry_cnt 7);
    the control's fate is recorded (it stalls or dies), not asserted."""
    runs = {r["strategy"]: r for r in part(rxe_suite)["perftest"]["runs"]
            if r["tool"] == "ib_write_bw" and r["site"] == "receiver_nic"}
    assert runs["shift"]["failed_over"] and runs["shift"]["survived"] and runs["shift"]["switched_back"]


#: what remains of two-sided switch-back on rxe after this round's fixes (notification deadline, RQ failing over
#: again instead of a reset under its RECVs, a rewind that waits for room in the backup send queue): in 1 of 6
#: counted `ib_send_bw` runs in the guest the server's RECVs went back to the default QP (SWITCH_BACK) and no
#: message arrived there after it (the server timed out at 3193 of 6485). Not yet explained; issue 14 stays open.
SEND_SWITCH_BACK_STALL = pytest.mark.xfail(reason="known open defect (issue 14): about 1 counted ib_send_bw run in 6 "
                                                  "stalls after the switch-back on rxe; see SEND_SWITCH_BACK_STALL",
                                           strict=False)


@pytest.mark.parametrize("tool", ["ib_write_bw", pytest.param("ib_send_bw", marks=SEND_SWITCH_BACK_STALL)])
def test_counted_perftest_completes_every_wr_across_the_outage(rxe_suite: Any, tool: str) -> None:
    """perftest -n N: the client gets N send completions (and the ib_send_bw server N receives) although the
    primary link was down for 5 s of the run, and the run returned to the primary."""
    (run,) = [r for r in part(rxe_suite)["counted"]["runs"] if r["tool"] == tool]
    assert run["running_at_fault"], "the run finished before the fault: it proves nothing"
    assert run["every_wr_completed"], (run["client_rc"], run["server_rc"], run["client_iters"],
                                       run["server_iters"], run["iters"])
    assert run["failed_over"] and run["switched_back"], [t for t in run["transitions"] if t["queue"] == "sq"]


def test_rc_pingpong_completes_every_iteration_across_the_outage(rxe_suite: Any) -> None:
    """ibv_rc_pingpong -c -e: every buffer checked, each end asleep in ibv_get_cq_event between completions
    (libshift wakes it for the backup CQ's completions), and messages kept moving on the backup devices while the
    primary link was down (their rxe ``rcvd_pkts`` counters)."""
    runs = {r["strategy"]: r for r in part(rxe_suite)["pingpong"]["runs"]}
    shift = runs["shift"]
    assert shift["running_at_fault"], "pingpong finished before the fault: the run proves nothing"
    assert shift["client_rc"] == 0 and shift["server_rc"] == 0, shift["output"][-2500:]
    assert shift["completed_iters"] == [shift["iters"], shift["iters"]] and not shift["buffer_invalid"]
    assert shift["failed_over"] and shift["switched_back"]
    assert (shift["packets_during_fault"] or {}).get("backup"), shift["packets_during_fault"]


def test_rc_pingpong_without_libshift_dies_or_stalls(rxe_suite: Any) -> None:
    """The control, stock verbs: when the fault finds the client posting, its QP errors and the run dies; when it
    finds the server's message in flight, the client waits and rxe (retry_cnt 7: it retries forever) resends it
    after the repair. Either way nothing moves while the link is down: no packet on any rxe device."""
    stock = {r["strategy"]: r for r in part(rxe_suite)["pingpong"]["runs"]}["none"]
    assert stock["running_at_fault"], "pingpong finished before the fault: the control proves nothing"
    died = (stock["client_rc"], stock["server_rc"]) != (0, 0) or stock["completed_iters"] != [stock["iters"]] * 2
    moved = stock["packets_during_fault"]
    assert died or moved == {"primary": 0, "backup": 0}, (moved, stock["output"][-2500:])


@pytest.mark.parametrize("workload", ["send", "nccl", "read"])
def test_dlvsym_resolved_program_is_protected_on_rxe(rxe_suite: Any, workload: str) -> None:
    (run,) = [r for r in part(rxe_suite)["dlvsym"]["runs"] if r["workload"] == workload and r["strategy"] == "shift"]
    assert run["resolved_to_libshift"], run["stderr"]
    assert run["rc"] == 0 and all(h["ok"] for h in run["hosts"]), run["hosts"]
    assert any(t["event"] == "FENCE_DONE" for t in run["transitions"])


def test_dlvsym_program_dies_without_libshift(rxe_suite: Any) -> None:
    (run,) = [r for r in part(rxe_suite)["dlvsym"]["runs"] if r["strategy"] == "none"]
    assert run["rc"] != 0 and not run["resolved_to_libshift"]


@pytest.mark.parametrize("c_role", ["a", "b"])
def test_c_and_python_shift_interoperate(rxe_suite: Any, c_role: str) -> None:
    """libshift (C) on one end, shift_core.shift (Python, pyverbs) on the other: every message once, and the
    two implementations run the handshake and the switch-back with each other."""
    (run,) = [r for r in part(rxe_suite)["interop"]["runs"] if r["c_role"] == c_role]
    assert run["c_rc"] == 0 and run["python_rc"] == 0, (run["c_stderr"], run["python_stderr"])
    hosts = {h["host"]: h for h in run["hosts"]}
    assert all(h["ok"] for h in hosts.values()), hosts
    assert hosts["B"]["delivered"] == hosts["A"]["sent"] > 0
    py = next(h for h in run["hosts"] if h.get("layer") == "python")
    assert any("peer_fallback" in t or "error_safe" in t for t in py["transitions"]), py["transitions"]
    c_events = {t["event"] for t in run["c_transitions"]}
    assert c_events & {"ERROR_SAFE", "PEER_FALLBACK"}, run["c_transitions"]
    assert "FENCE_DONE" in c_events or "fence_done" in " ".join(py["transitions"])


def test_the_timeline_and_its_figure_come_from_this_run(rxe_suite: Any, tmp_path: Path) -> None:
    """What the pipeline writes from the real part (data/rxe/perftest_timeline.csv + .json) and the figure drawn
    from it: one curve per tool, site and strategy, the libshift runs marked on the backup, a caption."""
    sys.path.insert(0, str(RXE))
    import libshift_guest

    libshift_guest.write_outputs(part(rxe_suite), tmp_path)
    frame = pd.read_csv(tmp_path / "perftest_timeline.csv")
    runs = {(r["tool"], r["site"], r["strategy"]) for r in part(rxe_suite)["perftest"]["runs"]}
    assert set(frame.groupby(["tool", "site", "strategy"]).groups) == runs
    assert (frame[frame["strategy"] == "shift"]["path"] == "backup").any()
    summary = json.loads((tmp_path / "perftest_timeline.json").read_text())["summary"]
    assert {"iters", "every_wr_completed"} <= set(summary["ib_send_bw_counted"])  # values: the counted test
    (tmp_path / "manifest.json").write_text(json.dumps({"status": "ok"}))
    out = tmp_path / "fig7_rxe_libshift.png"
    smk = SimpleNamespace(input=[str(tmp_path / "manifest.json")], output=[str(out)])
    runpy.run_path(str(FIGURE), init_globals={"snakemake": smk})
    meta = Image.open(out).text
    assert meta["Title"].startswith("Fig 7 on soft-RoCE")
    assert "perftest's own per-interval reports" in meta["Description"]
