"""A host's devices read from sysfs: the driver (soft-RoCE is backend rxe, never nic), the RoCE v2 IPv4 GID
and its network interface. Runs ``python -m shift_core.realverbs.probe`` as the controller does, on a fake
/sys/class/infiniband laid out as the kernel lays out rxe and mlx5 devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _device(root: Path, name: str, gids: dict[int, tuple[str, str, str]], driver: str = "") -> None:
    port = root / name / "ports" / "1"
    for sub in ("gids", "gid_attrs/types", "gid_attrs/ndevs"):
        (port / sub).mkdir(parents=True, exist_ok=True)
    for i, (gid, kind, ndev) in gids.items():
        (port / "gids" / str(i)).write_text(gid + "\n")
        (port / "gid_attrs" / "types" / str(i)).write_text(kind + "\n")
        (port / "gid_attrs" / "ndevs" / str(i)).write_text(ndev + "\n")
    (port / "state").write_text("4: ACTIVE\n")
    (port / "link_layer").write_text("Ethernet\n")
    if driver:  # a PCI device: device/driver -> .../drivers/<name>
        drv = root / "_drivers" / driver
        drv.mkdir(parents=True)
        (root / name / "device").mkdir()
        os.symlink(drv, root / name / "device" / "driver")
    else:  # rxe: a virtual device whose `parent` attribute names its netdev
        (root / name / "parent").write_text(gids[0][2] + "\n")


def _probe(root: Path, *devices: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "shift_core.realverbs.probe", *devices], capture_output=True,
                         text=True, check=True, cwd=REPO, env={**os.environ, "SHIFT_SYSFS_INFINIBAND": str(root)})
    return dict(json.loads(out.stdout))


def test_rxe_and_mlx5_are_told_apart_and_their_roce_v2_gid_found(tmp_path: Path) -> None:
    link_local = "fe80:0000:0000:0000:5054:00ff:fe01:0001"
    _device(tmp_path, "rxe0", {0: (link_local, "RoCE v2", "pri"), 1: ("0000:0000:0000:0000:0000:ffff:0a01:0001",
                                                                     "RoCE v2", "pri")})
    _device(tmp_path, "mlx5_0", {0: (link_local, "IB/RoCE v1", "ens1f0"), 1: (link_local, "RoCE v2", "ens1f0"),
                                 2: ("0000:0000:0000:0000:0000:ffff:c0a8:6401", "IB/RoCE v1", "ens1f0"),
                                 3: ("0000:0000:0000:0000:0000:ffff:c0a8:6401", "RoCE v2", "ens1f0")},
            driver="mlx5_core")
    p = _probe(tmp_path, "rxe0", "mlx5_0", "mlx5_9")
    rxe, mlx = p["devices"]["rxe0"], p["devices"]["mlx5_0"]
    assert (rxe["driver"], rxe["soft"], rxe["gid_index"], rxe["netdev"], rxe["ipv4"]) == (
        "rdma_rxe", True, 1, "pri", "10.1.0.1")
    assert (mlx["driver"], mlx["soft"], mlx["gid_index"], mlx["netdev"], mlx["ipv4"]) == (
        "mlx5_core", False, 3, "ens1f0", "192.168.100.1")
    assert p["devices"]["mlx5_9"] == {"present": False}
    assert p["all_devices"] == ["_drivers", "mlx5_0", "rxe0"] or "rxe0" in p["all_devices"]


def test_a_host_without_rdma_lists_no_devices(tmp_path: Path) -> None:
    p = _probe(tmp_path / "missing", "rxe0")
    assert p["all_devices"] == [] and p["devices"]["rxe0"] == {"present": False}
