"""``shift fabric pingpong|bw|run`` end to end (CliRunner), including the one-line error on a bad schedule."""

from __future__ import annotations

import json

import pytest

from tests.cli.invoke import run


def test_pingpong_and_bw_write_json(tmp_path, capsys) -> None:
    code, out, _ = run(["fabric", "pingpong", "--iters", "20", "--out", str(tmp_path / "pp.json")], capsys)
    assert code == 0 and "rtt_median_ns" in out
    pp = json.loads((tmp_path / "pp.json").read_text())
    assert pp["iters"] == 20 and pp["rtt_min_ns"] > 0
    code, out, _ = run(["fabric", "bw", "--iters", "2000", "--size", "4096", "--out", str(tmp_path / "bw.json")],
                       capsys)
    bw = json.loads((tmp_path / "bw.json").read_text())
    assert code == 0 and bw["wrs"] >= 2000 and 0 < bw["gbps"] <= 100


def test_run_under_schedule_is_judged(tmp_path, capsys) -> None:
    sched = tmp_path / "f.yaml"
    sched.write_text("faults:\n  - {kind: packet_loss, nic: h0.nic0, psn: 7}\n"
                     "  - {kind: link_down, nic: h1.nic0, at_ns: 30000}\n")
    code, out, _ = run(["fabric", "run", "--schedule", str(sched), "--wrs", "300", "--size", "1024",
                        "--timeout", "6", "--retry-cnt", "2", "--trace-out", str(tmp_path / "t.jsonl")], capsys)
    assert code == 0
    assert "RETRY_EXC_ERR" in out and "WR_FLUSH_ERR" in out and "True" in out
    kinds = {json.loads(line)["kind"] for line in (tmp_path / "t.jsonl").read_text().splitlines()}
    assert {"Send", "PacketLost", "Execute", "Completion", "Timeout", "Fault"} <= kinds


@pytest.mark.parametrize("content", ["faults: [{kind: link_down, nic: h0.nic0, at_ns: -1}]", "faults: [oops"])
def test_bad_schedule_is_one_line(tmp_path, capsys, content: str) -> None:
    sched = tmp_path / "bad.yaml"
    sched.write_text(content)
    code, _out, err = run(["fabric", "run", "--schedule", str(sched)], capsys)
    assert code == 2 and err.startswith("shift: error: fault schedule") and err.count("\n") == 1
