"""The rxe stage end to end: the guest image, real soft-RoCE, the backend conformance tests on it, perftest
with and without the interposer, ibv_rc_pingpong under it, and link faults (one guest boot per session)."""

from __future__ import annotations

from typing import Any

import pytest

# the session fixture (image build + one boot + the whole suite) runs inside the first test: allow for TCG
pytestmark = [pytest.mark.rxe, pytest.mark.timeout(2400)]


def test_image_is_built_from_debian_packages(rxe_suite: Any) -> None:
    v = rxe_suite.image.versions
    for pkg in ("libibverbs1", "ibverbs-providers", "python3-pyverbs", "perftest", "iproute2", "python3"):
        assert v.get(pkg), f"{pkg} missing from the guest image"
    assert rxe_suite.image.kernel_package.startswith("linux-image-6.1")
    guest = rxe_suite.parts["versions"]["versions"]
    assert guest["libibverbs1"] == v["libibverbs1"]  # the booted guest is the image we built


def test_guest_boots_to_four_active_rxe_devices_and_powers_off(rxe_suite: Any) -> None:
    assert rxe_suite.boot.rc == 0, rxe_suite.boot.guest_log[-3000:]
    assert not rxe_suite.boot.timed_out
    assert rxe_suite.ready_uptime_s is not None
    assert "reboot: Power down" in rxe_suite.boot.console


def test_backend_conformance_passes_on_real_rxe(rxe_suite: Any) -> None:
    conf = rxe_suite.parts["conformance"]
    assert conf["status"] == "ok", [c for c in conf["cases"] if c["outcome"] in ("failed", "error")]
    assert conf["counts"]["failed"] == 0 and conf["counts"]["error"] == 0
    assert conf["counts"]["passed"] >= 9


def test_perftest_runs_plain(rxe_suite: Any) -> None:
    """Every plain rep ran; a rep perftest could not time (its CPU-frequency calibration fails under load) is a
    failed row with its reason and output, and each tool still has valid reps."""
    perf = rxe_suite.parts["perftest"]
    plain = [r for r in perf["rows"] if r["mode"] == "plain"]
    assert plain and all(r["valid"] or (r["reason"] and r["output"]) for r in plain), plain
    valid = [r for r in plain if r["valid"]]
    assert {r["tool"] for r in valid} == {"ib_write_bw", "ib_write_lat"}, plain
    assert all(r.get("bw_avg_gbps", 0) > 0 for r in valid if r["tool"] == "ib_write_bw")
    assert all(r.get("t_typical_us", 0) > 0 for r in valid if r["tool"] == "ib_write_lat")


def test_perftest_runs_under_the_interposer(rxe_suite: Any) -> None:
    perf = rxe_suite.parts["perftest"]
    if perf["interposer"].startswith("absent"):
        pytest.skip(f"interposer {perf['interposer']}")
    inter = [r for r in perf["rows"] if r["mode"] == "interposer"]
    assert inter and all(r["rc"] == 0 for r in inter), inter
    for tool in ("ib_write_bw", "ib_write_lat"):
        assert "ratio_interposer_over_plain" in perf["summary"][tool]  # a benchmark number, reported not asserted


def test_rc_pingpong_unmodified_under_the_interposer(rxe_suite: Any) -> None:
    pp = rxe_suite.parts["pingpong"]
    assert pp["plain_rc"] == 0, pp["plain_output"]
    if pp["status"] == "skipped":
        pytest.skip(f"interposer: {pp['reason']}")
    assert pp["status"] == "ok" and pp["interposer_rc"] == 0, pp["interposer_output"]


@pytest.mark.parametrize(("scenario", "error", "async_event"), [
    ("peer_link_down", "IBV_WC_RETRY_EXC_ERR", "IBV_EVENT_PORT_ERR"),
    ("local_link_down", "IBV_WC_LOC_QP_OP_ERR", "IBV_EVENT_PORT_ERR"),
    ("netem_loss", "IBV_WC_RETRY_EXC_ERR", None),
])
def test_link_faults_are_detected_as_on_real_rc(rxe_suite: Any, scenario: str, error: str,
                                                async_event: str | None) -> None:
    """Peer carrier loss: PORT_ERR then RETRY_EXC_ERR; local admin down: LOC_QP_OP_ERR; a silent black hole
    (netem 100 % loss): RETRY_EXC_ERR and no event. The port is ACTIVE again after the link is restored."""
    (d,) = [d for d in rxe_suite.parts["failover"]["detection"] if d["scenario"] == scenario]
    assert not d["spurious_error_before_fault"]
    assert d["first_error_status"] == error
    if async_event:
        assert async_event in d["async_events"]
    else:
        assert d["async_events"] == []
    assert d["port_active_again_ms"] is not None


def _runs(rxe_suite: Any, strategy: str) -> list[dict[str, Any]]:
    st = rxe_suite.parts["failover"]["strategies"]
    if st.get("status") == "skipped":
        pytest.skip(st["reason"])
    return [r for r in st["runs"] if r["strategy"] == strategy]


#: a crash of the SHIFT layer's probe on real verbs, reported to the shift issue (requests.md, 09:05): the
#: reset default QP cannot go to RTR while the local netdev is down (ENETUNREACH)
KNOWN_LAYER_BUG = "Network is unreachable"


def test_shift_keeps_data_intact_fails_over_and_switches_back(rxe_suite: Any) -> None:
    """SHIFT, on NCCL Simple and SEND/RECV, under every link fault: the receiver's data is intact, traffic
    resumes on the backup (downtime measured from the first signal), and returns to the default QP after
    the link is restored."""
    runs = _runs(rxe_suite, "shift")
    assert {(r["workload"], r["scenario"]) for r in runs} >= {("nccl_simple", "peer_link_down"),
                                                              ("send_recv", "netem_loss")}
    known = [r for r in runs if r["outcome"] == "harness_error" and KNOWN_LAYER_BUG in r.get("note", "")]
    for r in runs:
        if r in known:
            continue
        assert r["outcome"] == "correct" and r["data_intact"], r
        assert r["downtime_ms"] is not None and r["switched_back"], r
    if known:
        pytest.xfail(f"SHIFT layer probe crashes on ENETUNREACH in {len(known)} run(s): "
                     + ", ".join(f"{r['workload']}/{r['scenario']}" for r in known))


def test_none_surfaces_every_detected_fault_and_never_corrupts(rxe_suite: Any) -> None:
    runs = _runs(rxe_suite, "none")
    assert runs and all(r["data_intact"] for r in runs), runs
    assert all(r["outcome"] == "error_surfaced" and r["downtime_ms"] is None for r in runs), runs


def test_naive_runs_are_judged(rxe_suite: Any) -> None:
    """naive's outcomes are data for the contrast table (the theory predicts duplicates when ACKs are lost);
    here only that every run finished and was judged."""
    runs = _runs(rxe_suite, "naive")
    assert runs and all(r["outcome"] in ("correct", "error_surfaced", "silent_corruption", "stall") for r in runs)
