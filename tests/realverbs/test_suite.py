"""What the controller refuses, in one line each: a host without pyverbs or python3-redis, a missing device,
a device with no RoCE v2 GID or a port down, a missing tool, fault commands without root, mixed or mislabelled
devices (soft-RoCE is backend rxe, never nic). Probes are the probe's JSON as a host returns it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from shift_core.errors import NoDevice, ShiftUserError
from shift_core.realverbs import plan, suite
from shift_core.realverbs.transport import Remote, bundle

TOOLS = {t: f"/usr/bin/{t}" for t in ("ip", "tc", "ib_write_bw", "ib_write_lat", "ib_send_bw", "ib_read_bw",
                                      "redis-server")}


def _probe(soft: bool = False) -> dict[str, Any]:
    dev = {"present": True, "driver": "rdma_rxe" if soft else "mlx5_core", "soft": soft, "gid_index": 3,
           "gid": "0000:0000:0000:0000:0000:ffff:0a01:0001", "ipv4": "10.1.0.1", "netdev": "ens1f0",
           "port_state": "ACTIVE", "link_layer": "Ethernet"}
    return {"hostname": "h1", "python": "3.11.2", "root": True, "tools": dict(TOOLS), "pyverbs": "", "redis_py": "",
            "all_devices": ["mlx5_0", "mlx5_1"], "devices": {"mlx5_0": dict(dev), "mlx5_1": dict(dev)}}


def _check(p: dict[str, Any], role: str = "host", parts: tuple[str, ...] = plan.PARTS) -> None:
    side = Remote(role, "local" if role == "host" else "h2", Path("/tmp"))
    suite._check(side, p, ["mlx5_0", "mlx5_1"], dict(plan.DEFAULT_FAULTS), list(parts))


def test_a_ready_host_passes() -> None:
    _check(_probe())


@pytest.mark.parametrize(("change", "expected"), [
    (lambda p: p.update(pyverbs="No module named 'pyverbs'"), "install python3-pyverbs"),
    (lambda p: p.update(redis_py="No module named 'redis'"), "install python3-redis"),
    (lambda p: p["devices"].update(mlx5_1={"present": False}), "RDMA device(s) mlx5_1 not found"),
    (lambda p: p["devices"]["mlx5_0"].update(gid_index=None), "mlx5_0 has no RoCE v2 IPv4 GID"),
    (lambda p: p["devices"]["mlx5_0"].update(port_state="DOWN"), "mlx5_0 port 1 is DOWN, not ACTIVE"),
    (lambda p: p["tools"].update(ib_read_bw=""), "ib_read_bw not found: install perftest"),
    (lambda p: p["tools"].update({"redis-server": ""}), "redis-server not found: install redis-server"),
    (lambda p: p.update(root=False), "needs root"),
])
def test_what_a_host_lacks_is_one_line_naming_it(change: Any, expected: str) -> None:
    p = copy.deepcopy(_probe())
    change(p)
    with pytest.raises((ShiftUserError, NoDevice)) as exc:
        _check(p)
    assert expected in str(exc.value) and "\n" not in str(exc.value)
    assert str(exc.value).startswith("host local (h1)")


def test_the_peer_needs_no_redis_server_and_no_perftest_without_the_interposer_part() -> None:
    p = _probe()
    p["tools"].update({"redis-server": "", "ib_read_bw": ""})
    _check(p, role="peer", parts=("timeline",))


def test_soft_roce_is_rxe_real_nics_are_nic_and_mixed_is_refused() -> None:
    names = {"host": ["mlx5_0", "mlx5_1"], "peer": ["mlx5_0", "mlx5_1"]}
    assert suite.label_of({"host": _probe(True), "peer": _probe(True)}, names) == "rxe"
    assert suite.label_of({"host": _probe(), "peer": _probe()}, names) == "nic"
    with pytest.raises(ShiftUserError, match="mixed soft and real RDMA devices"):
        suite.label_of({"host": _probe(True), "peer": _probe()}, names)


def test_the_agent_bundle_is_content_addressed() -> None:
    blob, digest = bundle()
    assert bundle()[1] == digest and len(digest) == 16 and len(blob) > 10_000
