"""The sim testbed every benchmark starts from: the paper's Fig 8a shape on the emulated fabric.

Two hosts, two RNICs each (``h<i>.nic0`` = default, ``h<i>.nic1`` = backup), one switch; rates, delays and RC
settings come from the ``fabric`` section of the configuration. Fault sites map onto injector calls here,
once, so every benchmark means the same thing by "sender NIC" or "switch port":

* ``sender_nic``: the initiator's default port goes down (``link_down h0.nic0``): ``IBV_EVENT_PORT_ERR`` on
  the sender, whose in-flight WRs then fail by RC timeout (the port is down, not the device dead).
* ``receiver_nic``: the target's default port goes down (``link_down h1.nic0``): the sender sees no event,
  only ``IBV_WC_RETRY_EXC_ERR`` after its RC timeout and retries.
* ``switch_port``: the switch drops every packet between the two default ports while both NIC ports stay up
  (request and response loss 100 %): no async event anywhere, detection by RC timeout only.

Recovery undoes the fault (``link_up`` / loss back to 0), which is what lets SHIFT switch back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shift_core.bench.record import BenchUnavailable

SENDER, RECEIVER = "h0", "h1"
DEFAULT, BACKUP = "nic0", "nic1"


def make_backend(fabric: Mapping[str, Any], seed: int) -> Any:
    """A fresh 2-host x 2-NIC sim backend configured from the ``fabric`` section."""
    try:
        from shift_core.fabric import make_fabric
    except ImportError as exc:  # the sim fabric is another issue's module; say so instead of failing
        raise BenchUnavailable(f"sim fabric not available ({exc})") from None
    backend = make_fabric(hosts=2, nics_per_host=2, gbps=float(fabric["link_gbps"]),
                          prop_ns=int(fabric["prop_delay_ns"]) // 2, seed=seed)
    for name, nic in backend.fabric.nics.items():
        if name.endswith(BACKUP):
            nic.link.gbps = float(fabric["backup_link_gbps"])
    return backend


def dev(host: str, nic: str) -> str:
    return f"{host}.{nic}"


def inject(backend: Any, site: str, at_ns: int, recover_ns: int | None) -> None:
    """Schedule the fault of ``site`` at ``at_ns`` and its recovery at ``recover_ns`` (``None``: never)."""
    faults = backend.faults
    if site == "sender_nic":
        faults.link_down(dev(SENDER, DEFAULT), at_ns=at_ns)
        if recover_ns is not None:
            faults.link_up(dev(SENDER, DEFAULT), at_ns=recover_ns)
    elif site == "receiver_nic":
        faults.link_down(dev(RECEIVER, DEFAULT), at_ns=at_ns)
        if recover_ns is not None:
            faults.link_up(dev(RECEIVER, DEFAULT), at_ns=recover_ns)
    elif site == "switch_port":
        for nic in (dev(SENDER, DEFAULT), dev(RECEIVER, DEFAULT)):
            faults.packet_loss(nic, probability=1.0, at_ns=at_ns, until_ns=recover_ns)
            faults.ack_loss(nic, probability=1.0, at_ns=at_ns, until_ns=recover_ns)
    else:
        raise ValueError(f"unknown fault site {site!r}")


def ack_timeout_ns(timeout: int) -> int:
    """RC local ACK timeout: 4.096 us x 2^timeout (IB spec; what ``timeout`` in ``QPAttr`` means)."""
    return int(4096 * 2**timeout)
