"""The suite's plan: fault sites become commands on the right host, every down has its undo, the runs follow
the config (the plan is data: what a host will execute is visible before anything runs)."""

from __future__ import annotations

import pytest

from shift_core.bench.config import load_config
from shift_core.errors import ShiftUserError
from shift_core.realverbs import plan

HOST = plan.SideDevices("mlx5_0", "mlx5_1", 3, 3, "ens1f0", "ens2f0", "10.1.0.1")
PEER = plan.SideDevices("mlx5_0", "mlx5_1", 3, 3, "enp65s0f0", "enp66s0f0", "10.1.0.2")


def _faults(**templates: str) -> plan.Faults:
    return plan.Faults(templates, HOST, PEER)


def test_link_sites_take_down_the_primary_of_the_right_host() -> None:
    ev = _faults().site("sender_nic", 5.0, 10.0)
    assert [(e["side"], e["action"], e["cmd"], e["at_s"]) for e in ev] == [
        ("host", "down", "ip link set ens1f0 down", 5.0), ("host", "up", "ip link set ens1f0 up", 10.0)]
    assert all(e["watch"] == "ens1f0" for e in ev)  # the link whose state change marks when it took effect
    ev = _faults().site("receiver_nic", 5.0, None)
    assert [(e["side"], e["cmd"]) for e in ev] == [("peer", "ip link set enp65s0f0 down")]


def test_switch_port_is_netem_on_both_ends_unless_a_switch_command_is_configured() -> None:
    ev = _faults().site("switch_port", 1.0, 2.0)
    downs = [(e["side"], e["cmd"]) for e in ev if e["action"] == "down"]
    assert downs == [("host", "tc qdisc replace dev ens1f0 root netem loss 100%"),
                     ("peer", "tc qdisc replace dev enp65s0f0 root netem loss 100%")]
    f = _faults(switch_down="ssh tor1 'interface e1/1 shutdown'", switch_up="ssh tor1 'interface e1/1 no shutdown'")
    ev = f.site("switch_port", 1.0, 2.0)
    assert [(e["side"], e["cmd"]) for e in ev] == [("host", "ssh tor1 'interface e1/1 shutdown'"),
                                                   ("host", "ssh tor1 'interface e1/1 no shutdown'")]
    assert f.restore(ev) == {"host": ["ssh tor1 'interface e1/1 no shutdown'"], "peer": []}


def test_ack_loss_drops_what_the_peer_sends_and_packet_loss_what_the_host_sends() -> None:
    assert [e["side"] for e in _faults().kind("ack_loss", "switch_port", 1, 2) if e["action"] == "down"] == ["peer"]
    assert [e["side"] for e in _faults().kind("packet_loss", "switch_port", 1, 2) if e["action"] == "down"] == ["host"]
    with pytest.raises(ShiftUserError, match="cannot be injected on real hosts"):
        _faults().kind("nic_fatal", "sender_nic", 1, 2)


def test_every_down_has_its_undo_in_restore() -> None:
    f = _faults()
    assert f.restore(f.site("switch_port", 1, None)) == {"host": ["tc qdisc del dev ens1f0 root"],
                                                          "peer": ["tc qdisc del dev enp65s0f0 root"]}
    assert f.restore(f.site("receiver_nic", 1, None)) == {"host": [], "peer": ["ip link set enp65s0f0 up"]}


def test_devices_are_two_for_both_hosts_or_four() -> None:
    assert plan.split_devices(["a", "b"]) == {"host": ["a", "b"], "peer": ["a", "b"]}
    assert plan.split_devices(["a", "b", "c", "d"]) == {"host": ["a", "b"], "peer": ["c", "d"]}
    with pytest.raises(ShiftUserError, match=r"backends\.nic\.devices has 3 entries"):
        plan.split_devices(["a", "b", "c"])


def test_the_default_suite_plans_every_part_with_the_papers_fault_times() -> None:
    nic = load_config()["backends"]["nic"]
    runs = plan.all_runs(nic["suite"], _faults(), nic["rc"], 1, "10.0.0.2", {"host": "", "peer": ""},
                         list(plan.PARTS))
    stems = {r["meta"]["stem"] for r in runs}
    assert stems == {"timeline", "downtime", "verbs_cost", "latency", "faults", "interposer"}
    tl = [r for r in runs if r["meta"]["stem"] == "timeline"]
    cfg = nic["suite"]["timeline"]
    assert len(tl) == len(cfg["ops"]) * sum(len(s) for s in cfg["strategies"].values())
    assert all({e["at_s"] for e in r["spec"]["faults"]} == {5.0, 10.0} for r in tl)
    assert all(r["spec"]["variant"] == "standard" for r in tl if r["meta"]["strategy"] == "none")
    inter = next(r for r in runs if r["bench"] == "interposer")
    assert inter["spec"]["modes"] == ["plain"]  # no libshift.so on a host: plain only, never a faked ratio
    assert inter["spec"]["reps"] >= 5


def test_downtime_faults_are_seeded() -> None:
    nic = load_config()["backends"]["nic"]
    a = plan.downtime_runs(nic["suite"]["downtime"], _faults(), nic["rc"], seed=1)
    b = plan.downtime_runs(nic["suite"]["downtime"], _faults(), nic["rc"], seed=1)
    c = plan.downtime_runs(nic["suite"]["downtime"], _faults(), nic["rc"], seed=2)
    at = [r["spec"]["faults"][0]["at_s"] for r in a]
    assert at == [r["spec"]["faults"][0]["at_s"] for r in b] != [r["spec"]["faults"][0]["at_s"] for r in c]
