"""What one host has for the suite: pyverbs, the named RDMA devices (driver, netdev, RoCE v2 GID), the tools.

    python3 -m shift_core.realverbs.probe DEVICE [DEVICE ...]      -> one JSON object on stdout

Runs on each host (standard library + the distribution's pyverbs) before anything else, so the controller can
refuse with one line that names the host and what it lacks, and label the results honestly: a device whose
kernel driver is ``rdma_rxe`` (or ``siw``) is soft RDMA, whose numbers are backend ``rxe``, never ``nic``.
Everything is read from sysfs (``/sys/class/infiniband``), which is what rdma-core itself reads.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

SYSFS = Path(os.environ.get("SHIFT_SYSFS_INFINIBAND", "/sys/class/infiniband"))
#: kernel drivers of software RDMA devices (their results are backend ``rxe``)
SOFT_DRIVERS = {"rdma_rxe": "rxe", "rxe": "rxe", "siw": "siw"}
TOOLS = ("ip", "tc", "ib_write_bw", "ib_write_lat", "ib_send_bw", "ib_read_bw", "redis-server")
IPV4_MAPPED = "0000:0000:0000:0000:0000:ffff:"


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def driver(dev: str) -> str:
    """The kernel driver behind an RDMA device: ``mlx5_core``, ``irdma``, ... or ``rdma_rxe`` / ``siw``.

    A PCI device has ``device/driver``. Soft RDMA devices have no parent device (``devices/virtual/infiniband``);
    rxe exposes the netdev it runs on as its ``parent`` attribute, and ``siw`` names its devices ``siw*``.
    """
    base = SYSFS / dev
    link = base / "device" / "driver"
    if link.exists():
        return Path(os.path.realpath(link)).name
    if dev.startswith("siw"):
        return "siw"
    if (base / "parent").exists():
        return "rdma_rxe"
    return "unknown"


def roce_v2_gid(dev: str, port: int = 1) -> tuple[int | None, str, str]:
    """(index, GID, netdev) of the first RoCE v2 IPv4-mapped GID of ``dev`` (rdma-core's usual choice)."""
    ports = SYSFS / dev / "ports" / str(port)
    gids = ports / "gids"
    if not gids.is_dir():
        return None, "", ""
    for entry in sorted(gids.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else 1 << 30):
        if not entry.name.isdigit():
            continue
        gid = _read(entry)
        kind = _read(ports / "gid_attrs" / "types" / entry.name)
        if gid.startswith(IPV4_MAPPED) and kind.lower().replace(" ", "") == "rocev2":
            return int(entry.name), gid, _read(ports / "gid_attrs" / "ndevs" / entry.name)
    return None, "", ""


def ipv4_of_gid(gid: str) -> str:
    """``0000:...:ffff:0a01:0001`` -> ``10.1.0.1``."""
    tail = gid.replace(":", "")[-8:]
    return ".".join(str(int(tail[i:i + 2], 16)) for i in range(0, 8, 2))


def device_info(dev: str) -> dict[str, Any]:
    base = SYSFS / dev
    if not base.exists():
        return {"present": False}
    idx, gid, netdev = roce_v2_gid(dev)
    drv = driver(dev)
    state = _read(base / "ports" / "1" / "state")  # e.g. "4: ACTIVE"
    return {"present": True, "driver": drv, "soft": drv in SOFT_DRIVERS, "gid_index": idx, "gid": gid,
            "ipv4": ipv4_of_gid(gid) if gid else "", "netdev": netdev, "port_state": state.split(":")[-1].strip(),
            "link_layer": _read(base / "ports" / "1" / "link_layer")}


def probe(devices: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"hostname": socket.gethostname(), "python": sys.version.split()[0],
                           "root": os.geteuid() == 0, "tools": {t: shutil.which(t) or "" for t in TOOLS}}
    for t in ("ip", "tc"):  # often only in /usr/sbin, which a non-root ssh PATH lacks
        if not out["tools"][t] and Path("/usr/sbin", t).exists():
            out["tools"][t] = f"/usr/sbin/{t}"
    try:
        import pyverbs.device  # noqa: F401
        out["pyverbs"] = ""
    except ImportError as exc:
        out["pyverbs"] = str(exc)
    try:
        import redis  # noqa: F401
        out["redis_py"] = ""
    except ImportError as exc:
        out["redis_py"] = str(exc)
    out["all_devices"] = sorted(p.name for p in SYSFS.iterdir()) if SYSFS.is_dir() else []
    out["devices"] = {d: device_info(d) for d in devices}
    return out


def main(argv: list[str]) -> int:
    print(json.dumps(probe(argv[1:])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
