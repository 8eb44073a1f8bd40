"""Two QEMU guests as two RDMA hosts: the proof of the nic stage on this machine (and in CI).

The rxe image (build.sh) is booted twice. Each guest gets four virtio NICs: ``ctl`` (QEMU user networking with
a hostfwd port to its sshd: how the controller reaches it, like a management network), and three links to the
other guest over QEMU ``socket`` netdevs (UDP between the two QEMU processes, so every frame leaves one kernel
and enters the other): ``pri`` (primary, rxe0), ``bak`` (backup, rxe1) and ``mgt`` (the app's TCP exchange and
Redis; never faulted). twohost-guest.sh provisions each guest. The harness writes an ssh config with a
throwaway key (``Host shift-host`` / ``shift-peer``) and the nic stage's settings for this topology
(:meth:`TwoGuests.stage_config`); the stage then reaches the guests exactly as it reaches two real hosts.

Standard library only (shared by ``shift rxe twohost``, the pytest fixture and the Snakemake rule).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rxe_guest as g

HERE = Path(__file__).resolve().parent
NAMES = ("shift-host", "shift-peer")
LINKS = ("pri", "bak", "mgt")  #: links 1..3 between the guests; link 0 is ctl (user networking)
#: what the nic stage needs to know about this topology (devices, addresses, fault commands)
DEVICES = ["rxe0", "rxe1"]
PEER_ADDR = "10.0.0.2"
#: two TCG guests on a loaded 2-core host answer a ping over the management link in 2-20 ms; a 50 ms bound on
#: the clock mapping is 1/20 of a Fig 7 sample and 1/10 of rxe's detection time at timeout 14 / retry 6
MAX_SKEW_MS = 50.0
#: RC timeout 15 (134 ms x 7 tries = 0.94 s to detect): at 14 a guest stalled by a loaded host raised a
#: spurious RETRY_EXC_ERR with no fault (rxe_guest_recipe.md quirk 3 is the same effect at timeout 1)
RC = {"timeout": 15, "retry_cnt": 6}
#: link faults are cable pulls at QEMU (twohost-guest.sh says why not `ip link set down` here)
CABLE = {"link_down": "/run/shift-cable {netdev} off", "link_up": "/run/shift-cable {netdev} on && /run/shift-neigh.sh"}


def free_ports(n: int, kind: int = socket.SOCK_DGRAM) -> list[int]:
    """``n`` distinct free ports on 127.0.0.1 (bound and released: QEMU binds them right after)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def mac(link: int, guest: int) -> str:
    return f"52:54:00:{link:02x}:00:{guest:02x}"


def qemu_nics(guest: int, ssh_port: int, udp: dict[tuple[int, int], int]) -> list[str]:
    """QEMU network arguments of guest 1 or 2: ctl (user net + hostfwd) and the three socket links."""
    other = 3 - guest
    args = ["-netdev", f"user,id=ctl,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:{ssh_port}-10.0.2.15:22",
            "-device", f"virtio-net-pci,netdev=ctl,mac={mac(0, guest)}"]
    for link, name in enumerate(LINKS, start=1):
        args += ["-netdev", f"socket,id={name},udp=127.0.0.1:{udp[link, other]},localaddr=127.0.0.1:{udp[link, guest]}",
                 "-device", f"virtio-net-pci,netdev={name},mac={mac(link, guest)}"]
    return args


@dataclass
class TwoGuests:
    """Two booted guests reachable as ``shift-host`` and ``shift-peer`` with ``ssh -F ssh_config``."""

    workdir: Path
    ssh_config: Path
    ssh_ports: tuple[int, int]
    boot_seconds: float
    image: g.Image
    running: list[g.Running] = field(default_factory=list)

    def ssh(self, name: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ssh", "-F", str(self.ssh_config), name, command], capture_output=True, text=True,
                              timeout=timeout, check=False)

    def stage_config(self) -> dict[str, Any]:
        """``backends.nic`` settings that point the nic stage at these guests (soft-RoCE: backend rxe)."""
        return {"host": NAMES[0], "peer": NAMES[1], "ssh_config": str(self.ssh_config), "peer_addr": PEER_ADDR,
                "devices": list(DEVICES), "backend": "rxe", "python": "/usr/bin/python3",
                "faults": dict(CABLE), "max_skew_ms": MAX_SKEW_MS, "rc": dict(RC)}


def _write_ssh(workdir: Path, ports: tuple[int, int]) -> Path:
    key = workdir / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "shift-twohost", "-f", str(key)],
                       check=True, capture_output=True)
    cfg = workdir / "ssh_config"
    hosts = "".join(f"Host {name}\n  HostName 127.0.0.1\n  Port {port}\n" for name, port in zip(NAMES, ports,
                                                                                             strict=True))
    cfg.write_text(hosts + f"Host shift-*\n  User root\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
                   "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  BatchMode yes\n"
                   "  ConnectTimeout 20\n  ServerAliveInterval 15\n")
    return cfg


def preflight() -> str | None:
    """Why two guests cannot run here (one line), or ``None``."""
    why = g.preflight()
    if why:
        return why
    missing = [t for t in ("ssh", "ssh-keygen") if shutil.which(t) is None]
    return f"{', '.join(missing)} not installed (apt-get install openssh-client)" if missing else None


@contextlib.contextmanager
def two_guests(workdir: Path, ready_timeout_s: float = 300, memory_mb: int = 1536, smp: int = 1,
               log: Any = None) -> Iterator[TwoGuests]:
    """Build (or reuse) the image, boot both guests, wait until both answer ssh; power both off on exit.

    :raises rxe_guest.GuestUnavailable: the guests cannot be built or booted here (the message says why).
    :raises rxe_guest.GuestFailed: a guest did not come up (its console tail is in the message).
    """
    why = preflight()
    if why:
        raise g.GuestUnavailable(why)
    image = g.ensure_image()
    workdir.mkdir(parents=True, exist_ok=True)
    ssh_ports = tuple(free_ports(2, socket.SOCK_STREAM))
    udp_ports = free_ports(2 * len(LINKS))
    monitor_ports = free_ports(2, socket.SOCK_STREAM)
    udp = {(link, guest): udp_ports[2 * (link - 1) + guest - 1] for link in (1, 2, 3) for guest in (1, 2)}
    cfg = _write_ssh(workdir, (ssh_ports[0], ssh_ports[1]))
    pub = (workdir / "id_ed25519.pub").read_text()
    t0 = time.monotonic()
    guests = TwoGuests(workdir, cfg, (ssh_ports[0], ssh_ports[1]), 0.0, image)
    try:
        for n, name in enumerate(NAMES, start=1):
            run_dir = workdir / name
            run_dir.mkdir(exist_ok=True)
            (run_dir / "stop").unlink(missing_ok=True)
            (run_dir / "authorized_keys").write_text(pub)
            (run_dir / "monitor_port").write_text(f"{monitor_ports[n - 1]}\n")
            shutil.copy(HERE / "twohost-guest.sh", run_dir / "twohost-guest.sh")
            g.write_run_script(run_dir, f"bash /host/twohost-guest.sh {n} {name}", setup=False)
            guests.running.append(g.start(image, run_dir, memory_mb=memory_mb, smp=smp,
                                          nics=[*qemu_nics(n, ssh_ports[n - 1], udp), "-monitor",
                                                f"tcp:127.0.0.1:{monitor_ports[n - 1]},server=on,wait=off"],
                                          name=name))
        for name, run in zip(NAMES, guests.running, strict=True):
            _wait_ssh(guests, name, run, t0 + ready_timeout_s)
        guests.boot_seconds = time.monotonic() - t0
        if log:
            log(f"two guests up in {guests.boot_seconds:.0f} s (ssh ports {ssh_ports[0]}, {ssh_ports[1]})")
        yield guests
    finally:
        _power_off(guests)


def _wait_ssh(guests: TwoGuests, name: str, run: g.Running, deadline: float) -> None:
    last = ""
    while time.monotonic() < deadline:
        if run.proc.poll() is not None:
            res = g.finish(run, 0)
            raise g.GuestFailed(f"guest {name} exited during boot: {(res.guest_log or res.console)[-800:]}")
        try:
            r = guests.ssh(name, "cat /proc/uptime", timeout=30)
        except subprocess.TimeoutExpired:
            continue
        if r.returncode == 0:
            return
        last = (r.stderr.strip().splitlines() or [""])[-1]
        time.sleep(1)
    console = (run.run_dir / "console.log").read_text(errors="replace") if (run.run_dir / "console.log").exists() \
        else ""
    raise g.GuestFailed(f"guest {name} did not answer ssh within the boot timeout ({last}); console: "
                        f"{console[-600:]}")


def _power_off(guests: TwoGuests) -> None:
    """Drop the stop file (run.sh returns, PID 1 powers off), wait, keep the logs beside the run dirs."""
    for run in guests.running:
        (run.run_dir / "stop").touch()
    for name, run in zip(NAMES, guests.running, strict=False):
        res = g.finish(run, 60)
        (guests.workdir / f"{name}.console.log").write_text(res.console)
        (guests.workdir / f"{name}.guest.log").write_text(res.guest_log)
