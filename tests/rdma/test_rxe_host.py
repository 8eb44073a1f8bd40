"""Host side of the rxe stage without QEMU: image key, mirror, skip manifests, perftest parsing, accel choice."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

RXE = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "rxe"
sys.path.insert(0, str(RXE))

import guest_suite  # noqa: E402
import rxe_guest  # noqa: E402

BW = """ #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]
 65536      400              0.45               0.44   		   0.000839
---------------------------------------------------------------------------------------"""
LAT_INF = """ #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]
 2       200          inf            inf          inf      	       inf         	-nan   		inf     		inf"""


def test_a_perftest_rep_is_a_row_good_or_failed() -> None:
    good = guest_suite.perftest_row("ib_write_bw", "plain", 0, 0, BW, "", "")
    assert good["valid"] and good["bw_avg_gbps"] == 0.44 and "output" not in good
    bad = guest_suite.perftest_row("ib_write_lat", "interposer", 1, 0, LAT_INF,
                                   "Correlation coefficient r^2: 0.58 < 0.9\n", "server says hi")
    assert not bad["valid"] and "calibration failed" in bad["reason"]
    assert "t_typical_us" not in bad and "server says hi" in bad["output"]  # inf is dropped, output kept
    json.dumps(bad, allow_nan=False)  # the part's JSON stays strict JSON
    failed = guest_suite.perftest_row("ib_write_bw", "plain", 2, 1, "", "Couldn't connect to 127.0.0.1\n", "")
    assert not failed["valid"] and "Couldn't connect" in failed["reason"]


def test_missing_interposer_is_reported_not_faked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIFT_LIBSHIFT", raising=False)
    env, why = guest_suite.interposer_env()
    assert env is None and "libshift.so" in why


def test_preflight_names_the_missing_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rxe_guest.shutil, "which", lambda name: None if name == "qemu-system-x86_64" else "/x")
    monkeypatch.setattr(rxe_guest.Path, "exists", lambda self: False)
    reason = rxe_guest.preflight()
    assert reason is not None and "qemu-system-x86_64" in reason and "setup-system.sh" in reason


def test_offline_image_key_reuses_the_newest_image_of_the_same_scripts(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    scripts = rxe_guest._scripts_hash()
    for name in (f"{scripts}-aaaa", "0000000000-bbbb"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "guest.cpio").write_text("x")
        (tmp_path / name / "versions.tsv").write_text("perftest\t4.5\n")
    monkeypatch.setattr(rxe_guest, "BUILD_ROOT", tmp_path)

    def offline(mirror: str) -> str:
        raise OSError("Name or service not known")

    monkeypatch.setattr(rxe_guest, "_index_hash", offline)
    assert rxe_guest.image_key() == f"{scripts}-aaaa"
    (tmp_path / f"{scripts}-aaaa" / "guest.cpio").unlink()
    with pytest.raises(rxe_guest.GuestUnavailable, match="Debian archive"):
        rxe_guest.image_key()


def test_image_key_changes_with_the_package_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rxe_guest, "_index_hash", lambda mirror: "1111111111")
    k1 = rxe_guest.image_key()
    monkeypatch.setattr(rxe_guest, "_index_hash", lambda mirror: "2222222222")
    assert rxe_guest.image_key() != k1 and k1.endswith("-1111111111")


def test_skipped_stage_manifest_says_why(tmp_path: Path) -> None:
    rxe_guest.write_skipped(tmp_path, "qemu-system-x86_64 not installed")
    m: dict[str, Any] = json.loads((tmp_path / "manifest.json").read_text())
    assert m["backend"] == "rxe" and m["status"] == "skipped" and "qemu" in m["reason"]


def test_accelerator_choice_can_be_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIFT_RXE_ACCEL", "tcg")
    assert rxe_guest.kvm_usable() is False
    monkeypatch.setenv("SHIFT_RXE_ACCEL", "kvm")
    assert rxe_guest.kvm_usable() is True


def test_run_script_sets_up_devices_then_runs_the_command(tmp_path: Path) -> None:
    rxe_guest.write_run_script(tmp_path, "echo hi")
    text = (tmp_path / "run.sh").read_text()
    assert text.index("rxe-setup.sh") < text.index("echo hi") and "PYTHONPATH=/project" in text


def test_perftest_pairs_match_plain_and_interposer_of_the_same_rep() -> None:
    rows = [{"tool": "ib_write_bw", "mode": "plain", "rep": 0, "bw_avg_gbps": 1.0},
            {"tool": "ib_write_bw", "mode": "interposer", "rep": 0, "bw_avg_gbps": 0.9},
            {"tool": "ib_write_bw", "mode": "plain", "rep": 1, "bw_avg_gbps": 1.1},
            {"tool": "ib_write_lat", "mode": "interposer", "rep": 1, "t_typical_us": 2.0}]
    pairs = guest_suite._pairs(rows, "ib_write_bw")
    assert len(pairs) == 1 and pairs[0][0]["bw_avg_gbps"] == 1.0 and pairs[0][1]["bw_avg_gbps"] == 0.9
