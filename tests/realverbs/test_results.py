"""The two-host suite's tables have the sim's shape (contract 2): the same columns as what the sim producers
write *now* (run here at tiny sizes, never a kept copy), summaries computed by the same functions, and the
keys the claims table reads. Events are the agent's JSON lines, built by hand at the smallest size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from shift_core.bench import downtime, latency, matrix, timeline, verbs_cost
from shift_core.bench.claim_sources import Sources
from shift_core.bench.config import load_config
from shift_core.realverbs import results, stage


@pytest.fixture(scope="module")
def sim() -> dict[str, Any]:
    cfg = load_config()
    base = {"seed": 1, "fabric": cfg["fabric"]}
    tl = dict(cfg["timeline"], duration_s=3, fault_at_s=1, recover_at_s=2, ops=["write"], strategies=["none"])
    return {
        "timeline": list(pd.DataFrame(timeline.run_one({**base, "timeline": tl}, "none", "write", "receiver_nic"))),
        "downtime": list(downtime.measure({**base, "downtime": cfg["downtime"]}, "sender_nic", "write", 1)),
        "verbs_cost": list(verbs_cost.run({**base, "verbs_cost": {"control_reps": 1, "data_reps": 16}}).frame),
        "latency": list(latency.run({**base, "latency": {"sizes": [1], "iterations": 4, "idle_qps": 2}}).frame),
        "faults": list(matrix.run_schedule(matrix.make_schedules(1, ["send_recv"], ["shift"], ["link_down"])[0])),
    }


def _fault(at: float, action: str, end: float) -> dict[str, Any]:
    return {"at_s": at, "side": "peer", "action": action, "cmd": "x", "rc": 0, "stderr": "", "start_s": at,
            "end_s": end, "effect_s": end - 0.01}


def _stream(op: str, first_error: int | None, ok: int | None, samples: int = 15) -> dict[str, Any]:
    return {"samples": [{"t_ns": (k + 1) * 1_000_000_000, "good_bytes": 0 if first_error and k > 5 else 6_000_000,
                         "default_share": 1.0} for k in range(samples)],
            "errors": [[5_400_000_000, "IBV_WC_RETRY_EXC_ERR"]] if first_error and not ok else [], "posted": 100,
            "completed": 100, "read_bad": 0, "first_error_ns": first_error, "first_backup_ok_ns": ok,
            "faults": [_fault(5.0, "down", 5.2), _fault(10.0, "up", 10.3)], "t0_ns": 0,
            "verify": {"delivered": 100 if op == "send" else 0, "duplicates": 0, "gaps": 0, "corrupt": 0,
                       "misplaced": 0, "errors": 0, "stale_slots": 0},
            "layer": {"app_wrs": 100, "first_error_ns": first_error, "first_backup_ok_ns": ok}, "peer_layer": {}}


def _events_and_plan() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    runs, events = [], []

    def add(meta: dict[str, Any], bench: str, result: dict[str, Any], spec: dict[str, Any] | None = None) -> None:
        runs.append({"name": str(meta), "bench": bench, "meta": meta, "spec": spec or {"sample_s": 1.0}})
        events.append({"event": "run", "index": len(runs) - 1, "name": str(meta), "bench": bench, "status": "ok",
                       "error": "", "result": result, "seconds": 1.0,
                       "offset": {"before_ns": 0, "after_ns": 0, "uncertainty_ns": 0}})

    for strategy, site in (("none", "receiver_nic"), ("shift", "receiver_nic"), ("shift", "sender_nic")):
        for op in ("write", "read"):
            ok = None if strategy == "none" else 5_900_000_000
            add({"stem": "timeline", "strategy": strategy, "op": op, "site": site}, "stream",
                _stream(op, 5_600_000_000, ok))
    add({"stem": "downtime", "site": "sender_nic", "op": "write", "seed": 7}, "stream",
        _stream("write", 5_600_000_000, 5_700_000_000))
    add({"stem": "verbs_cost"}, "verbs_cost", {"rows": [
        {"variant": v, "verb": verb, "rep": 0, "time_us": 1.0 + (v == "shift")}
        for v in ("standard", "shift") for verb in (*verbs_cost.CONTROL, *verbs_cost.DATA)]
        + [{"variant": "shift", "verb": "shadow_setup", "rep": 0, "time_us": 35_000.0}]})
    add({"stem": "latency"}, "latency", {"rows": [
        {"variant": v, "bytes": 1, "iter": i, "latency_us": 10.0 + i, "host_ns_per_iter": 20_000.0}
        for v in ("standard", "shift", "idle_qps") for i in range(3)]},
        {"sizes": [1], "variants": ["standard", "shift", "idle_qps"], "idle_qps": 500})
    add({"stem": "faults", "workload": "send_recv", "strategy": "naive", "fault": "ack_loss", "site": "switch_port"},
        "stream", {**_stream("send", 5_600_000_000, 5_700_000_000),
                   "verify": {"delivered": 104, "duplicates": 4, "gaps": 0, "corrupt": 0, "misplaced": 1}},
        {"nbytes": 4096, "duration_s": 6.0})
    add({"stem": "interposer"}, "interposer", {"rows": [
        {"tool": "ib_write_bw", "mode": m, "rep": r, "rc": 0, "valid": True, "bw_avg_gbps": 1.0 + (m == "plain")}
        for r in range(5) for m in ("plain", "libshift")]})
    return events, {"runs": runs, "rc": {"timeout": 14, "retry_cnt": 6}, "label": "rxe", "max_skew_ms": 5}


class Setup:
    """What :func:`stage.write` reads of the controller's setup (both hosts probed, the peer's address)."""

    host = peer = type("R", (), {"dest": "h"})()
    probes: ClassVar[dict[str, Any]] = {"host": {"hostname": "a", "devices": {}, "python": "3"},
                                        "peer": {"hostname": "b", "devices": {}, "python": "3"}}
    peer_addr = "10.0.0.2"


def test_every_table_has_the_sims_columns(sim: dict[str, Any]) -> None:
    events, plan = _events_and_plan()
    cfg = load_config()["backends"]["nic"]["suite"]
    assert list(results.timeline(events, plan, cfg["timeline"] | {"fault_at_s": 5, "recover_at_s": 10}, "rxe").frame) \
        == sim["timeline"] == results.TIMELINE_COLUMNS
    assert list(results.downtime(events, plan, "rxe").frame) == sim["downtime"] == results.DOWNTIME_COLUMNS
    assert list(results.verbs_cost(events, plan, "rxe").frame) == sim["verbs_cost"] == results.VERBS_COST_COLUMNS
    assert list(results.latency(events, plan, "rxe").frame) == sim["latency"] == results.LATENCY_COLUMNS
    assert list(results.faults(events, plan, "rxe")[0]) == sim["faults"] == results.FAULTS_COLUMNS


def test_summaries_carry_the_keys_the_claims_read() -> None:
    events, plan = _events_and_plan()
    tl = results.timeline(events, plan, {"fault_at_s": 5, "recover_at_s": 10}, "rxe").summary
    for key in ("fault_free_ratio_shift_vs_none", "after_fault_ratio_none", "during_ratio_shift_receiver_nic",
                "after_recovery_default_share_shift", "steady_gbps_write"):
        assert key in tl
    assert results.downtime(events, plan, "rxe").summary["mean_us_sender_nic_write"] == pytest.approx(100_000)
    vc = results.verbs_cost(events, plan, "rxe").summary
    assert vc["added_pct_post_send"] == pytest.approx(100) and vc["shadow_setup_ms"] == pytest.approx(35)
    assert results.latency(events, plan, "rxe").summary["max_ratio_shift"] == pytest.approx(1.0)
    inter = results.interposer(events, plan, "rxe").summary
    assert inter["ib_write_bw_pair_ratio_median"] == pytest.approx(0.5) and inter["ib_write_bw_pairs"] == 5
    assert inter["ib_write_bw_overhead_pct"] == pytest.approx(100)


def test_a_receiver_that_saw_duplicates_is_a_silent_corruption_row() -> None:
    events, plan = _events_and_plan()
    frame, summary = results.faults(events, plan, "rxe")
    (row,) = frame.to_dict("records")
    assert row["outcome"] == "silent_corruption" and row["duplicate_executions"] == 4
    assert row["gives_up"] == "exactly_once" and pd.isna(row["ghost_writes"])  # unobservable: empty, not guessed
    assert summary["by_strategy_workload"]["naive/send_recv"]["silent_corruption"] == 1


def test_detection_is_measured_from_when_the_fault_took_effect() -> None:
    events, plan = _events_and_plan()
    row = results.downtime(events, plan, "rxe").frame.iloc[0]
    assert row["fault_ns"] == 5_190_000_000  # the link's state change, 10 ms before `ip` returned
    assert row["detect_us"] == pytest.approx(410_000)


def test_a_stem_whose_runs_all_failed_is_written_failed_with_no_numbers(tmp_path: Path) -> None:
    events, plan = _events_and_plan()
    for e in events:
        if plan["runs"][e["index"]]["meta"]["stem"] == "latency":
            e.update(status="failed", error="TimeoutError: write latency loop stalled", result=None)

    nic = {"suite": {"timeline": {"fault_at_s": 5, "recover_at_s": 10}}}
    m = stage.write(plan, events, nic, Setup(), tmp_path, 12.0)
    lat = json.loads((tmp_path / "rxe" / "latency.json").read_text())
    assert lat["status"] == "failed" and "write latency loop stalled" in lat["reason"] and lat["summary"] == {}
    assert (tmp_path / "rxe" / "latency.csv").read_text() == ",".join(results.LATENCY_COLUMNS) + "\n"
    assert m["status"] == "failed" and m["parts"]["latency"] == "failed" and m["parts"]["timeline"] == "ok"
    assert "/" not in json.dumps(m["hosts"])  # contract 4: no machine's absolute path in a manifest
    ok = json.loads((tmp_path / "rxe" / "timeline.json").read_text())
    assert ok["status"] == "ok" and ok["backend"] == "rxe" and "during_ratio_shift_receiver_nic" in ok["summary"]


def test_the_claims_table_reads_what_the_stage_wrote_and_nothing_from_a_failed_stem(tmp_path: Path) -> None:
    events, plan = _events_and_plan()
    for e in events:
        if plan["runs"][e["index"]]["meta"]["stem"] == "latency":
            e.update(status="failed", error="TimeoutError: stalled", result=None)

    stage.write(plan, events, {"suite": {"timeline": {"fault_at_s": 5, "recover_at_s": 10}}}, Setup(), tmp_path, 1.0)
    (tmp_path / "rxe" / "manifest.json").write_text(json.dumps({"status": "ok"}))
    found = Sources(tmp_path)
    assert found.lookup("downtime", "mean_us_sender_nic_write", "rxe").value == pytest.approx(100_000)
    assert found.lookup("verbs_cost", "shadow_setup_ms", "rxe").value == pytest.approx(35)
    lat = found.lookup("latency", "max_ratio_shift", "rxe")
    assert lat.value is None and lat.skip and "stalled" in lat.skip
